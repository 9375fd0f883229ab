/* test_hl7.h: the groups of the hl7 unit test binary and small helpers they share. */
#ifndef TEST_HL7_H
#define TEST_HL7_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "huren_hl7.h"

int run_parse_tests(void);
int run_charset_tests(void);
int run_encode_tests(void);
int run_mllp_tests(void);

/* Parses a NUL-terminated message; fails the test with the parser's message on error. */
huren_hl7_msg *parse_ok(const char *text);
/* Parses and expects failure `rc`; returns the error text in err. */
void parse_fails(const char *text, size_t len, int rc, char *err, size_t errlen);

#endif
