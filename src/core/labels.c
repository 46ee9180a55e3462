/* SPDX-License-Identifier: MIT */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "semver-tagger/labels.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* Label names are short (GitLab caps them at 255); a pattern that needs
 * more backtracking than this on one is hostile, and counts as no match. */
#define LABELS_MATCH_LIMIT 100000
#define LABELS_NAME_MAX 1024

struct labels {
	pcre2_code *re[3]; /* patch, minor, major */
	pcre2_match_data *md;
	pcre2_match_context *mctx;
};

static pcre2_code *compile(const char *pattern, const char *what,
			   struct st_error *err)
{
	int errcode;
	PCRE2_SIZE off;
	pcre2_code *re;

	/* Anchored at both ends: the pattern must match the whole name. */
	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
			   PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF |
				   PCRE2_NEVER_BACKSLASH_C,
			   &errcode, &off, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(errcode, msg, sizeof(msg));
		st_error_set(err, ST_ECONFIG,
			     "%s label pattern '%s': %s at offset %zu", what,
			     pattern, (const char *)msg, (size_t)off);
	}
	return re;
}

struct labels *labels_new(const char *major, const char *minor,
			  const char *patch, struct st_error *err)
{
	const char *pat[3] = { patch ? patch : LABELS_DEFAULT_PATCH,
			       minor ? minor : LABELS_DEFAULT_MINOR,
			       major ? major : LABELS_DEFAULT_MAJOR };
	static const char *const what[3] = { "patch", "minor", "major" };
	struct labels *l = calloc(1, sizeof(*l));

	if (!l) {
		st_error_set(err, ST_ENOMEM, "out of memory for label patterns");
		return NULL;
	}
	for (int i = 0; i < 3; i++) {
		l->re[i] = compile(pat[i], what[i], err);
		if (!l->re[i]) {
			labels_free(l);
			return NULL;
		}
	}
	l->md = pcre2_match_data_create(1, NULL);
	l->mctx = pcre2_match_context_create(NULL);
	if (!l->md || !l->mctx) {
		labels_free(l);
		st_error_set(err, ST_ENOMEM, "out of memory for label patterns");
		return NULL;
	}
	pcre2_set_match_limit(l->mctx, LABELS_MATCH_LIMIT);
	pcre2_set_depth_limit(l->mctx, LABELS_MATCH_LIMIT);
	return l;
}

void labels_free(struct labels *l)
{
	if (!l)
		return;
	for (int i = 0; i < 3; i++)
		pcre2_code_free(l->re[i]);
	pcre2_match_data_free(l->md);
	pcre2_match_context_free(l->mctx);
	free(l);
}

enum impact labels_match(const struct labels *l, const char *name)
{
	size_t n = strlen(name);

	if (n > LABELS_NAME_MAX)
		return IMPACT_NONE;
	/* Highest first, so a name matching two patterns counts as the
	 * higher impact. Invalid UTF-8 and limit hits are "no match". */
	for (int i = 2; i >= 0; i--) {
		int rc = pcre2_match(l->re[i], (PCRE2_SPTR)name, n, 0, 0, l->md,
				     l->mctx);

		if (rc >= 0)
			return (enum impact)(i + 1);
	}
	return IMPACT_NONE;
}

enum impact labels_impact(const struct labels *l, const char *const *names,
			  size_t n, bool *several)
{
	enum impact best = IMPACT_NONE;
	size_t hits = 0;

	for (size_t i = 0; i < n; i++) {
		enum impact m = names[i] ? labels_match(l, names[i]) : IMPACT_NONE;

		if (m == IMPACT_NONE)
			continue;
		hits++;
		if (m > best)
			best = m;
	}
	if (several)
		*several = hits > 1;
	return best;
}

const char *impact_name(enum impact i)
{
	switch (i) {
	case IMPACT_MAJOR: return "major";
	case IMPACT_MINOR: return "minor";
	case IMPACT_PATCH: return "patch";
	default: return "none";
	}
}

const char *impact_label(enum impact i)
{
	switch (i) {
	case IMPACT_MAJOR: return "ImpactMajor";
	case IMPACT_MINOR: return "ImpactMinor";
	case IMPACT_PATCH: return "ImpactPatch";
	default: return "(none)";
	}
}
