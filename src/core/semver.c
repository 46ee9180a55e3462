/* SPDX-License-Identifier: MIT */
#include "semver-tagger/semver.h"

#include "semver-tagger/error.h"
#include "semver-tagger/num.h"

#include <stdio.h>
#include <string.h>

static bool is_ident_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '-';
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * Dot-separated identifiers, each non-empty and of [0-9A-Za-z-]; numeric
 * identifiers without leading zeros when numeric_strict (pre-release rule).
 */
static bool valid_idents(const char *s, size_t n, bool numeric_strict)
{
	size_t start = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i <= n; i++) {
		size_t len;

		if (i < n && s[i] != '.') {
			if (!is_ident_char(s[i]))
				return false;
			continue;
		}
		len = i - start;
		if (len == 0)
			return false;
		if (numeric_strict && len > 1 && s[start] == '0' &&
		    all_digits(s + start, len))
			return false;
		start = i + 1;
	}
	return true;
}

/* Parse "M.m.p" in exactly n bytes. */
static int parse_core(const char *s, size_t n, struct semver_ver *out)
{
	uint64_t part[3];
	size_t start = 0;
	int k = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (k == 3)
			return ST_EINVAL;
		if (num_parse_u64(s + start, i - start, true, &part[k]) != 0)
			return ST_EINVAL;
		k++;
		start = i + 1;
	}
	if (k != 3)
		return ST_EINVAL;
	out->major = part[0];
	out->minor = part[1];
	out->patch = part[2];
	return ST_OK;
}

int semver_parse(const char *s, size_t n, struct semver *out)
{
	const char *plus, *dash;
	size_t core_end, pre_end;
	struct semver v = { 0 };

	if (!s || n == 0 || memchr(s, '\0', n))
		return ST_EINVAL;
	plus = memchr(s, '+', n);
	pre_end = plus ? (size_t)(plus - s) : n;
	dash = memchr(s, '-', pre_end);
	core_end = dash ? (size_t)(dash - s) : pre_end;
	if (parse_core(s, core_end, &v.core) != 0)
		return ST_EINVAL;
	if (dash) {
		v.pre = dash + 1;
		v.pre_len = pre_end - core_end - 1;
		if (!valid_idents(v.pre, v.pre_len, true))
			return ST_EINVAL;
	}
	if (plus) {
		v.build = plus + 1;
		v.build_len = n - pre_end - 1;
		if (!valid_idents(v.build, v.build_len, false))
			return ST_EINVAL;
	}
	*out = v;
	return ST_OK;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return (a > b) - (a < b);
}

int semver_ver_compare(const struct semver_ver *a, const struct semver_ver *b)
{
	int c = cmp_u64(a->major, b->major);

	if (c == 0)
		c = cmp_u64(a->minor, b->minor);
	if (c == 0)
		c = cmp_u64(a->patch, b->patch);
	return c;
}

/* Compare one pre-release identifier pair per SemVer §11.4. */
static int compare_ident(const char *a, size_t an, const char *b, size_t bn)
{
	bool anum = all_digits(a, an), bnum = all_digits(b, bn);
	int c;

	if (anum && bnum) {
		/* No leading zeros, so longer means larger; this also
		 * handles identifiers beyond 64 bits. */
		if (an != bn)
			return an < bn ? -1 : 1;
		c = memcmp(a, b, an);
		return (c > 0) - (c < 0);
	}
	if (anum != bnum)
		return anum ? -1 : 1;
	c = memcmp(a, b, an < bn ? an : bn);
	if (c != 0)
		return (c > 0) - (c < 0);
	return cmp_u64(an, bn);
}

static size_t ident_len(const char *s, size_t n)
{
	const char *dot = memchr(s, '.', n);

	return dot ? (size_t)(dot - s) : n;
}

static int compare_pre(const struct semver *a, const struct semver *b)
{
	const char *ap = a->pre, *bp = b->pre;
	size_t an = a->pre_len, bn = b->pre_len;

	if (!ap || !bp)
		return ap ? -1 : (bp ? 1 : 0); /* no pre-release ranks higher */
	while (an > 0 && bn > 0) {
		size_t al = ident_len(ap, an), bl = ident_len(bp, bn);
		int c = compare_ident(ap, al, bp, bl);

		if (c != 0)
			return c;
		ap += al;
		an -= al;
		bp += bl;
		bn -= bl;
		if (an > 0) {
			ap++;
			an--;
		}
		if (bn > 0) {
			bp++;
			bn--;
		}
	}
	return cmp_u64(an, bn); /* more identifiers rank higher */
}

int semver_compare(const struct semver *a, const struct semver *b)
{
	int c = semver_ver_compare(&a->core, &b->core);

	return c != 0 ? c : compare_pre(a, b);
}

void semver_ver_format(const struct semver_ver *v, char *buf, size_t size)
{
	snprintf(buf, size, "%llu.%llu.%llu", (unsigned long long)v->major,
		 (unsigned long long)v->minor, (unsigned long long)v->patch);
}

int semver_release_from_tag(const char *tag, const char *prefix,
			    struct semver_ver *out)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	struct semver v;

	if (!tag || strncmp(tag, prefix ? prefix : "", plen) != 0)
		return 0;
	tag += plen;
	if (semver_parse(tag, strlen(tag), &v) != 0 || v.pre || v.build)
		return 0;
	*out = v.core;
	return 1;
}

int semver_tag_name(const struct semver_ver *v, const char *prefix, char *buf,
		    size_t size)
{
	int n = snprintf(buf, size, "%s%llu.%llu.%llu", prefix ? prefix : "",
			 (unsigned long long)v->major,
			 (unsigned long long)v->minor,
			 (unsigned long long)v->patch);

	if (n < 0 || (size_t)n >= size)
		return ST_ETOOBIG;
	return ST_OK;
}
