/* SPDX-License-Identifier: MIT */
/* The optional many-project operations of a forge (forge_fleet.h). */
#include "semver-tagger/forge_fleet.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

void forge_protected_refs_release(struct forge_protected_refs *r)
{
	free(r->items);
	memset(r, 0, sizeof(*r));
}

void forge_names_release(struct forge_names *n)
{
	for (size_t i = 0; i < n->len; i++)
		free(n->items[i]);
	free(n->items);
	memset(n, 0, sizeof(*n));
}

int forge_names_add(struct forge_names *n, const char *s)
{
	char **grown = realloc(n->items, (n->len + 1) * sizeof(*grown));
	char *copy = strdup(s);

	if (grown)
		n->items = grown;
	if (!grown || !copy) {
		free(copy);
		return ST_ENOMEM;
	}
	n->items[n->len++] = copy;
	return ST_OK;
}

bool forge_names_has(const struct forge_names *n, const char *s)
{
	for (size_t i = 0; i < n->len; i++)
		if (strcmp(n->items[i], s) == 0)
			return true;
	return false;
}

void forge_fleet_projects_release(struct forge_fleet_projects *p)
{
	for (size_t i = 0; i < p->len; i++) {
		free(p->items[i].path);
		free(p->items[i].default_branch);
	}
	free(p->items);
	memset(p, 0, sizeof(*p));
}

void forge_group_mrs_release(struct forge_group_mrs *m)
{
	free(m->items);
	memset(m, 0, sizeof(*m));
}

/* GitLab grants access when any matching rule does (the most permissive
 * matching rule wins); a rule allowing no one only counts when it is the
 * only kind that matches. */
int forge_protected_level(const struct forge_protected_refs *r,
			  const char *name)
{
	int best = -1;

	for (size_t i = 0; i < r->len; i++) {
		int lv = r->items[i].level;

		if (fnmatch(r->items[i].name, name, 0) != 0)
			continue;
		if (best < 0 || (lv > 0 && (best == 0 || lv < best)))
			best = lv;
	}
	return best;
}

static const struct forge_fleet_ops *fleet(const struct forge *f, void **impl)
{
	const struct forge_ops *ops = forge_ops_of(f, impl);

	return ops->fleet;
}

static int missing(const struct forge *f, const char *op,
		   struct st_error *err)
{
	void *impl;

	return st_error_set(err, ST_ENOTFOUND, "forge %s: no %s",
			    forge_ops_of(f, &impl)->name, op);
}

#define CALL(f, op, ...)                                                     \
	do {                                                                 \
		void *impl_;                                                 \
		const struct forge_fleet_ops *t_ = fleet(f, &impl_);         \
		if (!t_ || !t_->op)                                          \
			return missing(f, #op, err);                         \
		return t_->op(impl_, __VA_ARGS__);                           \
	} while (0)

int forge_token_info(struct forge *f, struct forge_token_info *out,
		     struct st_error *err)
{
	CALL(f, token_info, out, err);
}

int forge_access_level(struct forge *f, int64_t user_id, int *level,
		       struct st_error *err)
{
	CALL(f, access_level, user_id, level, err);
}

int forge_protected_refs(struct forge *f, bool tags,
			 struct forge_protected_refs *out,
			 struct st_error *err)
{
	CALL(f, protected_refs, tags, out, err);
}

int forge_labels(struct forge *f, const char *group, struct forge_names *out,
		 struct st_error *err)
{
	CALL(f, labels, group, out, err);
}

int forge_create_label(struct forge *f, const char *group, const char *name,
		       const char *color, const char *description,
		       enum forge_outcome *out, struct st_error *err)
{
	CALL(f, create_label, group, name, color, description, out, err);
}

int forge_hooks(struct forge *f, enum forge_hook_scope scope,
		const char *group, struct forge_names *urls,
		struct st_error *err)
{
	CALL(f, hooks, scope, group, urls, err);
}

int forge_group_projects(struct forge *f, const char *group,
			 const char *topic, struct forge_fleet_projects *out,
			 struct forge_list_result *res, struct st_error *err)
{
	CALL(f, group_projects, group, topic, out, res, err);
}

int forge_group_mrs(struct forge *f, const char *group,
		    int64_t updated_after_ms, struct forge_group_mrs *out,
		    struct forge_list_result *res, struct st_error *err)
{
	CALL(f, group_mrs, group, updated_after_ms, out, res, err);
}

int forge_mr_head_pipeline(struct forge *f, int64_t iid,
			   int64_t *pipeline_id, struct st_error *err)
{
	CALL(f, mr_head_pipeline, iid, pipeline_id, err);
}
