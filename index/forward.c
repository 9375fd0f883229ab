/* forward.c: the forwarding queue (schema step 12): per [forward] rule, the instances to send
 * on by C-STORE, each once. A row is queued when an instance arrives the rule's way, handed to
 * the sender when due, deferred with its error after a failure, and kept as sent once the
 * destination has it, so that an instance stored again is not sent twice. */
#include "index_int.h"
#include "index_pacs.h"

#include <stdio.h>
#include <string.h>

static int key_check(huren_index *idx, const char *what, const char *s)
{
    if (!s || !*s || strlen(s) > 64) {
        huren_index__seterr(idx, "%s: empty or longer than 64 characters", what);
        return HUREN_INDEX_EINVAL;
    }
    return 0;
}

/* One write statement in a transaction of its own: text ?1 (may be NULL), ints after it. */
static int write1(huren_index *idx, const char *sql, const char *t1, const char *t2,
                  const int64_t *ints, int ni, const char *what)
{
    int rc = huren_index__txn_begin(idx);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = NULL;
    int nt = t2 ? 2 : t1 ? 1 : 0;
    if ((rc = huren_index__wprep(idx, sql, &s)) == 0) {
        if (t1)
            huren_index__bind_opt(s, 1, t1);
        if (t2)
            huren_index__bind_opt(s, 2, t2);
        for (int i = 0; i < ni; i++)
            sqlite3_bind_int64(s, nt + i + 1, ints[i]);
        rc = huren_index__step_done(idx, s, what);
    }
    sqlite3_finalize(s);
    return huren_index__txn_end(idx, rc);
}

int huren_index_fwd_enqueue(huren_index *idx, const char *rule, const char *sop_uid, int64_t now)
{
    int rc = key_check(idx, "forward rule", rule);
    if (rc == 0)
        rc = key_check(idx, "SOP Instance UID", sop_uid);
    if (rc < 0)
        return rc;
    return write1(idx,
                  "INSERT OR IGNORE INTO forward_queue(rule, sop_instance_uid, created_at,"
                  " next_attempt) VALUES (?1, ?2, ?3, ?3)",
                  rule, sop_uid, &now, 1, "queueing for forwarding");
}

int huren_index_fwd_sent(huren_index *idx, int64_t id, int64_t now)
{
    int64_t ints[] = {id, now};
    return write1(idx, "UPDATE forward_queue SET sent_at=?2, last_error=NULL WHERE pk=?1", NULL,
                  NULL, ints, 2, "marking forwarded");
}

int huren_index_fwd_defer(huren_index *idx, int64_t id, int64_t next_attempt, const char *error)
{
    int64_t ints[] = {id, next_attempt};
    char e[256];
    snprintf(e, sizeof e, "%s", error ? error : "");
    return write1(idx,
                  "UPDATE forward_queue SET attempts = attempts + 1, last_error=?1,"
                  " next_attempt=?3 WHERE pk=?2",
                  e, NULL, ints, 2, "deferring a forward");
}

int huren_index_fwd_due(huren_index *idx, const char *rule, int64_t now,
                        huren_index_fwd_item *items, size_t max, size_t *n)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    *n = 0;
    int rc = key_check(idx, "forward rule", rule);
    if (rc < 0 || (rc = huren_index__reader_get(idx, &db)) < 0)
        return rc;
    int src = sqlite3_prepare_v2(db,
                                 "SELECT pk, sop_instance_uid, attempts FROM forward_queue"
                                 " WHERE rule=?1 AND sent_at IS NULL AND next_attempt <= ?2"
                                 " ORDER BY next_attempt, pk LIMIT ?3",
                                 -1, &s, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(s, 1, rule, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, now);
        sqlite3_bind_int64(s, 3, (int64_t)max);
        while ((src = sqlite3_step(s)) == SQLITE_ROW && *n < max) {
            huren_index_fwd_item *it = &items[(*n)++];
            it->id = sqlite3_column_int64(s, 0);
            const char *u = (const char *)sqlite3_column_text(s, 1);
            snprintf(it->sop_uid, sizeof it->sop_uid, "%s", u ? u : "");
            it->attempts = sqlite3_column_int(s, 2);
        }
    }
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = huren_index__sqlerr(idx, db, src, "reading the forwarding queue");
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    return rc;
}

int huren_index_fwd_stats_get(huren_index *idx, const char *rule, huren_index_fwd_stats *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    memset(out, 0, sizeof *out);
    int rc = huren_index__reader_get(idx, &db);
    if (rc < 0)
        return rc;
    int src = sqlite3_prepare_v2(db,
                                 "SELECT coalesce(sum(sent_at IS NULL), 0),"
                                 " coalesce(sum(sent_at IS NULL AND attempts > 0), 0),"
                                 " coalesce(sum(sent_at IS NOT NULL), 0)"
                                 " FROM forward_queue WHERE rule=?1",
                                 -1, &s, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(s, 1, rule ? rule : "", -1, SQLITE_STATIC);
        src = sqlite3_step(s);
    }
    if (src == SQLITE_ROW) {
        out->backlog = sqlite3_column_int64(s, 0);
        out->failing = sqlite3_column_int64(s, 1);
        out->sent = sqlite3_column_int64(s, 2);
    } else {
        rc = huren_index__sqlerr(idx, db, src, "counting the forwarding queue");
    }
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    return rc;
}
