/* SPDX-License-Identifier: MIT */
/*
 * GitLab's side of forge_fleet.h: group listings (doc/api/groups.md,
 * merge_requests.md "List group merge requests"), token self-information
 * (personal_access_tokens.md), members, protected branches and tags,
 * labels, hooks, an MR's head_pipeline.
 */
#include "gitlab_internal.h"

#include "semver-tagger/forge_fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLEET_PATH_MAX 1024

/* GET path?query (one object or array) into *root. */
static int get_json(struct gitlab *g, const char *path, const char *query,
		    const char *what, cJSON **root, long *status,
		    struct st_error *err)
{
	struct http_response rs;
	int rc;

	http_response_init(&rs);
	rc = gitlab_call(g, "GET", path, query, NULL, false, what, &rs, err);
	if (!rc)
		*status = rs.status;
	if (!rc)
		rc = gitlab_check(g, GITLAB_READ_PROJECT, what, &rs, err);
	if (!rc)
		rc = json_parse(rs.body.buf, rs.body.len, what, root, err);
	http_response_release(&rs);
	return rc;
}

/* "/groups/<escaped>" + tail into buf. */
static int group_path(const char *group, const char *tail, char *buf,
		      size_t size, struct st_error *err)
{
	struct strbuf enc;
	int rc;

	strbuf_init(&enc, 768);
	rc = http_escape(&enc, group);
	if (!rc && (size_t)snprintf(buf, size, "/groups/%s%s", strbuf_str(&enc),
				    tail) >= size)
		rc = ST_ETOOBIG;
	strbuf_release(&enc);
	if (rc)
		return st_error_set(err, ST_ECONFIG, "group '%.200s': path "
				    "too long", group);
	return ST_OK;
}

static int token_self(struct gitlab *g, struct forge_token_info *t,
		      struct st_error *err)
{
	const char *what = "GET /personal_access_tokens/self";
	struct json_where w = { what, "" };
	const char *name = NULL, *exp = NULL;
	const cJSON *scopes = NULL, *s;
	cJSON *root = NULL;
	long status = 0;
	struct st_error e;
	int rc;

	st_error_clear(&e);
	rc = get_json(g, "/personal_access_tokens/self", NULL, what, &root,
		      &status, &e);
	if (rc == ST_ENOTFOUND) /* older GitLab, or not such a token */
		return ST_OK;
	if (rc) {
		*err = e;
		return rc;
	}
	rc = json_get_str(root, "name", JSON_OPTIONAL, &w, &name, err);
	if (!rc)
		rc = json_get_str(root, "expires_at", JSON_OPTIONAL, &w, &exp, err);
	if (!rc)
		rc = json_get_bool(root, "active", JSON_OPTIONAL, &w, &t->active, err);
	if (!rc)
		rc = json_get_bool(root, "revoked", JSON_OPTIONAL, &w, &t->revoked, err);
	if (!rc)
		rc = json_get_array(root, "scopes", JSON_OPTIONAL, &w, &scopes, err);
	if (!rc) {
		t->known = true;
		snprintf(t->name, sizeof(t->name), "%s", name ? name : "");
		snprintf(t->expires_at, sizeof(t->expires_at), "%s", exp ? exp : "");
		cJSON_ArrayForEach(s, scopes) {
			size_t n = strlen(t->scopes);

			if (cJSON_IsString(s) && s->valuestring)
				snprintf(t->scopes + n, sizeof(t->scopes) - n,
					 "%s%s", n ? "," : "", s->valuestring);
		}
	}
	cJSON_Delete(root);
	return rc;
}

