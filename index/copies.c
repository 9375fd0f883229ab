/* copies.c: retrieved copies (schema 9). Puts of instances retrieved from another hospital,
 * marked with their source (rows.c keeps the marks and the study's count of copies), and the
 * reads that tell a copy from an own record: is a study a copy, and where did a result a
 * prompt listed come from and for which patient. */
#include "index_int.h"

#include <stdio.h>
#include <string.h>

int huren_index__copy_check(huren_index *idx, const huren_index_copy *c)
{
    const char *v[] = {c ? c->institution : NULL, c ? c->source_url : NULL,
                       c ? c->patient_id : NULL, c ? c->issuer : NULL};
    if (!c || !c->institution || !*c->institution) {
        huren_index__seterr(idx, "a copy needs the institution it came from");
        return HUREN_INDEX_EINVAL;
    }
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] && strlen(v[i]) > HUREN_INDEX__VALUE_MAX) {
            huren_index__seterr(idx, "copy source: a value is longer than %d bytes",
                                HUREN_INDEX__VALUE_MAX);
            return HUREN_INDEX_EINVAL;
        }
    return 0;
}

int huren_index_instance_put_copy(huren_index *idx, const char *const values[HUREN_INDEX_F_COUNT],
                                  const char *tmp_path, unsigned flags,
                                  const huren_index_copy *copy, huren_index_put_outcome *outcome)
{
    static const huren_index_copy none = {0};
    /* the writer checks the copy with the values (copy_check), removing the file when bad */
    return huren_index__instance_put(idx, values, tmp_path, flags, copy ? copy : &none, outcome);
}

/* Run sql (one text parameter per non-NULL of a, b) on a reader; the first row's columns go to
 * the callback. Returns 1 when a row came, 0 when none, < 0 on error. */
typedef void (*row_fn)(sqlite3_stmt *s, void *out);

static int read_one(huren_index *idx, const char *sql, const char *a, const char *b, row_fn fn,
                    void *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = huren_index__reader_get(idx, &db);
    if (rc < 0)
        return rc;
    int src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (src != SQLITE_OK) {
        rc = huren_index__sqlerr(idx, db, src, "preparing a copy lookup");
        goto done;
    }
    if (a)
        sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        fn(s, out);
        rc = 1;
    } else {
        rc = src == SQLITE_DONE ? 0 : huren_index__sqlerr(idx, db, src, "a copy lookup");
    }
done:
    sqlite3_finalize(s);
    huren_index__reader_put(idx, db);
    return rc;
}

typedef struct text_out {
    char *buf;
    size_t len;
} text_out;

static void text_col(sqlite3_stmt *s, void *out)
{
    text_out *t = out;
    const char *v = (const char *)sqlite3_column_text(s, 0);
    snprintf(t->buf, t->len, "%s", v ? v : "");
}

int huren_index_study_copy_of(huren_index *idx, const char *study_uid, char *copy_of, size_t len)
{
    static const char *const sql =
        "SELECT copy_source FROM studies WHERE study_uid = ?1 AND copy_instances > 0"
        " AND copy_instances = study_num_instances";
    if (!idx || !study_uid || !copy_of || len == 0)
        return HUREN_INDEX_EINVAL;
    copy_of[0] = 0;
    text_out t = {copy_of, len};
    return read_one(idx, sql, study_uid, NULL, text_col, &t);
}

static void copy_text(char *dst, size_t len, sqlite3_stmt *s, int col)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    if (v && strlen(v) < len)
        memcpy(dst, v, strlen(v) + 1);
}

static void origin_cols(sqlite3_stmt *s, void *out)
{
    huren_index_rec_origin *o = out;
    copy_text(o->source, sizeof o->source, s, 0);
    copy_text(o->institution, sizeof o->institution, s, 1);
    copy_text(o->patient_id, sizeof o->patient_id, s, 2);
    copy_text(o->national_id, sizeof o->national_id, s, 3);
    copy_text(o->national_id_type, sizeof o->national_id_type, s, 4);
}

int huren_index_rec_origin_get(huren_index *idx, const char *prompt_id, const char *key,
                               huren_index_rec_origin *out)
{
#define ORIGIN_COLS                                                                                \
    "SELECT coalesce(s.source, ''), s.institution, pp.patient_id, pp.national_id,"                 \
    " pp.national_id_type FROM rec_shown s JOIN rec_prompts p ON p.pk = s.prompt_pk"               \
    " LEFT JOIN rec_prompt_patients pp ON pp.prompt_pk = p.pk"
    /* the second form's expression is rec_shown_record's: the index answers it */
    static const char *const by_prompt =
        ORIGIN_COLS " WHERE p.prompt_id = ?1 AND s.result_key = ?2";
    static const char *const newest =
        ORIGIN_COLS " WHERE substr(s.result_key, instr(s.result_key, '/') + 1) = ?1"
                    " AND coalesce(s.source, '') <> '' ORDER BY p.created_at DESC, p.pk DESC"
                    " LIMIT 1";
#undef ORIGIN_COLS
    if (!idx || !key || !out)
        return HUREN_INDEX_EINVAL;
    memset(out, 0, sizeof *out);
    if (prompt_id)
        return read_one(idx, by_prompt, prompt_id, key, origin_cols, out);
    return read_one(idx, newest, key, NULL, origin_cols, out);
}
