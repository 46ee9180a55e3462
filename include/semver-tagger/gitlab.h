/* SPDX-License-Identifier: MIT */
/*
 * The GitLab forge (REST v4 over libcurl): the only place that knows
 * GitLab's endpoints, field names, pagination and token headers. The
 * release engine sees it through forge.h only.
 */
#ifndef SEMVER_TAGGER_GITLAB_H
#define SEMVER_TAGGER_GITLAB_H

#include "semver-tagger/error.h"
#include "semver-tagger/forge.h"
#include "semver-tagger/http.h"
#include "semver-tagger/json.h"
#include "semver-tagger/secret.h"

#include <stdint.h>

enum gitlab_token_kind {
	/* Personal, project or group access token: PRIVATE-TOKEN header. */
	GITLAB_TOKEN_PRIVATE,
	/* CI_JOB_TOKEN: JOB-TOKEN header. Can create releases; cannot list
	 * MRs, post notes or push (gitlab-api.md §3.4). */
	GITLAB_TOKEN_JOB,
};

struct gitlab_options {
	const char *api_url; /* "https://host/api/v4"; NULL: $CI_API_V4_URL */
	const char *project; /* numeric id or "group/sub/project" */
	const char *token;   /* copied into the client; wiped on free */
	enum gitlab_token_kind token_kind;
	struct http_options http;
	/* Incremental listing re-reads MRs updated this long before the
	 * newest one already seen (clock skew, late commits): 300. */
	long overlap_s;
	/* A full listing when the last one is older (drops MRs deleted on
	 * the server); 0 = never. 86400. */
	long full_every_s;
	size_t max_mrs;      /* refuse listings past this many MRs: 200 000 */
	unsigned per_page;   /* 100, GitLab's maximum */
};

void gitlab_options_default(struct gitlab_options *o);

/* Check the options (URL scheme, project, token) and build the forge.
 * Makes no request. ST_ECONFIG with a message naming the option. */
int gitlab_forge_new(const struct gitlab_options *o, struct forge **out,
		     struct st_error *err);

/*
 * Find the token the usual way: $CREDENTIALS_DIRECTORY/gitlab-token, else
 * token_file (may be NULL), else $GITLAB_TOKEN, else $CI_JOB_TOKEN (kind
 * GITLAB_TOKEN_JOB). `from` receives where it came from (for a log line).
 */
int gitlab_token_find(const char *token_file, struct secret *out,
		      enum gitlab_token_kind *kind, char *from,
		      size_t from_len, struct st_error *err);

/* --- exposed for tests, the webhook decoder and the cache ------------ */

/* One MR object of the REST API to facts (w names it in errors). */
int gitlab_mr_from_json(const cJSON *obj, const struct json_where *w,
			struct forge_mr *out, struct st_error *err);

/* One page (a JSON array of MRs) appended to out. Entries whose "state"
 * is present and differs from want_state (NULL: any) are skipped. */
int gitlab_mrs_parse(const char *body, size_t len, const char *what,
		     const char *want_state, struct forge_mr_list *out,
		     struct st_error *err);

/* The on-disk MR cache of one project. */
struct gitlab_cache {
	char *api_url;
	char *project;
	int64_t cursor_ms;  /* newest updated_at seen, -1 when none */
	int64_t full_at;    /* unix time of the last full listing */
	struct forge_mr_list mrs; /* sorted by iid */
};

void gitlab_cache_init(struct gitlab_cache *c);
void gitlab_cache_release(struct gitlab_cache *c);

/*
 * Load path. ST_ENOTFOUND when it does not exist; ST_EINVAL (message says
 * why) when it is damaged, of another version, or for another api_url or
 * project. Files are capped at 256 MiB and checked with a checksum.
 */
int gitlab_cache_load(const char *path, const char *api_url,
		      const char *project, struct gitlab_cache *out,
		      struct st_error *err);

/* The checksum in the cache file's header (format 2): a 64-bit hash over
 * 8-byte words in four lanes, ~10x faster than byte-wise FNV-1a on a
 * 4 MB cache. Any change confined to one aligned 8-byte word, so any
 * single-byte change, always changes it. For tests and fuzzers that
 * write cache files. */
uint64_t gitlab_cache_checksum(const void *p, size_t n);

/* Write atomically: temporary file, fsync, rename, fsync of the
 * directory. ST_EIO when a step fails: the old file stays unless only the
 * final directory fsync failed (then the new one may be in place). */
int gitlab_cache_save(const char *path, const struct gitlab_cache *c,
		      struct st_error *err);

#endif
