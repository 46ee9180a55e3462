/* SPDX-License-Identifier: MIT */
/*
 * Impact from an MR's labels (SPEC §3). Each impact has a PCRE2 pattern
 * matched against the whole label name. Pure: compiled patterns only.
 */
#ifndef SEMVER_TAGGER_LABELS_H
#define SEMVER_TAGGER_LABELS_H

#include "semver-tagger/error.h"

#include <stdbool.h>
#include <stddef.h>

enum impact {
	IMPACT_NONE = 0,
	IMPACT_PATCH = 1,
	IMPACT_MINOR = 2,
	IMPACT_MAJOR = 3,
};

#define LABELS_DEFAULT_MAJOR "ImpactMajor|Impact::Major"
#define LABELS_DEFAULT_MINOR "ImpactMinor|Impact::Minor"
#define LABELS_DEFAULT_PATCH "ImpactPatch|Impact::Patch"

struct labels;

/*
 * Compile the three patterns (NULL = the default). Each must match a whole
 * label name. Returns a new matcher (free with labels_free) or NULL with
 * err naming the bad pattern and the offset PCRE2 reports.
 */
struct labels *labels_new(const char *major, const char *minor,
			  const char *patch, struct st_error *err);

void labels_free(struct labels *l);

/* Impact of one label name, IMPACT_NONE when no pattern matches. */
enum impact labels_match(const struct labels *l, const char *name);

/*
 * Highest impact among n label names. *several is set when more than one
 * label carries an impact (the caller warns).
 */
enum impact labels_impact(const struct labels *l, const char *const *names,
			  size_t n, bool *several);

/* "major", "minor", "patch" or "none". */
const char *impact_name(enum impact i);

/* The configured label spelling for messages ("ImpactMinor"). */
const char *impact_label(enum impact i);

#endif
