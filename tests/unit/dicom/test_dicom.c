/* test_dicom.c: unit tests of dicom/: Part-10 parsing and character sets, UID rules, and the
 * SCP on a free port driven by DCMTK's echoscu/storescu/findscu/movescu/getscu with a storescp
 * as C-MOVE destination. Every child process is registered and killed by pid at the end. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs setjmp.h first */
/* clang-format off */
#include <setjmp.h>
#include <cmocka.h>
#include "../unit_filter.h"
#include "huren_err.h"
/* clang-format on */

#include "association_holder.h"
#include "dataset_writer.h"
#include "huren_dicom.h"

#define T_SOP_CLASS HUREN_DICOM_TAG(0x0008, 0x0016)
#define T_SOP_INSTANCE HUREN_DICOM_TAG(0x0008, 0x0018)
#define T_STUDY_DATE HUREN_DICOM_TAG(0x0008, 0x0020)
#define T_QR_LEVEL HUREN_DICOM_TAG(0x0008, 0x0052)
#define T_CHARSET HUREN_DICOM_TAG(0x0008, 0x0005)
#define T_PATIENT_NAME HUREN_DICOM_TAG(0x0010, 0x0010)
#define T_PATIENT_ID HUREN_DICOM_TAG(0x0010, 0x0020)
#define T_STUDY HUREN_DICOM_TAG(0x0020, 0x000D)
#define T_SERIES HUREN_DICOM_TAG(0x0020, 0x000E)

static char g_dir[256]; /* everything of this run lives below it */

/* ---- child processes ------------------------------------------------------------------------ */

static pid_t g_pids[32];
static int g_npids;

static void reap_pid(pid_t pid)
{
    for (int i = 0; i < g_npids; i++)
        if (g_pids[i] == pid)
            g_pids[i] = g_pids[--g_npids];
}

