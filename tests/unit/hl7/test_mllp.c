/* test_mllp.c: MLLP framing and decoder (split, concatenated, oversize frames, noise) and the
 * listener over a real loopback socket: ACKs, unparseable messages, oversize frames, idle
 * timeout, busy port, connection limit, concurrency and a graceful stop. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test_hl7.h"
#include "huren_err.h"

#define M(id) "MSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ORU^R01|" id "|P|2.5.1\rPID|1||P" id "\r"

struct frames {
    int n;
    char data[8][256];
};

static int on_frame(const char *data, size_t len, void *payload)
{
    struct frames *f = payload;

    assert_true(f->n < 8);
    assert_true(len < sizeof(f->data[0]));
    memcpy(f->data[f->n], data, len);
    f->data[f->n][len] = '\0';
    f->n++;
    return 0;
}

static void test_frame(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len;

    assert_int_equal(huren_hl7_mllp_frame("AB", 2, &out, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(out,
                        "\x0b"
                        "AB\x1c\r",
                        5);
    huren_hl7_buf_free(out);
}

static void test_decoder_split_and_concat(void **state)
{
    (void)state;
    huren_hl7_mllp_decoder *dec = NULL;
    struct frames f;
    const char *stream = "\x0b"
                         "first\x1c\r\x0b"
                         "second\x1c\r\x0b"
                         "third\x1c\r";
    size_t i, len = strlen(stream);

    memset(&f, 0, sizeof(f));
    assert_int_equal(huren_hl7_mllp_decoder_new(&dec, 64), 0);
    /* byte by byte */
    for (i = 0; i < len; i++)
        assert_int_equal(huren_hl7_mllp_decoder_feed(dec, stream + i, 1, on_frame, &f), 0);
    assert_int_equal(f.n, 3);
    assert_string_equal(f.data[0], "first");
    assert_string_equal(f.data[2], "third");
    /* all at once */
    assert_int_equal(huren_hl7_mllp_decoder_feed(dec, stream, len, on_frame, &f), 0);
    assert_int_equal(f.n, 6);
    assert_string_equal(f.data[4], "second");
    /* split in the middle of the trailer */
    assert_int_equal(huren_hl7_mllp_decoder_feed(dec,
                                                 "\x0b"
                                                 "ab",
                                                 3, on_frame, &f),
                     0);
    assert_int_equal(huren_hl7_mllp_decoder_in_frame(dec), 1);
    assert_int_equal(huren_hl7_mllp_decoder_feed(dec, "c\x1c", 2, on_frame, &f), 0);
    assert_int_equal(f.n, 7);
    assert_string_equal(f.data[6], "abc");
    assert_int_equal(huren_hl7_mllp_decoder_feed(dec, "\r", 1, on_frame, &f), 0);
    assert_int_equal(huren_hl7_mllp_decoder_noise(dec), 0);
    huren_hl7_mllp_decoder_free(dec);
}

static void test_decoder_noise_and_oversize(void **state)
{
    (void)state;
    huren_hl7_mllp_decoder *dec = NULL;
    struct frames f;
    char big[200];

    memset(&f, 0, sizeof(f));
    assert_int_equal(huren_hl7_mllp_decoder_new(&dec, 64), 0);
    assert_int_equal(huren_hl7_mllp_decoder_feed(dec,
                                                 "junk\n\x0b"
                                                 "a\x1c\r\r\nxx\x0b"
                                                 "b\x1c\r",
                                                 17, on_frame, &f),
                     0);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.data[1], "b");
    assert_int_equal(huren_hl7_mllp_decoder_noise(dec), 9);
    /* a new VT inside a frame drops the unfinished one */
    assert_int_equal(huren_hl7_mllp_decoder_feed(dec,
                                                 "\x0b"
                                                 "lost\x0b"
                                                 "kept\x1c\r",
                                                 12, on_frame, &f),
                     0);
    assert_int_equal(f.n, 3);
    assert_string_equal(f.data[2], "kept");
    /* oversize: refused, and the decoder stays refused */
    memset(big, 'x', sizeof(big));
    big[0] = 0x0b;
    assert_int_equal(huren_hl7_mllp_decoder_feed(dec, big, sizeof(big), on_frame, &f),
                     HUREN_HL7_ETOOBIG);
    assert_int_equal(huren_hl7_mllp_decoder_feed(dec,
                                                 "\x0b"
                                                 "a\x1c\r",
                                                 4, on_frame, &f),
                     HUREN_HL7_ETOOBIG);
    assert_int_equal(f.n, 3);
    huren_hl7_mllp_decoder_free(dec);
    /* exactly max is fine */
    assert_int_equal(huren_hl7_mllp_decoder_new(&dec, 4), 0);
    assert_int_equal(huren_hl7_mllp_decoder_feed(dec,
                                                 "\x0b"
                                                 "abcd\x1c\r",
                                                 7, on_frame, &f),
                     0);
    assert_int_equal(f.n, 4);
    huren_hl7_mllp_decoder_free(dec);
}

