/* import_hl7.c: `huren import` of HL7 v2 message files. The file is split by hl7/ (single
 * messages, batches, MLLP frames), each message parsed with the [hl7] limits and stored by
 * ingest_hl7.c exactly as if it had come over MLLP; refusals are logged and counted. */
#define LOG_COMPONENT "import"
#include "import_hl7.h"
#include "huren_err.h"
#include "ingest/ingest_hl7.h"
#include "log.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILE ((size_t)1 << 31)

int import_hl7_sniff(const char *path)
{
    unsigned char b[132];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    if (n <= 0)
        return 0;
    if (n >= 132 && memcmp(b + 128, "DICM", 4) == 0)
        return 0;
    ssize_t i = 0;
    if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF)
        i = 3;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
        i++;
    if (i < n && b[i] == 0x0B)
        return 1;
    return n - i >= 4 &&
           (!memcmp(b + i, "MSH", 3) || !memcmp(b + i, "FHS", 3) || !memcmp(b + i, "BHS", 3));
}

typedef struct split_ctx {
    node *n;
    const char *path;
    import_hl7_counts *c;
    huren_hl7_options opts;
} split_ctx;

static int on_message(const char *data, size_t len, size_t index, size_t offset, void *payload)
{
    split_ctx *x = payload;
    huren_hl7_msg *msg = NULL;
    huren_hl7_handler_result res;
    huren_index_put_outcome outcome;
    char err[HUREN_ERRLEN];
    x->c->messages++;
    if (huren_hl7_msg_parse(data, len, &x->opts, &msg, err, sizeof err) < 0) {
        log_warnx("%s: message %zu (offset %zu) refused: %s", x->path, index + 1, offset, err);
        x->c->refused++;
        return 0;
    }
    ingest_result r = ingest_hl7_message(x->n, msg, &res, &outcome);
    if (r == INGEST_OK && outcome == HUREN_INDEX_PUT_DUPLICATE)
        x->c->duplicates++;
    else if (r == INGEST_OK)
        x->c->stored++;
    else if (r == INGEST_INVALID)
        x->c->refused++;
    else
        x->c->failed++;
    if (r != INGEST_OK) {
        char id[48];
        snprintf(id, sizeof id, "%s", huren_hl7_msg_control_id(msg));
        for (char *p = id; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = '?';
        log_warnx("%s: message %zu (control id '%s') refused: %s", x->path, index + 1, id,
                  res.text);
    }
    huren_hl7_msg_free(msg);
    return 0;
}

void import_hl7_file(node *n, const char *path, import_hl7_counts *c)
{
    split_ctx x = {.n = n, .path = path, .c = c, .opts = HUREN_HL7_OPTIONS_INIT};
    char err[HUREN_ERRLEN];
    x.opts.max_message_size = (size_t)n->cfg->hl7_max_message;
    c->files++;
    int rc = huren_hl7_file_split(path, MAX_FILE, on_message, &x, err, sizeof err);
    if (rc < 0) {
        log_warnx("%s: %s", path, err);
        c->failed++;
    }
}
