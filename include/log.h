/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging to stderr in a journald-friendly form: each line starts with the
 * syslog priority as "<N>" (sd-daemon(3) prefixes) when stderr is the journal
 * or NETPOLD_LOG_PREFIX=1, else with a level word. The log level is the only
 * process-wide state netpold has.
 */
#pragma once

#include <syslog.h>

#include "util.h"

/* Set the maximum priority logged (LOG_ERR .. LOG_DEBUG). */
void log_set_level(int level);
int log_get_level(void);
/* Parse "error|warning|notice|info|debug"; returns the level or -EINVAL. */
int log_level_parse(const char *s);

void log_msg(int level, const char *fmt, ...) _printf_(2, 3);
/* Log with ": <strerror(-err)>" appended; returns err (negative errno) for chaining. */
int log_errno(int level, int err, const char *fmt, ...) _printf_(3, 4);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_error_errno(err, ...) log_errno(LOG_ERR, (err), __VA_ARGS__)
#define log_warning_errno(err, ...) log_errno(LOG_WARNING, (err), __VA_ARGS__)
