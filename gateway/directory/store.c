/* store.c: the directory store's interface: options from the configuration, the checks both
 * backends share (batch size, filter, limit), and dispatch to the backend chosen by
 * [directory] store. */
#include "store_int.h"

#include <string.h>

void directory_store_options_from_config(directory_store_options *o, const config *cfg,
                                         huren_index *idx)
{
    *o = (directory_store_options)DIRECTORY_STORE_OPTIONS_INIT;
    o->kind = cfg->dir_store;
    o->index = idx;
    o->dsn = cfg->dir_dsn;
    o->read_dsn = cfg->dir_read_dsn;
    o->pool = (int)cfg->dir_pool;
    o->statement_timeout_ms = (int)cfg->dir_statement_timeout;
}

int directory_store_open(const directory_store_options *o, directory_store **out, char *err,
                         size_t errlen)
{
    *out = NULL;
    if (o->kind == CONFIG_DIR_STORE_POSTGRESQL)
        return directory_store__pg_open(o, out, err, errlen);
    return directory_store__sqlite_open(o, out, err, errlen);
}

void directory_store_close(directory_store *s)
{
    if (s)
        s->ops->close(s);
}

int directory_store_put(directory_store *s, const huren_index_dir_entry *entries, size_t n,
                        huren_index_dir_result *results, char *err, size_t errlen)
{
    if (!s) {
        snprintf(err, errlen, "the directory's store is not open");
        return DIRECTORY_STORE_EUNAVAIL;
    }
    if ((n && (!entries || !results)) || n > HUREN_INDEX_DIR_BATCH_MAX) {
        snprintf(err, errlen, "a batch holds 0 to %d entries", HUREN_INDEX_DIR_BATCH_MAX);
        return DIRECTORY_STORE_EINVAL;
    }
    if (n == 0)
        return 0;
    memset(results, 0, n * sizeof(*results));
    return s->ops->put(s, entries, n, results, err, errlen);
}

int directory_store_find(directory_store *s, const char *pseudonym,
                         const huren_index_dir_filter *filter, huren_index_dir_list *out, char *err,
                         size_t errlen)
{
    char why[HUREN_INDEX_DIR_REASON_MAX];
    memset(out, 0, sizeof(*out));
    if (!s) {
        snprintf(err, errlen, "the directory's store is not open");
        return DIRECTORY_STORE_EUNAVAIL;
    }
    if (huren_index_dir_filter_check(pseudonym, filter, why) < 0) {
        snprintf(err, errlen, "%s", why);
        return DIRECTORY_STORE_EINVAL;
    }
    size_t limit = filter && filter->limit && filter->limit <= HUREN_INDEX_DIR_FIND_MAX
                       ? filter->limit
                       : HUREN_INDEX_DIR_FIND_MAX;
    static const huren_index_dir_filter any = {0};
    return s->ops->find(s, pseudonym, filter ? filter : &any, limit, out, err, errlen);
}

void directory_store_list_free(directory_store *s, huren_index_dir_list *list)
{
    if (s && list)
        s->ops->list_free(list);
}

void directory_store_stats_get(directory_store *s, directory_store_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!s)
        return;
    out->backend = s->ops->name;
    if (s->ops->stats)
        s->ops->stats(s, out);
}

void directory_store_metrics_write(directory_store *s, FILE *f)
{
    directory_store_stats st;
    if (!s)
        return;
    directory_store_stats_get(s, &st);
    fprintf(f,
            "# HELP huren_directory_store_info The directory's store (backend label).\n"
            "# TYPE huren_directory_store_info gauge\n"
            "huren_directory_store_info{backend=\"%s\",pool=\"%d\"} 1\n"
            "# HELP huren_directory_store_connections Database connections, open and in use.\n"
            "# TYPE huren_directory_store_connections gauge\n"
            "huren_directory_store_connections{state=\"open\"} %d\n"
            "huren_directory_store_connections{state=\"busy\"} %d\n"
            "# HELP huren_directory_store_failures_total Calls failed for the database.\n"
            "# TYPE huren_directory_store_failures_total counter\n"
            "huren_directory_store_failures_total %llu\n"
            "# HELP huren_directory_store_reconnects_total Connections reopened.\n"
            "# TYPE huren_directory_store_reconnects_total counter\n"
            "huren_directory_store_reconnects_total %llu\n",
            st.backend, st.pool, st.open, st.busy, (unsigned long long)st.failures,
            (unsigned long long)st.reconnects);
}