static void kill_all(void)
{
    while (g_npids > 0) {
        pid_t pid = g_pids[--g_npids];
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

/* Start argv with stdout and stderr into out; registered for kill_all(). */
static pid_t spawn(const char *out, char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid > 0 && g_npids < 32)
        g_pids[g_npids++] = pid;
    return pid;
}

/* Run argv to completion (killed after timeout_s); its exit status, or -1. */
static int run(const char *out, char *const argv[], int timeout_s)
{
    pid_t pid = spawn(out, argv);
    if (pid < 0)
        return -1;
    for (int i = 0; i < timeout_s * 20; i++) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            reap_pid(pid);
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    reap_pid(pid);
    return -1;
}

static void stop_child(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 40; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            reap_pid(pid);
            return;
        }
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    reap_pid(pid);
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return strdup("");
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return strdup(buf);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static int wait_port(int port)
{
    for (int i = 0; i < 100; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = htons((uint16_t)port);
        int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        if (ok)
            return 0;
        usleep(50000);
    }
    return -1;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void path_of(char *buf, size_t len, const char *fmt, ...)
{
    int n = snprintf(buf, len, "%s/", g_dir);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - (size_t)n, fmt, ap);
    va_end(ap);
}

/* ---- files and UIDs ------------------------------------------------------------------------- */

static void test_uid_valid(void **state)
{
    (void)state;
    assert_true(huren_dicom_uid_valid("1.2.3"));
    assert_true(huren_dicom_uid_valid("0"));
    assert_true(huren_dicom_uid_valid("1.2.840.10008.5.1.4.1.1.7"));
    assert_true(huren_dicom_uid_valid("1.0.3"));
    char max[65];
    memset(max, '1', 64);
    max[64] = '\0';
    assert_true(huren_dicom_uid_valid(max));
    char over[66];
    memset(over, '1', 65);
    over[65] = '\0';
    assert_false(huren_dicom_uid_valid(over));
    assert_false(huren_dicom_uid_valid(""));
    assert_false(huren_dicom_uid_valid(NULL));
    assert_false(huren_dicom_uid_valid("1..2"));
    assert_false(huren_dicom_uid_valid("1.02"));
    assert_false(huren_dicom_uid_valid("../etc"));
    assert_false(huren_dicom_uid_valid("1/2"));
    assert_false(huren_dicom_uid_valid(".1"));
    assert_false(huren_dicom_uid_valid("1."));
    assert_false(huren_dicom_uid_valid("1.2a"));
}

/* Write a file with charset label cs (NULL: none) and raw name bytes; parse it; return name. */
static void check_name(const char *cs, const char *raw, const char *want_utf8, int want_warning)
{
    char path[512];
    path_of(path, sizeof(path), "charset.dcm");
    tdw_kv kv[2] = {{T_PATIENT_NAME, raw}, {T_CHARSET, cs}};
    assert_int_equal(tdw_write(path, kv, 2), 0);
    huren_dicom_file *f = NULL;
    char err[HUREN_ERRLEN] = "";
    int rc = huren_dicom_file_parse(path, &f, err, sizeof(err));
    if (rc)
        fail_msg("parse %s: %d %s", cs ? cs : "(none)", rc, err);
    const char *name = huren_dicom_file_value(f, T_PATIENT_NAME);
    assert_non_null(name);
    assert_string_equal(name, want_utf8);
    if (want_warning)
        assert_non_null(huren_dicom_file_charset_warning(f));
    else
        assert_null(huren_dicom_file_charset_warning(f));
    /* the charset element itself is not reported, the meta header neither */
    assert_null(huren_dicom_file_value(f, T_CHARSET));
    assert_null(huren_dicom_file_value(f, HUREN_DICOM_TAG(0x0002, 0x0010)));
    huren_dicom_file_free(f);
}

static const char gb_wang[] = "\xCD\xF5^\xD0\xA1\xC3\xF7"; /* 王^小明 in GB18030/GBK */
static const char utf8_wang[] = "\xE7\x8E\x8B^\xE5\xB0\x8F\xE6\x98\x8E";

static void test_parse_charsets(void **state)
{
    (void)state;
    check_name("GB18030", gb_wang, utf8_wang, 0);
    check_name("GBK", gb_wang, utf8_wang, 0);
    check_name("ISO_IR 100", "M\xFCller^Hans", "M\xC3\xBCller^Hans", 0);
    check_name("ISO_IR 192", utf8_wang, utf8_wang, 0);
    check_name(NULL, "Smith^John", "Smith^John", 0);
    /* unlabelled GB18030, as some modalities send it: read as GB18030 */
    check_name(NULL, gb_wang, utf8_wang, 0);
    /* an unknown label: no crash, UTF-8 kept, and a warning */
    check_name("NO_SUCH_CHARSET", utf8_wang, utf8_wang, 1);
    check_name("NO_SUCH_CHARSET", gb_wang, utf8_wang, 1);
}

/* ISO 2022 code extensions (PS3.5 annexes H, I, K and the charset files pydicom ships), and
 * single-byte sets, as raw bytes; the UTF-8 expected is written out byte by byte. */
static const char jp_utf8[] = "\xE5\xB1\xB1\xE7\x94\xB0^\xE5\xA4\xAA\xE9\x83\x8E="
                              "\xE3\x82\x84\xE3\x81\xBE\xE3\x81\xA0^\xE3\x81\x9F\xE3\x82\x8D"
                              "\xE3\x81\x86"; /* 山田^太郎=やまだ^たろう */

static void test_parse_iso2022(void **state)
{
    (void)state;
    char want[256];
    /* H.3.1: JIS X 0208 in G0 after ESC $ B, back to ASCII with ESC ( B before delimiters */
    snprintf(want, sizeof want, "Yamada^Tarou=%s", jp_utf8);
    check_name(
        "\\ISO 2022 IR 87",
        "Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B",
        want, 0);
    /* H.3.2: JIS X 0201 katakana in G1 and romaji in G0 as the initial sets */
    snprintf(
        want, sizeof want,
        "\xEF\xBE\x94\xEF\xBE\x8F\xEF\xBE\x80\xEF\xBE\x9E^\xEF\xBE\x80\xEF\xBE\x9B\xEF\xBD\xB3=%s",
        jp_utf8);
    check_name("ISO 2022 IR 13\\ISO 2022 IR 87",
               "\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d$^$@\x1b(J^"
               "\x1b$B$?$m$&\x1b(J",
               want, 0);
    /* I.2: KS X 1001 in G1 */
    check_name(
        "\\ISO 2022 IR 149",
        "Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6"
        "\xb5\xbf",
        "Hong^Gildong=\xE6\xB4\xAA^\xE5\x90\x89\xE6\xB4\x9E=\xED\x99\x8D^\xEA\xB8\xB8\xEB\x8F"
        "\x99",
        0);
    /* K.2: GB 2312 in G1 */
    check_name("\\ISO 2022 IR 58", "Wang^XiaoDong=\x1b$)A\xcd\xf5^\x1b$)A\xd0\xa1\xb6\xab=",
               "Wang^XiaoDong=\xE7\x8E\x8B^\xE5\xB0\x8F\xE4\xB8\x9C=", 0);
    /* JIS X 0212 in G0 (three-byte escape ESC $ ( D) */
    check_name("ISO 2022 IR 6\\ISO 2022 IR 159", "A^\x1b$(D0!\x1b(B", "A^\xE4\xB8\x82", 0);
    /* Latin-1 as the initial G1, Greek designated by ESC - F */
    check_name("ISO 2022 IR 100\\ISO 2022 IR 126", "Buc^J\xe9r\xf4me=\x1b-F\xc4\xe9",
               "Buc^J\xC3\xA9r\xC3\xB4me=\xCE\x94\xCE\xB9", 0);
    /* single-byte sets without extensions */
    check_name("ISO_IR 144",
               "\xbb\xee\xda"
               "ce\xdc\xd1yp\xd3",
               "\xD0\x9B\xD1\x8E\xD0\xBA"
               "ce\xD0\xBC\xD0\xB1yp\xD0\xB3",
               0);
    check_name("ISO_IR 166", "\xca\xc7\xd1\xca\xb4\xd5",
               "\xE0\xB8\xAA\xE0\xB8\xA7\xE0\xB8\xB1\xE0\xB8\xAA\xE0\xB8\x94\xE0\xB8\xB5", 0);
    /* a bad two-byte character and an unknown escape: the rest kept, U+FFFD, a warning */
    check_name("\\ISO 2022 IR 87", "A\x1b$B\x7f\x7f\x1b(B^B", "A\xEF\xBF\xBD\xEF\xBF\xBD^B", 1);
    check_name("\\ISO 2022 IR 87", "A\x1b%GB", "A\xEF\xBF\xBD%GB", 1);
    /* GB18030 with a byte that is not valid in it */
    check_name("GB18030", "\xCD\xF5^\xFF", "\xE7\x8E\x8B^\xEF\xBF\xBD", 1);
}

static void test_parse_file(void **state)
{
    (void)state;
    char path[512], err[256];
    path_of(path, sizeof(path), "plain.dcm");
    assert_int_equal(tdw_write(path, NULL, 0), 0);
    huren_dicom_file *f = NULL;
    assert_int_equal(huren_dicom_file_parse(path, &f, err, sizeof(err)), 0);
    assert_string_equal(huren_dicom_file_transfer_syntax(f), "1.2.840.10008.1.2.1");
    assert_string_equal(huren_dicom_file_value(f, T_SOP_INSTANCE), "1.2.3.4.1.100");
    assert_string_equal(huren_dicom_file_value(f, HUREN_DICOM_TAG(0x0028, 0x0010)), "8");
    size_t n = 0;
    const huren_dicom_element *e = huren_dicom_file_elements(f, &n);
    assert_true(n > 5);
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(e[i].tag, HUREN_DICOM_TAG(0x7FE0, 0x0010)); /* no pixel data */
        assert_int_not_equal(e[i].tag >> 16, 0x0002);
    }
    assert_string_equal(huren_dicom_elements_find(e, n, T_PATIENT_ID), "P1");
    assert_null(huren_dicom_elements_find(e, n, HUREN_DICOM_TAG(0x0008, 0x0050)));
    huren_dicom_file_free(f);
    huren_dicom_file_free(NULL);

    /* truncated in the middle of the header elements */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    char cut[512];
    path_of(cut, sizeof(cut), "truncated.dcm");
    char *all = malloc((size_t)st.st_size);
    FILE *fp = fopen(path, "rb");
    assert_int_equal(fread(all, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
    fclose(fp);
    fp = fopen(cut, "wb");
    fwrite(all, 1, 132 + 200 + 7, fp); /* preamble, then part of the meta header and dataset */
    fclose(fp);
    free(all);
    f = NULL;
    assert_int_equal(huren_dicom_file_parse(cut, &f, err, sizeof(err)), HUREN_DICOM_ECORRUPT);
    assert_null(f);

    char txt[512];
    path_of(txt, sizeof(txt), "notes.txt");
    fp = fopen(txt, "w");
    fputs("This is a plain text file, not DICOM at all.\nSecond line.\n", fp);
    fclose(fp);
    assert_int_equal(huren_dicom_file_parse(txt, &f, err, sizeof(err)), HUREN_DICOM_ENOTDICOM);
    char missing[512];
    path_of(missing, sizeof(missing), "missing.dcm");
    assert_int_equal(huren_dicom_file_parse(missing, &f, err, sizeof(err)), HUREN_DICOM_EIO);
    assert_int_equal(huren_dicom_file_parse(NULL, &f, err, sizeof(err)), HUREN_DICOM_EINVAL);
    assert_string_equal(huren_dicom_status_str(0xA801), "Refused: Move Destination unknown");
}

/* ---- the SCP -------------------------------------------------------------------------------- */

typedef struct stored {
    char path[512], cls[65], inst[65], ts[65], study[65], name[128];
} stored;

static struct {
    pthread_mutex_t mu;
    stored items[32];
    int n;
    int finds;
    huren_dicom_level last_level;
    huren_dicom_model last_model;
    int last_nkeys;
    int dest_port;
    int warnings;
    int cancelled;       /* emit returned nonzero */
    char last_name[128]; /* PatientName key of the last query */
} g = {PTHREAD_MUTEX_INITIALIZER, {{"", "", "", "", "", ""}}, 0, 0, 0, 0, 0, 0, 0, 0, ""};

static huren_dicom_scp *g_scp;
static pid_t g_storescp = -1;

static uint16_t on_store(const huren_dicom_store_req *req, void *payload)
{
    (void)payload;
    pthread_mutex_lock(&g.mu);
    if (g.n >= 32) {
        pthread_mutex_unlock(&g.mu);
        return HUREN_DICOM_STATUS_OUT_OF_RESOURCES;
    }
    stored *s = &g.items[g.n];
    snprintf(s->path, sizeof(s->path), "%s/store/%d.dcm", g_dir, g.n);
    if (rename(req->tmp_path, s->path) != 0) {
        pthread_mutex_unlock(&g.mu);
        return HUREN_DICOM_STATUS_OUT_OF_RESOURCES;
    }
    const char *study = huren_dicom_elements_find(req->elements, req->nelements, T_STUDY);
    const char *name = huren_dicom_elements_find(req->elements, req->nelements, T_PATIENT_NAME);
    snprintf(s->cls, sizeof(s->cls), "%s", req->sop_class_uid);
    snprintf(s->inst, sizeof(s->inst), "%s", req->sop_instance_uid);
    snprintf(s->ts, sizeof(s->ts), "%s", req->transfer_syntax_uid);
    snprintf(s->study, sizeof(s->study), "%s", study ? study : "");
    snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
    g.n++;
    pthread_mutex_unlock(&g.mu);
    return HUREN_DICOM_STATUS_SUCCESS;
}

static uint16_t on_find(const huren_dicom_query *q, huren_dicom_find_emit emit, void *ctx,
                        void *payload)
{
    (void)payload;
    pthread_mutex_lock(&g.mu);
    g.finds++;
    g.last_level = q->level;
    g.last_model = q->model;
    g.last_nkeys = (int)q->nkeys;
    const char *qname = huren_dicom_elements_find(q->keys, q->nkeys, T_PATIENT_NAME);
    snprintf(g.last_name, sizeof(g.last_name), "%s", qname ? qname : "(absent)");
    pthread_mutex_unlock(&g.mu);
    const char *pid = huren_dicom_elements_find(q->keys, q->nkeys, T_PATIENT_ID);
    if (pid && strcmp(pid, "CANCELTEST") == 0) {
        /* many slow matches: the requestor's C-CANCEL arrives while we emit */
        huren_dicom_element m[] = {{T_STUDY, "UI", "1.2.3.9"}, {T_PATIENT_ID, "LO", "CANCELTEST"}};
        for (int i = 0; i < 200; i++) {
            if (emit(ctx, m, 2)) {
                pthread_mutex_lock(&g.mu);
                g.cancelled++;
                pthread_mutex_unlock(&g.mu);
                return HUREN_DICOM_STATUS_CANCEL;
            }
            usleep(10000);
        }
        return HUREN_DICOM_STATUS_SUCCESS;
    }
    huren_dicom_element m1[] = {
        {T_STUDY, "UI", "1.2.3.4"},
        {T_PATIENT_NAME, "PN", utf8_wang},
        {T_STUDY_DATE, "DA", "20240101"},
        {T_PATIENT_ID, "LO", "P1"},
        {HUREN_DICOM_TAG(0x0008, 0x0050), "SH", "ACC1"},
    };
    huren_dicom_element m2[] = {
        {T_STUDY, "UI", "1.2.3.5"},
        {T_PATIENT_NAME, "PN", "Smith^John"},
    };
    if (emit(ctx, m1, 5))
        return HUREN_DICOM_STATUS_CANCEL;
    if (emit(ctx, m2, 2))
        return HUREN_DICOM_STATUS_CANCEL;
    return HUREN_DICOM_STATUS_SUCCESS;
}

static uint16_t on_retrieve(const huren_dicom_query *q, huren_dicom_retrieve_list *out,
                            void *payload)
{
    (void)payload;
    const char *study = huren_dicom_elements_find(q->keys, q->nkeys, T_STUDY);
    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < g.n; i++)
        if (!study || !*study || strcmp(study, g.items[i].study) == 0)
            huren_dicom_retrieve_list_add(out, g.items[i].path, g.items[i].cls, g.items[i].inst,
                                          g.items[i].ts);
    pthread_mutex_unlock(&g.mu);
    return HUREN_DICOM_STATUS_SUCCESS;
}

static int on_resolve(const char *ae, char *host, size_t hostlen, int *port, void *payload)
{
    (void)payload;
    if (strcmp(ae, "DEST") != 0)
        return 1;
    snprintf(host, hostlen, "127.0.0.1");
    *port = g.dest_port;
    return 0;
}

static void on_log(huren_dicom_log_level level, const char *msg, void *payload)
{
    (void)payload;
    if (level <= HUREN_DICOM_LOG_WARN) {
        pthread_mutex_lock(&g.mu);
        g.warnings++;
        pthread_mutex_unlock(&g.mu);
    }
    if (getenv("HUREN_TEST_VERBOSE") || level <= HUREN_DICOM_LOG_WARN)
        fprintf(stderr, "[scp %d] %s\n", (int)level, msg);
}

static huren_dicom_handlers handlers(void)
{
    huren_dicom_handlers h;
    memset(&h, 0, sizeof(h));
    h.store = on_store;
    h.find = on_find;
    h.retrieve = on_retrieve;
    h.resolve_ae = on_resolve;
    h.log = on_log;
    return h;
}

static int scp_setup(void **state)
{
    (void)state;
    char d[512];
    path_of(d, sizeof(d), "tmp");
    mkdir(d, 0700);
    path_of(d, sizeof(d), "store");
    mkdir(d, 0700);
    path_of(d, sizeof(d), "dest");
    mkdir(d, 0700);
    path_of(d, sizeof(d), "in");
    mkdir(d, 0700);

    char tmp[512], err[256] = "";
    path_of(tmp, sizeof(tmp), "tmp");
    huren_dicom_scp_options o = HUREN_DICOM_SCP_OPTIONS_INIT;
    o.port = 0;
    o.tmp_dir = tmp;
    o.dimse_timeout_s = 20;
    huren_dicom_handlers h = handlers();
    if (huren_dicom_scp_start(&g_scp, &o, &h, err, sizeof(err)) != 0) {
        fprintf(stderr, "scp start: %s\n", err);
        return -1;
    }

    /* the C-MOVE destination */
    g.dest_port = free_port();
    char port[16], dest[512], out[512];
    snprintf(port, sizeof(port), "%d", g.dest_port);
    path_of(dest, sizeof(dest), "dest");
    path_of(out, sizeof(out), "storescp.out");
    char *argv[] = {"storescp", "-aet", "DEST", "-od", dest, port, NULL};
    g_storescp = spawn(out, argv);
    if (g_storescp < 0 || wait_port(g.dest_port) != 0)
        return -1;
    return 0;
}

static int scp_teardown(void **state)
{
    (void)state;
    if (g_storescp > 0)
        stop_child(g_storescp);
    kill_all();
    huren_dicom_scp_stop(g_scp, 2);
    g_scp = NULL;
    return 0;
}

static int scu(const char *out_name, char **argv)
{
    char out[512];
    path_of(out, sizeof(out), "%s", out_name);
    int rc = run(out, argv, 60);
    /* the handlers wrote g under g.mu before the SCU got its answers: take the lock once so
     * that the reads of g below are ordered after those writes (ThreadSanitizer checks it) */
    pthread_mutex_lock(&g.mu);
    pthread_mutex_unlock(&g.mu);
    if (rc != 0 || getenv("HUREN_TEST_VERBOSE")) {
        char *text = slurp(out);
        fprintf(stderr, "--- %s exit %d ---\n%s\n", argv[0], rc, text);
        free(text);
    }
    return rc;
}

static void port_str(char *buf, size_t len)
{
    snprintf(buf, len, "%d", huren_dicom_scp_port(g_scp));
}

static void test_scp_echo(void **state)
{
    (void)state;
    char port[16];
    port_str(port, sizeof(port));
    assert_true(huren_dicom_scp_port(g_scp) > 0);
    char *argv[] = {"echoscu", "-aet", "TESTSCU", "-aec", "HUREN", "127.0.0.1", port, NULL};
    assert_int_equal(scu("echoscu.out", argv), 0);
    /* a called AE title that is not ours is refused */
    char *bad[] = {"echoscu", "-aet", "TESTSCU", "-aec", "NOTHUREN", "127.0.0.1", port, NULL};
    assert_int_not_equal(scu("echoscu-bad.out", bad), 0);
    assert_true(huren_dicom_scp_total(g_scp) >= 1);
}

static int connect_scp(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)huren_dicom_scp_port(g_scp));
    sa.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* A request that stops after 3 bytes, a silent socket and a non-DICOM one hold nobody up: the
 * listener reads without blocking and counts what it closes. */
