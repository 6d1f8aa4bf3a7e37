/*
 * The broker's log: one line per event on stderr, with a timestamp and a level, filtered by the
 * configured level (log_level, or -v on the command line). Safe from any thread.
 */
#ifndef MQTTD_LOG_H
#define MQTTD_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARNING = 1, LOG_NOTICE = 2, LOG_INFO = 3, LOG_DEBUG = 4 };

extern int log_max_level;

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
#define log_warning(...) log_write(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_write(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)                                                                              \
    do {                                                                                           \
        if (log_max_level >= LOG_INFO)                                                             \
            log_write(LOG_INFO, __VA_ARGS__);                                                      \
    } while (0)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_max_level >= LOG_DEBUG)                                                            \
            log_write(LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

#endif
