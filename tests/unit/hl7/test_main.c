/* test_main.c: entry point of test_hl7, running every group of the hl7 module's unit tests. */
#include "test_hl7.h"
#include "../unit_filter.h"

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    int failed = 0;

    failed += run_parse_tests();
    failed += run_charset_tests();
    failed += run_encode_tests();
    failed += run_mllp_tests();
    return failed ? 1 : 0;
}
