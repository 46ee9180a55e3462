/* SPDX-License-Identifier: MIT */
/*
 * SemVer parse/compare (src/core/semver.c, num.c). The input is up to
 * three lines, each a candidate version. Properties checked in-harness
 * (reliability.md §2 E2):
 *  - what parses formats back to exactly the same bytes (round trip: the
 *    grammar has one spelling per version, no leading zeros, no space);
 *  - compare is a total order: reflexive, antisymmetric, transitive, and
 *    agrees with the numeric order of release triples;
 *  - a release tag (prefix + M.m.p) is recognised exactly when the text
 *    parses without pre-release and build, and its name is rebuilt
 *    byte-for-byte by semver_tag_name().
 */
#include "fuzz.h"

#include "semver-tagger/error.h"
#include "semver-tagger/num.h"
#include "semver-tagger/semver.h"

#include <string.h>

#define PARTS 3

static int sign(int c)
{
	return (c > 0) - (c < 0);
}

static void check_round_trip(const char *s, size_t n, const struct semver *v)
{
	char buf[256 + 64];
	size_t len;
	int w;

	semver_ver_format(&v->core, buf, sizeof(buf));
	len = strlen(buf);
	if (v->pre) {
		FUZZ_ASSERT(v->pre > s && v->pre + v->pre_len <= s + n);
		if (len + 1 + v->pre_len >= sizeof(buf))
			return;
		buf[len++] = '-';
		memcpy(buf + len, v->pre, v->pre_len);
		len += v->pre_len;
	}
	if (v->build) {
		FUZZ_ASSERT(v->build > s && v->build + v->build_len <= s + n);
		if (len + 1 + v->build_len >= sizeof(buf))
			return;
		buf[len++] = '+';
		memcpy(buf + len, v->build, v->build_len);
		len += v->build_len;
	}
	FUZZ_ASSERT(len == n && memcmp(buf, s, n) == 0);
	w = semver_compare(v, v);
	FUZZ_ASSERT(w == 0);
}

static void check_release_tag(const char *s, size_t n, const char *prefix,
			      const struct semver *v, bool parsed)
{
	char *tag = malloc(n + 1);
	char name[SEMVER_VER_STR_MAX + 256];
	struct semver_ver r = { 7, 7, 7 };
	size_t plen = strlen(prefix);
	int is;

	if (!tag)
		return;
	memcpy(tag, s, n);
	tag[n] = '\0';
	is = semver_release_from_tag(tag, prefix, &r);
	if (plen == 0 && strlen(tag) == n)
		FUZZ_ASSERT(is == (parsed && !v->pre && !v->build));
	if (is) {
		FUZZ_ASSERT(strncmp(tag, prefix, plen) == 0);
		if (plen < 256) {
			FUZZ_ASSERT(semver_tag_name(&r, prefix, name,
						    sizeof(name)) == 0);
			FUZZ_ASSERT(strcmp(name, tag) == 0);
		}
	} else {
		FUZZ_ASSERT(r.major == 7 && r.minor == 7 && r.patch == 7);
	}
	free(tag);
}

static void check_number(const char *s, size_t n)
{
	uint64_t v = 12345;
	char buf[32];

	if (num_parse_u64(s, n, true, &v) != 0)
		return;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	FUZZ_ASSERT(strlen(buf) == n && memcmp(buf, s, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *part[PARTS];
	size_t len[PARTS];
	struct semver v[PARTS];
	bool ok[PARTS];
	size_t np = 0, start = 0;
	char prefix[64] = "";

	for (size_t i = 0; i <= size && np < PARTS; i++) {
		if (i == size || s[i] == '\n') {
			part[np] = s + start;
			len[np] = i - start;
			np++;
			start = i + 1;
		}
	}
	for (size_t i = 0; i < np; i++) {
		struct semver keep = { .core = { 9, 9, 9 } };

		v[i] = keep;
		ok[i] = semver_parse(part[i], len[i], &v[i]) == 0;
		if (ok[i])
			check_round_trip(part[i], len[i], &v[i]);
		else
			FUZZ_ASSERT(v[i].core.major == 9 && !v[i].pre);
		check_release_tag(part[i], len[i], "", &v[i], ok[i]);
		check_number(part[i], len[i]);
	}
	/* The first line, when short and without NUL, doubles as a prefix. */
	if (np >= 2 && len[0] < sizeof(prefix) && !memchr(part[0], 0, len[0])) {
		memcpy(prefix, part[0], len[0]);
		prefix[len[0]] = '\0';
		check_release_tag(part[1], len[1], prefix, &v[1], ok[1]);
	}
	for (size_t i = 0; i < np; i++) {
		for (size_t j = 0; j < np; j++) {
			int ij, ji;

			if (!ok[i] || !ok[j])
				continue;
			ij = sign(semver_compare(&v[i], &v[j]));
			ji = sign(semver_compare(&v[j], &v[i]));
			FUZZ_ASSERT(ij == -ji);
			if (!v[i].pre && !v[j].pre)
				FUZZ_ASSERT(ij == sign(semver_ver_compare(
					&v[i].core, &v[j].core)));
			if (semver_ver_compare(&v[i].core, &v[j].core) != 0)
				FUZZ_ASSERT(ij == sign(semver_ver_compare(
					&v[i].core, &v[j].core)));
			for (size_t k = 0; k < np; k++) {
				int jk, ik;

				if (!ok[k])
					continue;
				jk = sign(semver_compare(&v[j], &v[k]));
				ik = sign(semver_compare(&v[i], &v[k]));
				if (ij <= 0 && jk <= 0)
					FUZZ_ASSERT(ik <= 0);
				if (ij == 0 && jk == 0)
					FUZZ_ASSERT(ik == 0);
			}
		}
	}
	return 0;
}
