/* catalogue_cmd.c: `huren catalogue import --kind K FILE.csv` and `huren catalogue export
 * --kind K`: the directory operator's way to load the province's reference data (reference.h)
 * into the directory's data folder, which serves it from there (directory/reference_api.c). */
#include "cli.h"
#include "commands.h"
#include "huren_err.h"
#include "reference.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: huren catalogue import --kind catalogue|institutions|qc [-c FILE] FILE.csv\n"
    "       huren catalogue export --kind catalogue|institutions|qc [-c FILE]\n"
    "import checks FILE.csv (UTF-8, the kind's header line first; see docs/operate.md) and\n"
    "stores it in the directory's data folder as the next version, which the directory serves\n"
    "at GET /api/v1/directory/reference/KIND at once. Every problem is printed as\n"
    "FILE.csv:LINE: column: what; nothing is stored when there is one. export prints the\n"
    "stored table (with its \"# version: N\" line) on stdout.\n"
    "Exit status 0 done, 1 invalid file or failure, 2 bad command line.\n\n" COMMON_FLAGS;

static int read_all(const char *path, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    char *buf = malloc(REF_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, REF_MAX_BYTES + 1, fp) : 0;
    int bad = !buf || ferror(fp) || n > REF_MAX_BYTES;
    fclose(fp);
    if (bad) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Each "line N: ..." of err printed as "FILE:N: ...". */
static void errors_print(const char *file, char *err)
{
    for (char *save = NULL, *l = strtok_r(err, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(l, "line ", 5))
            fprintf(stderr, "%s:%s\n", file, l + 5);
        else
            fprintf(stderr, "%s: %s\n", file, l);
    }
}

static int run(const config *cfg, int import, ref_kind kind, const char *file)
{
    char dir[4200], err[8192];
    snprintf(dir, sizeof dir, "%s/reference", cfg->data_dir);
    if (!import) {
        char *data = NULL;
        size_t len = 0;
        int r = ref_store_read(dir, kind, &data, &len, err, sizeof err);
        if (r != 0) {
            fprintf(stderr, "huren catalogue export: %s\n",
                    r > 0 ? "nothing imported for this kind yet" : err);
            return 1;
        }
        fwrite(data, 1, len, stdout);
        free(data);
        return 0;
    }
    char *csv = NULL;
    size_t len = 0;
    long version = 0;
    if (read_all(file, &csv, &len) < 0) {
        fprintf(stderr, "huren catalogue import: %s: cannot read it (or larger than %d bytes)\n",
                file, REF_MAX_BYTES);
        return 1;
    }
    int rc = ref_import(dir, kind, csv, len, &version, err, sizeof err);
    free(csv);
    if (rc < 0) {
        errors_print(file, err);
        fprintf(stderr, "huren catalogue import: nothing stored\n");
        return 1;
    }
    printf("%s: version %ld stored\n", ref_kind_name(kind), version);
    return 0;
}

int cmd_catalogue(int argc, char **argv)
{
    int help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    if (argc < 2 || (strcmp(argv[1], "import") && strcmp(argv[1], "export"))) {
        fputs(usage, help ? stdout : stderr);
        return help ? 0 : EXIT_USAGE;
    }
    int import = !strcmp(argv[1], "import");
    const char *kind_arg = NULL;
    char *rest[64];
    int nrest = 0;
    rest[nrest++] = "catalogue";
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--kind") && i + 1 < argc)
            kind_arg = argv[++i];
        else if (nrest < 63)
            rest[nrest++] = argv[i];
    }
    rest[nrest] = NULL;
    config cfg;
    int first = 0, rc = cli_parse(nrest, rest, usage, &cfg, &first);
    ref_kind kind;
    if (rc != 0) {
        rc = rc > 0 ? 0 : EXIT_USAGE;
    } else if (ref_kind_parse(kind_arg, &kind) < 0 || nrest - first != (import ? 1 : 0)) {
        fprintf(stderr, "huren catalogue: give --kind catalogue|institutions|qc%s\n\n%s",
                import ? " and one FILE.csv" : "", usage);
        rc = EXIT_USAGE;
    } else {
        rc = run(&cfg, import, kind, import ? rest[first] : NULL);
    }
    config_free(&cfg);
    return rc;
}