/* ---- listener ---- */

struct ctx {
    atomic_int handled;
    atomic_int unparsed;
    atomic_int warnings;
    atomic_int in_handler;
    int delay_ms;
    huren_hl7_ack_code code;
    pthread_mutex_t lock;
    char last_log[512];
};

static void handler(const huren_hl7_msg *msg, const char *raw, size_t len, const char *peer,
                    huren_hl7_handler_result *res, void *payload)
{
    struct ctx *c = payload;

    assert_non_null(raw);
    assert_true(len > 0);
    assert_true(strstr(peer, "127.0.0.1:") != NULL || strstr(peer, "[::1]:") != NULL);
    if (msg == NULL) {
        atomic_fetch_add(&c->unparsed, 1);
        return; /* keep the listener's AR/AE */
    }
    atomic_store(&c->in_handler, 1);
    if (c->delay_ms) {
        struct timespec ts = {c->delay_ms / 1000, (c->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    res->code = c->code;
    snprintf(res->text, sizeof(res->text), "ok %s", huren_hl7_msg_control_id(msg));
    atomic_fetch_add(&c->handled, 1);
}

static void log_cb(huren_hl7_log_level level, const char *message, void *payload)
{
    struct ctx *c = payload;

    if (level <= HUREN_HL7_LOG_WARN)
        atomic_fetch_add(&c->warnings, 1);
    pthread_mutex_lock(&c->lock);
    snprintf(c->last_log, sizeof(c->last_log), "%s", message);
    pthread_mutex_unlock(&c->lock);
}

static huren_hl7_mllp *start(struct ctx *c, huren_hl7_mllp_options *opts)
{
    huren_hl7_mllp *srv = NULL;
    char err[HUREN_ERRLEN] = "";

    opts->bind_address = "127.0.0.1";
    opts->port = 0;
    opts->log = log_cb;
    if (huren_hl7_mllp_start(&srv, opts, handler, c, err, sizeof(err)) != 0)
        fail_msg("start: %s", err);
    assert_true(huren_hl7_mllp_port(srv) > 0);
    return srv;
}

static int client(int port)
{
    struct sockaddr_in sa;
    struct timeval tv = {10, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void send_str(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        s += n;
        len -= (size_t)n;
    }
}

/* Reads one ACK frame; returns its length, 0 when the server closed, -1 on timeout. */
static int recv_ack(int fd, char *buf, size_t cap)
{
    size_t len = 0;

    while (len + 1 < cap) {
        ssize_t n = recv(fd, buf + len, 1, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 0;
        if (n < 0)
            return -1;
        len++;
        if (len >= 2 && buf[len - 2] == 0x1c && buf[len - 1] == '\r')
            break;
    }
    buf[len] = '\0';
    return (int)len;
}

/* The parsed ACK of one frame read from fd. */
static huren_hl7_msg *read_ack(int fd)
{
    char buf[4096], err[256];
    huren_hl7_msg *ack = NULL;
    huren_hl7_options opts = HUREN_HL7_OPTIONS_INIT;
    int n = recv_ack(fd, buf, sizeof(buf));

    assert_true(n > 3);
    assert_int_equal(buf[0], 0x0b);
    opts.accept_any_version = 1; /* the ACK of a 1.0 message says 1.0 */
    if (huren_hl7_msg_parse(buf + 1, (size_t)n - 3, &opts, &ack, err, sizeof(err)) != 0)
        fail_msg("bad ACK: %s", err);
    return ack;
}

static void expect_ack(int fd, const char *code, const char *control_id)
{
    huren_hl7_msg *ack = read_ack(fd);

    assert_string_equal(huren_hl7_msg_type(ack), "ACK");
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 1, 1, 1, 1), code);
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 2, 1, 1, 1), control_id);
    huren_hl7_msg_free(ack);
}

static void ctx_init(struct ctx *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
}

static void test_listener_acks(void **state)
{
    (void)state;
    struct ctx c;
    huren_hl7_mllp_options opts = HUREN_HL7_MLLP_OPTIONS_INIT;
    huren_hl7_mllp *srv;
    int fd;

    ctx_init(&c);
    srv = start(&c, &opts);
    fd = client(huren_hl7_mllp_port(srv));
    /* two frames in one write, with noise before and between them */
    send_str(fd, "noise\x0b" M("A1") "\x1c\r\n\x0b" M("A2") "\x1c\r",
             strlen("noise\x0b" M("A1") "\x1c\r\n\x0b" M("A2") "\x1c\r"));
    expect_ack(fd, "AA", "A1");
    expect_ack(fd, "AA", "A2");
    /* one frame split over three writes */
    const char *p1 = "\x0bMSH|^~\\&|LIS|HOSPA|HU",
               *p2 = "REN|HOSPB|2024||ORU^R01|A3|P|2.5.1\rPID|1";
    send_str(fd, p1, strlen(p1));
    usleep(50000);
    send_str(fd, p2, strlen(p2));
    usleep(50000);
    send_str(fd, "\r\x1c\r", 3);
    huren_hl7_msg *ack = read_ack(fd);
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 2, 1, 1, 1), "A3");
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 3, 1, 1, 1), "ok A3");
    assert_string_equal(huren_hl7_msg_sending_app(ack), "HUREN");
    assert_string_equal(huren_hl7_msg_receiving_app(ack), "LIS");
    huren_hl7_msg_free(ack);
    /* the handler's AE */
    c.code = HUREN_HL7_AE;
    send_str(fd, "\x0b" M("A4") "\x1c\r", strlen(M("A4")) + 3);
    expect_ack(fd, "AE", "A4");
    assert_int_equal(atomic_load(&c.handled), 4);
    assert_int_equal(huren_hl7_mllp_connections(srv), 1);
    close(fd);
    huren_hl7_mllp_stop(srv, 5);
}

