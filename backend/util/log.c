/*
 * log.c - leveled one-line logging to stderr (see log.h), as text or as
 * one JSON object per line.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile int current_level = LOG_INFO;
static volatile int current_format = LOG_FORMAT_TEXT;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return (enum log_level)current_level;
}

void log_set_format(enum log_format format)
{
	current_format = format;
}

int log_format_parse(const char *name)
{
	if (strcmp(name, "text") == 0)
		return LOG_FORMAT_TEXT;
	if (strcmp(name, "json") == 0)
		return LOG_FORMAT_JSON;
	return -1;
}

/* Appends text to out[*len..cap) as the inside of a JSON string; stops
 * before an escape that would not fit. */
static void json_escape(char *out, size_t *len, size_t cap, const char *text)
{
	size_t n = *len;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		char esc[8];
		size_t elen;
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			elen = 2;
		} else if (*p == '\n') {
			memcpy(esc, "\\n", 2);
			elen = 2;
		} else if (*p < 0x20) {
			elen = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
		} else {
			esc[0] = (char)*p;
			elen = 1;
		}
		if (n + elen >= cap)
			break;
		memcpy(out + n, esc, elen);
		n += elen;
	}
	*len = n;
}

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if ((int)level > current_level)
		return;
	char line[2048], stamp[64], msg[1536];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));
	va_list ap;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	size_t len;
	if (current_format == LOG_FORMAT_JSON) {
		len = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", stamp,
				       level_names[level]);
		json_escape(line, &len, sizeof(line) - 3, msg);
		line[len++] = '"';
		line[len++] = '}';
	} else {
		int n = snprintf(line, sizeof(line) - 1, "%s %-5s %s", stamp, level_names[level], msg);
		len = n < 0 ? 0 : (size_t)n;
		if (len > sizeof(line) - 2)
			len = sizeof(line) - 2;
	}
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w; /* nowhere left to report a failed log write */
}
