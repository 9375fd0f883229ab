/* verify_parts.c: the parts of an underwriting bundle, verified one by one for
 * `huren verify-claim` (verify_parts.h). */
#include "verify_parts.h"
#include "jws.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Standard base64 (Binary.data) to *out (malloc'ed, NUL-terminated); 0 or -1. */
static int b64_decode(const char *in, char **out, size_t *outlen)
{
    size_t n = strlen(in);
    if (n % 4)
        return -1;
    unsigned char *buf = malloc(n / 4 * 3 + 1);
    int k = buf ? EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n) : -1;
    if (k < 0) {
        free(buf);
        return -1;
    }
    while (n && in[n - 1] == '=' && k > 0) { /* EVP_DecodeBlock counts the padding */
        n--;
        k--;
    }
    buf[k] = 0;
    *out = (char *)buf;
    *outlen = (size_t)k;
    return 0;
}

static int names(const char *subject, const char *inst)
{
    size_t k = strlen(inst);
    for (const char *p = subject; (p = strstr(p, "OU=")); p += 3)
        if ((p == subject || p[-1] == ',') && !strncmp(p + 3, inst, k) &&
            (p[3 + k] == ',' || p[3 + k] == 0))
            return 1;
    return 0;
}

/* One part: 0 OK, -1 bad (the line printed either way). */
static int part_check(json_t *res, int k, const char *ca, FILE *out)
{
    const char *data = json_string_value(json_object_get(res, "data"));
    json_t *tag = json_array_get(json_object_get(json_object_get(res, "meta"), "tag"), 0);
    const char *inst = json_string_value(json_object_get(tag, "code"));
    char *jws = NULL, err[512];
    size_t len = 0;
    jws_verified v;
    inst = inst ? inst : "?";
    if (!data || b64_decode(data, &jws, &len) < 0) {
        fprintf(out, "part %d (%s) BAD: data is not base64\n", k, inst);
        return -1;
    }
    int rc = jws_verify(jws, len, ca, &v, err, sizeof err);
    free(jws);
    if (rc < 0) {
        fprintf(out, "part %d (%s) signature BAD: %s\n", k, inst, err);
        return -1;
    }
    if (!names(v.subject, inst)) {
        fprintf(out, "part %d (%s) BAD: signed by %s, which is not that institution\n", k, inst,
                v.subject);
        rc = -1;
    } else {
        fprintf(out, "part %d (%s) signature OK: signed by %s; %s\n", k, inst, v.subject,
                v.chain_checked ? "certificate chain verified" : "certificate chain NOT checked");
    }
    jws_verified_free(&v);
    return rc;
}

int verify_parts(const unsigned char *payload, size_t len, const char *ca, FILE *out)
{
    json_t *b = json_loadb((const char *)payload, len, 0, NULL), *e;
    const char *sys =
        json_string_value(json_object_get(json_object_get(b, "identifier"), "system"));
    size_t i;
    int n = 0, bad = 0;
    if (!sys || strcmp(sys, "urn:huren:underwriting")) {
        json_decref(b);
        return 0;
    }
    json_array_foreach(json_object_get(b, "entry"), i, e)
    {
        json_t *res = json_object_get(e, "resource");
        const char *type = json_string_value(json_object_get(res, "resourceType"));
        const char *ct = json_string_value(json_object_get(res, "contentType"));
        if (!type || strcmp(type, "Binary") || !ct || strcmp(ct, "application/jose"))
            continue; /* an OperationOutcome: a hospital that did not answer */
        n++;
        bad |= part_check(res, n, ca, out) < 0;
    }
    json_decref(b);
    return bad ? -1 : n;
}
