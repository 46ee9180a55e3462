/* SPDX-License-Identifier: MIT */
#include "semver-tagger/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LOG_LINE_MAX 4096
#define LOG_SECRETS_MAX 8
#define LOG_SECRET_LEN_MAX 1024

static struct {
	pthread_mutex_t lock;
	enum log_level threshold;
	FILE *sink;
	bool journal;
	char *secrets[LOG_SECRETS_MAX * 2]; /* raw and URL-encoded forms */
} logger = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.threshold = LOG_LEVEL_INFO,
};

void log_setup(enum log_level threshold, FILE *sink)
{
	pthread_mutex_lock(&logger.lock);
	logger.threshold = threshold;
	logger.sink = sink;
	logger.journal = getenv("JOURNAL_STREAM") != NULL;
	pthread_mutex_unlock(&logger.lock);
}

enum log_level log_threshold(void)
{
	return logger.threshold;
}

int log_level_parse(const char *s)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{ "error", LOG_LEVEL_ERROR },   { "warning", LOG_LEVEL_WARNING },
		{ "notice", LOG_LEVEL_NOTICE }, { "info", LOG_LEVEL_INFO },
		{ "debug", LOG_LEVEL_DEBUG },
	};

	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return (int)names[i].level;
	return -1;
}

static char *url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(n * 3 + 1), *p = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-_.~", c)) {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

static int add_secret_locked(char *copy)
{
	for (size_t i = 0; i < LOG_SECRETS_MAX * 2; i++) {
		if (!logger.secrets[i]) {
			logger.secrets[i] = copy;
			return 0;
		}
		if (strcmp(logger.secrets[i], copy) == 0) {
			free(copy);
			return 0;
		}
	}
	free(copy);
	return -1;
}

int log_add_secret(const char *s)
{
	char *raw, *enc;
	int rc;

	if (!s || !*s || strlen(s) > LOG_SECRET_LEN_MAX)
		return s && strlen(s) > LOG_SECRET_LEN_MAX ? -1 : 0;
	raw = strdup(s);
	enc = url_encode(s);
	if (!raw || !enc) {
		free(raw);
		free(enc);
		return -1;
	}
	pthread_mutex_lock(&logger.lock);
	rc = add_secret_locked(raw);
	if (rc == 0)
		rc = add_secret_locked(enc);
	else
		free(enc);
	pthread_mutex_unlock(&logger.lock);
	return rc;
}

void log_clear_secrets(void)
{
	pthread_mutex_lock(&logger.lock);
	for (size_t i = 0; i < LOG_SECRETS_MAX * 2; i++) {
		free(logger.secrets[i]);
		logger.secrets[i] = NULL;
	}
	pthread_mutex_unlock(&logger.lock);
}

static void redact_one(char *buf, const char *secret)
{
	size_t n = strlen(secret);
	char *hit;

	while ((hit = strstr(buf, secret)) != NULL) {
		/* "***" is never longer than a secret worth hiding; shorter
		 * secrets are replaced by as many '*'. */
		size_t stars = n < 3 ? n : 3;

		memset(hit, '*', stars);
		memmove(hit + stars, hit + n, strlen(hit + n) + 1);
	}
}

static void redact_locked(char *buf)
{
	for (size_t i = 0; i < LOG_SECRETS_MAX * 2; i++)
		if (logger.secrets[i])
			redact_one(buf, logger.secrets[i]);
}

void log_redact(char *buf)
{
	pthread_mutex_lock(&logger.lock);
	redact_locked(buf);
	pthread_mutex_unlock(&logger.lock);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	FILE *out;

	if (level > logger.threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&logger.lock);
	redact_locked(line);
	out = logger.sink ? logger.sink : stderr;
	if (logger.journal)
		fprintf(out, "<%d>%s\n", (int)level, line);
	else if (level <= LOG_LEVEL_WARNING)
		fprintf(out, "semver-tagger: %s: %s\n",
			level == LOG_LEVEL_ERROR ? "error" : "warning", line);
	else
		fprintf(out, "semver-tagger: %s\n", line);
	fflush(out);
	pthread_mutex_unlock(&logger.lock);
}
