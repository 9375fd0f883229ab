/* test_multipart.c: the multipart/related reader fed in every chunking (byte by byte up to whole
 * bodies) with boundary look-alikes, padding, preamble and epilogue; its refusals; the writer read
 * back through the reader; and DICOM JSON values (PN groups, numbers, empty attributes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include "../../unit_filter.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dicomweb/dicom_json.h"
#include "http/multipart.h"

typedef struct got {
    char headers[8][256];
    char data[8][4096];
    size_t len[8];
    size_t n, ended;
} got;

static int on_begin(void *p, const char *h, size_t len)
{
    got *g = p;
    if (g->n == 8 || len >= sizeof g->headers[0])
        return -1;
    memcpy(g->headers[g->n], h, len);
    g->headers[g->n][len] = 0;
    g->len[g->n++] = 0;
    return 0;
}

static int on_data(void *p, const char *d, size_t len)
{
    got *g = p;
    size_t i = g->n - 1;
    if (g->len[i] + len > sizeof g->data[0])
        return -1;
    memcpy(g->data[i] + g->len[i], d, len);
    g->len[i] += len;
    return 0;
}

static int on_end(void *p)
{
    ((got *)p)->ended++;
    return 0;
}

static const multipart_callbacks cbs = {on_begin, on_data, on_end};

/* Feed body in pieces of `step` bytes; returns the reader's finish result (or -2 if a feed
 * failed). */
static int feed(const char *boundary, const char *body, size_t len, size_t step, got *g)
{
    memset(g, 0, sizeof *g);
    multipart_reader *r = multipart_reader_new(boundary, &cbs, g);
    assert_non_null(r);
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i += step)
        rc = multipart_reader_feed(r, body + i, len - i < step ? len - i : step);
    rc = rc < 0 ? -2 : multipart_reader_finish(r);
    multipart_reader_free(r);
    return rc;
}

static const char body3[] = "preamble, ignored\r\n"
                            "--b0und\r\nContent-Type: application/dicom\r\n\r\n"
                            "first part with --b0und inside and \r\n--b0un almost\r\n"
                            "--b0und  \t\r\n\r\n"
                            "second: no headers"
                            "\r\n--b0und\r\nContent-Type: text/plain\r\nX-A: 1\r\n\r\n"
                            "\r\n\r\n--b0undX not a delimiter? it is one: padding must be space\r\n"
                            "\r\n--b0und--\r\nepilogue --b0und";

static void test_reader_every_chunking(void **state)
{
    (void)state;
    size_t len = strlen(body3);
    for (size_t step = 1; step <= len; step++) {
        got g;
        int rc = feed("b0und", body3, len, step, &g);
        /* "--b0undX" after CRLF is a delimiter followed by a bad character: refused */
        assert_int_equal(rc, -2);
        assert_int_equal(g.n, 3);
        assert_int_equal(g.len[0], strlen("first part with --b0und inside and \r\n--b0un almost"));
        assert_memory_equal(g.data[0], "first part with --b0und inside and \r\n--b0un almost",
                            g.len[0]);
        assert_string_equal(g.headers[0], "Content-Type: application/dicom");
        assert_string_equal(g.headers[1], "");
        assert_int_equal(g.len[1], strlen("second: no headers"));
        assert_int_equal(g.len[2], 2); /* "\r\n" then the look-alike delimiter */
    }
    /* the same without the bad look-alike is accepted in every chunking */
    char ok[sizeof body3];
    snprintf(ok, sizeof ok, "%s", body3);
    char *x = strstr(ok, "\r\n--b0undX");
    memcpy(x, "\r\n--b0unX", 9);
    for (size_t step = 1; step <= strlen(ok); step++) {
        got g;
        assert_int_equal(feed("b0und", ok, strlen(ok), step, &g), 0);
        assert_int_equal(g.n, 3);
        assert_int_equal(g.ended, 3);
        assert_memory_equal(g.data[2], "\r\n\r\n--b0unX", 11);
    }
}

static void test_reader_refusals(void **state)
{
    (void)state;
    got g;
    const char *trunc = "--b\r\n\r\npartial data";
    assert_int_equal(feed("b", trunc, strlen(trunc), 3, &g), -1);
    const char *none = "no delimiter at all";
    assert_int_equal(feed("b", none, strlen(none), 5, &g), -1);
    assert_int_equal(feed("b", "", 0, 1, &g), -1);
    const char *bad = "--bX\r\n\r\nx\r\n--b--";
    assert_int_equal(feed("b", bad, strlen(bad), 1, &g), -2);
    char *huge = malloc(MULTIPART_MAX_HEADERS + 64);
    int n = sprintf(huge, "--b\r\nX: ");
    memset(huge + n, 'a', MULTIPART_MAX_HEADERS);
    assert_int_equal(feed("b", huge, (size_t)n + MULTIPART_MAX_HEADERS, 4096, &g), -2);
    free(huge);
    assert_null(multipart_reader_new("", &cbs, &g));
    char longb[80];
    memset(longb, 'a', 79);
    longb[79] = 0;
    assert_null(multipart_reader_new(longb, &cbs, &g));
}

