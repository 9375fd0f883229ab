/* store_int.h: what a backend of the directory's store provides (store.c dispatches to it).
 * Included by store*.c only. */
#ifndef HUREN_GATEWAY_DIRECTORY_STORE_INT_H
#define HUREN_GATEWAY_DIRECTORY_STORE_INT_H

#include "store.h"

typedef struct directory_store_ops {
    const char *name;
    int (*put)(directory_store *s, const huren_index_dir_entry *entries, size_t n,
               huren_index_dir_result *results, char *err, size_t errlen);
    int (*find)(directory_store *s, const char *pseudonym, const huren_index_dir_filter *f,
                size_t limit, huren_index_dir_list *out, char *err, size_t errlen);
    void (*list_free)(huren_index_dir_list *list);
    void (*stats)(directory_store *s, directory_store_stats *out);
    void (*close)(directory_store *s);
} directory_store_ops;

/* Every backend's handle starts with this. */
struct directory_store {
    const directory_store_ops *ops;
};

int directory_store__sqlite_open(const directory_store_options *o, directory_store **out, char *err,
                                 size_t errlen);
int directory_store__pg_open(const directory_store_options *o, directory_store **out, char *err,
                             size_t errlen);

#endif
