/* test_nesting.c: unit tests of dicom/'s nesting scan on byte buffers built here (explicit and
 * implicit VR, little and big endian, defined and undefined lengths, 20,000 levels, deflated
 * files) and on the public test files Debian's python3-pydicom ships. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* cmocka needs setjmp.h first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "../unit_filter.h"
#include "huren_err.h"
/* clang-format on */

#include "huren_dicom.h"

#define EXPLICIT_LE "1.2.840.10008.1.2.1"
#define IMPLICIT_LE "1.2.840.10008.1.2"
#define EXPLICIT_BE "1.2.840.10008.1.2.2"
#define DEFLATED "1.2.840.10008.1.2.1.99"
#define UNDEF 0xFFFFFFFFu
#define PYDICOM "/usr/lib/python3/dist-packages/pydicom/data"

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
    int be, explicit_vr;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void put16(buf *b, uint16_t v)
{
    unsigned char x[2] = {(unsigned char)(b->be ? v >> 8 : v), (unsigned char)(b->be ? v : v >> 8)};
    put(b, x, 2);
}

static void put32(buf *b, uint32_t v)
{
    put16(b, (uint16_t)(b->be ? v >> 16 : v));
    put16(b, (uint16_t)(b->be ? v : v >> 16));
}

/* An element header; long VRs (SQ, OB, UN, ...) get the reserved bytes and a 32-bit length. */
static void header(buf *b, uint16_t g, uint16_t e, const char *vr, uint32_t len)
{
    put16(b, g);
    put16(b, e);
    if (!b->explicit_vr) {
        put32(b, len);
        return;
    }
    put(b, vr, 2);
    if (!strcmp(vr, "SQ") || !strcmp(vr, "OB") || !strcmp(vr, "OW") || !strcmp(vr, "UN") ||
        !strcmp(vr, "UT")) {
        put16(b, 0);
        put32(b, len);
    } else {
        put16(b, (uint16_t)len);
    }
}

static void item_tag(buf *b, uint16_t e, uint32_t len)
{
    put16(b, 0xFFFE);
    put16(b, e);
    put32(b, len);
}

static void text(buf *b, uint16_t g, uint16_t e, const char *vr, const char *v)
{
    size_t n = strlen(v);
    header(b, g, e, vr, (uint32_t)(n + (n & 1)));
    put(b, v, n);
    if (n & 1)
        put(b, " ", 1);
}

