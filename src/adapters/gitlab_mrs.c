/* SPDX-License-Identifier: MIT */
/* Merge requests: REST JSON to facts, and paginated listing. */
#include "gitlab_internal.h"

#include <stdlib.h>
#include <string.h>

/* A SHA field: NULL/"" mean absent; anything else must be a full id. */
static int get_sha(const cJSON *obj, const char *key,
		   const struct json_where *w, const char **out,
		   struct st_error *err)
{
	const char *s = NULL;
	int rc = json_get_str(obj, key, JSON_OPTIONAL, w, &s, err);

	if (rc)
		return rc;
	if (s && *s && !gitlab_sha_valid(s))
		return st_error_set(err, ST_EINVAL, "%s: %s.%s: \"%.80s\" is "
				    "not a commit id", w->what, w->prefix,
				    key, s);
	*out = s && *s ? s : NULL;
	return ST_OK;
}

static int get_time(const cJSON *obj, const char *key, unsigned flags,
		    const struct json_where *w, const char **out,
		    struct st_error *err)
{
	const char *s = NULL;
	int64_t ms;
	int rc = json_get_str(obj, key, flags, w, &s, err);

	if (rc)
		return rc;
	if (s && json_time_parse(s, &ms) != 0)
		return st_error_set(err, ST_EINVAL, "%s: %s.%s: \"%.80s\" is "
				    "not an ISO 8601 time", w->what,
				    w->prefix, key, s);
	*out = s;
	return ST_OK;
}

/* Labels come as names; with_labels_details=true would give objects with
 * a "name": accept both rather than break on a proxy's choice. */
static int get_labels(const cJSON *obj, const struct json_where *w,
		      struct forge_mr *m, struct st_error *err)
{
	const cJSON *arr = NULL, *it;
	int n, i = 0;
	int rc = json_get_array(obj, "labels", JSON_OPTIONAL, w, &arr, err);

	if (rc || !arr || (n = cJSON_GetArraySize(arr)) == 0)
		return rc;
	m->labels = calloc((size_t)n, sizeof(char *));
	if (!m->labels)
		return st_error_set(err, ST_ENOMEM, "%s: out of memory",
				    w->what);
	cJSON_ArrayForEach(it, arr) {
		const cJSON *name = cJSON_IsObject(it) ?
			cJSON_GetObjectItemCaseSensitive(it, "name") : it;

		if (!cJSON_IsString(name))
			return st_error_set(err, ST_EINVAL, "%s: %s.labels[%d]: "
					    "expected a string, got %s",
					    w->what, w->prefix, i,
					    json_type_name(it));
		if (!(m->labels[i] = strdup(name->valuestring)))
			return st_error_set(err, ST_ENOMEM, "%s: out of "
					    "memory", w->what);
		m->n_labels = (size_t)++i;
	}
	return ST_OK;
}

struct mr_strings {
	const char *title, *web_url, *source, *target, *merged_at, *updated_at;
	const char *user, *name, *sha, *merge_sha, *squash_sha;
};

static int read_strings(const cJSON *o, const struct json_where *w,
			struct mr_strings *s, struct st_error *err)
{
	const unsigned req = JSON_REQUIRED | JSON_NOT_NULL;
	const cJSON *author = NULL;
	struct json_where aw = {w->what, ""};
	char prefix[64];
	int rc = json_get_str(o, "title", req, w, &s->title, err);

