/* unit_filter.h: every unit test binary takes one optional argument, a cmocka pattern of test
 * names (`*` and `?`), and runs only the tests it matches, e.g.
 *   build/tests/unit/index/test_index 'put_*'
 * Call first thing in main(). Includes cmocka itself, so its place among includes is free. */
#ifndef HUREN_UNIT_FILTER_H
#define HUREN_UNIT_FILTER_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static inline void unit_filter(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))) {
        fprintf(stderr, "usage: %s [PATTERN]  (run the tests whose names match; * and ?)\n",
                argv[0]);
        exit(argc == 2 ? 0 : 2);
    }
    if (argc == 2)
        cmocka_set_test_filter(argv[1]);
}

#endif