static void test_scp_half_open(void **state)
{
    (void)state;
    char port[16];
    port_str(port, sizeof(port));
    huren_dicom_scp_stats st;
    huren_dicom_scp_stats_get(g_scp, &st);
    uint64_t refused_ae = st.refused_ae, not_assoc = st.not_association;
    int half = connect_scp(), silent = connect_scp(), junk = connect_scp();
    assert_int_equal(send(half, "\x01\x00\x00", 3, 0), 3);
    assert_int_equal(send(junk, "GET / HTTP/1.0\r\n\r\n", 18, 0), 18);
    for (int i = 0; i < 200; i++) {
        huren_dicom_scp_stats_get(g_scp, &st);
        if (st.negotiating == 1 && st.not_association > not_assoc)
            break;
        usleep(50 * 1000);
    }
    assert_int_equal(st.negotiating, 1);
    assert_true(st.not_association > not_assoc);
    char buf[8];
    assert_true(recv(junk, buf, sizeof(buf), 0) <= 0); /* closed (or reset) by the SCP */
    char *argv[] = {"echoscu", "-to",   "5",         "-aet", "TESTSCU",
                    "-aec",    "HUREN", "127.0.0.1", port,   NULL};
    assert_int_equal(scu("echoscu-half.out", argv), 0);
    char *bad[] = {"echoscu", "-aet", "TESTSCU", "-aec", "NOTHUREN", "127.0.0.1", port, NULL};
    assert_int_not_equal(scu("echoscu-bad2.out", bad), 0);
    huren_dicom_scp_stats_get(g_scp, &st);
    assert_true(st.refused_ae > refused_ae);
    close(half);
    close(silent);
    close(junk);
    for (int i = 0; i < 200 && st.negotiating != 0; i++) {
        usleep(50 * 1000);
        huren_dicom_scp_stats_get(g_scp, &st);
    }
    assert_int_equal(st.negotiating, 0); /* a client that gives up frees its place */
}

