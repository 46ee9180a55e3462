/* SPDX-License-Identifier: MIT */
/*
 * A growable, always NUL-terminated byte buffer with a hard size cap: the
 * one type used for every body that comes from outside (HTTP responses,
 * files, webhook requests), so no remote input can grow memory unbounded.
 */
#ifndef SEMVER_TAGGER_STRBUF_H
#define SEMVER_TAGGER_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *buf;  /* owned; NULL until the first append; NUL-terminated */
	size_t len; /* bytes used, excluding the NUL */
	size_t cap; /* bytes allocated */
	size_t max; /* most bytes len may reach; appends past it fail */
	bool lost;  /* an append failed since init/reset: the text is cut
		     * (for writers that check once at the end) */
};

/* Initialise an empty buffer that may hold at most max bytes. */
void strbuf_init(struct strbuf *sb, size_t max);

/* Free the storage and reset to empty (keeps max). sb may be NULL. */
void strbuf_release(struct strbuf *sb);

/* Append n bytes. ST_ETOOBIG past max, ST_ENOMEM; sb unchanged on failure. */
int strbuf_add(struct strbuf *sb, const void *data, size_t n);

/* Append a C string. */
int strbuf_adds(struct strbuf *sb, const char *s);

/* Append formatted text (bounded by max). */
int strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* The contents as a C string: "" when nothing was appended. Borrowed. */
const char *strbuf_str(const struct strbuf *sb);

/* Hand the storage to the caller (free() it) and reset sb. Never NULL
 * unless allocation fails. */
char *strbuf_detach(struct strbuf *sb);

/* Set len to 0, keep the storage. */
void strbuf_reset(struct strbuf *sb);

#endif
