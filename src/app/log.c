/* SPDX-License-Identifier: MIT */
#include "semver-tagger/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LOG_LINE_MAX 4096
#define LOG_SECRETS_MAX 8
#define LOG_SECRET_LEN_MAX 1024
#define LOG_SECRET_FORMS 5

static struct {
	pthread_mutex_t lock;
	enum log_level threshold;
	FILE *sink;
	bool journal;
	/* raw, URL-encoded and the three base64 forms of each secret */
	char *secrets[LOG_SECRETS_MAX * LOG_SECRET_FORMS];
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
	for (size_t i = 0; i < LOG_SECRETS_MAX * LOG_SECRET_FORMS; i++) {
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

/*
 * The characters of base64(prefix + s) that only the bytes of s decide,
 * for a prefix whose length leaves s at offset off of a 3-byte group (an
 * "Authorization: Basic" value is base64 of "user:" + s). NULL when s is
 * too short for the form to be recognisable (fewer than 8 characters).
 */
static char *base64_core(const char *s, size_t off)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), len;
	const unsigned char *in = (const unsigned char *)s + off;
	char *out, *p;

	if (n < off + 6)
		return NULL;
	len = (n - off) / 3 * 3;
	if (!(out = p = malloc(len / 3 * 4 + 1)))
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
			     in[i + 2];

		*p++ = b64[v >> 18 & 63];
		*p++ = b64[v >> 12 & 63];
		*p++ = b64[v >> 6 & 63];
		*p++ = b64[v & 63];
	}
	*p = '\0';
	return out;
}

int log_add_secret(const char *s)
{
	char *forms[LOG_SECRET_FORMS] = { NULL };
	int rc = 0;

	if (!s || !*s || strlen(s) > LOG_SECRET_LEN_MAX)
		return s && strlen(s) > LOG_SECRET_LEN_MAX ? -1 : 0;
	forms[0] = strdup(s);
	forms[1] = url_encode(s);
	if (!forms[0] || !forms[1]) {
		free(forms[0]);
		free(forms[1]);
		return -1;
	}
	for (size_t off = 0; off < 3; off++)
		forms[2 + off] = base64_core(s, off);
	pthread_mutex_lock(&logger.lock);
	for (size_t i = 0; i < LOG_SECRET_FORMS; i++) {
		if (!forms[i])
			continue;
		if (rc == 0)
			rc = add_secret_locked(forms[i]);
		else
			free(forms[i]);
	}
	pthread_mutex_unlock(&logger.lock);
	return rc;
}

void log_clear_secrets(void)
{
	pthread_mutex_lock(&logger.lock);
	for (size_t i = 0; i < LOG_SECRETS_MAX * LOG_SECRET_FORMS; i++) {
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
	for (size_t i = 0; i < LOG_SECRETS_MAX * LOG_SECRET_FORMS; i++)
		if (logger.secrets[i])
			redact_one(buf, logger.secrets[i]);
}

void log_redact(char *buf)
{
	pthread_mutex_lock(&logger.lock);
	redact_locked(buf);
	pthread_mutex_unlock(&logger.lock);
}

/* The escape for byte c at s (n bytes left), or NULL to copy it. C0
 * controls, DEL and the C1 controls U+0080..U+009F (UTF-8 C2 80..C2 9F;
 * 0x9B is CSI on some terminals): a newline from a webhook's ref would
 * start a forged log line ("<3>..." is a journald priority), ESC would
 * drive the reader's terminal. */
static const char *escape_of(const unsigned char *s, size_t n, char *buf,
			     size_t *skip)
{
	*skip = 1;
	if (*s == '\n')
		return "\\n";
	if (*s == '\r')
		return "\\r";
	if (*s == '\t')
		return "\\t";
	if (*s < 0x20 || *s == 0x7f) {
		snprintf(buf, 8, "\\x%02x", *s);
		return buf;
	}
	if (*s == 0xc2 && n > 1 && s[1] >= 0x80 && s[1] <= 0x9f) {
		snprintf(buf, 8, "\\u%04x", s[1]);
		*skip = 2;
		return buf;
	}
	return NULL;
}

void log_escape(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t j = 0, n = strlen(src), skip;
	char buf[8];

	if (size == 0)
		return;
	for (size_t i = 0; i < n; i += skip) {
		const char *e = escape_of(s + i, n - i, buf, &skip);
		size_t k = e ? strlen(e) : 1;

		if (j + k >= size)
			break; /* never half an escape */
		if (e)
			memcpy(dst + j, e, k);
		else
			dst[j] = (char)s[i];
		j += k;
	}
	dst[j] = '\0';
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char raw[LOG_LINE_MAX], line[LOG_LINE_MAX];
	va_list ap;
	FILE *out;

	if (level > logger.threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&logger.lock);
	redact_locked(raw);
	/* every value from outside passes here: one line per message */
	log_escape(line, sizeof(line), raw);
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
