/* test_client.c: the one HTTP client setup (gateway/http/client.c) against a tiny server
 * on a loopback socket: redirects are not followed, an answer past the body's bound aborts the
 * transfer, a silent server times out, a POST carries its body, and https is the only other
 * protocol (file:// is refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "../../unit_filter.h"
#include <cmocka.h> /* after the headers it needs */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/client.h"

typedef struct server {
    int fd, port;
    const char *answer; /* sent after the request's headers (and body) are read; NULL: silence */
    char request[8192];
    pthread_t thread;
} server;

static void *serve_one(void *arg)
{
    server *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof s->request &&
           (r = read(c, s->request + n, sizeof s->request - 1 - n)) > 0) {
        n += (size_t)r;
        s->request[n] = 0;
        char *end = strstr(s->request, "\r\n\r\n");
        const char *cl = strstr(s->request, "Content-Length: ");
        if (end && (!cl || strlen(end + 4) >= (size_t)atoi(cl + 16)))
            break;
    }
    if (s->answer) {
        ssize_t w = write(c, s->answer, strlen(s->answer));
        (void)w;
    } else {
        sleep(2); /* the client's timeout is shorter */
    }
    close(c);
    return NULL;
}

static void server_start(server *s, const char *answer)
{
    memset(s, 0, sizeof *s);
    s->answer = answer;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(s->fd, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    assert_int_equal(listen(s->fd, 1), 0);
    pthread_create(&s->thread, NULL, serve_one, s);
}

static void server_stop(server *s)
{
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static CURLcode get(server *s, const char *path, huren_buf *b, long *status, const char *post)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    http_client_opts o = {.url = url,
                          .timeout_ms = 500,
                          .connect_timeout_ms = 500,
                          .on_data = http_client_body_write,
                          .data = b,
                          .post_body = post};
    CURL *h = http_client_new(&o);
    assert_non_null(h);
    CURLcode cc = curl_easy_perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(h);
    return cc;
}

static void answer_within_bound(void **state)
{
    (void)state;
    server s;
    server_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
    huren_buf b = {.max = 5};
    long status;
    assert_int_equal(get(&s, "/ok", &b, &status, NULL), CURLE_OK);
    server_stop(&s);
    assert_int_equal(status, 200);
    assert_string_equal(b.data, "hello");
    assert_int_equal((b.failed == HUREN_BUF_ETOOBIG), 0);
    huren_buf_free(&b);
    assert_null(b.data);
}

static void answer_past_bound_aborts(void **state)
{
    (void)state;
    server s;
    server_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello!");
    huren_buf b = {.max = 5};
    long status;
    assert_int_equal(get(&s, "/big", &b, &status, NULL), CURLE_WRITE_ERROR);
    server_stop(&s);
    assert_int_equal((b.failed == HUREN_BUF_ETOOBIG), 1);
    huren_buf_free(&b);
}

static void redirect_not_followed(void **state)
{
    (void)state;
    server s;
    server_start(&s, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n");
    huren_buf b = {.max = 100};
    long status;
    assert_int_equal(get(&s, "/moved", &b, &status, NULL), CURLE_OK);
    server_stop(&s);
    assert_int_equal(status, 302);
    huren_buf_free(&b);
}

static void silent_server_times_out(void **state)
{
    (void)state;
    server s;
    server_start(&s, NULL);
    huren_buf b = {.max = 100};
    long status;
    assert_int_equal(get(&s, "/silent", &b, &status, NULL), CURLE_OPERATION_TIMEDOUT);
    server_stop(&s);
    huren_buf_free(&b);
}

static void post_carries_body(void **state)
{
    (void)state;
    server s;
    server_start(&s, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    huren_buf b = {.max = 100};
    long status;
    assert_int_equal(get(&s, "/post", &b, &status, "{\"a\":1}"), CURLE_OK);
    server_stop(&s);
    assert_int_equal(status, 204);
    assert_non_null(strstr(s.request, "POST /post HTTP/1.1"));
    assert_non_null(strstr(s.request, "\r\n\r\n{\"a\":1}"));
    huren_buf_free(&b);
}

static void other_protocols_refused(void **state)
{
    (void)state;
    huren_buf b = {.max = 100};
    http_client_opts o = {
        .url = "file:///etc/hostname", .on_data = http_client_body_write, .data = &b};
    CURL *h = http_client_new(&o);
    assert_non_null(h);
    assert_int_equal(curl_easy_perform(h), CURLE_UNSUPPORTED_PROTOCOL);
    curl_easy_cleanup(h);
    assert_null(b.data);
    http_client_opts none = {.url = NULL};
    assert_null(http_client_new(&none));
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answer_within_bound),   cmocka_unit_test(answer_past_bound_aborts),
        cmocka_unit_test(redirect_not_followed), cmocka_unit_test(silent_server_times_out),
        cmocka_unit_test(post_carries_body),     cmocka_unit_test(other_protocols_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
