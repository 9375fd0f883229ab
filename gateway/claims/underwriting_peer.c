/* underwriting_peer.c: the recording hospital's calls for an underwriting summary: the
 * regional directory's entries for the applicant's pseudonym (which hospitals hold records:
 * institution and gateway URL only), then each of those hospitals' part, asked over mutual TLS
 * with this node's gateway certificate ([directory] tls_cert, else [http]'s), all at once
 * (libcurl multi), each with its own timeout and size bound. */
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

/* A handle for one GET (body NULL) or POST of JSON (hdr: its Content-Type) to url, the answer
 * into *out; NULL when libcurl cannot make one. */
static CURL *handle_new(node *n, const char *url, const char *body, struct curl_slist *hdr,
                        huren_buf *out)
{
    const config *c = n->cfg;
    int own = c->dir_tls_cert && *c->dir_tls_cert;
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
    return http_client_new(&o);
}

static void failed(CURLcode rc, const huren_buf *b, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", b->failed ? "answer too large" : curl_easy_strerror(rc));
}

/* One GET: the HTTP status (0 when there was no answer, why in err), the answer in *out. */
static long call(node *n, const char *url, huren_buf *out, char *err, size_t errlen)
{
    CURL *h = handle_new(n, url, NULL, NULL, out);
    long status = 0;
    CURLcode rc = h ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        failed(rc, out, err, errlen);
    if (h)
        curl_easy_cleanup(h);
    return status;
}

/* The directory's records for the pseudonym, or NULL with err. */
static json_t *directory_records(node *n, const char *pseudonym, char *err, size_t errlen)
{
    char url[1200];
    huren_buf b;
    snprintf(url, sizeof url, "%s/api/v1/directory/records?pseudonym=%s&limit=1000",
             n->cfg->dir_url, pseudonym);
    long st = call(n, url, &b, err, errlen);
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

/* One peer's transfer. */
typedef struct ask {
    uw_part *part;
    char url[1200];
    huren_buf body;
    CURL *h;
} ask;

static void ask_done(node *n, ask *q, CURLcode rc)
{
    long st = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(q->h, CURLINFO_RESPONSE_CODE, &st);
    else
        failed(rc, &q->body, q->part->error, sizeof q->part->error);
    if (st == 200 && q->body.data && q->body.len) {
        q->part->jws = huren_buf_release(&q->body);
        q->part->error[0] = 0;
        uw_part_check(n, q->part); /* never pass on what the insurer could not verify */
    } else if (st) {
        snprintf(q->part->error, sizeof q->part->error, "HTTP %ld", st);
    }
    if (!q->part->jws)
        log_warnx("underwriting: %s did not give its part: %s", q->part->institution,
                  q->part->error);
}

/* Every peer at once (curl multi), each with its own timeout: a slow one holds up no other. */
static void ask_all(node *n, uw_part *parts, const char **urls, int k, const char *body)
{
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    ask *q = calloc((size_t)k, sizeof *q);
    CURLM *m = curl_multi_init();
    int running = 0;
    for (int i = 0; q && m && hdr && i < k; i++) {
        q[i].part = &parts[i];
        snprintf(parts[i].error, sizeof parts[i].error, "%s",
                 urls[i] ? "no answer" : "no gateway URL in the directory");
        if (!urls[i])
            continue;
        snprintf(q[i].url, sizeof q[i].url, "%s/api/v1/underwriting/summary", urls[i]);
        if ((q[i].h = handle_new(n, q[i].url, body, hdr, &q[i].body))) {
            curl_easy_setopt(q[i].h, CURLOPT_PRIVATE, &q[i]);
            curl_multi_add_handle(m, q[i].h);
        }
    }
    do {
        if (!m || curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running && curl_multi_poll(m, NULL, 0, 200, NULL) != CURLM_OK)
            break;
    } while (running);
    CURLMsg *msg;
    int left;
    while (m && (msg = curl_multi_info_read(m, &left))) {
        ask *a = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&a);
        if (msg->msg == CURLMSG_DONE && a)
            ask_done(n, a, msg->data.result);
    }
    for (int i = 0; q && i < k; i++) {
        if (q[i].h) {
            curl_multi_remove_handle(m, q[i].h);
            curl_easy_cleanup(q[i].h);
        }
        huren_buf_free(&q[i].body);
    }
    free(q);
    if (m)
        curl_multi_cleanup(m);
    curl_slist_free_all(hdr);
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
    if (body)
        ask_all(n, *parts, urls, k, body);
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
