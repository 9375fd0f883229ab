/* dir_entry_fixture.h: the directory entry the index's and the directory store's unit tests
 * publish (a qualified lab result of hospital B), varied by key, version, item and date. */
#ifndef HUREN_TESTS_DIR_ENTRY_FIXTURE_H
#define HUREN_TESTS_DIR_ENTRY_FIXTURE_H

#include "index/index_directory.h"

static inline huren_index_dir_entry dir_fixture_entry(const char *pseudonym, const char *inst,
                                                      const char *key, int64_t version,
                                                      const char *item, const char *date)
{
    huren_index_dir_entry e = {0};
    e.pseudonym = pseudonym;
    e.institution = inst;
    e.record_key = key;
    e.version = version;
    e.kind = "lab";
    e.item_code = item;
    e.item_name = "血常规";
    e.date = date;
    e.hr = 1;
    e.hr_scope = "province";
    e.qualified_from = "20230101";
    e.qualified_to = "20271231";
    e.source_url = "https://gw-b.example:8443";
    return e;
}

#endif
