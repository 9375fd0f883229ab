/* mllp_send_check.c: interoperability check of the hl7 listener with a real client, the
 * mllp_send tool of Debian's python3-hl7. Starts the listener on a free loopback port, sends
 * a framed file and a loose (LF-separated) file, and checks every message got an AA.
 * Exit 0 on success, 77 (ctest skip) when mllp_send is not installed, 1 on failure. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "huren_hl7.h"
#include "huren_err.h"

#define PYTHON "/usr/bin/python3"
#define MLLP_SEND "/usr/bin/mllp_send"

static atomic_int handled;
static char names[4][64];

static void handler(const huren_hl7_msg *msg, const char *raw, size_t len, const char *peer,
                    huren_hl7_handler_result *res, void *payload)
{
    int n = atomic_fetch_add(&handled, 1);
    const char *name = huren_hl7_msg_get(msg, "PID", 1, 5, 1, 1, 1);

    (void)raw, (void)len, (void)peer, (void)payload;
    if (n < 4 && name)
        snprintf(names[n], sizeof(names[n]), "%s", name);
    res->code = HUREN_HL7_AA;
    snprintf(res->text, sizeof(res->text), "stored %s", huren_hl7_msg_control_id(msg));
}

/* Runs mllp_send with args, its stdout into out; kills it after 30 s. Returns exit status. */
static int run_mllp_send(int port, const char *file, int loose, char *out, size_t outsz)
{
    char portstr[16];
    int pfd[2], status = -1;
    size_t len = 0;
    pid_t pid;
    time_t t0 = time(NULL);

    snprintf(portstr, sizeof(portstr), "%d", port);
    if (pipe(pfd) < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        if (loose)
            execl(PYTHON, PYTHON, MLLP_SEND, "--loose", "-p", portstr, "-f", file, "127.0.0.1",
                  (char *)NULL);
        else
            execl(PYTHON, PYTHON, MLLP_SEND, "-p", portstr, "-f", file, "127.0.0.1", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    for (;;) {
        ssize_t n;
        if (time(NULL) - t0 > 30) {
            kill(pid, SIGKILL);
            break;
        }
        n = read(pfd[0], out + len, outsz - 1 - len);
        if (n <= 0 || len + (size_t)n >= outsz - 1) {
            if (n > 0)
                len += (size_t)n;
            break;
        }
        len += (size_t)n;
    }
    out[len] = '\0';
    close(pfd[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, strlen(data), f) == strlen(data);

    if (f)
        fclose(f);
    return ok ? 0 : -1;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    while ((hay = strstr(hay, needle)) != NULL)
        n++, hay++;
    return n;
}

int main(void)
{
    huren_hl7_mllp_options opts = HUREN_HL7_MLLP_OPTIONS_INIT;
    huren_hl7_mllp *srv = NULL;
    char err[HUREN_ERRLEN], out[8192], framed[] = "/tmp/huren_mllp_send_XXXXXX", loose[64];
    int fd, rc, failed = 0;

    if (access(PYTHON, X_OK) != 0 || access(MLLP_SEND, R_OK) != 0) {
        fprintf(stderr, "mllp_send not installed: skipped\n");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    opts.bind_address = "127.0.0.1";
    opts.port = 0;
    if (huren_hl7_mllp_start(&srv, &opts, handler, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "listener: %s\n", err);
        return 1;
    }
    fd = mkstemp(framed);
    if (fd < 0) {
        huren_hl7_mllp_stop(srv, 1);
        return 1;
    }
    close(fd);
    snprintf(loose, sizeof(loose), "%s.loose", framed);
    write_file(framed, "\x0bMSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ORU^R01|PY1|P|2.5.1||||||"
                       "UNICODE UTF-8\rPID|1||P1||王小明\r\x1c\r"
                       "\x0bMSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ADT^A08|PY2|P|2.4\r"
                       "PID|1||P2||DOE^JOHN\r\x1c\r");
    write_file(loose, "MSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ADT^A01|PY3|P|2.3\n"
                      "PID|1||P3||ROE\n\n"
                      "MSH|^~\\&|LIS|HOSPA|HUREN|HOSPB|2024||ADT^A04|PY4|P|2.5\n"
                      "PID|1||P4||POE\n");
    rc = run_mllp_send(huren_hl7_mllp_port(srv), framed, 0, out, sizeof(out));
    printf("mllp_send (framed) exit %d:\n%s\n", rc, out);
    if (rc != 0 || count(out, "MSA|AA|PY1") != 1 || count(out, "MSA|AA|PY2") != 1)
        failed = 1;
    rc = run_mllp_send(huren_hl7_mllp_port(srv), loose, 1, out, sizeof(out));
    printf("mllp_send --loose exit %d:\n%s\n", rc, out);
    if (rc != 0 || count(out, "MSA|AA|PY3") != 1 || count(out, "MSA|AA|PY4") != 1)
        failed = 1;
    huren_hl7_mllp_stop(srv, 5);
    unlink(framed);
    unlink(loose);
    if (atomic_load(&handled) != 4 || strcmp(names[0], "王小明") != 0) {
        fprintf(stderr, "handler saw %d messages, first name '%s'\n", atomic_load(&handled),
                names[0]);
        failed = 1;
    }
    printf("%s\n", failed ? "FAILED" : "mllp_send interoperability OK");
    return failed;
}