	if (!rc)
		rc = json_get_str(o, "web_url", JSON_OPTIONAL, w, &s->web_url,
				  err);
	if (!rc)
		rc = json_get_str(o, "source_branch", JSON_OPTIONAL, w,
				  &s->source, err);
	if (!rc)
		rc = json_get_str(o, "target_branch", req, w, &s->target, err);
	if (!rc)
		rc = get_time(o, "merged_at", JSON_OPTIONAL, w, &s->merged_at,
			      err);
	if (!rc)
		rc = get_time(o, "updated_at", req, w, &s->updated_at, err);
	if (!rc)
		rc = get_sha(o, "sha", w, &s->sha, err);
	if (!rc)
		rc = get_sha(o, "merge_commit_sha", w, &s->merge_sha, err);
	if (!rc)
		rc = get_sha(o, "squash_commit_sha", w, &s->squash_sha, err);
	if (!rc)
		rc = json_get_object(o, "author", JSON_OPTIONAL, w, &author,
				     err);
	if (rc || !author)
		return rc;
	snprintf(prefix, sizeof(prefix), "%s.author", w->prefix);
	aw.prefix = prefix;
	rc = json_get_str(author, "username", JSON_OPTIONAL, &aw, &s->user,
			  err);
	if (!rc)
		rc = json_get_str(author, "name", JSON_OPTIONAL, &aw, &s->name,
				  err);
	return rc;
}

int gitlab_mr_from_json(const cJSON *obj, const struct json_where *w,
			struct forge_mr *out, struct st_error *err)
{
	struct mr_strings s = {0};
	struct forge_mr m = {0};
	int rc = json_get_int(obj, "iid", JSON_REQUIRED | JSON_NOT_NULL, 1,
			      JSON_INT_MAX, w, &m.iid, err);

	if (!rc)
		rc = read_strings(obj, w, &s, err);
	if (!rc)
		rc = get_labels(obj, w, &m, err);
	if (!rc && (gitlab_dup(&m.title, s.title) ||
		    gitlab_dup(&m.web_url, s.web_url) ||
		    gitlab_dup(&m.source_branch, s.source) ||
		    gitlab_dup(&m.target_branch, s.target) ||
		    gitlab_dup(&m.author_username, s.user) ||
		    gitlab_dup(&m.author_name, s.name) ||
		    gitlab_dup(&m.merged_at, s.merged_at) ||
		    gitlab_dup(&m.updated_at, s.updated_at) ||
		    gitlab_dup(&m.head_sha, s.sha) ||
		    /* SPEC §2: the commit that landed on the target. */
		    gitlab_dup(&m.commit, s.merge_sha ? s.merge_sha :
			       s.squash_sha ? s.squash_sha : s.sha)))
		rc = st_error_set(err, ST_ENOMEM, "%s: out of memory",
				  w->what);
	if (rc) {
		forge_mr_release(&m);
		return rc;
	}
	*out = m;
	return ST_OK;
}

int gitlab_mrs_from_array(const cJSON *arr, const char *what,
			  const char *want_state, struct forge_mr_list *out,
			  size_t *seen, struct st_error *err)
{
	const cJSON *it;
	int i = 0, rc = 0;

	if (!cJSON_IsArray(arr))
		return st_error_set(err, ST_EINVAL, "%s: expected a JSON array "
				    "of merge requests, got %s", what,
				    json_type_name(arr));
	cJSON_ArrayForEach(it, arr) {
		char prefix[32];
		struct json_where w = {what, prefix};
		const char *state = NULL;
		struct forge_mr *m;

		snprintf(prefix, sizeof(prefix), "[%d]", i++);
		(*seen)++;
		rc = json_get_str(it, "state", JSON_OPTIONAL, &w, &state, err);
		if (rc)
			return rc;
		if (want_state && state && strcmp(state, want_state) != 0)
			continue; /* the server ignored our filter */
		m = forge_mr_list_push(out);
		if (!m)
			return st_error_set(err, ST_ENOMEM, "%s: out of memory",
					    what);
		rc = gitlab_mr_from_json(it, &w, m, err);
		if (rc) {
			out->len--;
			return rc;
		}
	}
	return ST_OK;
}

int gitlab_mrs_parse(const char *body, size_t len, const char *what,
		     const char *want_state, struct forge_mr_list *out,
		     struct st_error *err)
{
	cJSON *root = NULL;
	size_t seen = 0;
	int rc = json_parse(body, len, what, &root, err);

	if (!rc)
		rc = gitlab_mrs_from_array(root, what, want_state, out, &seen, err);
	cJSON_Delete(root);
	return rc;
}
