/* The broker's log (see log.h). */
#include "server/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int log_max_level = LOG_NOTICE;

static const char *const level_names[] = {"error", "warning", "notice", "info", "debug"};

void log_write(int level, const char *fmt, ...)
{
    if (level > log_max_level)
        return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %s: ", ts.tv_nsec / 1000000L,
                  level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n < (int)sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof line)
        n = (int)sizeof line - 1;
    line[n] = '\n';
    fwrite(line, 1, (size_t)n + 1, stderr);
}
