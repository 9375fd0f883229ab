/* fuzz_config.c: the configuration reader (gateway/config.c: INI through libinih, the key
 * table's types and bounds, then the cross-key checks of `huren check-config`). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "huren_err.h"
#include "fuzz_node.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    config cfg;
    char err[HUREN_ERRLEN];
    if (config_defaults(&cfg) < 0)
        abort();
    if (config_load(&cfg, fuzz_file(in, size), err, sizeof err) == 0)
        config_validate(&cfg, err, sizeof err);
    config_free(&cfg);
    return 0;
}