static void test_scp_busy_port(void **state)
{
    (void)state;
    char tmp[512], err[256] = "";
    path_of(tmp, sizeof(tmp), "tmp");
    huren_dicom_scp_options o = HUREN_DICOM_SCP_OPTIONS_INIT;
    o.port = huren_dicom_scp_port(g_scp);
    o.tmp_dir = tmp;
    huren_dicom_handlers h = handlers();
    huren_dicom_scp *other = NULL;
    assert_int_not_equal(huren_dicom_scp_start(&other, &o, &h, err, sizeof(err)), 0);
    assert_null(other);
    assert_true(strlen(err) > 0);
}

static void test_scp_allowed_calling(void **state)
{
    (void)state;
    char tmp[512], err[256] = "", port[16];
    path_of(tmp, sizeof(tmp), "tmp");
    const char *allowed[] = {"GOODSCU", NULL};
    huren_dicom_scp_options o = HUREN_DICOM_SCP_OPTIONS_INIT;
    o.port = 0;
    o.tmp_dir = tmp;
    o.allowed_calling_aes = allowed;
    huren_dicom_handlers h = handlers();
    huren_dicom_scp *s = NULL;
    assert_int_equal(huren_dicom_scp_start(&s, &o, &h, err, sizeof(err)), 0);
    snprintf(port, sizeof(port), "%d", huren_dicom_scp_port(s));
    char *good[] = {"echoscu", "-aet", "GOODSCU", "-aec", "HUREN", "127.0.0.1", port, NULL};
    char *bad[] = {"echoscu", "-aet", "BADSCU", "-aec", "HUREN", "127.0.0.1", port, NULL};
    int rc_good = scu("echo-good.out", good);
    int rc_bad = scu("echo-bad.out", bad);
    huren_dicom_scp_stop(s, 1);
    assert_int_equal(rc_good, 0);
    assert_int_not_equal(rc_bad, 0);
}

/* The TLS port: the test PKI of conf/make-test-pki.sh, DCMTK's echoscu over TLS. */
static struct {
    pthread_mutex_t mu;
    char subject[256];
    int admitted;
} g_tls = {PTHREAD_MUTEX_INITIALIZER, "", 0};

static int on_admit(const huren_dicom_peer *peer, char *why, size_t whylen, void *payload)
{
    (void)payload;
    pthread_mutex_lock(&g_tls.mu);
    snprintf(g_tls.subject, sizeof(g_tls.subject), "%s",
             peer->tls_subject ? peer->tls_subject : "(plain)");
    int refuse = strcmp(peer->calling_ae, "NOPE") == 0;
    g_tls.admitted += !refuse;
    pthread_mutex_unlock(&g_tls.mu);
    if (refuse)
        snprintf(why, whylen, "test refuses NOPE");
    return refuse;
}

static void tls_files(huren_dicom_scp_options *o, const char *pki, char *cert, char *key, char *ca,
                      size_t len)
{
    snprintf(cert, len, "%s/server.crt", pki);
    snprintf(key, len, "%s/server.key", pki);
    snprintf(ca, len, "%s/ca.crt", pki);
    o->tls_cert = cert;
    o->tls_key = key;
    o->tls_client_ca = ca;
}

/* The SCP refuses to start on TLS files it cannot use (the precise checks are the gateway's,
 * config_files.c): another certificate's key, no client CA where one is required. */
static void test_tls_refused(const char *pki)
{
    char cert[600], key[600], ca[600], other[600], err[512], tmp[512];
    huren_dicom_scp_options o = HUREN_DICOM_SCP_OPTIONS_INIT;
    tls_files(&o, pki, cert, key, ca, sizeof(cert));
    path_of(tmp, sizeof(tmp), "tmp");
    o.tmp_dir = tmp;
    o.port = 0;
    huren_dicom_handlers h = handlers();
    huren_dicom_scp *s = NULL;
    snprintf(other, sizeof(other), "%s/peer.key", pki);
    o.tls_key = other;
    assert_int_equal(huren_dicom_scp_start(&s, &o, &h, err, sizeof(err)), HUREN_DICOM_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "TLS set-up of "));
    o.tls_key = key;
    o.tls_client_ca = NULL;
    assert_int_equal(huren_dicom_scp_start(&s, &o, &h, err, sizeof(err)), HUREN_DICOM_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "client certificates are required"));
}

static void test_scp_tls(void **state)
{
    (void)state;
    char pki[512], cmd[1200];
    path_of(pki, sizeof(pki), "pki");
    snprintf(cmd, sizeof(cmd), "bash '%s/conf/make-test-pki.sh' '%s' >/dev/null", HUREN_SOURCE_DIR,
             pki);
    assert_int_equal(system(cmd), 0);
    test_tls_refused(pki);

    char tmp[512], err[512] = "", port[16], cert[600], key[600], ca[600];
    path_of(tmp, sizeof(tmp), "tmp");
    huren_dicom_scp_options o = HUREN_DICOM_SCP_OPTIONS_INIT;
    o.port = 0;
    o.tmp_dir = tmp;
    tls_files(&o, pki, cert, key, ca, sizeof(cert));
    huren_dicom_handlers h = handlers();
    h.admit = on_admit;
    huren_dicom_scp *s = NULL;
    assert_int_equal(huren_dicom_scp_start(&s, &o, &h, err, sizeof(err)), 0);
    snprintf(port, sizeof(port), "%d", huren_dicom_scp_port(s));
    char ckey[600], ccert[600];
    snprintf(ckey, sizeof(ckey), "%s/clinician.key", pki);
    snprintf(ccert, sizeof(ccert), "%s/clinician.crt", pki);
    char *good[] = {
        "echoscu",         "-aet", "CT1",       "-aec", "HUREN", "--enable-tls", ckey, ccert,
        "--add-cert-file", ca,     "127.0.0.1", port,   NULL};
    char *refused[] = {
        "echoscu",         "-aet", "NOPE",      "-aec", "HUREN", "--enable-tls", ckey, ccert,
        "--add-cert-file", ca,     "127.0.0.1", port,   NULL};
    char *anon[] = {"echoscu",         "-aet", "CT1",       "-aec", "HUREN", "--anonymous-tls",
                    "--add-cert-file", ca,     "127.0.0.1", port,   NULL};
    char *plain[] = {"echoscu", "-aet", "CT1", "-aec", "HUREN", "127.0.0.1", port, NULL};
    int rc_good = scu("tls-good.out", good);
    pthread_mutex_lock(&g_tls.mu);
    char subject[256];
    snprintf(subject, sizeof(subject), "%s", g_tls.subject);
    pthread_mutex_unlock(&g_tls.mu);
    int rc_refused = scu("tls-refused.out", refused);
    int rc_anon = scu("tls-anon.out", anon);
    int rc_plain = scu("tls-plain.out", plain);
    huren_dicom_scp_stats st;
    huren_dicom_scp_stats_get(s, &st);
    huren_dicom_scp_stop(s, 1);
    assert_int_equal(rc_good, 0);
    assert_string_equal(subject, "CN=clinician,O=Hospital A,C=CN");
    assert_int_not_equal(rc_refused, 0);
    assert_int_not_equal(rc_anon, 0);
    assert_int_not_equal(rc_plain, 0);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.refused_ae, 1);
    assert_true(st.tls_failed >= 1); /* the one without a certificate (and the plain one) */
    pthread_mutex_lock(&g_tls.mu);
    assert_int_equal(g_tls.admitted, 1);
    pthread_mutex_unlock(&g_tls.mu);
}