static void test_listener_unparseable(void **state)
{
    (void)state;
    struct ctx c;
    huren_hl7_mllp_options opts = HUREN_HL7_MLLP_OPTIONS_INIT;
    huren_hl7_mllp *srv;
    huren_hl7_msg *ack;
    int fd;

    ctx_init(&c);
    opts.handle_unparsed = 1;
    srv = start(&c, &opts);
    fd = client(huren_hl7_mllp_port(srv));
    send_str(fd, "\x0bgarbage\x1c\r", 10);
    ack = read_ack(fd);
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 1, 1, 1, 1), "AR");
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 2, 1, 1, 1), "");
    assert_non_null(strstr(huren_hl7_msg_get(ack, "MSA", 1, 3, 1, 1, 1), "no MSH"));
    huren_hl7_msg_free(ack);
    const char *bad = "\x0bMSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ORU^R01|U2|P|2.5\r"
                      "OBX|1|ST|X||ok\rnot a segment\r\x1c\r";
    send_str(fd, bad, strlen(bad));
    ack = read_ack(fd);
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 1, 1, 1, 1), "AE");
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 2, 1, 1, 1), "U2");
    assert_string_equal(huren_hl7_msg_get(ack, "ERR", 1, 3, 1, 1, 1), "101");
    assert_string_equal(huren_hl7_msg_receiving_app(ack), "LIS");
    huren_hl7_msg_free(ack);
    /* binary noise inside a frame, then noise outside any frame, then a good frame */
    char noise[600];
    size_t i;
    for (i = 0; i < sizeof(noise); i++)
        noise[i] = (char)((i * 7919u + 13u) % 251u);
    for (i = 0; i < sizeof(noise); i++)
        if (noise[i] == 0x0b || noise[i] == 0x1c)
            noise[i] = 'x';
    noise[0] = 0x0b;
    noise[sizeof(noise) - 2] = 0x1c;
    noise[sizeof(noise) - 1] = '\r';
    send_str(fd, noise, sizeof(noise));
    ack = read_ack(fd);
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 1, 1, 1, 1), "AR");
    huren_hl7_msg_free(ack);
    send_str(fd, noise + 1, sizeof(noise) - 3); /* no VT: all of it is skipped */
    send_str(fd, "\x0b" M("U4") "\x1c\r", strlen(M("U4")) + 3);
    ack = read_ack(fd);
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 1, 1, 1, 1), "AA");
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 2, 1, 1, 1), "U4");
    huren_hl7_msg_free(ack);
    const char *oldver = "\x0bMSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ORU^R01|U3|P|1.0\r\x1c\r";
    send_str(fd, oldver, strlen(oldver));
    expect_ack(fd, "AR", "U3");
    assert_int_equal(atomic_load(&c.handled), 1);
    assert_int_equal(atomic_load(&c.unparsed), 4);
    huren_hl7_mllp_stats st;
    huren_hl7_mllp_stats_get(srv, &st);
    assert_int_equal(st.messages, 5);
    assert_int_equal(st.parse_errors, 4);
    assert_int_equal(st.acks_aa, 1);
    assert_int_equal(st.acks_ae, 1);
    assert_int_equal(st.acks_ar, 3);
    assert_int_equal(st.noise_bytes, sizeof(noise) - 3);
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.open_connections, 1);
    assert_true(atomic_load(&c.warnings) >= 3);
    close(fd);
    huren_hl7_mllp_stop(srv, 5);
    assert_non_null(strstr(c.last_log, "stopped"));
}

