/* underwriting_peer.c: the recording hospital's calls for an underwriting summary: the
 * regional directory's entries for the applicant's pseudonym (which hospitals hold records:
 * institution and gateway URL only), then each of those hospitals' part, asked over mutual TLS
 * with this node's gateway certificate ([directory] tls_cert, else [http]'s), each with its own
 * timeout and size bound. */
#define LOG_COMPONENT "claims"
#include "underwriting.h"
#include "consent.h"
#include "http/client.h"
#include "log.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX (4u << 20)
#define TIMEOUT_MS 10000L

/* One GET (body NULL) or POST of JSON to url: the HTTP status (0 when there was no answer,
 * why in err) with the answer in *out. */
static long call(node *n, const char *url, const char *body, huren_buf *out, char *err,
                 size_t errlen)
{
    const config *c = n->cfg;
    int own = c->dir_tls_cert && *c->dir_tls_cert;
    struct curl_slist *hdr =
        body ? curl_slist_append(NULL, "Content-Type: application/json") : NULL;
    huren_buf_init(out, ANSWER_MAX);
    http_client_opts o = {.url = url,
                          .cert = own ? c->dir_tls_cert : c->tls_cert,
                          .key = own ? c->dir_tls_key : c->tls_key,
                          .ca = c->dir_tls_ca,
                          .timeout_ms = TIMEOUT_MS,
                          .connect_timeout_ms = TIMEOUT_MS,
                          .headers = hdr,
                          .post_body = body,
                          .on_data = http_client_body_write,
                          .data = out};
    CURL *h = http_client_new(&o);
    long status = 0;
    CURLcode rc = h ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, errlen, "%s", out->failed ? "answer too large" : curl_easy_strerror(rc));
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(hdr);
    return status;
}

/* The directory's records for the pseudonym, or NULL with err. */
static json_t *directory_records(node *n, const char *pseudonym, char *err, size_t errlen)
{
    char url[1200];
    huren_buf b;
    snprintf(url, sizeof url, "%s/api/v1/directory/records?pseudonym=%s&limit=1000",
             n->cfg->dir_url, pseudonym);
    long st = call(n, url, NULL, &b, err, errlen);
    json_t *o = st == 200 && b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
    huren_buf_free(&b);
    if (!json_is_array(json_object_get(o, "records"))) {
        if (st)
            snprintf(err, errlen, "the directory answered HTTP %ld", st);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Each other institution once, with its gateway URL: into parts (count returned). */
static int institutions(node *n, json_t *records, uw_part **parts, const char ***urls)
{
    size_t i, max = json_array_size(records);
    json_t *e;
    int k = 0;
    *parts = calloc(max ? max : 1, sizeof **parts);
    *urls = calloc(max ? max : 1, sizeof **urls);
    if (!*parts || !*urls)
        return -1;
    json_array_foreach(records, i, e)
    {
        const char *inst = json_string_value(json_object_get(e, "institution"));
        const char *src = json_string_value(json_object_get(e, "source_url"));
        int seen = !consent_token_valid(inst) || !strcmp(inst, n->cfg->dir_institution);
        for (int j = 0; j < k && !seen; j++)
            seen = !strcmp((*parts)[j].institution, inst);
        if (seen)
            continue;
        snprintf((*parts)[k].institution, sizeof(*parts)[k].institution, "%s", inst);
        (*urls)[k++] = src && !strncmp(src, "http", 4) ? src : NULL;
    }
    return k;
}

static char *request_body(const uw_ask *a, const char *insurer, const char *token)
{
    char from[32], to[32];
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s}", "national_id", a->patient, "insurer",
                          insurer, "record_period", "start", consent_time_format(a->from, from),
                          "end", consent_time_format(a->to, to), "consent", token);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

static void ask_one(node *n, uw_part *p, const char *base, const char *body)
{
    char url[1200];
    huren_buf b;
    if (!base) {
        snprintf(p->error, sizeof p->error, "no gateway URL in the directory");
        return;
    }
    snprintf(url, sizeof url, "%s/api/v1/underwriting/summary", base);
    long st = call(n, url, body, &b, p->error, sizeof p->error);
    if (st == 200 && b.data && b.len)
        p->jws = huren_buf_release(&b);
    else if (st)
        snprintf(p->error, sizeof p->error, "HTTP %ld", st);
    huren_buf_free(&b);
    if (!p->jws)
        log_warnx("underwriting: %s did not give its part: %s", p->institution, p->error);
}

int uw_peers_ask(node *n, const uw_ask *a, const char *token, uw_part **parts, char *err,
                 size_t errlen)
{
    const char **urls = NULL;
    *parts = NULL;
    json_t *dir = directory_records(n, a->pseudonym, err, errlen);
    if (!dir)
        return -1;
    int k = institutions(n, json_object_get(dir, "records"), parts, &urls);
    char *body = k > 0 ? request_body(a, a->insurer, token) : NULL;
    for (int i = 0; i < k && body; i++)
        ask_one(n, &(*parts)[i], urls[i], body);
    if (k > 0 && !body) {
        snprintf(err, errlen, "out of memory");
        k = -1;
    }
    free(body);
    free(urls);
    json_decref(dir);
    if (k < 0) {
        free(*parts);
        *parts = NULL;
    }
    return k;
}

void uw_parts_free(uw_part *p, int n)
{
    for (int i = 0; p && i < n; i++)
        free(p[i].jws);
    free(p);
}