static void write_input(const char *name, const char *inst, const char *study, const char *series,
                        const char *pname, const char *cs)
{
    char path[512];
    path_of(path, sizeof(path), "in/%s", name);
    tdw_kv kv[5] = {{T_SOP_INSTANCE, inst},
                    {T_STUDY, study},
                    {T_SERIES, series},
                    {T_PATIENT_NAME, pname},
                    {T_CHARSET, cs}};
    assert_int_equal(tdw_write(path, kv, 5), 0);
}

static void test_scp_store(void **state)
{
    (void)state;
    write_input("a.dcm", "1.2.3.4.1.1", "1.2.3.4", "1.2.3.4.1", gb_wang, "GB18030");
    write_input("b.dcm", "1.2.3.4.1.2", "1.2.3.4", "1.2.3.4.1", gb_wang, "GB18030");
    write_input("c.dcm", "1.2.3.5.1.1", "1.2.3.5", "1.2.3.5.1", "Smith^John", NULL);
    char port[16], a[512], b[512], c[512], tmp[512];
    port_str(port, sizeof(port));
    path_of(a, sizeof(a), "in/a.dcm");
    path_of(b, sizeof(b), "in/b.dcm");
    path_of(c, sizeof(c), "in/c.dcm");
    char *argv[] = {"storescu", "-aet", "TESTSCU", "-aec", "HUREN", "127.0.0.1",
                    port,       a,      b,         c,      NULL};
    assert_int_equal(scu("storescu.out", argv), 0);
    pthread_mutex_lock(&g.mu);
    int n = g.n;
    pthread_mutex_unlock(&g.mu);
    assert_int_equal(n, 3);
    assert_string_equal(g.items[0].name, utf8_wang);
    assert_string_equal(g.items[0].ts, "1.2.840.10008.1.2.1");
    assert_string_equal(g.items[2].study, "1.2.3.5");
    path_of(tmp, sizeof(tmp), "tmp");
    assert_int_equal(count_files(tmp), 0);
}

static void test_scp_store_invalid(void **state)
{
    (void)state;
    char port[16], p1[512], p2[512], tmp[512];
    port_str(port, sizeof(port));
    write_input("noseries.dcm", "1.2.3.6.1.1", "1.2.3.6", NULL, "No^Series", NULL);
    write_input("baduid.dcm", "1.2.3.6.1.2", "1.2.3.6", "1.2.03.6", "Bad^Uid", NULL);
    path_of(p1, sizeof(p1), "in/noseries.dcm");
    path_of(p2, sizeof(p2), "in/baduid.dcm");
    char *argv1[] = {"storescu", "-v",        "-aet", "TESTSCU", "-aec",
                     "HUREN",    "127.0.0.1", port,   p1,        NULL};
    char *argv2[] = {"storescu", "-aet", "TESTSCU", "-aec", "HUREN", "127.0.0.1", port, p2, NULL};
    (void)scu("storescu-noseries.out", argv1);
    (void)scu("storescu-baduid.out", argv2);
    char out[512];
    path_of(out, sizeof(out), "storescu-noseries.out");
    char *text = slurp(out);
    int refused = strstr(text, "CannotUnderstand") != NULL || strstr(text, "Cannot understand") ||
                  strstr(text, "0xc000") != NULL;
    free(text);
    assert_true(refused);
    pthread_mutex_lock(&g.mu);
    int n = g.n;
    pthread_mutex_unlock(&g.mu);
    assert_int_equal(n, 3); /* the handler was not called */
    path_of(tmp, sizeof(tmp), "tmp");
    assert_int_equal(count_files(tmp), 0);
}

static void test_scp_find(void **state)
{
    (void)state;
    char port[16], od[512];
    port_str(port, sizeof(port));
    path_of(od, sizeof(od), "find");
    mkdir(od, 0700);
    char *argv[] = {"findscu",
                    "-S",
                    "-X",
                    "-od",
                    od,
                    "-aet",
                    "TESTSCU",
                    "-aec",
                    "HUREN",
                    "-k",
                    "QueryRetrieveLevel=STUDY",
                    "-k",
                    "StudyInstanceUID",
                    "-k",
                    "PatientName",
                    "-k",
                    "StudyDate",
                    "127.0.0.1",
                    port,
                    NULL};
    assert_int_equal(scu("findscu.out", argv), 0);
    assert_int_equal(g.last_level, HUREN_DICOM_LEVEL_STUDY);
    assert_int_equal(g.last_model, HUREN_DICOM_MODEL_STUDY_ROOT);
    assert_int_equal(g.last_nkeys, 3); /* without QueryRetrieveLevel and charset */
    assert_int_equal(count_files(od), 2);

    char rsp[512], err[256];
    path_of(rsp, sizeof(rsp), "find/rsp0001.dcm");
    huren_dicom_file *f = NULL;
    assert_int_equal(huren_dicom_file_parse(rsp, &f, err, sizeof(err)), 0);
    size_t n = 0;
    const huren_dicom_element *e = huren_dicom_file_elements(f, &n);
    /* exactly the requested keys plus the level (the charset is not reported as an element) */
    assert_int_equal(n, 4);
    assert_string_equal(huren_dicom_elements_find(e, n, T_QR_LEVEL), "STUDY");
    assert_string_equal(huren_dicom_elements_find(e, n, T_STUDY), "1.2.3.4");
    assert_string_equal(huren_dicom_elements_find(e, n, T_PATIENT_NAME), utf8_wang);
    assert_string_equal(huren_dicom_elements_find(e, n, T_STUDY_DATE), "20240101");
    assert_null(huren_dicom_elements_find(e, n, T_PATIENT_ID));
    huren_dicom_file_free(f);

    path_of(rsp, sizeof(rsp), "find/rsp0002.dcm");
    assert_int_equal(huren_dicom_file_parse(rsp, &f, err, sizeof(err)), 0);
    assert_string_equal(huren_dicom_file_value(f, T_STUDY), "1.2.3.5");
    huren_dicom_file_free(f);

    /* keys arrive in UTF-8 whatever the identifier's character set */
    char gbkey[64];
    snprintf(gbkey, sizeof(gbkey), "PatientName=%s", gb_wang);
    char *gb[] = {"findscu",   "-S",
                  "-aet",      "TESTSCU",
                  "-aec",      "HUREN",
                  "-k",        "QueryRetrieveLevel=STUDY",
                  "-k",        "SpecificCharacterSet=GB18030",
                  "-k",        gbkey,
                  "127.0.0.1", port,
                  NULL};
    assert_int_equal(scu("findscu-gb.out", gb), 0);
    assert_string_equal(g.last_name, utf8_wang);

    /* no QueryRetrieveLevel: a failure, the handler is not called */
    int finds = g.finds;
    char *bad[] = {"findscu",          "-S",        "-aet", "TESTSCU", "-aec", "HUREN", "-k",
                   "StudyInstanceUID", "127.0.0.1", port,   NULL};
    (void)scu("findscu-bad.out", bad);
    assert_int_equal(g.finds, finds);
}

