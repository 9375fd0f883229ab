/* claim_version.c: the fingerprint of a visit's claim data and what changed between two. */
#include "claims/claim_version.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex_digest(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* parts: "Type/id" -> digest of each resource of the bundle text. */
static json_t *bundle_parts(const char *bundle, size_t len)
{
    json_t *b = json_loadb(bundle, len, 0, NULL), *parts = json_object(), *entry;
    size_t i;
    if (!b || !parts)
        goto fail;
    json_array_foreach(json_object_get(b, "entry"), i, entry)
    {
        json_t *r = json_object_get(entry, "resource");
        const char *type = json_string_value(json_object_get(r, "resourceType"));
        const char *id = json_string_value(json_object_get(r, "id"));
        char key[256], digest[65];
        char *text = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text)
            goto fail;
        hex_digest(text, strlen(text), digest);
        free(text);
        snprintf(key, sizeof key, "%s/%s", type ? type : "?", id ? id : "?");
        if (json_object_set_new(parts, key, json_string(digest)) < 0)
            goto fail;
    }
    json_decref(b);
    return parts;
fail:
    json_decref(b);
    json_decref(parts);
    return NULL;
}

int claim_fingerprint_make(const claim_bundle_input *in, claim_fingerprint *out)
{
    memset(out, 0, sizeof *out);
    claim_bundle_input fixed = {.claim_id = "fingerprint",
                                .request_id = "",
                                .insurer = in->insurer,
                                .hospital = in->hospital,
                                .offset_min = in->offset_min,
                                .visit = in->visit,
                                .reports = in->reports,
                                .provenance = in->provenance,
                                .provenance_payload = in->provenance_payload};
    size_t len = 0;
    char *bundle = claim_bundle_build(&fixed, &len);
    json_t *parts = bundle ? bundle_parts(bundle, len) : NULL;
    free(bundle);
    if (!parts)
        return -1;
    out->parts = json_dumps(parts, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(parts);
    if (!out->parts)
        return -1;
    hex_digest(out->parts, strlen(out->parts), out->hash);
    return 0;
}

void claim_fingerprint_free(claim_fingerprint *f)
{
    if (f) {
        free(f->parts);
        f->parts = NULL;
    }
}

static int add_line(char ***lines, int *n, const char *what, const char *key)
{
    char **grown = realloc(*lines, (size_t)(*n + 1) * sizeof **lines);
    if (!grown)
        return -1;
    *lines = grown;
    size_t len = strlen(what) + strlen(key) + 2;
    if (!(grown[*n] = malloc(len)))
        return -1;
    snprintf(grown[*n], len, "%s %s", what, key);
    (*n)++;
    return 0;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int claim_changes(const char *old_parts, const char *new_parts, char ***out)
{
    json_t *o = old_parts ? json_loads(old_parts, 0, NULL) : NULL;
    json_t *nw = json_loads(new_parts ? new_parts : "", 0, NULL), *v;
    const char *key;
    char **lines = NULL;
    int n = 0, rc = -1;
    *out = NULL;
    if (!nw || (old_parts && !o))
        goto done;
    if (!old_parts) {
        rc = add_line(&lines, &n, "unknown", "(the version before has no fingerprint)");
        goto done;
    }
    json_object_foreach(nw, key, v)
    {
        json_t *was = json_object_get(o, key);
        if ((!was && add_line(&lines, &n, "added", key) < 0) ||
            (was && !json_equal(was, v) && add_line(&lines, &n, "changed", key) < 0))
            goto done;
    }
    json_object_foreach(o, key, v)
    {
        if (!json_object_get(nw, key) && add_line(&lines, &n, "removed", key) < 0)
            goto done;
    }
    rc = 0;
done:
    json_decref(o);
    json_decref(nw);
    if (rc < 0) {
        claim_changes_free(lines, n);
        return -1;
    }
    if (n > 1)
        qsort(lines, (size_t)n, sizeof *lines, cmp_line);
    *out = lines;
    return n;
}

void claim_changes_free(char **lines, int n)
{
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}
