/* SPDX-License-Identifier: MIT */
/*
 * Checked reading of JSON that comes from outside (API bodies, the MR
 * cache). cJSON parses; these helpers add what it lacks: a nesting limit,
 * integers that are never silently rounded, and errors that name the
 * endpoint and the field ("GET /projects/42/merge_requests: [3].iid: ...").
 */
#ifndef SEMVER_TAGGER_JSON_H
#define SEMVER_TAGGER_JSON_H

#include "semver-tagger/error.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest array/object nesting accepted (GitLab bodies need about 4). */
#define JSON_MAX_DEPTH 64

/* Largest integer a double holds exactly, minus one: 2^53 itself is also
 * what 2^53 + 1 rounds to, so it cannot be told apart and is refused. */
#define JSON_INT_MAX ((int64_t)9007199254740991)

/* Where a value came from, for error messages. */
struct json_where {
	const char *what;   /* the endpoint or file: "GET /projects/42/..." */
	const char *prefix; /* path of the object inside it: "[3]" or "" */
};

enum json_flags {
	JSON_OPTIONAL = 0,  /* missing or null: success, output untouched */
	JSON_REQUIRED = 1,  /* missing: error */
	JSON_NOT_NULL = 2,  /* null: error */
};

/*
 * Parse len bytes (no NUL needed). ST_EINVAL naming `what` when the text is
 * not JSON, is nested deeper than JSON_MAX_DEPTH, or has trailing bytes.
 * *out is the caller's (cJSON_Delete).
 */
int json_parse(const char *text, size_t len, const char *what, cJSON **out,
	       struct st_error *err);

/* 1 when the nesting of text never goes past max, else 0 (strings aware). */
int json_depth_ok(const char *text, size_t len, int max);

/* "string", "number", "null", ... for messages. */
const char *json_type_name(const cJSON *item);

/* An integral number in [min, max] (max at most JSON_INT_MAX). */
int json_int_value(const cJSON *item, int64_t min, int64_t max,
		   int64_t *out);

/* obj[key] as a string; *out is borrowed from obj. */
int json_get_str(const cJSON *obj, const char *key, unsigned flags,
		 const struct json_where *w, const char **out,
		 struct st_error *err);

/* obj[key] as an integer in [min, max]. */
int json_get_int(const cJSON *obj, const char *key, unsigned flags,
		 int64_t min, int64_t max, const struct json_where *w,
		 int64_t *out, struct st_error *err);

/* obj[key] as a boolean; null counts as false (GitLab documents that). */
int json_get_bool(const cJSON *obj, const char *key, unsigned flags,
		  const struct json_where *w, bool *out, struct st_error *err);

/* obj[key] that must be an object (or an array); *out borrowed. */
int json_get_object(const cJSON *obj, const char *key, unsigned flags,
		    const struct json_where *w, const cJSON **out,
		    struct st_error *err);
int json_get_array(const cJSON *obj, const char *key, unsigned flags,
		   const struct json_where *w, const cJSON **out,
		   struct st_error *err);

/*
 * ISO 8601 time as GitLab writes it ("2026-03-14T09:21:07.481Z", also
 * "+02:00" offsets and the older "2019-11-05 02:48:40 UTC") to milliseconds
 * since the epoch. ST_EINVAL for anything else.
 */
int json_time_parse(const char *s, int64_t *out_ms);

/* Milliseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" (25 bytes
 * with the NUL). Returns 0, or ST_EINVAL for times before year 1. */
int json_time_format(int64_t ms, char out[32]);

#endif
