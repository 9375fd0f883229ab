/* test_audit.c: the audit trail's hash chain (index/audit.c): appends, reopening, every kind of
 * tampering found at the right line, a torn last line, hostile field text, concurrent appends
 * from threads and from two handles on one file (as two processes would). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */
#include "../unit_filter.h"
#include "huren_err.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "huren_audit.h"
#include "audit/huren_audit.h"

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/huren-audit-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/audit.log", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void append_n(huren_audit *a, int n, const char *action)
{
    char err[HUREN_ERRLEN];
    for (int i = 0; i < n; i++) {
        huren_audit_entry e = {"CN=admin,O=Hospital A",
                               "admin",
                               "H1",
                               action,
                               "P001",
                               "1.2.3",
                               "success",
                               200,
                               "127.0.0.1"};
        if (huren_audit_append(a, &e, NULL, err, sizeof err) != 0)
            fail_msg("append: %s", err);
    }
}

static huren_audit_check verify(const char *path)
{
    huren_audit_check c;
    char err[HUREN_ERRLEN];
    if (huren_audit_verify(path, &c, err, sizeof err) != 0)
        fail_msg("verify: %s", err);
    return c;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *s = calloc(1, 1 << 20);
    *len = fread(s, 1, (1 << 20) - 1, fp);
    fclose(fp);
    return s;
}

static void spit(const char *path, const char *s, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(s, 1, len, fp), len);
    fclose(fp);
}

/* Start of the n-th line (1-based). */
static char *line_at(char *s, int n)
{
    while (--n > 0)
        s = strchr(s, '\n') + 1;
    return s;
}

static void test_append_reopen_verify(void **state)
{
    fixture *f = *state;
    huren_audit *a;
    char err[HUREN_ERRLEN], head[65];
    assert_int_equal(huren_audit_open(&a, f->path, 1, NULL, err, sizeof err), 0);
    assert_int_equal(huren_audit_head(a, head), 0);
    append_n(a, 3, "dicomweb.read");
    huren_audit_close(a);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);

    assert_int_equal(huren_audit_open(&a, f->path, 0, NULL, err, sizeof err), 0);
    assert_int_equal(huren_audit_head(a, head), 3);
    uint64_t seq = 0;
    huren_audit_entry e = {.action = "dimse.c-find", .outcome = "success"};
    assert_int_equal(huren_audit_append(a, &e, &seq, err, sizeof err), 0);
    assert_int_equal(seq, 4);
    huren_audit_head(a, head);
    huren_audit_close(a);

    huren_audit_check c = verify(f->path);
    assert_true(c.intact);
    assert_int_equal(c.entries, 4);
    assert_string_equal(c.head, head);
    size_t len;
    char *s = slurp(f->path, &len);
    assert_non_null(strstr(s, "{\"seq\":1,\"prev\":\"0000000000000000"));
    assert_non_null(strstr(line_at(s, 4), "\"action\":\"dimse.c-find\""));
    free(s);
}

