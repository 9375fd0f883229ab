/* fuzz_catalogue.c: the recognition catalogue reader (gateway/directory/catalogue.c: CSV with
 * quoting, per-column validation, duplicate codes). Checks every item it accepts is complete. */
#include <stdint.h>
#include <stdlib.h>

#include "catalogue.h"
#include "huren_err.h"
#include "fuzz_node.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    catalogue *c = NULL;
    char err[HUREN_ERRLEN];
    if (catalogue_load(fuzz_file(in, size), &c, err, sizeof err) < 0)
        return 0;
    for (size_t i = 0; i < catalogue_count(c); i++) {
        const catalogue_item *it = catalogue_item_at(c, i);
        if (!it || !it->code || !it->code[0] || !it->name || !it->kind)
            abort();
    }
    catalogue_free(c);
    return 0;
}