static void test_listener_oversize_and_idle(void **state)
{
    (void)state;
    struct ctx c;
    huren_hl7_mllp_options opts = HUREN_HL7_MLLP_OPTIONS_INIT;
    huren_hl7_mllp *srv;
    char big[4096], buf[256];
    int fd, fd2;
    time_t t0;

    ctx_init(&c);
    opts.max_message_size = 1024;
    opts.idle_timeout_s = 1;
    srv = start(&c, &opts);
    fd = client(huren_hl7_mllp_port(srv));
    memset(big, 'x', sizeof(big));
    big[0] = 0x0b;
    send(fd, big, sizeof(big), MSG_NOSIGNAL);
    assert_int_equal(recv_ack(fd, buf, sizeof(buf)), 0); /* closed by the server */
    close(fd);
    /* another client is still served */
    fd2 = client(huren_hl7_mllp_port(srv));
    send_str(fd2, "\x0b" M("O1") "\x1c\r", strlen(M("O1")) + 3);
    expect_ack(fd2, "AA", "O1");
    /* then goes idle and is closed after about a second */
    t0 = time(NULL);
    assert_int_equal(recv_ack(fd2, buf, sizeof(buf)), 0);
    assert_true(time(NULL) - t0 <= 5);
    close(fd2);
    assert_true(atomic_load(&c.warnings) >= 1);
    huren_hl7_mllp_stats st;
    huren_hl7_mllp_stats_get(srv, &st);
    assert_int_equal(st.oversize_frames, 1);
    assert_int_equal(st.idle_timeouts, 1);
    assert_int_equal(st.acks_aa, 1);
    huren_hl7_mllp_stop(srv, 5);
}

static void test_listener_busy_port_and_limit(void **state)
{
    (void)state;
    struct ctx c;
    huren_hl7_mllp_options opts = HUREN_HL7_MLLP_OPTIONS_INIT, opts2;
    huren_hl7_mllp *srv, *srv2 = NULL;
    char err[HUREN_ERRLEN] = "", buf[64];
    int fd, fd2;

    ctx_init(&c);
    opts.max_connections = 1;
    srv = start(&c, &opts);
    opts2 = opts;
    opts2.port = huren_hl7_mllp_port(srv);
    assert_int_equal(huren_hl7_mllp_start(&srv2, &opts2, handler, &c, err, sizeof(err)),
                     HUREN_HL7_EIO);
    assert_null(srv2);
    if (strstr(err, "in use") == NULL)
        fail_msg("unexpected error: %s", err);
    opts2.bind_address = "not-an-address";
    assert_int_equal(huren_hl7_mllp_start(&srv2, &opts2, handler, &c, err, sizeof(err)),
                     HUREN_HL7_EINVAL);
    fd = client(huren_hl7_mllp_port(srv));
    send_str(fd, "\x0b" M("L1") "\x1c\r", strlen(M("L1")) + 3);
    expect_ack(fd, "AA", "L1"); /* now the one connection is surely accepted */
    fd2 = client(huren_hl7_mllp_port(srv));
    assert_int_equal(recv_ack(fd2, buf, sizeof(buf)), 0); /* refused: closed at once */
    close(fd2);
    close(fd);
    huren_hl7_mllp_stats st;
    huren_hl7_mllp_stats_get(srv, &st);
    assert_int_equal(st.refused, 1);
    huren_hl7_mllp_stop(srv, 5);
}

struct worker {
    int port;
    int id;
    int ok;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int fd = client(w->port), i;

    for (i = 0; i < 20; i++) {
        char id[32], frame[512], buf[4096];
        snprintf(id, sizeof(id), "W%d-%d", w->id, i);
        int n = snprintf(frame, sizeof(frame),
                         "\x0bMSH|^~\\&|L|H|HU|HB|2024||ADT^A08|%s|P|2.4"
                         "\rPID|1||%s\r\x1c\r",
                         id, id);
        send_str(fd, frame, (size_t)n);
        n = recv_ack(fd, buf, sizeof(buf));
        if (n > 0 && strstr(buf, "MSA|AA|") && strstr(buf, id))
            w->ok++;
    }
    close(fd);
    return NULL;
}