static void expect_broken_at(const char *path, uint64_t line, const char *needle)
{
    huren_audit_check c = verify(path);
    assert_false(c.intact);
    assert_int_equal(c.bad_line, line);
    assert_int_equal(c.entries, line - 1);
    if (!strstr(c.reason, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, c.reason);
}

static void test_tampering_found(void **state)
{
    fixture *f = *state;
    huren_audit *a;
    char err[HUREN_ERRLEN];
    assert_int_equal(huren_audit_open(&a, f->path, 0, NULL, err, sizeof err), 0);
    append_n(a, 5, "dicomweb.read");
    huren_audit_close(a);
    size_t len;
    char *orig = slurp(f->path, &len);
    char *s = malloc(len + 1);

    /* an edited field */
    memcpy(s, orig, len + 1);
    char *p = strstr(line_at(s, 3), "P001");
    p[3] = '2';
    spit(f->path, s, len);
    expect_broken_at(f->path, 3, "edited");

    /* a removed entry */
    memcpy(s, orig, len + 1);
    char *l2 = line_at(s, 2), *l3 = line_at(s, 3);
    memmove(l2, l3, len - (size_t)(l3 - s) + 1);
    spit(f->path, s, strlen(s));
    expect_broken_at(f->path, 2, "out of sequence");

    /* two entries swapped */
    memcpy(s, orig, len + 1);
    l2 = line_at(s, 2);
    l3 = line_at(s, 3);
    char *l4 = line_at(s, 4);
    char *tmp = strndup(l2, (size_t)(l3 - l2));
    memmove(l2, l3, (size_t)(l4 - l3));
    memcpy(l2 + (l4 - l3), tmp, strlen(tmp));
    free(tmp);
    spit(f->path, s, len);
    expect_broken_at(f->path, 2, "out of sequence");

    /* an entry rewritten with a fresh hash still breaks the next link */
    memcpy(s, orig, len + 1);
    spit(f->path, s, (size_t)(line_at(s, 2) - s));
    assert_int_equal(huren_audit_open(&a, f->path, 0, NULL, err, sizeof err), 0);
    huren_audit_entry e = {.actor = "forger", .outcome = "success"};
    assert_int_equal(huren_audit_append(a, &e, NULL, err, sizeof err), 0);
    huren_audit_close(a);
    size_t flen;
    char *forged = slurp(f->path, &flen);
    char *rebuilt = malloc(len + flen + 1);
    size_t k = flen;
    memcpy(rebuilt, forged, flen);
    memcpy(rebuilt + k, line_at(orig, 3), len - (size_t)(line_at(orig, 3) - orig));
    k += len - (size_t)(line_at(orig, 3) - orig);
    spit(f->path, rebuilt, k);
    expect_broken_at(f->path, 3, "prev");
    free(rebuilt);
    free(forged);

    /* garbage */
    spit(f->path, "hello\n", 6);
    expect_broken_at(f->path, 1, "not an audit entry");
    free(s);
    free(orig);
}

static void test_torn_tail_repaired(void **state)
{
    fixture *f = *state;
    huren_audit *a;
    char err[HUREN_ERRLEN];
    assert_int_equal(huren_audit_open(&a, f->path, 0, NULL, err, sizeof err), 0);
    append_n(a, 2, "hl7.store");
    huren_audit_close(a);
    FILE *fp = fopen(f->path, "ab");
    fputs("{\"seq\":3,\"prev\":\"abc", fp);
    fclose(fp);
    expect_broken_at(f->path, 3, "incomplete last line");
    long repaired = 0;
    assert_int_equal(huren_audit_open(&a, f->path, 0, &repaired, err, sizeof err), 0);
    assert_int_equal(repaired, 20);
    append_n(a, 1, "hl7.store");
    huren_audit_close(a);
    huren_audit_check c = verify(f->path);
    assert_true(c.intact);
    assert_int_equal(c.entries, 3);

    /* a damaged last complete entry refuses the open: appending would hide it */
    fp = fopen(f->path, "ab");
    fputs("{\"seq\":4,\"prev\":\"nonsense\"}\n", fp);
    fclose(fp);
    assert_true(huren_audit_open(&a, f->path, 0, NULL, err, sizeof err) < 0);
    assert_null(a);
    assert_non_null(strstr(err, "damaged"));
}

static void test_hostile_text(void **state)
{
    fixture *f = *state;
    huren_audit *a;
    char err[HUREN_ERRLEN];
    assert_int_equal(huren_audit_open(&a, f->path, 0, NULL, err, sizeof err), 0);
    char longv[3000];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = 0;
    huren_audit_entry e = {"a\"b\\c\nd", "r\x01",    "\xff\xfe", "x", "\xe7\x8e\x8b",
                           longv,        "\xc0\xaf", -1,         NULL};
    assert_int_equal(huren_audit_append(a, &e, NULL, err, sizeof err), 0);
    huren_audit_close(a);
    size_t len;
    char *s = slurp(f->path, &len);
    assert_ptr_equal(strchr(s, '\n'), s + len - 1); /* one line */
    assert_non_null(strstr(s, "\"actor\":\"a\\\"b\\\\c\\u000ad\""));
    assert_non_null(strstr(s, "\"role\":\"r\\u0001\""));
    assert_non_null(strstr(s, "\"institution\":\"\\ufffd\\ufffd\""));
    assert_non_null(strstr(s, "\"patient\":\"\xe7\x8e\x8b\""));
    assert_non_null(strstr(s, "\"outcome\":\"\\ufffd\\ufffd\"")); /* overlong '/' */
    assert_non_null(strstr(s, "\"status\":-1"));
    assert_true(len < 1500);
    free(s);
    assert_true(verify(f->path).intact);
}

typedef struct worker {
    huren_audit *a;
    int n;
} worker;

static void *work(void *p)
{
    worker *w = p;
    append_n(w->a, w->n, "dimse.c-store");
    return NULL;
}

static void test_concurrent_appends(void **state)
{
    fixture *f = *state;
    huren_audit *a, *b;
    char err[HUREN_ERRLEN];
    assert_int_equal(huren_audit_open(&a, f->path, 1, NULL, err, sizeof err), 0);
    assert_int_equal(huren_audit_open(&b, f->path, 1, NULL, err, sizeof err), 0);
    pthread_t t[8];
    worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){i % 2 ? b : a, 50};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    char head[65];
    uint64_t n = huren_audit_head(a, head);
    assert_true(n >= 200 && n <= 400); /* a knows its own entries, b's up to its last append */
    append_n(a, 1, "dimse.c-find");    /* an append follows the entries b wrote meanwhile */
    assert_int_equal(huren_audit_head(a, head), 401);
    huren_audit_close(a);
    huren_audit_close(b);
    huren_audit_check c = verify(f->path);
    assert_true(c.intact);
    assert_int_equal(c.entries, 401);
}

static int count_line(void *payload, const char *line, size_t len)
{
    (void)line;
    (void)len;
    return ++*(int *)payload == 2;
}

static void test_scan(void **state)
{
    fixture *f = *state;
    char err[HUREN_ERRLEN];
    int n = 0;
    assert_int_equal(huren_audit_scan(f->path, count_line, &n, err, sizeof err), 0);
    assert_int_equal(n, 0); /* missing file: no lines */
    huren_audit *a;
    assert_int_equal(huren_audit_open(&a, f->path, 0, NULL, err, sizeof err), 0);
    append_n(a, 3, "audit.read");
    huren_audit_close(a);
    assert_int_equal(huren_audit_scan(f->path, count_line, &n, err, sizeof err),
                     HUREN_AUDIT_ECANCEL);
    assert_int_equal(n, 2);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_reopen_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampering_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_repaired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
    };
    return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
