/* SPDX-License-Identifier: MIT */
/* Shared between the gitlab*.c files only. */
#ifndef SEMVER_TAGGER_GITLAB_INTERNAL_H
#define SEMVER_TAGGER_GITLAB_INTERNAL_H

#include "semver-tagger/gitlab.h"

struct gitlab {
	struct http_client *http;
	char *api_url;      /* no trailing slash */
	char *project;      /* as configured */
	char *project_enc;  /* URL-encoded for paths */
	enum gitlab_token_kind kind;
	long overlap_s;
	long full_every_s;
	size_t max_mrs;
	unsigned per_page;
	/* forge_preload_mrs(): the cache read ahead, for pre_path */
	char *pre_path;
	struct gitlab_cache pre;
	int pre_rc;
	struct st_error pre_err;
	/* The list the last gitlab_merged_mrs() returned is the cache file
	 * (same path, same file on disk): a long-lived caller passes it back
	 * in `out` and the file is not read again (gitlab_sync.c). */
	char *warm_path;
	const struct forge_mr *warm_items; /* the list handed out: only */
	size_t warm_len;                   /* that one is taken back */
	int64_t warm_cursor_ms, warm_full_at;
	struct gitlab_file_id { uint64_t dev, ino, size; int64_t mtime_ns; }
		warm_id;
	/* gitlab_seal.c: key for the caches' seal, from the token */
	unsigned char seal_key[32];
};

/* What a call is for: picks the permission named in 401/403 errors. */
enum gitlab_action {
	GITLAB_READ_PROJECT,
	GITLAB_LIST_MRS,
	GITLAB_READ_NOTES,
	GITLAB_POST_NOTE,
	GITLAB_RELEASE,
	GITLAB_STATUS,
	GITLAB_READ_PUSH_RULE,
	GITLAB_READ_USER,
};

/* One request to api_url + path (+ "?" query). Returns 0 with the final
 * response whatever its status; errors only from the transport. */
int gitlab_call(struct gitlab *g, const char *method, const char *path,
		const char *query, const char *body, bool once,
		const char *what, struct http_response *rs,
		struct st_error *err);

/* A GET whose 2xx body must parse as JSON: one that does not is retried
 * like a 5xx (http_request.accept); when the attempts are spent,
 * ST_ETEMP. *root (caller frees with cJSON_Delete) is the parsed body of
 * a 2xx answer, NULL for other statuses (see gitlab_check). */
int gitlab_get_json(struct gitlab *g, const char *path, const char *query,
		    const char *what, struct http_response *rs, cJSON **root,
		    struct st_error *err);

/* 0 for a 2xx JSON response; else the error class and a message that
 * names the call, the status, the server's message and, for 401/403, the
 * token kind and the permission needed. */
int gitlab_check(const struct gitlab *g, enum gitlab_action a,
		 const char *what, const struct http_response *rs,
		 struct st_error *err);

/* The server's "message"/"error" text, sanitised and bounded. */
void gitlab_server_message(const struct gitlab *g,
			   const struct http_response *rs, char *out, size_t n);

/* Called once per page; set *stop to end the listing early. */
typedef int (*gitlab_page_fn)(void *ctx, const cJSON *items,
			      const char *what, bool *stop,
			      struct st_error *err);

/* Append the MRs of a JSON array (one page) to out; *seen counts every
 * element. Elements whose "state" differs from want_state are skipped. */
int gitlab_mrs_from_array(const cJSON *arr, const char *what,
			  const char *want_state, struct forge_mr_list *out,
			  size_t *seen, struct st_error *err);

/* GET every page of path?query (per_page added), following X-Next-Page
 * until it is empty; never looks at X-Total. */
int gitlab_list(struct gitlab *g, enum gitlab_action a, const char *path,
		const char *query, gitlab_page_fn fn, void *ctx,
		struct forge_list_result *res, struct st_error *err);

int gitlab_project(void *impl, struct forge_project *out,
		   struct st_error *err);
int gitlab_project_cached(void *impl, const char *cache_path, bool refresh,
			  struct forge_project *out, bool *from_cache,
			  struct st_error *err);
void gitlab_preload_mrs(void *impl, const char *cache_path);
/* Forget what gitlab_preload_mrs() read. */
void gitlab_preload_drop(struct gitlab *g);
/* Forget which list the last listing returned. */
void gitlab_warm_drop(struct gitlab *g);
int gitlab_merged_mrs(void *impl, const char *cache_path,
		      struct forge_mr_list *out, struct forge_list_result *res,
		      struct st_error *err);
int gitlab_open_mrs(void *impl, struct forge_mr_list *out,
		    struct forge_list_result *res, struct st_error *err);
int gitlab_post_note(void *impl, const struct forge_note *note,
		     enum forge_outcome *out, struct st_error *err);
int gitlab_create_release(void *impl, const struct forge_release *rel,
			  enum forge_outcome *out, struct st_error *err);
int gitlab_set_commit_status(void *impl, const struct forge_commit_status *st,
			     enum forge_outcome *out, struct st_error *err);
/* GET /user and /user/emails (gitlab_pushrule.c). */
int gitlab_user(void *impl, struct forge_user *out, struct st_error *err);
int gitlab_release_exists(void *impl, const char *tag, bool *exists,
			  struct st_error *err);
int gitlab_mr_release_text(void *impl, int64_t iid, char **text,
			   struct st_error *err);
/* GET /projects/:id/push_rule (gitlab_pushrule.c). */
int gitlab_push_rule(void *impl, struct forge_push_rule *out,
		     struct st_error *err);

/* The MR cache body (JSON, gitlab_cache_read.c) into c (initialised by
 * the caller; partly filled on error). what names the file in errors. */
int gitlab_cache_parse(const char *body, size_t len, const char *what,
		       struct gitlab_cache *c, struct st_error *err);

/*
 * The seal on the state directory's caches (gitlab_seal.c, issue 14):
 * "<path>.seal" holds HMAC-SHA-256 of the file under a key derived from
 * the API token. A cache whose seal is missing or does not match was not
 * written by this program with this token (planted, altered, or another
 * token's): it is not read, which costs a request or a full listing and
 * never decides a host or a version.
 */
void gitlab_seal_key(struct gitlab *g, const char *token);
/* 0 when path's seal matches; ST_EINVAL (message naming the file) if
 * not; ST_ENOTFOUND when the file itself is missing. */
int gitlab_seal_check(const struct gitlab *g, const char *path,
		      struct st_error *err);
/* Seal path as it is now (after its rename into place). */
int gitlab_seal_write(const struct gitlab *g, const char *path,
		      struct st_error *err);
/* gitlab_fleet.c: groups, token, permissions, labels, hooks. */
extern const struct forge_fleet_ops gitlab_fleet_ops;

/* 1 when s is a full hex object id (40 or 64 hex digits). */
int gitlab_sha_valid(const char *s);

/* strdup that tolerates NULL (returns 0, *dst NULL). */
int gitlab_dup(char **dst, const char *src);

#endif
