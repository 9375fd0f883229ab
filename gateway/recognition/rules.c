/* rules.c: the recognition rules of rules.h: validity windows in calendar days, HR marks and
 * their scopes, qualification dates, and the standard reason codes of a rejected result. */
#include "rules.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

const char *const rec_reasons[] = {"condition_changed",       /* 病情变化 */
                                   "fast_changing",           /* 检验检查结果变化快 */
                                   "pre_surgery_transfusion", /* 手术、输血前 */
                                   "emergency",               /* 急诊、急救 */
                                   "judicial_appraisal",      /* 司法鉴定、伤残鉴定 */
                                   "lab_failed_qc",   /* 出具结果的机构质控不合格 */
                                   "too_old",         /* 结果时间过久 */
                                   "patient_request", /* 患者要求 */
                                   "other",           /* 其他 (reason_text) */
                                   NULL};

/* days from civil (H. Hinnant's algorithm): exact for the proleptic Gregorian calendar */
static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int rec_day_parse(const char *s, long *days)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || strlen(s) != 8)
        return -1;
    for (int i = 0; i < 8; i++)
        if (!isdigit((unsigned char)s[i]))
            return -1;
    long y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    long m = (s[4] - '0') * 10 + (s[5] - '0'), d = (s[6] - '0') * 10 + (s[7] - '0');
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
        return -1;
    *days = days_from_civil(y, m, d);
    return 0;
}

void rec_day_format(long z, char out[9])
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    char buf[32];
    snprintf(buf, sizeof buf, "%04ld%02ld%02ld", y % 10000, m % 100, d % 100);
    memcpy(out, buf, 8);
    out[8] = 0;
}

static int scope_rank(const char *s)
{
    if (!s)
        return 0;
    return !strcmp(s, "city") ? 1 : !strcmp(s, "province") ? 2 : !strcmp(s, "national") ? 3 : 0;
}

/* The region digits of an institution code: the first 6 digits after a letter prefix. */
static int region_of(const char *inst, char out[7])
{
    if (!inst)
        return -1;
    while (*inst && isalpha((unsigned char)*inst))
        inst++;
    for (int i = 0; i < 6; i++) {
        if (!isdigit((unsigned char)inst[i]))
            return -1;
        out[i] = inst[i];
    }
    out[6] = 0;
    return 0;
}

/* Does an HR mark of scope `scope` held by `holder` reach `asker`? */
static int scope_reaches(const char *scope, const char *holder, const char *asker)
{
    char a[7], h[7];
    int rank = scope_rank(scope);
    if (rank == 3)
        return 1;
    if (rank == 0 || region_of(holder, h) < 0 || region_of(asker, a) < 0)
        return 0;
    return !strncmp(a, h, rank == 2 ? 2 : 4);
}

rec_verdict rec_entry_check(const rec_entry *e, int window_days, const char *item_scope,
                            const char *at, const char *asker, char valid_until[9])
{
    long date, ref, from, to;
    valid_until[0] = 0;
    if (e->deleted)
        return REC_DELETED;
    if (rec_day_parse(e->date, &date) < 0 || rec_day_parse(at, &ref) < 0)
        return REC_BAD_DATE;
    rec_day_format(date + window_days, valid_until);
    if (date > ref)
        return REC_FUTURE;
    if (ref - date > window_days)
        return REC_EXPIRED;
    if (!e->hr || !scope_rank(item_scope) || !scope_rank(e->hr_scope))
        return REC_NOT_HR;
    if ((e->qualified_from && *e->qualified_from &&
         (rec_day_parse(e->qualified_from, &from) < 0 || date < from)) ||
        (e->qualified_to && *e->qualified_to &&
         (rec_day_parse(e->qualified_to, &to) < 0 || date > to)))
        return REC_NOT_QUALIFIED;
    /* the mark never reaches further than the item's own scope */
    const char *scope = scope_rank(e->hr_scope) < scope_rank(item_scope) ? e->hr_scope : item_scope;
    if (!scope_reaches(scope, e->institution, asker))
        return REC_OUT_OF_SCOPE;
    return REC_OK;
}

const char *rec_verdict_text(rec_verdict v)
{
    switch (v) {
    case REC_OK:
        return "recognisable";
    case REC_BAD_DATE:
        return "no valid date";
    case REC_FUTURE:
        return "made after the reference date";
    case REC_EXPIRED:
        return "outside the validity window";
    case REC_NOT_HR:
        return "no HR mark";
    case REC_NOT_QUALIFIED:
        return "the holder was not HR-qualified on the result's date";
    case REC_OUT_OF_SCOPE:
        return "the HR scope does not reach this institution";
    case REC_DELETED:
        return "withdrawn at its source";
    }
    return "?";
}

int rec_reason_in(const char *const *codes, const char *code)
{
    for (int i = 0; code && codes && codes[i]; i++)
        if (!strcmp(code, codes[i]))
            return 1;
    return 0;
}

int rec_reason_valid(const char *code)
{
    return rec_reason_in(rec_reasons, code);
}

int rec_decision_check(const char *decision, const char *reason, const char *reason_text, char *why,
                       size_t whylen)
{
    return rec_decision_check_codes(rec_reasons, decision, reason, reason_text, why, whylen);
}