static void test_listener_concurrent(void **state)
{
    (void)state;
    struct ctx c;
    huren_hl7_mllp_options opts = HUREN_HL7_MLLP_OPTIONS_INIT;
    huren_hl7_mllp *srv;
    pthread_t th[8];
    struct worker w[8];
    int i;

    ctx_init(&c);
    srv = start(&c, &opts);
    for (i = 0; i < 8; i++) {
        w[i].port = huren_hl7_mllp_port(srv);
        w[i].id = i;
        w[i].ok = 0;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, 20);
    }
    assert_int_equal(atomic_load(&c.handled), 160);
    huren_hl7_mllp_stop(srv, 5);
}

struct slow_client {
    int port;
    int got_ack;
};

static void *slow_client_main(void *arg)
{
    struct slow_client *s = arg;
    char buf[4096];
    int fd = client(s->port);

    send_str(fd, "\x0b" M("S1") "\x1c\r", strlen(M("S1")) + 3);
    s->got_ack = recv_ack(fd, buf, sizeof(buf)) > 0 && strstr(buf, "MSA|AA|S1") != NULL;
    close(fd);
    return NULL;
}

static void test_listener_stop_finishes_in_flight(void **state)
{
    (void)state;
    struct ctx c;
    huren_hl7_mllp_options opts = HUREN_HL7_MLLP_OPTIONS_INIT;
    struct slow_client s = {0, 0};
    huren_hl7_mllp *srv;
    pthread_t th;
    int i, idle;

    ctx_init(&c);
    c.delay_ms = 500;
    srv = start(&c, &opts);
    s.port = huren_hl7_mllp_port(srv);
    idle = client(s.port); /* an idle connection must not hold stop up */
    assert_int_equal(pthread_create(&th, NULL, slow_client_main, &s), 0);
    for (i = 0; i < 500 && !atomic_load(&c.in_handler); i++)
        usleep(10000);
    assert_int_equal(atomic_load(&c.in_handler), 1);
    huren_hl7_mllp_stop(srv, 5); /* while the handler sleeps */
    pthread_join(th, NULL);
    assert_int_equal(s.got_ack, 1);
    assert_int_equal(atomic_load(&c.handled), 1);
    close(idle);
}

static void test_listener_ipv6_and_null(void **state)
{
    (void)state;
    struct ctx c;
    huren_hl7_mllp_options opts = HUREN_HL7_MLLP_OPTIONS_INIT;
    huren_hl7_mllp *srv = NULL;
    struct sockaddr_in6 sa;
    char err[HUREN_ERRLEN];
    int fd;

    huren_hl7_mllp_stop(NULL, 0); /* NULL-safe */
    huren_hl7_msg_free(NULL);
    huren_hl7_mllp_decoder_free(NULL);
    huren_hl7_enc_free(NULL);
    assert_int_equal(huren_hl7_mllp_start(&srv, &opts, NULL, NULL, err, sizeof(err)),
                     HUREN_HL7_EINVAL);
    ctx_init(&c);
    opts.bind_address = "::1";
    opts.port = 0;
    if (huren_hl7_mllp_start(&srv, &opts, handler, &c, err, sizeof(err)) != 0)
        skip(); /* no IPv6 loopback here */
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons((uint16_t)huren_hl7_mllp_port(srv));
    sa.sin6_addr = in6addr_loopback;
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    send_str(fd, "\x0b" M("V6") "\x1c\r", strlen(M("V6")) + 3);
    huren_hl7_msg *ack = read_ack(fd);
    assert_string_equal(huren_hl7_msg_get(ack, "MSA", 1, 2, 1, 1, 1), "V6");
    huren_hl7_msg_free(ack);
    close(fd);
    huren_hl7_mllp_stop(srv, 5);
}

int run_mllp_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_decoder_split_and_concat),
        cmocka_unit_test(test_decoder_noise_and_oversize),
        cmocka_unit_test(test_listener_acks),
        cmocka_unit_test(test_listener_unparseable),
        cmocka_unit_test(test_listener_oversize_and_idle),
        cmocka_unit_test(test_listener_busy_port_and_limit),
        cmocka_unit_test(test_listener_concurrent),
        cmocka_unit_test(test_listener_stop_finishes_in_flight),
        cmocka_unit_test(test_listener_ipv6_and_null),
    };
    return cmocka_run_group_tests_name("hl7_mllp", tests, NULL, NULL);
}