static void test_params(void **state)
{
    (void)state;
    char v[80];
    const char *ct = "Multipart/Related; type=\"application/dicom\"; BOUNDARY=abc;x=1";
    assert_true(multipart_is_type(ct, "multipart/related"));
    assert_false(multipart_is_type("multipart/related-x", "multipart/related"));
    assert_int_equal(multipart_param(ct, "boundary", v, sizeof v), 0);
    assert_string_equal(v, "abc");
    assert_int_equal(multipart_param(ct, "type", v, sizeof v), 0);
    assert_string_equal(v, "application/dicom");
    assert_int_equal(multipart_param(ct, "start", v, sizeof v), -1);
    assert_int_equal(multipart_param("a/b; boundary=\"unterminated", "boundary", v, sizeof v), -1);
    assert_int_equal(multipart_param(ct, "boundary", v, 3), -1); /* too long for out */
    const char hdr[] = "Content-Type: application/dicom \r\ncontent-location:  /x\r\n";
    assert_int_equal(multipart_header(hdr, sizeof hdr - 1, "content-type", v, sizeof v), 0);
    assert_string_equal(v, "application/dicom");
    assert_int_equal(multipart_header(hdr, sizeof hdr - 1, "Content-Location", v, sizeof v), 0);
    assert_string_equal(v, "/x");
    assert_int_equal(multipart_header(hdr, sizeof hdr - 1, "Content-Length", v, sizeof v), -1);
}

static void test_writer_round_trip(void **state)
{
    (void)state;
    char path[] = "/tmp/huren-mp-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char file[] = "0123456789abcdefFILEPARTxyz";
    assert_int_equal(write(fd, file, sizeof file - 1), (ssize_t)(sizeof file - 1));
    close(fd);
    multipart_writer *w = multipart_writer_new();
    assert_non_null(w);
    assert_int_equal(multipart_writer_add_data(w, "application/dicom", "/loc/1", strdup("AAAA"), 4),
                     0);
    assert_int_equal(multipart_writer_add_file(w, "application/octet-stream", NULL, path, 16, 8),
                     0);
    assert_int_equal(multipart_writer_add_data(w, "text/plain", NULL, strdup(""), 0), 0);
    uint64_t size = multipart_writer_size(w);
    char *out = malloc(size);
    uint64_t pos = 0;
    while (pos < size) {
        ssize_t n = multipart_writer_read(w, pos, out + pos, 5);
        assert_true(n > 0);
        pos += (uint64_t)n;
    }
    assert_int_equal(multipart_writer_read(w, pos, out, 5), 0);
    got g;
    assert_int_equal(feed(multipart_writer_boundary(w), out, size, 7, &g), 0);
    assert_int_equal(g.n, 3);
    assert_memory_equal(g.data[0], "AAAA", 4);
    assert_string_equal(g.headers[0],
                        "Content-Type: application/dicom\r\nContent-Location: /loc/1");
    assert_int_equal(g.len[1], 8);
    assert_memory_equal(g.data[1], "FILEPART", 8);
    assert_int_equal(g.len[2], 0);
    multipart_writer_free(w);
    /* a file shorter than announced is an error, not a short body */
    w = multipart_writer_new();
    assert_int_equal(multipart_writer_add_file(w, "a/b", NULL, path, 20, 100), 0);
    pos = 0;
    ssize_t n;
    while ((n = multipart_writer_read(w, pos, out, 64)) > 0)
        pos += (uint64_t)n;
    assert_int_equal(n, -1);
    multipart_writer_free(w);
    free(out);
    unlink(path);
}

static void test_dicom_json(void **state)
{
    (void)state;
    json_t *o = json_object();
    dicom_json_put(o, 0x00100010, "PN", "Wang^Xiaoming=王^小明\\Li=李");
    dicom_json_put(o, 0x00201208, "IS", " 12 ");
    dicom_json_put(o, 0x00281050, "DS", "40.5\\x");
    dicom_json_put(o, 0x00080050, "SH", "");
    dicom_json_put(o, 0x00081190, "UR", "http://h/a\\b");
    dicom_json_put_int(o, 0x00081197, "US", 0xA900);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        s,
        "{\"00080050\":{\"vr\":\"SH\"},\"00081190\":{\"Value\":[\"http://h/"
        "a\\\\b\"],\"vr\":\"UR\"},"
        "\"00081197\":{\"Value\":[43264],\"vr\":\"US\"},\"00100010\":{\"Value\":[{\"Alphabetic\":"
        "\"Wang^Xiaoming\",\"Ideographic\":\"王^小明\"},{\"Alphabetic\":\"Li\",\"Ideographic\":"
        "\"李\"}],\"vr\":\"PN\"},\"00201208\":{\"Value\":[12],\"vr\":\"IS\"},\"00281050\":{"
        "\"Value\":[40.5,null],\"vr\":\"DS\"}}");
    free(s);
    json_decref(o);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_every_chunking),
        cmocka_unit_test(test_reader_refusals),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_dicom_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
