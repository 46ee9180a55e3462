/* SPDX-License-Identifier: MIT */
/* The forge handle, MR lists, and text escaping shared by every forge. */
#include "semver-tagger/forge.h"
#include "semver-tagger/forge_fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct forge {
	const struct forge_ops *ops;
	void *impl;
};

int forge_new(const struct forge_ops *ops, void *impl, struct forge **out)
{
	struct forge *f = calloc(1, sizeof(*f));

	if (!f)
		return ST_ENOMEM;
	f->ops = ops;
	f->impl = impl;
	*out = f;
	return ST_OK;
}

void forge_free(struct forge *f)
{
	if (!f)
		return;
	if (f->ops->free)
		f->ops->free(f->impl);
	free(f);
}

/* For forge_fleet.c (declared in forge_fleet.h). */
const struct forge_ops *forge_ops_of(const struct forge *f, void **impl)
{
	*impl = f->impl;
	return f->ops;
}

/* An implementation may leave out an operation (a read-only fake). */
static int missing_op(const struct forge *f, const char *op,
		      struct st_error *err)
{
	return st_error_set(err, ST_EINTERNAL, "forge %s: %s is not "
			    "implemented", f->ops->name, op);
}

int forge_project(struct forge *f, struct forge_project *out,
		  struct st_error *err)
{
	if (!f->ops->project)
		return missing_op(f, "project", err);
	return f->ops->project(f->impl, out, err);
}

int forge_merged_mrs(struct forge *f, const char *cache_path,
		     struct forge_mr_list *out, struct forge_list_result *res,
		     struct st_error *err)
{
	memset(res, 0, sizeof(*res));
	if (!f->ops->merged_mrs)
		return missing_op(f, "merged_mrs", err);
	return f->ops->merged_mrs(f->impl, cache_path, out, res, err);
}

int forge_project_cached(struct forge *f, const char *cache_path,
			 bool refresh, struct forge_project *out,
			 bool *from_cache, struct st_error *err)
{
	int rc;

	if (!cache_path || !f->ops->project_cached) {
		rc = forge_project(f, out, err);
		if (rc == 0)
			*from_cache = false;
		return rc;
	}
	return f->ops->project_cached(f->impl, cache_path, refresh, out,
				      from_cache, err);
}

void forge_preload_mrs(struct forge *f, const char *cache_path)
{
	if (cache_path && f->ops->preload_mrs)
		f->ops->preload_mrs(f->impl, cache_path);
}

int forge_open_mrs(struct forge *f, struct forge_mr_list *out,
		   struct forge_list_result *res, struct st_error *err)
{
	memset(res, 0, sizeof(*res));
	if (!f->ops->open_mrs)
		return missing_op(f, "open_mrs", err);
	return f->ops->open_mrs(f->impl, out, res, err);
}

int forge_post_note(struct forge *f, const struct forge_note *note,
		    enum forge_outcome *out, struct st_error *err)
{
	if (!f->ops->post_note)
		return missing_op(f, "post_note", err);
	return f->ops->post_note(f->impl, note, out, err);
}

int forge_create_release(struct forge *f, const struct forge_release *rel,
			 enum forge_outcome *out, struct st_error *err)
{
	if (!f->ops->create_release)
		return missing_op(f, "create_release", err);
	return f->ops->create_release(f->impl, rel, out, err);
}

int forge_release_exists(struct forge *f, const char *tag, bool *exists,
			 struct st_error *err)
{
	if (!f->ops->release_exists)
		return missing_op(f, "release_exists", err);
	return f->ops->release_exists(f->impl, tag, exists, err);
}

int forge_mr_release_text(struct forge *f, int64_t iid, char **text,
			  struct st_error *err)
{
	*text = NULL;
	if (!f->ops->mr_release_text)
		return ST_OK;
	return f->ops->mr_release_text(f->impl, iid, text, err);
}

int forge_set_commit_status(struct forge *f,
			    const struct forge_commit_status *st,
			    enum forge_outcome *out, struct st_error *err)
{
	if (!f->ops->set_commit_status)
		return missing_op(f, "set_commit_status", err);
	return f->ops->set_commit_status(f->impl, st, out, err);
}

void forge_counters(struct forge *f, struct forge_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (f->ops->counters)
		f->ops->counters(f->impl, out);
}

void forge_project_init(struct forge_project *p)
{
	memset(p, 0, sizeof(*p));
}

void forge_project_release(struct forge_project *p)
{
	if (!p)
		return;
	free(p->path);
	free(p->default_branch);
	free(p->http_url_to_repo);
	free(p->web_url);
	forge_project_init(p);
}

void forge_push_rule_init(struct forge_push_rule *r)
{
	memset(r, 0, sizeof(*r));
}

void forge_push_rule_release(struct forge_push_rule *r)
{
	free(r->commit_message_regex);
	free(r->commit_message_negative_regex);
	free(r->branch_name_regex);
	free(r->author_email_regex);
	forge_push_rule_init(r);
}

int forge_push_rule(struct forge *f, struct forge_push_rule *out,
		    struct st_error *err)
{
	if (!f->ops->push_rule) {
		forge_push_rule_release(out);
		out->state = FORGE_PUSH_RULES_UNAVAILABLE;
		snprintf(out->detail, sizeof(out->detail), "forge %s has no "
			 "push rules", f->ops->name);
		return ST_OK;
	}
	return f->ops->push_rule(f->impl, out, err);
}

void forge_user_init(struct forge_user *u)
{
	memset(u, 0, sizeof(*u));
}

void forge_user_release(struct forge_user *u)
{
	for (size_t i = 0; i < u->n_emails; i++)
		free(u->emails[i]);
	free(u->emails);
	free(u->username);
	free(u->name);
	forge_user_init(u);
}

int forge_user(struct forge *f, struct forge_user *out, struct st_error *err)
{
	if (!f->ops->user)
		return st_error_set(err, ST_ENOTFOUND, "forge %s cannot tell "
				    "the token's user", f->ops->name);
	return f->ops->user(f->impl, out, err);
}