static int gl_token_info(void *impl, struct forge_token_info *out,
			 struct st_error *err)
{
	struct gitlab *g = impl;
	struct forge_token_info t;
	struct json_where w = { "GET /user", "" };
	const char *user = NULL;
	cJSON *root = NULL;
	long status;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = get_json(g, "/user", NULL, "GET /user", &root, &status, err);
	if (!rc)
		rc = json_get_int(root, "id", JSON_REQUIRED | JSON_NOT_NULL, 1,
				  JSON_INT_MAX, &w, &t.user_id, err);
	if (!rc)
		rc = json_get_str(root, "username", JSON_REQUIRED | JSON_NOT_NULL,
				  &w, &user, err);
	if (!rc)
		rc = json_get_bool(root, "is_admin", JSON_OPTIONAL, &w, &t.admin,
				   err);
	if (!rc)
		snprintf(t.username, sizeof(t.username), "%s", user);
	cJSON_Delete(root);
	if (!rc)
		rc = token_self(g, &t, err);
	if (!rc)
		*out = t;
	return rc;
}

static int gl_access_level(void *impl, int64_t user_id, int *level,
			   struct st_error *err)
{
	struct gitlab *g = impl;
	char path[FLEET_PATH_MAX], what[FLEET_PATH_MAX + 8];
	struct json_where w = { what, "" };
	cJSON *root = NULL;
	struct st_error e;
	long status;
	int64_t lv = 0;
	int rc;

	snprintf(path, sizeof(path), "/projects/%s/members/all/%lld",
		 g->project_enc, (long long)user_id);
	snprintf(what, sizeof(what), "GET %s", path);
	st_error_clear(&e);
	rc = get_json(g, path, NULL, what, &root, &status, &e);
	if (rc == ST_ENOTFOUND) {
		*level = FORGE_ACCESS_NONE;
		return ST_OK;
	}
	if (rc) {
		*err = e;
		return rc;
	}
	rc = json_get_int(root, "access_level", JSON_REQUIRED | JSON_NOT_NULL,
			  0, 100, &w, &lv, err);
	cJSON_Delete(root);
	if (!rc)
		*level = (int)lv;
	return rc;
}

/* The lowest role among the entries that name a role (not one user or
 * group); none: no one. */
static int role_level(const cJSON *levels)
{
	const cJSON *a;
	int best = -1;

	cJSON_ArrayForEach(a, levels) {
		const cJSON *lv = cJSON_GetObjectItem(a, "access_level");
		const cJSON *u = cJSON_GetObjectItem(a, "user_id");
		const cJSON *gr = cJSON_GetObjectItem(a, "group_id");
		int64_t v;

		if ((u && !cJSON_IsNull(u)) || (gr && !cJSON_IsNull(gr)))
			continue;
		if (json_int_value(lv, 0, 100, &v) != 0)
			continue;
		if (best < 0 || (v > 0 && (best == 0 || v < best)))
			best = (int)v;
	}
	return best < 0 ? FORGE_ACCESS_NONE : best;
}

struct prot_ctx {
	struct forge_protected_refs *out;
	const char *key;
};

static int prot_page(void *ctx, const cJSON *items, const char *what,
		     bool *stop, struct st_error *err)
{
	struct prot_ctx *c = ctx;
	const cJSON *it;

	(void)stop;
	cJSON_ArrayForEach(it, items) {
		const cJSON *name = cJSON_GetObjectItem(it, "name");
		struct forge_protected_ref *grown;

		if (!cJSON_IsString(name) || !name->valuestring)
			return st_error_set(err, ST_EINVAL, "%s: an entry "
					    "without a name", what);
		grown = realloc(c->out->items,
				(c->out->len + 1) * sizeof(*grown));
		if (!grown)
			return st_error_set(err, ST_ENOMEM, "out of memory");
		c->out->items = grown;
		snprintf(grown[c->out->len].name, sizeof(grown->name), "%s",
			 name->valuestring);
		grown[c->out->len].level =
			role_level(cJSON_GetObjectItem(it, c->key));
		c->out->len++;
	}
	return ST_OK;
}

static int gl_protected_refs(void *impl, bool tags,
			     struct forge_protected_refs *out,
			     struct st_error *err)
{
	struct gitlab *g = impl;
	struct forge_protected_refs r = { 0 };
	struct prot_ctx c = { &r, tags ? "create_access_levels"
				       : "push_access_levels" };
	struct forge_list_result res;
	char path[FLEET_PATH_MAX];
	int rc;