static void test_scp_move(void **state)
{
    (void)state;
    char port[16], dest[512];
    port_str(port, sizeof(port));
    path_of(dest, sizeof(dest), "dest");
    char *argv[] = {"movescu",   "-S",
                    "-aet",      "TESTSCU",
                    "-aec",      "HUREN",
                    "-aem",      "DEST",
                    "-k",        "QueryRetrieveLevel=STUDY",
                    "-k",        "StudyInstanceUID=1.2.3.4",
                    "127.0.0.1", port,
                    NULL};
    assert_int_equal(scu("movescu.out", argv), 0);
    assert_int_equal(count_files(dest), 2);

    char *unknown[] = {"movescu",   "-S",
                       "-aet",      "TESTSCU",
                       "-aec",      "HUREN",
                       "-aem",      "NOWHERE",
                       "-k",        "QueryRetrieveLevel=STUDY",
                       "-k",        "StudyInstanceUID=1.2.3.4",
                       "127.0.0.1", port,
                       NULL};
    (void)scu("movescu-unknown.out", unknown);
    char out[512];
    path_of(out, sizeof(out), "movescu-unknown.out");
    char *text = slurp(out);
    int refused = strstr(text, "0xa801") != NULL || strstr(text, "MoveDestinationUnknown") != NULL;
    if (!refused)
        fprintf(stderr, "%s\n", text);
    free(text);
    assert_true(refused);
    assert_int_equal(count_files(dest), 2);
}

static void test_scp_get(void **state)
{
    (void)state;
    char port[16], od[512];
    port_str(port, sizeof(port));
    path_of(od, sizeof(od), "get");
    mkdir(od, 0700);
    char *argv[] = {"getscu",    "-S",
                    "-od",       od,
                    "-aet",      "TESTSCU",
                    "-aec",      "HUREN",
                    "-k",        "QueryRetrieveLevel=STUDY",
                    "-k",        "StudyInstanceUID=1.2.3.4",
                    "127.0.0.1", port,
                    NULL};
    assert_int_equal(scu("getscu.out", argv), 0);
    assert_int_equal(count_files(od), 2);
    char *all[] = {"getscu",    "-S",
                   "-od",       od,
                   "-aet",      "TESTSCU",
                   "-aec",      "HUREN",
                   "-k",        "QueryRetrieveLevel=STUDY",
                   "-k",        "StudyInstanceUID=1.2.3.5",
                   "127.0.0.1", port,
                   NULL};
    assert_int_equal(scu("getscu2.out", all), 0);
    assert_int_equal(count_files(od), 3);
    assert_int_equal(huren_dicom_scp_active(g_scp), 0);
}

static void test_scp_find_cancel(void **state)
{
    (void)state;
    char port[16];
    port_str(port, sizeof(port));
    char *argv[] = {"findscu",   "-S",
                    "--cancel",  "1",
                    "-aet",      "TESTSCU",
                    "-aec",      "HUREN",
                    "-k",        "QueryRetrieveLevel=STUDY",
                    "-k",        "PatientID=CANCELTEST",
                    "-k",        "StudyInstanceUID",
                    "127.0.0.1", port,
                    NULL};
    (void)scu("findscu-cancel.out", argv);
    assert_int_equal(g.cancelled, 1);
}

/* A second SCP with room for one association: the next is refused until the first ends. */
static void test_scp_limit_and_stop(void **state)
{
    (void)state;
    char tmp[512], err[256] = "", port[16];
    path_of(tmp, sizeof(tmp), "tmp");
    huren_dicom_scp_options o = HUREN_DICOM_SCP_OPTIONS_INIT;
    o.port = 0;
    o.tmp_dir = tmp;
    o.max_associations = 1;
    huren_dicom_handlers h = handlers();
    huren_dicom_scp *s = NULL;
    assert_int_equal(huren_dicom_scp_start(&s, &o, &h, err, sizeof(err)), 0);
    int p = huren_dicom_scp_port(s);
    snprintf(port, sizeof(port), "%d", p);

    /* a client that connects and says nothing does not hold up the listener */
    int silent = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)p);
    assert_int_equal(connect(silent, (struct sockaddr *)&sa, sizeof(sa)), 0);

    tah_assoc *held = tah_open(p, "HUREN");
    assert_non_null(held);
    assert_int_equal(tah_echo(held), 0);
    assert_int_equal(huren_dicom_scp_active(s), 1);
    char *echo[] = {"echoscu", "-to",   "10",        "-aet", "TESTSCU",
                    "-aec",    "HUREN", "127.0.0.1", port,   NULL};
    int rc_full = scu("echo-full.out", echo);
    tah_close(held);
    for (int i = 0; i < 100 && huren_dicom_scp_active(s) > 0; i++)
        usleep(20000);
    int rc_free = scu("echo-free.out", echo);

    /* an association still open at stop is aborted once the grace period is over */
    held = tah_open(p, "HUREN");
    assert_non_null(held);
    huren_dicom_scp_stop(s, 1);
    assert_int_not_equal(tah_echo(held), 0);
    tah_close(held);
    close(silent);
    assert_int_not_equal(rc_full, 0);
    assert_int_equal(rc_free, 0);
}

/* ---- patient identity coercion of retrieved copies (coerce.cpp) ----------------------------- */

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static char *json_of(const char *path)
{
    char *json = NULL, err[256];
    size_t len = 0;
    assert_int_equal(huren_dicom_file_to_json(path, NULL, &json, &len, err, sizeof err), 0);
    return json;
}

