/* audit_line.c: the line format of the audit log (see huren_audit.h): one entry as a JSON
 * line carrying the hash of the previous one, and parsing a line back with its link checked. */
#include "audit_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char huren_audit_zero_hash_[AUDIT_HASH_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* ---- the line format ---- */

typedef huren_audit_buf_ buf;

static int buf_add(buf *b, const char *s, size_t n)
{
    return huren_buf_add(b, s, n) == 0 ? 0 : -1;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xE0) == 0xC0 ? 2
                 : (s[0] & 0xF0) == 0xE0 ? 3
                 : (s[0] & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    uint32_t cp = len == 1   ? s[0]
                  : len == 2 ? s[0] & 0x1Fu
                  : len == 3 ? s[0] & 0x0Fu
                             : s[0] & 0x07u;
    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | (s[i] & 0x3Fu);
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0; /* overlong, out of range, surrogate */
    return len;
}

/* "key":"value" with JSON escapes; invalid UTF-8 becomes U+FFFD; cut at AUDIT_FIELD_MAX bytes. */
static int add_field(buf *b, const char *key, const char *value)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, ",\"%s\":\"", key);
    if (buf_add(b, tmp, (size_t)n) < 0)
        return -1;
    const unsigned char *s = (const unsigned char *)(value ? value : "");
    size_t left = strnlen((const char *)s, AUDIT_FIELD_MAX);
    while (left > 0) {
        size_t len = utf8_len(s, left);
        int rc;
        if (len == 0) {
            rc = buf_add(b, "\\ufffd", 6);
            len = 1;
        } else if (*s == '"' || *s == '\\') {
            char esc[2] = {'\\', (char)*s};
            rc = buf_add(b, esc, 2);
        } else if (*s < 0x20 || *s == 0x7f) {
            n = snprintf(tmp, sizeof tmp, "\\u%04x", *s);
            rc = buf_add(b, tmp, (size_t)n);
        } else {
            rc = buf_add(b, (const char *)s, len);
        }
        if (rc < 0)
            return -1;
        s += len;
        left -= len;
    }
    return buf_add(b, "\"", 1);
}

static int sha256_hex(const char *data, size_t len, char out[AUDIT_HASH_HEX + 1])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return -1;
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static void utc_now(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Build the complete line (with its newline) of entry seq after prev; its hash in hash. */
int huren_audit_format_line_(buf *b, uint64_t seq, const char *prev, const huren_audit_entry *e,
                             char hash[AUDIT_HASH_HEX + 1])
{
    char head[128], now[40];
    utc_now(now, sizeof now);
    int n = snprintf(head, sizeof head, "{\"seq\":%" PRIu64 ",\"prev\":\"%s\"", seq, prev);
    char status[32];
    int sn = snprintf(status, sizeof status, ",\"status\":%d", e->status);
    if (buf_add(b, head, (size_t)n) < 0 || add_field(b, "time", now) < 0 ||
        add_field(b, "actor", e->actor) < 0 || add_field(b, "role", e->role) < 0 ||
        add_field(b, "institution", e->institution) < 0 || add_field(b, "action", e->action) < 0 ||
        add_field(b, "patient", e->patient) < 0 || add_field(b, "object", e->object) < 0 ||
        add_field(b, "outcome", e->outcome) < 0 || buf_add(b, status, (size_t)sn) < 0 ||
        add_field(b, "remote", e->remote) < 0)
        return -1;
    if (sha256_hex(b->data, b->len, hash) < 0)
        return -1;
    char tail[AUDIT_HASH_HEX + 16];
    n = snprintf(tail, sizeof tail, ",\"hash\":\"%s\"}\n", hash);
    return buf_add(b, tail, (size_t)n);
}

static int is_hex64(const char *s)
{
    for (int i = 0; i < AUDIT_HASH_HEX; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Split a line (no newline) into its number, prev and hash, and check the hash against the
 * content. Returns NULL, or what is wrong. */
const char *huren_audit_parse_line_(const char *line, size_t len, uint64_t *seq,
                                    char prev[AUDIT_HASH_HEX + 1], char hash[AUDIT_HASH_HEX + 1])
{
    static const char p1[] = "{\"seq\":", p2[] = ",\"prev\":\"", tail[] = ",\"hash\":\"";
    const size_t tail_len = sizeof tail - 1 + AUDIT_HASH_HEX + 2; /* ,"hash":"<hex>"} */
    if (len < sizeof p1 - 1 || memcmp(line, p1, sizeof p1 - 1) != 0)
        return "not an audit entry (no leading \"seq\")";
    const char *s = line + sizeof p1 - 1, *end = line + len;
    uint64_t n = 0;
    if (s == end || *s < '0' || *s > '9')
        return "bad \"seq\"";
    while (s < end && *s >= '0' && *s <= '9' && n < UINT64_MAX / 10)
        n = n * 10 + (uint64_t)(*s++ - '0');
    if ((size_t)(end - s) < sizeof p2 - 1 + AUDIT_HASH_HEX + 1 || memcmp(s, p2, sizeof p2 - 1) != 0)
        return "bad \"seq\" or no \"prev\"";
    s += sizeof p2 - 1;
    if (!is_hex64(s) || s[AUDIT_HASH_HEX] != '"')
        return "bad \"prev\" (not 64 hex digits)";
    memcpy(prev, s, AUDIT_HASH_HEX);
    prev[AUDIT_HASH_HEX] = 0;
    if ((size_t)(end - s) < AUDIT_HASH_HEX + 1 + tail_len ||
        memcmp(end - tail_len, tail, sizeof tail - 1) != 0 || end[-2] != '"' || end[-1] != '}' ||
        !is_hex64(end - AUDIT_HASH_HEX - 2))
        return "no \"hash\" at the end of the entry";
    char want[AUDIT_HASH_HEX + 1];
    if (sha256_hex(line, len - tail_len, want) < 0)
        return "cannot compute SHA-256";
    memcpy(hash, end - AUDIT_HASH_HEX - 2, AUDIT_HASH_HEX);
    hash[AUDIT_HASH_HEX] = 0;
    *seq = n;
    if (strcmp(want, hash) != 0)
        return "the entry's content does not match its hash (edited)";
    return NULL;
}

/* ---- reading lines in bounded memory ---- */
