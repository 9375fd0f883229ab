/* identity.c: resident ID numbers: normalisation (full-width forms, case, separators, the
 * 15-to-18 upgrade), validation with a reason, and the HMAC pseudonym for the directory. */
#include "identity.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};

char identity_check_char(const char first17[17])
{
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (first17[i] - '0') * weights[i];
    return "10X98765432"[sum % 11];
}

/* Copy in to out as ASCII: U+FF10..U+FF19 (full-width digits) and U+FF38/U+FF58 (full-width
 * X/x) folded, ' ', '-' and U+3000 (ideographic space) dropped. -1 on anything else. */
static int fold(const char *in, char *out, size_t cap, size_t *len, char *bad)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t n = 0;
    while (*p) {
        char c;
        if (*p < 0x80) {
            c = (char)*p++;
            if (c == ' ' || c == '-' || c == '\t')
                continue;
        } else if (p[0] == 0xEF && p[1] == 0xBC && p[2] >= 0x90 && p[2] <= 0x99) {
            c = (char)('0' + (p[2] - 0x90)); /* U+FF10..U+FF19 */
            p += 3;
        } else if (p[0] == 0xEF && p[1] == 0xBC && p[2] == 0xB8) {
            c = 'X'; /* U+FF38 */
            p += 3;
        } else if (p[0] == 0xEF && p[1] == 0xBD && p[2] == 0x98) {
            c = 'X'; /* U+FF58 */
            p += 3;
        } else if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) {
            p += 3; /* U+3000 */
            continue;
        } else {
            *bad = '?';
            return -1;
        }
        if (c == 'x')
            c = 'X';
        if (n + 1 >= cap) {
            *bad = 0;
            return -2;
        }
        out[n++] = c;
    }
    out[n] = 0;
    *len = n;
    return 0;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int date_valid(const char *yyyymmdd)
{
    int y = 0, m = 0, d = 0;
    for (int i = 0; i < 4; i++)
        y = y * 10 + (yyyymmdd[i] - '0');
    m = (yyyymmdd[4] - '0') * 10 + (yyyymmdd[5] - '0');
    d = (yyyymmdd[6] - '0') * 10 + (yyyymmdd[7] - '0');
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap))
        return 0;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    long today = (tm.tm_year + 1900) * 10000L + (tm.tm_mon + 1) * 100L + tm.tm_mday;
    return y * 10000L + m * 100L + d <= today + 1; /* +1: time zones */
}

int identity_normalise(const char *in, char out[IDENTITY_ID_LEN + 1], identity_type *type,
                       char *err, size_t errlen)
{
    char buf[64], bad = 0;
    size_t n = 0;
    if (!in || fold(in, buf, sizeof buf, &n, &bad) < 0) {
        snprintf(err, errlen,
                 in ? "ID number contains characters other than digits and X" : "no ID number");
        return -1;
    }
    if (n == 15) {
        if (!all_digits(buf, 15)) {
            snprintf(err, errlen, "a 15-character ID number must be all digits");
            return -1;
        }
        /* legacy: YYMMDD with an implied 19; the upgrade inserts "19" and adds the check */
        memmove(buf + 8, buf + 6, 9);
        buf[6] = '1';
        buf[7] = '9';
        buf[17] = identity_check_char(buf);
        buf[18] = 0;
        n = 18;
    }
    if (n != 18) {
        snprintf(err, errlen, "ID number has %zu characters, expected 18 (or 15)", n);
        return -1;
    }
    if (!all_digits(buf, 17)) {
        snprintf(err, errlen, "the first 17 characters of an ID number must be digits");
        return -1;
    }
    if (!(buf[17] == 'X' || (buf[17] >= '0' && buf[17] <= '9'))) {
        snprintf(err, errlen, "the check character must be a digit or X");
        return -1;
    }
    *type = buf[0] == '9' ? IDENTITY_FOREIGN : IDENTITY_RESIDENT;
    if (*type == IDENTITY_RESIDENT && (buf[0] == '0' || buf[0] == '9')) {
        snprintf(err, errlen, "region code %.6s is not valid", buf);
        return -1;
    }
    if (!date_valid(buf + 6)) {
        snprintf(err, errlen, "birth date %.8s is not a real date", buf + 6);
        return -1;
    }
    char want = identity_check_char(buf);
    if (buf[17] != want) {
        snprintf(err, errlen, "check character is %c, expected %c", buf[17], want);
        return -1;
    }
    memcpy(out, buf, IDENTITY_ID_LEN + 1);
    return 0;
}

int identity_pseudonym(const unsigned char *key, size_t keylen, identity_type type,
                       const char normalised[IDENTITY_ID_LEN + 1],
                       char out[IDENTITY_PSEUDONYM_HEX + 1])
{
    char msg[64];
    int n = snprintf(msg, sizeof msg, "%s|%s", type == IDENTITY_FOREIGN ? "CN-FPR" : "CN-ID",
                     normalised);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (n <= 0 || !key || keylen == 0 ||
        !HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, (size_t)n, md, &mdlen) ||
        mdlen != 32)
        return -1;
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}