	memset(&res, 0, sizeof(res));
	snprintf(path, sizeof(path), "/projects/%s/%s", g->project_enc,
		 tags ? "protected_tags" : "protected_branches");
	rc = gitlab_list(g, GITLAB_READ_PROJECT, path, "", prot_page, &c,
			 &res, err);
	if (rc) {
		forge_protected_refs_release(&r);
		return rc;
	}
	forge_protected_refs_release(out);
	*out = r;
	return ST_OK;
}

struct names_ctx {
	struct forge_names *out;
	const char *key;
};

static int names_page(void *ctx, const cJSON *items, const char *what,
		      bool *stop, struct st_error *err)
{
	struct names_ctx *c = ctx;
	const cJSON *it;

	(void)stop;
	cJSON_ArrayForEach(it, items) {
		const cJSON *v = cJSON_GetObjectItem(it, c->key);

		if (!cJSON_IsString(v) || !v->valuestring)
			return st_error_set(err, ST_EINVAL, "%s: an entry "
					    "without \"%s\"", what, c->key);
		if (forge_names_add(c->out, v->valuestring))
			return st_error_set(err, ST_ENOMEM, "out of memory");
	}
	return ST_OK;
}

static int list_names(struct gitlab *g, const char *path, const char *key,
		      struct forge_names *out, struct st_error *err)
{
	struct forge_names n = { 0 };
	struct names_ctx c = { &n, key };
	struct forge_list_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = gitlab_list(g, GITLAB_READ_PROJECT, path, "", names_page, &c, &res,
			 err);
	if (rc) {
		forge_names_release(&n);
		return rc;
	}
	forge_names_release(out);
	*out = n;
	return ST_OK;
}

static int gl_labels(void *impl, const char *group, struct forge_names *out,
		     struct st_error *err)
{
	struct gitlab *g = impl;
	char path[FLEET_PATH_MAX];

	if (group) {
		int rc = group_path(group, "/labels", path, sizeof(path), err);

		if (rc)
			return rc;
	} else {
		snprintf(path, sizeof(path), "/projects/%s/labels",
			 g->project_enc);
	}
	return list_names(g, path, "name", out, err);
}

static int gl_create_label(void *impl, const char *group, const char *name,
			   const char *color, const char *description,
			   enum forge_outcome *out, struct st_error *err)
{
	struct gitlab *g = impl;
	char path[FLEET_PATH_MAX], what[FLEET_PATH_MAX + 64];
	struct http_response rs;
	cJSON *body = cJSON_CreateObject();
	char *text = NULL;
	int rc = 0;

	if (group)
		rc = group_path(group, "/labels", path, sizeof(path), err);
	else
		snprintf(path, sizeof(path), "/projects/%s/labels",
			 g->project_enc);
	snprintf(what, sizeof(what), "POST %s (label %.40s)", path, name);
	if (!rc && (!body || !cJSON_AddStringToObject(body, "name", name) ||
		    !cJSON_AddStringToObject(body, "color", color) ||
		    !cJSON_AddStringToObject(body, "description", description) ||
		    !(text = cJSON_PrintUnformatted(body))))
		rc = st_error_set(err, ST_ENOMEM, "out of memory");
	cJSON_Delete(body);
	http_response_init(&rs);
	if (!rc)
		rc = gitlab_call(g, "POST", path, NULL, text, true, what, &rs,
				 err);
	cJSON_free(text);
	if (!rc && rs.status == 409)
		*out = FORGE_EXISTED;
	else if (!rc && (rc = gitlab_check(g, GITLAB_STATUS, what, &rs, err)) == 0)
		*out = FORGE_CREATED;
	http_response_release(&rs);
	return rc;
}

