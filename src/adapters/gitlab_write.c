/* SPDX-License-Identifier: MIT */
/*
 * Writes to GitLab, each idempotent so a re-run after a crash or a lost
 * response converges instead of duplicating: notes carry a hidden marker,
 * a release that exists (409) is compared, a status already set is kept.
 */
#include "gitlab_internal.h"

#include <string.h>

#define NOTE_MAX 1000000 /* GitLab's limit for a note body */

/* POST/... body as JSON; on success *out is the server's 2xx or the
 * status the caller wants to look at itself (rs->status). */
static int send_json(struct gitlab *g, const char *method, const char *path,
		     cJSON *body, bool once, const char *what,
		     struct http_response *rs, struct st_error *err)
{
	char *text = body ? cJSON_PrintUnformatted(body) : NULL;
	int rc;

	if (!text)
		return st_error_set(err, ST_ENOMEM, "%s: out of memory", what);
	rc = gitlab_call(g, method, path, NULL, text, once, what, rs, err);
	cJSON_free(text);
	return rc;
}

/* Build {"k": v, ...} from NULL-terminated pairs; NULL values skipped. */
static cJSON *object_of(const char *const *kv)
{
	cJSON *o = cJSON_CreateObject();

	for (; o && kv[0]; kv += 2)
		if (kv[1] && !cJSON_AddStringToObject(o, kv[0], kv[1])) {
			cJSON_Delete(o);
			return NULL;
		}
	return o;
}

/* --- notes ------------------------------------------------------------ */

struct note_scan {
	const char *mark;
	bool found;
};

static int on_notes(void *ctx, const cJSON *items, const char *what,
		    bool *stop, struct st_error *err)
{
	struct note_scan *s = ctx;
	const cJSON *it;
	int i = 0;

	cJSON_ArrayForEach(it, items) {
		char prefix[32];
		struct json_where w = {what, prefix};
		const char *body = NULL;
		bool system = false;
		int rc;

		snprintf(prefix, sizeof(prefix), "[%d]", i++);
		rc = json_get_bool(it, "system", JSON_OPTIONAL, &w, &system,
				   err);
		if (!rc)
			rc = json_get_str(it, "body", JSON_OPTIONAL, &w, &body,
					  err);
		if (rc)
			return rc;
		/* System notes ("added ~label") quote nothing of ours. */
		if (!system && body && strstr(body, s->mark)) {
			s->found = true;
			*stop = true;
			break;
		}
	}
	return ST_OK;
}

static int note_body(const struct forge_note *n, const char *mark,
		     struct strbuf *out, struct st_error *err)
{
	int rc = forge_text_defuse(out, n->body);

	if (!rc)
		rc = strbuf_addf(out, "\n\n%s", mark);
	if (rc)
		return st_error_set(err, rc == ST_ETOOBIG ? ST_ETOOBIG : rc,
				    "note for MR !%lld: body longer than %d "
				    "bytes", (long long)n->mr_iid, NOTE_MAX);
	return ST_OK;
}

static int note_post(struct gitlab *g, const char *path, const char *what,
		     const char *text, struct st_error *err)
{
	const char *kv[] = {"body", text, NULL};
	cJSON *body = object_of(kv);
	struct http_response rs;
	int rc;

	http_response_init(&rs);
	/* once: a 5xx or a timeout may hide a note that was stored; the next
	 * run finds it by its marker instead of posting twice. */
	rc = send_json(g, "POST", path, body, true, what, &rs, err);
	if (!rc)
		rc = gitlab_check(g, GITLAB_POST_NOTE, what, &rs, err);
	http_response_release(&rs);
	cJSON_Delete(body);
	return rc;
}

int gitlab_post_note(void *impl, const struct forge_note *n,
		     enum forge_outcome *out, struct st_error *err)
{
	struct gitlab *g = impl;
	struct note_scan scan = {NULL, false};
	struct forge_list_result res = {0};
	char path[512], what[600], mark[256];
	struct strbuf text;
	int rc;

	if (n->mr_iid < 1 || !n->body || !forge_marker_valid(n->marker))
		return st_error_set(err, ST_EINVAL, "note for MR !%lld: bad "
				    "iid, body or marker", (long long)n->mr_iid);
	snprintf(mark, sizeof(mark), "<!-- %s -->", n->marker);
	snprintf(path, sizeof(path), "/projects/%s/merge_requests/%lld/notes",
		 g->project_enc, (long long)n->mr_iid);
	snprintf(what, sizeof(what), "POST %s", path);
	scan.mark = mark;
	rc = gitlab_list(g, GITLAB_READ_NOTES, path,
			 "sort=asc&order_by=created_at", on_notes, &scan, &res,
			 err);
	if (rc || scan.found) {
		if (!rc)
			*out = FORGE_EXISTED;
		return rc;
	}
	strbuf_init(&text, NOTE_MAX);
	rc = note_body(n, mark, &text, err);
	if (!rc)
		rc = note_post(g, path, what, strbuf_str(&text), err);
	strbuf_release(&text);
	if (!rc)
		*out = FORGE_CREATED;
	return rc;
}

/* --- releases --------------------------------------------------------- */

static bool text_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* After a 409: the release exists (maybe our own lost response). Read it
 * and say whether it is what we would have written. */
static int release_compare(struct gitlab *g, const char *tag_enc,
			   const char *name, const char *desc,
			   enum forge_outcome *out, struct st_error *err)
{
	struct http_response rs;
	char path[1024], what[1100];
	const char *n = NULL, *d = NULL;
	cJSON *root = NULL;
	int rc;

