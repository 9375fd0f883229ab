/* test_put.c: placeholder. */
#include "test_index.h"
const struct CMUnitTest put_tests[] = {{0}};
const size_t put_ntests = 0;