/* ContentSequence (0040,A730) nested `levels` deep with undefined lengths. */
static buf deep_undefined(int explicit_vr, int be, int levels)
{
    buf b = {NULL, 0, 0, be, explicit_vr};
    text(&b, 0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.88.11");
    for (int i = 0; i < levels; i++) {
        header(&b, 0x0040, 0xA730, "SQ", UNDEF);
        item_tag(&b, 0xE000, UNDEF);
    }
    text(&b, 0x0040, 0xA160, "UT", "leaf");
    for (int i = 0; i < levels; i++) {
        item_tag(&b, 0xE00D, 0);
        item_tag(&b, 0xE0DD, 0);
    }
    text(&b, 0x0040, 0xA040, "CS", "CONTAINER");
    return b;
}

/* The same with defined lengths, built from the inside out. */
static buf deep_defined(int explicit_vr, int be, int levels)
{
    buf in = {NULL, 0, 0, be, explicit_vr};
    text(&in, 0x0040, 0xA160, "UT", "leaf");
    for (int i = 0; i < levels; i++) {
        buf out = {NULL, 0, 0, be, explicit_vr};
        header(&out, 0x0040, 0xA730, "SQ", (uint32_t)in.len + 8);
        item_tag(&out, 0xE000, (uint32_t)in.len);
        put(&out, in.p, in.len);
        free(in.p);
        in = out;
    }
    return in;
}

static int scan(const buf *b, const char *ts, unsigned max, unsigned *depth)
{
    char err[HUREN_ERRLEN] = "";
    return huren_dicom_nesting_scan(b->p, b->len, ts, max, depth, err, sizeof err);
}

static void test_explicit_le_undefined(void **state)
{
    (void)state;
    unsigned depth = 0;
    buf b = deep_undefined(1, 0, 64);
    assert_int_equal(scan(&b, EXPLICIT_LE, 64, &depth), 0);
    assert_int_equal(depth, 64);
    assert_int_equal(scan(&b, EXPLICIT_LE, 63, NULL), HUREN_DICOM_ETOODEEP);
    free(b.p);
    b = deep_undefined(1, 0, 20000);
    char err[HUREN_ERRLEN] = "";
    uint64_t before = huren_dicom_depth_refused();
    assert_int_equal(huren_dicom_nesting_scan(b.p, b.len, EXPLICIT_LE, 64, NULL, err, sizeof err),
                     HUREN_DICOM_ETOODEEP);
    assert_non_null(strstr(err, "deeper than 64"));
    assert_true(huren_dicom_depth_refused() > before);
    free(b.p);
}

static void test_implicit_le(void **state)
{
    (void)state;
    unsigned depth = 0;
    buf b = deep_undefined(0, 0, 20000);
    assert_int_equal(scan(&b, IMPLICIT_LE, 64, NULL), HUREN_DICOM_ETOODEEP);
    assert_int_equal(scan(&b, NULL, 64, NULL), HUREN_DICOM_ETOODEEP); /* NULL: implicit */
    free(b.p);
    /* defined lengths in implicit VR: only the dictionary says these are sequences */
    b = deep_defined(0, 0, 10);
    assert_int_equal(scan(&b, IMPLICIT_LE, 64, &depth), 0);
    assert_int_equal(depth, 10);
    free(b.p);
    b = deep_defined(0, 0, 100);
    assert_int_equal(scan(&b, IMPLICIT_LE, 64, NULL), HUREN_DICOM_ETOODEEP);
    free(b.p);
}

static void test_big_endian_and_defined(void **state)
{
    (void)state;
    unsigned depth = 0;
    buf b = deep_defined(1, 1, 30);
    assert_int_equal(scan(&b, EXPLICIT_BE, 64, &depth), 0);
    assert_int_equal(depth, 30);
    assert_int_equal(scan(&b, EXPLICIT_BE, 29, NULL), HUREN_DICOM_ETOODEEP);
    free(b.p);
    b = deep_undefined(1, 1, 20000);
    assert_int_equal(scan(&b, EXPLICIT_BE, 64, NULL), HUREN_DICOM_ETOODEEP);
    free(b.p);
    b = deep_defined(1, 0, 200);
    assert_int_equal(scan(&b, EXPLICIT_LE, 64, NULL), HUREN_DICOM_ETOODEEP);
    free(b.p);
}

/* UN with undefined length holds a sequence in implicit VR (PS3.5 6.2.2); encapsulated pixel
 * data holds fragments, not datasets. */
static void test_un_and_fragments(void **state)
{
    (void)state;
    buf in = deep_undefined(0, 0, 20000); /* implicit VR content */
    buf b = {NULL, 0, 0, 0, 1};
    text(&b, 0x0008, 0x0060, "CS", "OT");
    header(&b, 0x0011, 0x1010, "UN", UNDEF);
    item_tag(&b, 0xE000, UNDEF);
    put(&b, in.p, in.len);
    item_tag(&b, 0xE00D, 0);
    item_tag(&b, 0xE0DD, 0);
    assert_int_equal(scan(&b, EXPLICIT_LE, 64, NULL), HUREN_DICOM_ETOODEEP);
    free(b.p);
    free(in.p);

    unsigned depth = 9;
    buf px = {NULL, 0, 0, 0, 1};
    text(&px, 0x0028, 0x0004, "CS", "MONOCHROME2");
    header(&px, 0x7FE0, 0x0010, "OB", UNDEF);
    item_tag(&px, 0xE000, 0); /* empty offset table */
    item_tag(&px, 0xE000, 8);
    /* a fragment's bytes may look like anything, even like a sequence */
    put(&px, "\xfe\xff\x00\xe0\xff\xff\xff\xff", 8);
    item_tag(&px, 0xE0DD, 0);
    text(&px, 0xFFFA, 0xFFFA, "OB", "pd");
    assert_int_equal(scan(&px, "1.2.840.10008.1.2.4.50", 64, &depth), 0);
    assert_int_equal(depth, 0);
    free(px.p);
}

static void test_corrupt(void **state)
{
    (void)state;
    char err[HUREN_ERRLEN] = "";
    buf b = deep_defined(1, 0, 3);
    assert_int_equal(
        huren_dicom_nesting_scan(b.p, b.len - 3, EXPLICIT_LE, 64, NULL, err, sizeof err),
        HUREN_DICOM_ECORRUPT);
    assert_true(err[0] != 0);
    /* an item longer than its sequence, a sequence longer than the data */
    b.p[17] = 0x01;
    assert_int_equal(scan(&b, EXPLICIT_LE, 64, NULL), HUREN_DICOM_ECORRUPT);
    b.p[17] = 0x00;
    assert_int_equal(scan(&b, EXPLICIT_LE, 64, NULL), 0);
    b.p[10] = 0x01;
    assert_int_equal(scan(&b, EXPLICIT_LE, 64, NULL), HUREN_DICOM_ECORRUPT);
    free(b.p);
    buf stray = {NULL, 0, 0, 0, 1};
    item_tag(&stray, 0xE000, 4);
    put(&stray, "abcd", 4);
    assert_int_equal(scan(&stray, EXPLICIT_LE, 64, NULL), HUREN_DICOM_ECORRUPT);
    free(stray.p);
    assert_int_equal(huren_dicom_nesting_scan(NULL, 0, EXPLICIT_LE, 64, NULL, err, sizeof err), 0);
}

/* A Part-10 file around a dataset: meta header in explicit VR LE, dataset as ts says (raw
 * deflate for the deflated transfer syntax). */
static void write_part10(const char *path, const char *ts, const buf *ds, int compress)
{
    buf m = {NULL, 0, 0, 0, 1}, items = {NULL, 0, 0, 0, 1};
    header(&items, 0x0002, 0x0001, "OB", 2);
    put(&items, "\0\1", 2);
    text(&items, 0x0002, 0x0010, "UI", ts);
    static const char zero[128];
    put(&m, zero, 128);
    put(&m, "DICM", 4);
    header(&m, 0x0002, 0x0000, "UL", 4);
    put32(&m, (uint32_t)items.len);
    put(&m, items.p, items.len);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fwrite(m.p, 1, m.len, fp);
    if (!compress) {
        fwrite(ds->p, 1, ds->len, fp);
    } else {
        z_stream z;
        memset(&z, 0, sizeof z);
        assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
        size_t cap = deflateBound(&z, ds->len);
        unsigned char *out = malloc(cap);
        z.next_in = ds->p;
        z.avail_in = (uInt)ds->len;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
        fwrite(out, 1, cap - z.avail_out, fp);
        deflateEnd(&z);
        free(out);
    }
    fclose(fp);
    free(m.p);
    free(items.p);
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/huren-nesting-XXXXXX", path[300], err[512];
    assert_non_null(mkdtemp(dir));
    unsigned depth = 0;
    buf deep = deep_undefined(1, 0, 20000), ok = deep_undefined(1, 0, 5);
    const struct {
        const char *name;
        const buf *ds;
        int deflate, rc;
    } cases[] = {{"deep.dcm", &deep, 0, HUREN_DICOM_ETOODEEP},
                 {"deep_dfl.dcm", &deep, 1, HUREN_DICOM_ETOODEEP},
                 {"ok.dcm", &ok, 0, 0},
                 {"ok_dfl.dcm", &ok, 1, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
        write_part10(path, cases[i].deflate ? DEFLATED : EXPLICIT_LE, cases[i].ds,
                     cases[i].deflate);
        assert_int_equal(huren_dicom_nesting_scan_file(path, 64, &depth, err, sizeof err),
                         cases[i].rc);
        if (cases[i].rc == 0)
            assert_int_equal(depth, 5);
        /* the Part-10 parse applies the process-wide limit before DCMTK reads anything */
        huren_dicom_file *f = NULL;
        int prc = huren_dicom_file_parse(path, &f, err, sizeof err);
        huren_dicom_file_free(f);
        if (cases[i].rc)
            assert_int_equal(prc, HUREN_DICOM_ETOODEEP);
        unlink(path);
    }
    huren_dicom_max_sequence_depth_set(4);
    snprintf(path, sizeof path, "%s/ok.dcm", dir);
    write_part10(path, EXPLICIT_LE, &ok, 0);
    huren_dicom_file *f = NULL;
    assert_int_equal(huren_dicom_file_parse(path, &f, err, sizeof err), HUREN_DICOM_ETOODEEP);
    huren_dicom_max_sequence_depth_set(0);
    assert_int_equal(huren_dicom_max_sequence_depth(), HUREN_DICOM_MAX_SEQUENCE_DEPTH);
    unlink(path);
    rmdir(dir);
    free(deep.p);
    free(ok.p);
}

/* Data we did not make: every file pydicom ships scans the way DCMTK reads it; the deepest
 * real ones (structured reports, RT, private sequences, UN sequences) are well under 64. */
static void test_pydicom_corpus(void **state)
{
    (void)state;
    const char *dirs[] = {PYDICOM "/test_files", PYDICOM "/charset_files"};
    const struct {
        const char *name;
        unsigned depth;
    } known[] = {{"test-SR.dcm", 5},       {"reportsi.dcm", 4}, {"nested_priv_SQ.dcm", 2},
                 {"UN_sequence.dcm", 3},   {"rtplan.dcm", 3},   {"liver_expb_1frame.dcm", 4},
                 {"chrSQEncoding.dcm", 1}, {"image_dfl.dcm", 0}};
    int seen = 0, nknown = 0;
    for (size_t d = 0; d < 2; d++) {
        DIR *dp = opendir(dirs[d]);
        if (!dp) {
            skip();
            return;
        }
        struct dirent *de;
        while ((de = readdir(dp))) {
            size_t n = strlen(de->d_name);
            if (n < 5 || strcmp(de->d_name + n - 4, ".dcm") != 0)
                continue;
            char path[512], err[512] = "";
            unsigned depth = 99;
            snprintf(path, sizeof path, "%s/%s", dirs[d], de->d_name);
            int rc = huren_dicom_nesting_scan_file(path, 64, &depth, err, sizeof err);
            /* refused only where DCMTK cannot read the file either */
            huren_dicom_file *f = NULL;
            int prc = huren_dicom_file_parse(path, &f, err, sizeof err);
            huren_dicom_file_free(f);
            if (rc != 0)
                assert_int_not_equal(prc, 0);
            assert_int_not_equal(rc, HUREN_DICOM_ETOODEEP);
            for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
                if (strcmp(de->d_name, known[k].name) == 0) {
                    assert_int_equal(rc, 0);
                    assert_int_equal(depth, known[k].depth);
                    nknown++;
                }
            seen++;
        }
        closedir(dp);
    }
    assert_true(seen > 50);
    assert_int_equal(nknown, 8);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explicit_le_undefined),
        cmocka_unit_test(test_implicit_le),
        cmocka_unit_test(test_big_endian_and_defined),
        cmocka_unit_test(test_un_and_fragments),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_pydicom_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
