/* test_index.h: helpers shared by the index unit tests: temp data folders, temp files to put,
 * value tables, and collecting query results as one comparable string. */
#ifndef TEST_INDEX_H
#define TEST_INDEX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "huren_index.h"
#include "index_int.h"

typedef struct tfix {
    char dir[256];
    huren_index *idx;
} tfix;

/* Fresh data folder and open handle (fsync off unless asked). */
void tfix_open(tfix *t, int fsync, huren_index_dup_policy dup);
void tfix_reopen(tfix *t);
void tfix_close(tfix *t); /* closes and removes the folder */

/* Write content to a new file in the archive's tmp/ and return its path (static buffer per
 * call site is not safe across threads: out must hold PATH_MAX). */
void tmp_write(huren_index *idx, const char *content, char *out, size_t outlen);

/* values[] for one instance: patient id, name, study/series/sop uids, modality, sop class. */
typedef struct tinst {
    const char *v[HUREN_INDEX_F_COUNT];
} tinst;
void tinst_init(tinst *t, const char *pid, const char *study, const char *series, const char *sop,
                const char *modality, const char *sop_class);

/* Put content for t; asserts the return code, returns the outcome. */
huren_index_put_outcome put_ok(huren_index *idx, const tinst *t, const char *content);

/* Run a query and return a comma-joined list of field f of each row (malloc'ed), or NULL with
 * *rc set on failure. */
char *find_list(huren_index *idx, huren_index_level level, const huren_index_match *m, size_t n,
                huren_index_field f, int *rc);
/* Same with limit/offset. */
char *find_list_lim(huren_index *idx, huren_index_level level, const huren_index_match *m, size_t n,
                    huren_index_field f, size_t limit, size_t offset, int *rc);

/* huren_index_stats_get() (kept totals) equals counting the rows. */
void assert_totals_consistent(tfix *t);

char *file_read(const char *path);
int file_exists(const char *path);
int count_files(const char *dir); /* regular files below dir, recursively */

extern const struct CMUnitTest schema_tests[];
extern const size_t schema_ntests;
extern const struct CMUnitTest put_tests[];
extern const size_t put_ntests;
extern const struct CMUnitTest datacare_tests[];
extern const size_t datacare_ntests;
extern const struct CMUnitTest pack_tests[];
extern const size_t pack_ntests;
extern const struct CMUnitTest query_tests[];
extern const size_t query_ntests;
extern const struct CMUnitTest records_tests[];
extern const size_t records_ntests;
extern const struct CMUnitTest directory_tests[];
extern const size_t directory_ntests;
extern const struct CMUnitTest recognition_tests[];
extern const size_t recognition_ntests;
extern const struct CMUnitTest pacs_tests[];
extern const size_t pacs_ntests;
extern const struct CMUnitTest shares_tests[];
extern const size_t shares_ntests;

#endif