static int gl_hooks(void *impl, enum forge_hook_scope scope,
		    const char *group, struct forge_names *urls,
		    struct st_error *err)
{
	struct gitlab *g = impl;
	char path[FLEET_PATH_MAX];
	int rc = 0;

	if (scope == FORGE_HOOKS_SYSTEM)
		snprintf(path, sizeof(path), "/hooks");
	else if (scope == FORGE_HOOKS_GROUP)
		rc = group_path(group, "/hooks", path, sizeof(path), err);
	else
		snprintf(path, sizeof(path), "/projects/%s/hooks",
			 g->project_enc);
	return rc ? rc : list_names(g, path, "url", urls, err);
}

static int projects_page(void *ctx, const cJSON *items, const char *what,
			 bool *stop, struct st_error *err)
{
	struct forge_fleet_projects *out = ctx;
	const cJSON *it;
	size_t i = 0;

	(void)stop;
	cJSON_ArrayForEach(it, items) {
		char pfx[32];
		struct json_where w = { what, pfx };
		const char *path = NULL, *branch = NULL;
		struct forge_fleet_project *grown, *p;
		bool archived = false;
		int64_t id = 0;
		int rc;

		snprintf(pfx, sizeof(pfx), "[%zu]", i++);
		rc = json_get_int(it, "id", JSON_REQUIRED | JSON_NOT_NULL, 1,
				  JSON_INT_MAX, &w, &id, err);
		if (!rc)
			rc = json_get_str(it, "path_with_namespace",
					  JSON_REQUIRED | JSON_NOT_NULL, &w,
					  &path, err);
		if (!rc)
			rc = json_get_str(it, "default_branch", JSON_OPTIONAL,
					  &w, &branch, err);
		if (!rc)
			rc = json_get_bool(it, "archived", JSON_OPTIONAL, &w,
					   &archived, err);
		if (rc)
			return rc;
		if (archived)
			continue;
		grown = realloc(out->items, (out->len + 1) * sizeof(*grown));
		if (!grown)
			return st_error_set(err, ST_ENOMEM, "out of memory");
		out->items = grown;
		p = &grown[out->len];
		memset(p, 0, sizeof(*p));
		p->id = id;
		if (gitlab_dup(&p->path, path) ||
		    gitlab_dup(&p->default_branch, branch)) {
			free(p->path);
			return st_error_set(err, ST_ENOMEM, "out of memory");
		}
		out->len++;
	}
	return ST_OK;
}

static int gl_group_projects(void *impl, const char *group, const char *topic,
			     struct forge_fleet_projects *out,
			     struct forge_list_result *res,
			     struct st_error *err)
{
	struct gitlab *g = impl;
	struct forge_fleet_projects p = { 0 };
	struct strbuf q;
	char path[FLEET_PATH_MAX];
	int rc = group_path(group, "/projects", path, sizeof(path), err);

	if (rc)
		return rc;
	strbuf_init(&q, 1024);
	rc = strbuf_adds(&q, "include_subgroups=true&archived=false&"
			 "with_shared=false&order_by=id&sort=asc");
	if (!rc && topic)
		rc = strbuf_adds(&q, "&topic=") || http_escape(&q, topic);
	if (rc) {
		strbuf_release(&q);
		return st_error_set(err, ST_ECONFIG, "topic too long");
	}
	rc = gitlab_list(g, GITLAB_READ_PROJECT, path, strbuf_str(&q),
			 projects_page, &p, res, err);
	strbuf_release(&q);
	if (rc) {
		forge_fleet_projects_release(&p);
		return rc;
	}
	forge_fleet_projects_release(out);
	*out = p;
	return ST_OK;
}