	snprintf(path, sizeof(path), "/projects/%s/releases/%s",
		 g->project_enc, tag_enc);
	snprintf(what, sizeof(what), "GET %s", path);
	http_response_init(&rs);
	/* a garbled body is retried like a 5xx (issue 14) */
	rc = gitlab_get_json(g, path, NULL, what, &rs, &root, err);
	if (!rc)
		rc = gitlab_check(g, GITLAB_RELEASE, what, &rs, err);
	if (!rc) {
		struct json_where w = {what, ""};

		rc = json_get_str(root, "name", JSON_OPTIONAL, &w, &n, err);
		if (!rc)
			rc = json_get_str(root, "description", JSON_OPTIONAL,
					  &w, &d, err);
	}
	if (!rc)
		*out = n && d && strcmp(n, name) == 0 && strcmp(d, desc) == 0 ?
		       FORGE_EXISTED : FORGE_EXISTED_DIFFERENT;
	cJSON_Delete(root);
	http_response_release(&rs);
	return rc;
}

static int release_post(struct gitlab *g, const struct forge_release *r,
			const char *name, const char *desc,
			enum forge_outcome *out, struct st_error *err)
{
	const char *kv[] = {"tag_name", r->tag, "name", name,
			    "description", desc, NULL};
	cJSON *body = object_of(kv);
	struct http_response rs;
	struct strbuf tag;
	char path[512], what[600];
	int rc;

	snprintf(path, sizeof(path), "/projects/%s/releases", g->project_enc);
	snprintf(what, sizeof(what), "POST %s (tag %s)", path, r->tag);
	http_response_init(&rs);
	strbuf_init(&tag, 1024);
	/* Retried freely: a repeat after a lost 201 gets 409, handled. */
	rc = send_json(g, "POST", path, body, false, what, &rs, err);
	if (!rc && rs.status == 409 && http_escape(&tag, r->tag) == 0)
		rc = release_compare(g, strbuf_str(&tag), name, desc, out,
				     err);
	else if (!rc && rs.status == 422)
		rc = st_error_set(err, ST_ENOTFOUND, "%s: HTTP 422: tag %s "
				  "does not exist on GitLab (push it first)",
				  what, r->tag);
	else if (!rc && !(rc = gitlab_check(g, GITLAB_RELEASE, what, &rs, err)))
		*out = FORGE_CREATED;
	strbuf_release(&tag);
	http_response_release(&rs);
	cJSON_Delete(body);
	return rc;
}

int gitlab_create_release(void *impl, const struct forge_release *r,
			  enum forge_outcome *out, struct st_error *err)
{
	struct gitlab *g = impl;
	struct strbuf desc;
	const char *name = r->name ? r->name : r->tag;
	int rc;

	if (!text_ok(r->tag, 255) || !text_ok(name, 255))
		return st_error_set(err, ST_EINVAL, "release: bad tag or name");
	strbuf_init(&desc, NOTE_MAX);
	rc = forge_text_defuse(&desc, r->description ? r->description : "");
	if (rc)
		rc = st_error_set(err, rc, "release %s: description too long",
				  r->tag);
	if (!rc)
		rc = release_post(g, r, name, strbuf_str(&desc), out, err);
	strbuf_release(&desc);
	return rc;
}

/* --- commit statuses -------------------------------------------------- */

static const char *state_name(enum forge_commit_state s)
{
	static const char *const names[] = {"pending", "running", "success",
					    "failed", "canceled"};

	return (unsigned)s < 5 ? names[s] : NULL;
}

int gitlab_set_commit_status(void *impl, const struct forge_commit_status *s,
			     enum forge_outcome *out, struct st_error *err)
{
	struct gitlab *g = impl;
	const char *kv[] = {"state", state_name(s->state), "name", s->name,
			    "description", s->description,
			    "target_url", s->target_url, "ref", s->ref, NULL};
	struct http_response rs;
	char path[512], what[600], msg[256];
	cJSON *body;
	int rc;

	if (!s->sha || !gitlab_sha_valid(s->sha) || !kv[1] ||
	    !text_ok(s->name, 255))
		return st_error_set(err, ST_EINVAL, "commit status: bad sha, "
				    "state or name");
	snprintf(path, sizeof(path), "/projects/%s/statuses/%s",
		 g->project_enc, s->sha);
	snprintf(what, sizeof(what), "POST %s (%s)", path, s->name);
	body = object_of(kv);
	if (body && s->pipeline_id > 0 &&
	    !cJSON_AddNumberToObject(body, "pipeline_id",
				     (double)s->pipeline_id)) {
		cJSON_Delete(body);
		body = NULL;
	}
	http_response_init(&rs);
	rc = send_json(g, "POST", path, body, false, what, &rs, err);
	if (!rc && rs.status == 400) {
		/* GitLab refuses to "transition" a status to the state it
		 * already has: that is the goal reached. */
		gitlab_server_message(g, &rs, msg, sizeof(msg));
		if (strstr(msg, "Cannot transition status"))
			*out = FORGE_EXISTED;
		else
			rc = gitlab_check(g, GITLAB_STATUS, what, &rs, err);
	} else if (!rc && !(rc = gitlab_check(g, GITLAB_STATUS, what, &rs,
					      err))) {
		*out = FORGE_CREATED;
	}
	http_response_release(&rs);
	cJSON_Delete(body);
	return rc;
}
