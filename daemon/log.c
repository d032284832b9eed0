/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stderr logging with syslog priorities. One line per call, written with a
 * single write(2) so lines from netpold and its tools never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "log.h"

static int log_level = LOG_INFO;

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

int log_level_parse(const char *s)
{
	static const char *const names[] = {
		[LOG_ERR] = "error",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
		[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
	};

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (names[i] && s && strcmp(s, names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

static bool use_prefix(void)
{
	static int cached = -1;
	const char *e;

	if (cached >= 0)
		return cached;
	e = getenv("NETPOLD_LOG_PREFIX");
	if (e)
		cached = strcmp(e, "1") == 0;
	else
		cached = getenv("JOURNAL_STREAM") != NULL;
	return cached;
}

static void log_write(int level, const char *suffix, const char *fmt, va_list ap)
{
	static const char *const words[] = {"emerg", "alert", "crit", "error",
					    "warning", "notice", "info", "debug"};
	char line[4096];
	int n;

	if (level > log_level)
		return;
	if (use_prefix())
		n = snprintf(line, sizeof(line), "<%d>", level);
	else
		n = snprintf(line, sizeof(line), "netpold[%d] %s: ", (int)getpid(),
			     words[level & 7]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	n = (int)strlen(line);
	if (suffix)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ": %s", suffix);
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(level, NULL, fmt, ap);
	va_end(ap);
}

int log_errno(int level, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(level, strerror(err < 0 ? -err : err), fmt, ap);
	va_end(ap);
	return err;
}