int rec_decision_check_codes(const char *const *codes, const char *decision, const char *reason,
                             const char *reason_text, char *why, size_t whylen)
{
    if (!decision || (strcmp(decision, "accepted") && strcmp(decision, "rejected"))) {
        snprintf(why, whylen, "decision: \"accepted\" or \"rejected\"");
        return -1;
    }
    if (reason_text && strlen(reason_text) > 500) {
        snprintf(why, whylen, "reason_text: at most 500 bytes");
        return -1;
    }
    if (!strcmp(decision, "accepted")) {
        if (reason && *reason) {
            snprintf(why, whylen, "reason: only a rejected result has a reason");
            return -1;
        }
        return 0;
    }
    if (!rec_reason_in(codes, reason)) {
        size_t n = (size_t)snprintf(why, whylen, "reason: one of");
        for (int i = 0; codes[i] && n < whylen; i++)
            n += (size_t)snprintf(why + n, whylen - n, "%s %s", i ? "," : "", codes[i]);
        return -1;
    }
    if (!strcmp(reason, "other") && (!reason_text || !*reason_text)) {
        snprintf(why, whylen, "reason_text: required when the reason is other");
        return -1;
    }
    return 0;
}

/* ---- prompt identity, rate ---- */

static int part_add(EVP_MD_CTX *c, const char *v)
{
    char len[24];
    size_t n = v ? strlen(v) : 0;
    snprintf(len, sizeof len, "%zu:", n);
    return EVP_DigestUpdate(c, len, strlen(len)) == 1 && (!n || EVP_DigestUpdate(c, v, n) == 1);
}

int rec_prompt_key(const char *pseudonym, const char *item_code, const char *order_id,
                   const char *visit_id, const char *day, char key[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    key[0] = 0;
    if (!pseudonym || !*pseudonym || !item_code || !*item_code || !day || strlen(day) != 8)
        return -1;
    const char *kind = order_id && *order_id ? "o" : visit_id && *visit_id ? "v" : "-";
    const char *ref = *kind == 'o' ? order_id : *kind == 'v' ? visit_id : "";
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 && part_add(c, pseudonym) &&
             part_add(c, item_code) && part_add(c, kind) && part_add(c, ref) && part_add(c, day) &&
             EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(c);
    for (unsigned i = 0; ok && i < 32; i++)
        snprintf(key + 2 * i, 3, "%02x", md[i]);
    return ok ? 0 : -1;
}

double rec_rate(long long recognised, long long recognisable)
{
    return recognisable > 0 ? (double)recognised / (double)recognisable : 0.0;
}

/* ---- the province's rules ---- */

static int day_in(long day, const char *from, const char *to)
{
    long f, t;
    if (from && *from && (rec_day_parse(from, &f) < 0 || day < f))
        return 0;
    if (to && *to && (rec_day_parse(to, &t) < 0 || day > t))
        return 0;
    return 1;
}

static int list_member(const char *list, const char *v)
{
    size_t n = v ? strlen(v) : 0;
    for (const char *p = list; n && p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n))
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

rec_exclusion rec_reference_check(const rec_ref_item *it, const char *order_date,
                                  const char *result_date, const rec_ref_inst *holder,
                                  const rec_ref_inst *asker, const rec_qc_pass *qc, size_t nqc)
{
    long order, result;
    if (rec_day_parse(order_date, &order) < 0 || rec_day_parse(result_date, &result) < 0 ||
        !day_in(order, it->valid_from, it->valid_to) || result > order ||
        order - result > it->window_days)
        return REC_X_WINDOW;
    int covered = 0;
    for (size_t i = 0; i < nqc && !covered; i++)
        covered = qc[i].item &&
                  (!strcmp(qc[i].item, it->code) ||
                   (it->group && *it->group && !strcmp(qc[i].item, it->group))) &&
                  qc[i].from && *qc[i].from && qc[i].to && *qc[i].to &&
                  day_in(result, qc[i].from, qc[i].to);
    if (!covered)
        return REC_X_QC;
    int rank = scope_rank(it->scope);
    if (!holder || (it->issuers && *it->issuers && !list_member(it->issuers, holder->klass)))
        return REC_X_SCOPE;
    if (rank == 3)
        return REC_X_NONE;
    if (!asker || rank == 0 ||
        (rank == 1 && (!holder->city || !asker->city || strcmp(holder->city, asker->city))))
        return REC_X_SCOPE;
    return REC_X_NONE;
}

const char *rec_exclusion_code(rec_exclusion x)
{
    static const char *const codes[] = {"", "window", "qc", "scope", "critical", "unavailable"};
    return x <= REC_X_UNAVAILABLE ? codes[x] : "?";
}

const char *rec_exclusion_zh(rec_exclusion x)
{
    static const char *const texts[] = {"",
                                        "超出有效期（不在互认时限内）",
                                        "出具机构该项目质控未覆盖结果日期",
                                        "不在互认范围内",
                                        "危急值：请确认后再互认",
                                        "来源机构暂不可用"};
    return x <= REC_X_UNAVAILABLE ? texts[x] : "?";
}

int rec_flags_critical(const char *flags)
{
    for (const char *p = flags; p && *p;) {
        const char *t = strchr(p, '~');
        size_t len = t ? (size_t)(t - p) : strlen(p);
        if (len == 2 && (!strncmp(p, "HH", 2) || !strncmp(p, "LL", 2) || !strncmp(p, "AA", 2)))
            return 1;
        p = t ? t + 1 : NULL;
    }
    return 0;
}
