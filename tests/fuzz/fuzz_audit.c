/* fuzz_audit.c: `huren audit verify` on any file (index/audit.c's chain check: JSON lines,
 * hashes, sequence numbers). Checks: an intact answer counts no broken line. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_node.h"
#include "huren_err.h"
#include "huren_audit.h"
#include "audit/huren_audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    huren_audit_check c;
    char err[HUREN_ERRLEN];
    if (huren_audit_verify(fuzz_file(in, size), &c, err, sizeof err) < 0)
        return 0;
    if (c.intact && c.bad_line != 0)
        abort();
    return 0;
}
