/* log.h: the daemon's logging API (after OpenSMTPD's log.h). One line per event:
 * "2026-11-26T05:30:00.123Z INFO  dicom: association from CT1 (10.0.0.5)". Each .c file
 * names its component by defining LOG_COMPONENT before including this header. */
#ifndef HUREN_GATEWAY_LOG_H
#define HUREN_GATEWAY_LOG_H

#include <stdarg.h>
#include <stdio.h>

typedef enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG
} log_level;

#ifndef LOG_COMPONENT
#define LOG_COMPONENT "huren"
#endif

/* Where lines go (default stderr) and the most verbose level written. Thread-safe to call
 * log_* from any thread after log_init. */
void log_init(log_level level, FILE *stream);
log_level log_get_level(void);
/* Parse "error|warn|info|debug"; returns 0 and sets *out, or -1. */
int log_level_parse(const char *s, log_level *out);
const char *log_level_name(log_level level);

void log_emit(log_level level, const char *component, int with_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void log_emitv(log_level level, const char *component, int with_errno, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* log_warn appends strerror(errno); log_warnx does not. fatal logs and exits with status 1. */
#define log_warn(...) log_emit(LOG_LEVEL_WARN, LOG_COMPONENT, 1, __VA_ARGS__)
#define log_warnx(...) log_emit(LOG_LEVEL_WARN, LOG_COMPONENT, 0, __VA_ARGS__)
#define log_error(...) log_emit(LOG_LEVEL_ERROR, LOG_COMPONENT, 0, __VA_ARGS__)
#define log_info(...) log_emit(LOG_LEVEL_INFO, LOG_COMPONENT, 0, __VA_ARGS__)
#define log_debug(...) log_emit(LOG_LEVEL_DEBUG, LOG_COMPONENT, 0, __VA_ARGS__)
#define fatal(...) log_fatal(LOG_COMPONENT, __VA_ARGS__)
void log_fatal(const char *component, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#endif
