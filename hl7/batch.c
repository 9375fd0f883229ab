/* batch.c: cutting text into messages, for batches (FHS/BHS ... BTS/FTS), files of several
 * messages (each starting at MSH, blank lines between them allowed) and MLLP-framed files.
 * The pieces are handed to a callback; parsing them is the caller's next step. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hl7_int.h"

struct splitter {
    huren_hl7_split_cb cb;
    void *payload;
    const char *base; /* start of the whole input, for offsets */
    size_t index;
    const char *cur; /* start of the message being collected, NULL if none */
    const char *end;
};

static int flush(struct splitter *s)
{
    int rc = 0;

    if (s->cur != NULL && s->end > s->cur)
        rc = s->cb(s->cur, (size_t)(s->end - s->cur), s->index++, (size_t)(s->cur - s->base),
                   s->payload);
    s->cur = NULL;
    return rc;
}

static int blank(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!(p[i] == ' ' || p[i] == '\t' || p[i] == 0x0B || p[i] == 0x0C || p[i] == 0x1A ||
              p[i] == 0x1C))
            return 0;
    return 1;
}

static int is_batch_segment(const char *p, size_t n)
{
    return n >= 3 && (memcmp(p, "FHS", 3) == 0 || memcmp(p, "BHS", 3) == 0 ||
                      memcmp(p, "BTS", 3) == 0 || memcmp(p, "FTS", 3) == 0);
}

static int split_text(struct splitter *s, const char *p, size_t len)
{
    size_t i = 0;
    int rc;

    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len) {
        size_t start = i, n;
        while (i < len && p[i] != '\r' && p[i] != '\n')
            i++;
        n = i - start;
        if (i < len && p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
            i++; /* CRLF is one terminator */
        i++;
        if (blank(p + start, n) || is_batch_segment(p + start, n) ||
            (n >= 3 && memcmp(p + start, "MSH", 3) == 0)) {
            if ((rc = flush(s)) != 0)
                return rc;
            if (blank(p + start, n) || is_batch_segment(p + start, n))
                continue;
        }
        if (s->cur == NULL)
            s->cur = p + start;
        s->end = p + start + n;
    }
    return flush(s);
}

static int split_frames(struct splitter *s, const char *p, size_t len, char *err, size_t errlen)
{
    const char *end = p + len, *vt, *fs;
    int rc;

    for (;;) {
        vt = memchr(p, 0x0B, (size_t)(end - p));
        if (vt == NULL)
            return 0;
        fs = memchr(vt + 1, 0x1C, (size_t)(end - vt - 1));
        if (fs == NULL) {
            huren_hl7__seterr(err, errlen, "MLLP frame %zu is not terminated (truncated?)",
                              s->index + 1);
            return HUREN_HL7_ESYNTAX;
        }
        if ((rc = split_text(s, vt + 1, (size_t)(fs - vt - 1))) != 0)
            return rc;
        p = fs + 1;
    }
}

int huren_hl7_split(const char *data, size_t len, huren_hl7_split_cb cb, void *payload, char *err,
                    size_t errlen)
{
    struct splitter s = {cb, payload, data, 0, NULL, NULL};
    size_t i = 0;

    if (cb == NULL || (data == NULL && len)) {
        huren_hl7__seterr(err, errlen, "no data or no callback");
        return HUREN_HL7_EINVAL;
    }
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    if (i < len && data[i] == 0x0B)
        return split_frames(&s, data + i, len - i, err, errlen);
    return split_text(&s, data, len);
}

int huren_hl7_file_split(const char *path, size_t max_file_size, huren_hl7_split_cb cb,
                         void *payload, char *err, size_t errlen)
{
    struct stat st;
    void *map;
    int fd, rc;

    if (path == NULL || cb == NULL) {
        huren_hl7__seterr(err, errlen, "no path or no callback");
        return HUREN_HL7_EINVAL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        huren_hl7__seterr(err, errlen, "%s: cannot open as a regular file", path);
        if (fd >= 0)
            close(fd);
        return HUREN_HL7_EIO;
    }
    if (max_file_size && (size_t)st.st_size > max_file_size) {
        huren_hl7__seterr(err, errlen, "%s: %lld bytes exceed the maximum of %zu", path,
                          (long long)st.st_size, max_file_size);
        close(fd);
        return HUREN_HL7_ETOOBIG;
    }
    if (st.st_size == 0) {
        close(fd);
        return 0;
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        huren_hl7__seterr(err, errlen, "%s: cannot map the file", path);
        return HUREN_HL7_EIO;
    }
    rc = huren_hl7_split(map, (size_t)st.st_size, cb, payload, err, errlen);
    munmap(map, (size_t)st.st_size);
    return rc;
}
