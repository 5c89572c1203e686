/*
 * log.h - one-line log records with a level, to stderr (or a file).
 * Used by backend and server alike; thread-safe, each record is written
 * with a single write(2) so lines from different threads never interleave.
 */
#ifndef GATEFS_LOG_H
#define GATEFS_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* text: "TIME LEVEL message"; json: one object per line with time, level
 * and msg, for log collectors. */
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int log_level_parse(const char *name);
void log_set_format(enum log_format format);
/* Parses "text", "json"; returns -1 if unknown. */
int log_format_parse(const char *name);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                                                 \
	do {                                                                                                           \
		if (log_get_level() >= LOG_DEBUG)                                                                      \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                                               \
	} while (0)

#endif
