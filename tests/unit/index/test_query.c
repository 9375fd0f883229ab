/* test_query.c: placeholder. */
#include "test_index.h"
const struct CMUnitTest query_tests[] = {{0}};
const size_t query_ntests = 0;