static int group_mrs_page(void *ctx, const cJSON *items, const char *what,
			  bool *stop, struct st_error *err)
{
	struct forge_group_mrs *out = ctx;
	const cJSON *it;
	size_t i = 0;

	(void)stop;
	cJSON_ArrayForEach(it, items) {
		char pfx[32];
		struct json_where w = { what, pfx };
		struct forge_group_mr m;
		const char *upd = NULL;
		int rc;

		snprintf(pfx, sizeof(pfx), "[%zu]", i++);
		rc = json_get_int(it, "project_id", JSON_REQUIRED | JSON_NOT_NULL,
				  1, JSON_INT_MAX, &w, &m.project_id, err);
		if (!rc)
			rc = json_get_int(it, "iid", JSON_REQUIRED | JSON_NOT_NULL,
					  1, JSON_INT_MAX, &w, &m.iid, err);
		if (!rc)
			rc = json_get_str(it, "updated_at",
					  JSON_REQUIRED | JSON_NOT_NULL, &w,
					  &upd, err);
		if (!rc && json_time_parse(upd, &m.updated_ms) != 0)
			rc = st_error_set(err, ST_EINVAL, "%s%s: updated_at "
					  "'%.40s' is not a time", what, pfx,
					  upd);
		if (rc)
			return rc;
		if (out->len == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 64;
			struct forge_group_mr *grown =
				realloc(out->items, cap * sizeof(*grown));

			if (!grown)
				return st_error_set(err, ST_ENOMEM,
						    "out of memory");
			out->items = grown;
			out->cap = cap;
		}
		out->items[out->len++] = m;
	}
	return ST_OK;
}

static int gl_group_mrs(void *impl, const char *group, int64_t after_ms,
			struct forge_group_mrs *out,
			struct forge_list_result *res, struct st_error *err)
{
	struct gitlab *g = impl;
	struct forge_group_mrs m = { 0 };
	char path[FLEET_PATH_MAX], q[256], when[32];
	int rc = group_path(group, "/merge_requests", path, sizeof(path), err);

	if (rc)
		return rc;
	snprintf(q, sizeof(q), "state=merged&scope=all&order_by=updated_at&"
		 "sort=asc");
	if (after_ms >= 0 && json_time_format(after_ms, when) == 0) {
		size_t n = strlen(q);

		snprintf(q + n, sizeof(q) - n, "&updated_after=%s", when);
	}
	rc = gitlab_list(g, GITLAB_LIST_MRS, path, q, group_mrs_page, &m, res,
			 err);
	if (rc) {
		forge_group_mrs_release(&m);
		return rc;
	}
	forge_group_mrs_release(out);
	*out = m;
	return ST_OK;
}

static int gl_mr_head_pipeline(void *impl, int64_t iid, int64_t *pipeline_id,
			       struct st_error *err)
{
	struct gitlab *g = impl;
	char path[FLEET_PATH_MAX], what[FLEET_PATH_MAX + 8];
	struct json_where w = { what, "head_pipeline" };
	const cJSON *hp = NULL;
	cJSON *root = NULL;
	int64_t id = 0;
	long status;
	int rc;

	snprintf(path, sizeof(path), "/projects/%s/merge_requests/%lld",
		 g->project_enc, (long long)iid);
	snprintf(what, sizeof(what), "GET %s", path);
	rc = get_json(g, path, NULL, what, &root, &status, err);
	if (!rc)
		rc = json_get_object(root, "head_pipeline", JSON_OPTIONAL,
				     &(struct json_where){ what, "" }, &hp, err);
	if (!rc && hp && cJSON_IsObject(hp))
		rc = json_get_int(hp, "id", JSON_REQUIRED | JSON_NOT_NULL, 1,
				  JSON_INT_MAX, &w, &id, err);
	cJSON_Delete(root);
	if (!rc)
		*pipeline_id = id;
	return rc;
}

const struct forge_fleet_ops gitlab_fleet_ops = {
	.token_info = gl_token_info,
	.access_level = gl_access_level,
	.protected_refs = gl_protected_refs,
	.labels = gl_labels,
	.create_label = gl_create_label,
	.hooks = gl_hooks,
	.group_projects = gl_group_projects,
	.group_mrs = gl_group_mrs,
	.mr_head_pipeline = gl_mr_head_pipeline,
};
