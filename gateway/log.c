/* log.c: writes log lines with an ISO-8601 UTC timestamp, level and component. A mutex keeps
 * lines from different threads whole; the level check happens before any formatting. */
#define LOG_COMPONENT "log"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static log_level g_level = LOG_LEVEL_INFO;
static FILE *g_stream;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(log_level level, FILE *stream)
{
    g_level = level;
    g_stream = stream;
}

log_level log_get_level(void)
{
    return g_level;
}

int log_level_parse(const char *s, log_level *out)
{
    for (int i = 0; i <= LOG_LEVEL_DEBUG; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(log_level level)
{
    return level <= LOG_LEVEL_DEBUG ? level_names[level] : "?";
}

void log_emitv(log_level level, const char *component, int with_errno, const char *fmt, va_list ap)
{
    if (level > g_level)
        return;
    int saved_errno = errno;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* One event, one line: a message from a peer must not forge further lines. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    static const char *const tags[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    FILE *out = g_stream ? g_stream : stderr;
    pthread_mutex_lock(&g_lock);
    if (with_errno)
        fprintf(out, "%s.%03ldZ %s %s: %s: %s\n", when, ts.tv_nsec / 1000000, tags[level],
                component, msg, strerror(saved_errno));
    else
        fprintf(out, "%s.%03ldZ %s %s: %s\n", when, ts.tv_nsec / 1000000, tags[level], component,
                msg);
    fflush(out);
    pthread_mutex_unlock(&g_lock);
}

void log_emit(log_level level, const char *component, int with_errno, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_emitv(level, component, with_errno, fmt, ap);
    va_end(ap);
}

void log_fatal(const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_emitv(LOG_LEVEL_ERROR, component, 0, fmt, ap);
    va_end(ap);
    exit(1);
}