static void test_coerce_file(void **state)
{
    (void)state;
    char in[512], out[512], again[512], err[256];
    path_of(in, sizeof in, "copy-in.dcm");
    path_of(out, sizeof out, "copy-out.dcm");
    path_of(again, sizeof again, "copy-again.dcm");
    tdw_kv kv[] = {{T_PATIENT_ID, "B-77"}, {HUREN_DICOM_TAG(0x0010, 0x0021), "HOSP-B"}};
    assert_int_equal(tdw_write(in, kv, 2), 0);
    huren_dicom_coercion c = {"A-123", "HOSP-A"};
    assert_int_equal(huren_dicom_file_coerce(in, &c, out, err, sizeof err), 0);
    huren_dicom_file *f = NULL;
    assert_int_equal(huren_dicom_file_parse(out, &f, err, sizeof err), 0);
    assert_string_equal(huren_dicom_file_value(f, T_PATIENT_ID), "A-123");
    assert_string_equal(huren_dicom_file_value(f, HUREN_DICOM_TAG(0x0010, 0x0021)), "HOSP-A");
    assert_string_equal(huren_dicom_file_value(f, T_SOP_INSTANCE), "1.2.3.4.1.100");
    huren_dicom_file_free(f);
    /* the source's ids in OtherPatientIDsSequence, once even when coerced again */
    char *json = json_of(out);
    assert_non_null(strstr(json, "\"00101002\":{\"vr\":\"SQ\""));
    assert_int_equal(count_of(json, "\"B-77\""), 1);
    assert_int_equal(count_of(json, "\"HOSP-B\""), 1);
    assert_int_equal(count_of(json, "\"TEXT\""), 1);
    free(json);
    assert_int_equal(huren_dicom_file_coerce(out, &c, again, err, sizeof err), 0);
    json = json_of(again);
    assert_int_equal(count_of(json, "\"B-77\""), 1);
    assert_int_equal(count_of(json, "\"A-123\""), 1);
    free(json);
    /* the pixel data goes out as it came */
    char *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    assert_int_equal(huren_dicom_file_frame(in, 1, &a, &la, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(huren_dicom_file_frame(out, 1, &b, &lb, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
    /* no issuer to give: the source's one does not stay as ours */
    huren_dicom_coercion no_issuer = {"A-9", NULL};
    assert_int_equal(huren_dicom_file_coerce(in, &no_issuer, out, err, sizeof err), 0);
    assert_int_equal(huren_dicom_file_parse(out, &f, err, sizeof err), 0);
    assert_string_equal(huren_dicom_file_value(f, T_PATIENT_ID), "A-9");
    assert_null(huren_dicom_file_value(f, HUREN_DICOM_TAG(0x0010, 0x0021)));
    huren_dicom_file_free(f);
    /* bad arguments and input */
    huren_dicom_coercion none = {NULL, NULL};
    assert_int_equal(huren_dicom_file_coerce(in, &none, out, err, sizeof err), HUREN_DICOM_EINVAL);
    FILE *fp = fopen(again, "w");
    fputs("not dicom", fp);
    fclose(fp);
    assert_int_equal(huren_dicom_file_coerce(again, &c, out, err, sizeof err),
                     HUREN_DICOM_ECORRUPT);
}

/* Files we did not make (pydicom's test data): compressed pixel data keeps its fragments, and
 * a GB18030/other charset dataset stays readable. */
static void test_coerce_public_files(void **state)
{
    (void)state;
    static const char *const files[] = {
        "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm",
        "/usr/lib/python3/dist-packages/pydicom/data/test_files/JPEG2000.dcm",
        "/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small_RLE.dcm",
        "/usr/lib/python3/dist-packages/pydicom/data/charset_files/chrX2.dcm",
    };
    char out[512], err[256];
    path_of(out, sizeof out, "public-out.dcm");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (access(files[i], R_OK) != 0)
            fail_msg("%s: missing (python3-pydicom)", files[i]);
        huren_dicom_coercion c = {"A-123", "HOSP-A"};
        assert_int_equal(huren_dicom_file_coerce(files[i], &c, out, err, sizeof err), 0);
        huren_dicom_file *fi = NULL, *fo = NULL;
        assert_int_equal(huren_dicom_file_parse(files[i], &fi, err, sizeof err), 0);
        assert_int_equal(huren_dicom_file_parse(out, &fo, err, sizeof err), 0);
        assert_string_equal(huren_dicom_file_value(fo, T_PATIENT_ID), "A-123");
        assert_string_equal(huren_dicom_file_transfer_syntax(fo),
                            huren_dicom_file_transfer_syntax(fi));
        const char *name = huren_dicom_file_value(fi, HUREN_DICOM_TAG(0x0010, 0x0010));
        if (name)
            assert_string_equal(huren_dicom_file_value(fo, HUREN_DICOM_TAG(0x0010, 0x0010)), name);
        const char *pid = huren_dicom_file_value(fi, T_PATIENT_ID);
        char *json = json_of(out);
        if (pid && *pid)
            assert_non_null(strstr(json, pid));
        free(json);
        char *a = NULL, *b = NULL;
        size_t la = 0, lb = 0;
        int ra = huren_dicom_file_frame(files[i], 0, &a, &la, NULL, NULL, err, sizeof err);
        int rb = huren_dicom_file_frame(out, 0, &b, &lb, NULL, NULL, err, sizeof err);
        assert_int_equal(ra, rb);
        if (ra == 0) {
            assert_int_equal(la, lb);
            assert_memory_equal(a, b, la);
        }
        free(a);
        free(b);
        huren_dicom_file_free(fi);
        huren_dicom_file_free(fo);
    }
}

/* The pixel fingerprint of public files, against digests pydicom 2.3 gives (PixelData as
 * read; for encapsulated data its fragments after the Basic Offset Table, from
 * generate_pixel_data_fragment): native little and big endian, implicit VR, deflated,
 * JPEG 2000, RLE with two frames, and an SR without pixel data. */
static void test_pixel_digest(void **state)
{
    (void)state;
    static const struct {
        const char *file, *hex;
    } cases[] = {
        {"CT_small.dcm", "7a481f6ffff833aef4d8bd54819bd8f472aaa7232090208e056c90eacf079926"},
        {"MR_small_bigendian.dcm",
         "6d00b5d8e3b090e3aa471638644bf30444e3ebcc75383e7b25a5ceac39cb74d8"},
        {"MR_small_implicit.dcm",
         "88617aaa46138fb1b6e2a951e762d962382354d69f47f8c04d4abff2f6a6a63e"},
        {"MR_small.dcm", "88617aaa46138fb1b6e2a951e762d962382354d69f47f8c04d4abff2f6a6a63e"},
        {"image_dfl.dcm", "1f5f1b1c1a57606a55d7e4212ee2655c8205b45e264bd55057f7388c258deef8"},
        {"JPEG2000.dcm", "881ac6769b7ce70090a983b89c030d9967530c6dbff5d40445499f3404d3d56b"},
        {"MR_small_RLE.dcm", "bc0da430a1816a54023c40b9d638e7a83c3416a129f4b4fb8ca2e698e67f1dc0"},
        {"SC_rgb_rle_2frame.dcm",
         "cfbe86d78eba95cb1d40a13712c94faf800c8186a25208a9bbc2e23baab8551e"},
        {"test-SR.dcm", ""},
    };
    char path[512], hex[65], err[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "/usr/lib/python3/dist-packages/pydicom/data/test_files/%s",
                 cases[i].file);
        if (access(path, R_OK) != 0)
            fail_msg("%s: missing (python3-pydicom)", path);
        int rc = huren_dicom_file_pixel_digest(path, hex, err, sizeof err);
        assert_int_equal(rc, cases[i].hex[0] ? 0 : HUREN_DICOM_ENOTSUP);
        assert_string_equal(hex, cases[i].hex);
    }
    /* the coerced copy of an instance keeps its fingerprint */
    char out[512], a[65], b[65];
    path_of(out, sizeof out, "digest-coerced.dcm");
    snprintf(path, sizeof path, "/usr/lib/python3/dist-packages/pydicom/data/test_files/%s",
             "MR_small_RLE.dcm");
    huren_dicom_coercion c = {"B-9", "HOSP-B"};
    assert_int_equal(huren_dicom_file_coerce(path, &c, out, err, sizeof err), 0);
    assert_int_equal(huren_dicom_file_pixel_digest(path, a, err, sizeof err), 0);
    assert_int_equal(huren_dicom_file_pixel_digest(out, b, err, sizeof err), 0);
    assert_string_equal(a, b);
    /* not DICOM, and no file */
    path_of(out, sizeof out, "digest-junk.dcm");
    FILE *fp = fopen(out, "wb");
    assert_non_null(fp);
    fputs("this is not a DICOM file at all, not even close to one", fp);
    fclose(fp);
    assert_true(huren_dicom_file_pixel_digest(out, hex, err, sizeof err) < 0);
    assert_string_equal(hex, "");
    path_of(out, sizeof out, "digest-missing.dcm");
    assert_true(huren_dicom_file_pixel_digest(out, hex, err, sizeof err) < 0);
}

/* ---- the client (scu.cpp) against our own SCP ---- */

static huren_dicom_scu_options scu_opts(void)
{
    huren_dicom_scu_options o = HUREN_DICOM_SCU_OPTIONS_INIT;
    o.calling_ae = "HURENSCU";
    o.called_ae = "HUREN";
    o.host = "127.0.0.1";
    o.port = huren_dicom_scp_port(g_scp);
    o.timeout_s = 10;
    return o;
}

typedef struct scu_answers {
    int n, stop_after;
    char names[4][128];
} scu_answers;

static int on_answer(void *ctx, const huren_dicom_element *el, size_t n)
{
    scu_answers *a = ctx;
    const char *name = huren_dicom_elements_find(el, n, T_PATIENT_NAME);
    if (a->n < 4)
        snprintf(a->names[a->n], sizeof a->names[0], "%s", name ? name : "");
    a->n++;
    return a->stop_after && a->n >= a->stop_after;
}

static void test_scu_find(void **state)
{
    (void)state;
    huren_dicom_scu_options o = scu_opts();
    huren_dicom_element keys[] = {{T_STUDY, "UI", ""}, {T_PATIENT_NAME, "PN", ""}};
    scu_answers a = {0, 0, {""}};
    uint16_t status = 1;
    char err[256] = "";
    assert_int_equal(huren_dicom_scu_find(&o, HUREN_DICOM_LEVEL_STUDY, keys, 2, on_answer, &a,
                                          &status, err, sizeof err),
                     0);
    assert_int_equal(status, HUREN_DICOM_STATUS_SUCCESS);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.names[0], utf8_wang); /* answers in UTF-8 */
    assert_string_equal(a.names[1], "Smith^John");
    /* the caller stops: C-CANCEL, status Cancel */
    huren_dicom_element many[] = {{T_STUDY, "UI", ""}, {T_PATIENT_ID, "LO", "CANCELTEST"}};
    scu_answers c = {0, 3, {""}};
    assert_int_equal(huren_dicom_scu_find(&o, HUREN_DICOM_LEVEL_STUDY, many, 2, on_answer, &c,
                                          &status, err, sizeof err),
                     0);
    assert_int_equal(status, HUREN_DICOM_STATUS_CANCEL);
    assert_true(c.n >= 3 && c.n < 200);
    /* nobody there */
    o.port = free_port();
    assert_int_equal(huren_dicom_scu_find(&o, HUREN_DICOM_LEVEL_STUDY, keys, 2, on_answer, &a,
                                          &status, err, sizeof err),
                     HUREN_DICOM_EIO);
    assert_non_null(strstr(err, "association with HUREN"));
    o.called_ae = NULL;
    assert_int_equal(huren_dicom_scu_find(&o, HUREN_DICOM_LEVEL_STUDY, keys, 2, on_answer, &a,
                                          &status, err, sizeof err),
                     HUREN_DICOM_EINVAL);
}

static int scu_got;

static uint16_t on_got(const huren_dicom_store_req *req, void *payload)
{
    const char *dir = payload;
    char to[600];
    snprintf(to, sizeof to, "%s/%d.dcm", dir, scu_got);
    const char *study = huren_dicom_elements_find(req->elements, req->nelements, T_STUDY);
    if (!study || strcmp(study, "1.2.3.4") != 0 || rename(req->tmp_path, to) != 0)
        return HUREN_DICOM_STATUS_OUT_OF_RESOURCES;
    scu_got++;
    return HUREN_DICOM_STATUS_SUCCESS;
}

static void test_scu_get_move(void **state)
{
    (void)state;
    huren_dicom_scu_options o = scu_opts();
    char tmp[512], got[512], dest[512], err[256] = "";
    path_of(tmp, sizeof tmp, "tmp");
    path_of(got, sizeof got, "scuget");
    mkdir(got, 0700);
    huren_dicom_element keys[] = {{T_STUDY, "UI", "1.2.3.4"}};
    huren_dicom_scu_result res;
    assert_int_equal(huren_dicom_scu_get(&o, HUREN_DICOM_LEVEL_STUDY, keys, 1, tmp, on_got, got,
                                         &res, err, sizeof err),
                     0);
    assert_int_equal(res.status, HUREN_DICOM_STATUS_SUCCESS);
    assert_int_equal(res.received, 2);
    assert_int_equal(res.completed, 2);
    assert_int_equal(count_files(got), 2);
    assert_int_equal(count_files(tmp), 0); /* each file adopted or removed */
    path_of(dest, sizeof dest, "dest");
    int before = count_files(dest);
    huren_dicom_element other[] = {{T_STUDY, "UI", "1.2.3.5"}};
    assert_int_equal(
        huren_dicom_scu_move(&o, HUREN_DICOM_LEVEL_STUDY, other, 1, "DEST", &res, err, sizeof err),
        0);
    assert_int_equal(res.status, HUREN_DICOM_STATUS_SUCCESS);
    assert_int_equal(res.completed, 1);
    assert_int_equal(count_files(dest), before + 1);
    assert_int_equal(huren_dicom_scu_move(&o, HUREN_DICOM_LEVEL_STUDY, other, 1, "NOWHERE", &res,
                                          err, sizeof err),
                     0);
    assert_int_equal(res.status, HUREN_DICOM_STATUS_MOVE_DEST_UNKNOWN);
}

static void test_scu_store(void **state)
{
    (void)state;
    huren_dicom_scu_options o = scu_opts();
    char err[256] = "", pack[512];
    uint16_t status = 0;
    pthread_mutex_lock(&g.mu);
    int n0 = g.n;
    char whole[512];
    snprintf(whole, sizeof whole, "%s", g.items[2].path);
    pthread_mutex_unlock(&g.mu);
    assert_int_equal(huren_dicom_scu_store(&o, whole, 0, 0, &status, err, sizeof err), 0);
    assert_int_equal(status, HUREN_DICOM_STATUS_SUCCESS);
    /* an instance inside a larger file (a pack): only its range is read */
    write_input("r.dcm", "1.2.3.7.1.1", "1.2.3.7", "1.2.3.7.1", "Range^Test", NULL);
    char in[512];
    path_of(in, sizeof in, "in/r.dcm");
    struct stat st;
    assert_int_equal(stat(in, &st), 0);
    char *bytes = malloc((size_t)st.st_size);
    FILE *f = fopen(in, "rb");
    assert_non_null(f);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    path_of(pack, sizeof pack, "pack.bin");
    f = fopen(pack, "wb");
    assert_non_null(f);
    fwrite("0123456789", 1, 10, f);
    fwrite(bytes, 1, (size_t)st.st_size, f);
    fwrite(bytes, 1, (size_t)st.st_size, f); /* what follows it is not read */
    fclose(f);
    free(bytes);
    int rc = huren_dicom_scu_store(&o, pack, 10, (uint64_t)st.st_size, &status, err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(status, HUREN_DICOM_STATUS_SUCCESS);
    pthread_mutex_lock(&g.mu);
    int n = g.n;
    char inst[128];
    snprintf(inst, sizeof inst, "%s", g.items[n - 1].inst);
    pthread_mutex_unlock(&g.mu);
    assert_int_equal(n, n0 + 2);
    assert_string_equal(inst, "1.2.3.7.1.1");
    assert_int_equal(huren_dicom_scu_store(&o, in, 5, 3, &status, err, sizeof err),
                     HUREN_DICOM_ECORRUPT);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_dir, sizeof(g_dir), "/tmp/huren-unit-dicom-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    atexit(kill_all);
    const struct CMUnitTest files[] = {
        cmocka_unit_test(test_uid_valid),     cmocka_unit_test(test_parse_charsets),
        cmocka_unit_test(test_parse_iso2022), cmocka_unit_test(test_parse_file),
        cmocka_unit_test(test_coerce_file),   cmocka_unit_test(test_coerce_public_files),
        cmocka_unit_test(test_pixel_digest),
    };
    const struct CMUnitTest scp[] = {
        cmocka_unit_test(test_scp_echo),          cmocka_unit_test(test_scp_half_open),
        cmocka_unit_test(test_scp_busy_port),     cmocka_unit_test(test_scp_allowed_calling),
        cmocka_unit_test(test_scp_tls),           cmocka_unit_test(test_scp_store),
        cmocka_unit_test(test_scp_store_invalid), cmocka_unit_test(test_scp_find),
        cmocka_unit_test(test_scp_move),          cmocka_unit_test(test_scp_get),
        cmocka_unit_test(test_scp_find_cancel),   cmocka_unit_test(test_scp_limit_and_stop),
        cmocka_unit_test(test_scu_find),          cmocka_unit_test(test_scu_get_move),
        cmocka_unit_test(test_scu_store),
    };
    int rc = cmocka_run_group_tests_name("files", files, NULL, NULL);
    rc += cmocka_run_group_tests_name("scp", scp, scp_setup, scp_teardown);
    kill_all();
    if (rc == 0 && !getenv("HUREN_TEST_KEEP")) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g_dir);
    } else {
        fprintf(stderr, "test files kept in %s\n", g_dir);
    }
    return rc ? 1 : 0;
}
