/* SPDX-License-Identifier: MIT */
/*
 * The log sink: the one piece of global mutable state (with signal flags).
 * Lines go to stderr; with JOURNAL_STREAM set they carry sd-daemon "<N>"
 * priority prefixes. Registered secrets are replaced by "***" in every
 * line, whatever level, so a token can never reach a log; control
 * characters are escaped, so a value from outside cannot start a line.
 * Only src/app logs; lower layers fill a struct st_error instead.
 */
#ifndef SEMVER_TAGGER_LOG_H
#define SEMVER_TAGGER_LOG_H

#include <stddef.h>
#include <stdio.h>

enum log_level {
	LOG_LEVEL_ERROR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Set the threshold and the sink (NULL = stderr). Reads JOURNAL_STREAM. */
void log_setup(enum log_level threshold, FILE *sink);

enum log_level log_threshold(void);

/* Parse "error", "warning", "notice", "info", "debug"; -1 if unknown. */
int log_level_parse(const char *s);

/* Never print s (nor its URL-encoded form). Copies s; at most 8 secrets,
 * empty strings ignored. Returns 0, or -1 when the table is full. */
int log_add_secret(const char *s);

/* Forget every registered secret (tests, reload). */
void log_clear_secrets(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Copy src into dst (size bytes, NUL-terminated, cut before an escape
 * that does not fit) with control characters escaped: "\n", "\r", "\t",
 * "\x1b" for the other C0 controls and DEL, "\u009b" for the C1 ones.
 * log_msg() does this to every line. */
void log_escape(char *dst, size_t size, const char *src);

/* Redact registered secrets in place in buf (NUL-terminated). */
void log_redact(char *buf);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
