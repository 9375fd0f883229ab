/* verify_claim.c: `huren verify-claim FILE [--ca CA.pem] [--payload]`: checks a signed claim
 * bundle (compact ES256 JWS, as POST /api/v1/claims answered it) offline: the signature with
 * the certificate in its x5c header and, with --ca, that certificate's chain to a trusted CA;
 * for an underwriting bundle, each hospital's part likewise (verify_parts.c). */
#include "commands.h"
#include "jws.h"
#include "verify_parts.h"
#include "huren_buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE (64u << 20)

static const char usage[] =
    "usage: huren verify-claim FILE [--ca CA.pem] [--payload]\n"
    "Verify a signed claim bundle (compact JWS, ES256, certificate chain in x5c).\n"
    "  --ca FILE    also check that the signer's certificate chains to a CA in FILE (PEM)\n"
    "  --payload    print the verified bundle (JSON) on stdout\n"
    "An underwriting bundle's parts (each hospital's own JWS) are verified as well.\n"
    "FILE - reads stdin. Exit status: 0 valid, 1 invalid or unreadable, 2 bad command line.\n";

static char *slurp(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return NULL;
    huren_buf b;
    huren_buf_init(&b, MAX_FILE);
    int rc = huren_buf_read(&b, f);
    if (f != stdin)
        fclose(f);
    if (rc < 0) {
        huren_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return huren_buf_release(&b);
}

int cmd_verify_claim(int argc, char **argv)
{
    const char *file = NULL, *ca = NULL;
    int payload = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--ca") && i + 1 < argc) {
            ca = argv[++i];
        } else if (!strcmp(argv[i], "--payload")) {
            payload = 1;
        } else if (!file && (argv[i][0] != '-' || !strcmp(argv[i], "-"))) {
            file = argv[i];
        } else {
            fprintf(stderr, "huren verify-claim: unexpected argument \"%s\"\n\n%s", argv[i], usage);
            return EXIT_USAGE;
        }
    }
    if (!file) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    size_t len = 0;
    char *text = slurp(file, &len), err[512];
    if (!text) {
        fprintf(stderr, "claim BAD: %s: %s\n", file, errno ? strerror(errno) : "cannot read");
        return 1;
    }
    jws_verified v;
    int rc = jws_verify(text, len, ca, &v, err, sizeof err);
    free(text);
    if (rc < 0) {
        fprintf(stderr, "claim signature BAD: %s: %s\n", file, err);
        return 1;
    }
    FILE *report = payload ? stderr : stdout;
    if (payload)
        fwrite(v.payload, 1, v.payload_len, stdout);
    fprintf(
        report, "claim signature OK: %s: signed by %s (issuer %s); %s\n", file, v.subject, v.issuer,
        v.chain_checked ? "certificate chain verified" : "certificate chain NOT checked (no --ca)");
    /* an underwriting bundle: each hospital's part too */
    int parts = verify_parts(v.payload, v.payload_len, ca, report);
    jws_verified_free(&v);
    if (parts < 0)
        fprintf(report, "underwriting bundle BAD: %s: a part does not verify\n", file);
    else if (parts > 0)
        fprintf(report, "underwriting bundle OK: %s: %d parts verified\n", file, parts);
    return parts < 0 ? 1 : 0;
}
