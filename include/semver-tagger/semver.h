/* SPDX-License-Identifier: MIT */
/*
 * SemVer 2.0.0: parse, format, compare, and recognise release tags
 * (SPEC §1). Pure: no I/O, no allocation except where stated.
 */
#ifndef SEMVER_TAGGER_SEMVER_H
#define SEMVER_TAGGER_SEMVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A release version: the SemVer core triple, nothing else. */
struct semver_ver {
	uint64_t major, minor, patch;
};

/*
 * A full SemVer version. pre and build point into the string that was
 * parsed (borrowed: valid while that string is), and are NULL when absent.
 */
struct semver {
	struct semver_ver core;
	const char *pre;
	size_t pre_len;
	const char *build;
	size_t build_len;
};

/* Longest text semver_format() writes, NUL included ("M.m.p", 3x20 digits). */
#define SEMVER_VER_STR_MAX 64

/*
 * Parse exactly n bytes of s as a SemVer 2.0.0 version (no prefix, no
 * surrounding space, no embedded NUL). 0 and *out set, or ST_EINVAL.
 */
int semver_parse(const char *s, size_t n, struct semver *out);

/* SemVer precedence: <0, 0, >0. Build metadata is ignored. */
int semver_compare(const struct semver *a, const struct semver *b);

/* Numeric order of release triples: <0, 0, >0. */
int semver_ver_compare(const struct semver_ver *a, const struct semver_ver *b);

/* "M.m.p" into buf (size >= SEMVER_VER_STR_MAX to never truncate). */
void semver_ver_format(const struct semver_ver *v, char *buf, size_t size);

/*
 * Is tag (a tag name without "refs/tags/") a release under prefix (a
 * literal, "" for none)? A release is prefix + MAJOR.MINOR.PATCH with no
 * pre-release and no build part. 1 and *out set when it is, 0 when not.
 */
int semver_release_from_tag(const char *tag, const char *prefix,
			    struct semver_ver *out);

/* Tag name for a release: prefix + "M.m.p" into buf; ST_ETOOBIG if it
 * does not fit. */
int semver_tag_name(const struct semver_ver *v, const char *prefix, char *buf,
		    size_t size);

#endif
