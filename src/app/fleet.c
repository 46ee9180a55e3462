/* SPDX-License-Identifier: MIT */
/* Which projects a configuration covers, with their combined settings. */
#include "fleet.h"

#include "engine.h"

#include "semver-tagger/forge_fleet.h"
#include "semver-tagger/gitlab.h"
#include "semver-tagger/labels.h"
#include "semver-tagger/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fleet_set_release(struct fleet_set *s)
{
	for (size_t i = 0; i < s->len; i++)
		config_project_release(&s->items[i].cfg);
	free(s->items);
	memset(s, 0, sizeof(*s));
}

int fleet_token_load(const struct config_project *p, struct secret *s,
		     struct st_error *err)
{
	struct engine_token_from from = { false, NULL };
	enum gitlab_token_kind kind;
	int rc = engine_token_load(p, &from, s, &kind, err);

	if (rc == 0)
		log_add_secret(s->value);
	return rc;
}

/* The engine builds every forge (engine.h): settings made for project. */
int fleet_forge_new(const struct config_project *p, const char *project,
		    const char *token, const atomic_int *cancel,
		    struct forge **out, struct st_error *err)
{
	struct engine_settings s;
	int rc;

	if (!p->api_url)
		return st_error_set(err, ST_ECONFIG, "%s: no api_url (e.g. "
				    "https://gitlab.example.com/api/v4)",
				    p->name ? p->name : "project");
	engine_settings_init(&s);
	s.cfg = *p; /* borrowed: not released below */
	s.cfg.project = (char *)(project ? project : p->project);
	s.token.value = (char *)token;
	s.token_kind = GITLAB_TOKEN_PRIVATE;
	rc = engine_forge_new(&s, cancel, out, err);
	return rc;
}

static struct fleet_project *set_push(struct fleet_set *s)
{
	struct fleet_project *grown;

	if (s->len == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;

		if (!(grown = realloc(s->items, cap * sizeof(*grown))))
			return NULL;
		s->items = grown;
		s->cap = cap;
	}
	memset(&s->items[s->len], 0, sizeof(*s->items));
	return &s->items[s->len++];
}

/* Does the [project] section cfg name the discovered project? */
static bool names(const struct config_project *cfg, int64_t id,
		  const char *path)
{
	char num[32];

	snprintf(num, sizeof(num), "%lld", (long long)id);
	return strcmp(cfg->project, path) == 0 || strcmp(cfg->project, num) == 0 ||
	       strcmp(cfg->name, path) == 0;
}

static bool wanted(const struct config_project *cfg, int64_t id,
		   const char *only)
{
	char num[32];

	if (!only)
		return true;
	snprintf(num, sizeof(num), "%lld", (long long)id);
	return strcmp(cfg->name, only) == 0 || strcmp(cfg->project, only) == 0 ||
	       (id > 0 && strcmp(num, only) == 0);
}

/* Deeper groups first, so a project lands in its nearest [group]. */
static int by_depth(const void *a, const void *b)
{
	const struct config_group *x = *(const struct config_group *const *)a;
	const struct config_group *y = *(const struct config_group *const *)b;
	size_t lx = strlen(x->path), ly = strlen(y->path);

	return lx < ly ? 1 : lx > ly ? -1 : strcmp(x->path, y->path);
}

static bool taken(const struct fleet_set *s, int64_t id)
{
	for (size_t i = 0; i < s->len; i++)
		if (s->items[i].id == id)
			return true;
	return false;
}

/* One discovered project: group settings, or its [project] section over
 * them. */
static int add_discovered(const struct config *c, const struct config_group *g,
			  const struct forge_fleet_project *fp,
			  struct fleet_set *out, struct st_error *err)
{
	const struct config_project *sec = NULL;
	struct fleet_project *p;
	char num[32];
	int rc;

	for (size_t i = 0; i < c->n_projects; i++)
		if (names(&c->projects[i], fp->id, fp->path))
			sec = &c->projects[i];
	if (!(p = set_push(out)))
		return st_error_set(err, ST_ENOMEM, "out of memory");
	p->group = g->path;
	p->id = fp->id;
	p->explicit_section = sec != NULL;
	rc = config_project_copy(&p->cfg, sec ? sec : &g->settings);
	if (!rc && sec)
		rc = config_project_inherit(&p->cfg, &g->settings);
	snprintf(num, sizeof(num), "%lld", (long long)fp->id);
	if (!rc && !sec) {
		free(p->cfg.name);
		free(p->cfg.project);
		p->cfg.name = strdup(fp->path);
		p->cfg.project = strdup(num);
		if (!p->cfg.name || !p->cfg.project)
			rc = ST_ENOMEM;
	}
	if (rc) {
		out->len--;
		config_project_release(&p->cfg);
		return st_error_set(err, ST_ENOMEM, "out of memory");
	}
	return ST_OK;
}

static int discover_group(const struct config *c, const struct config_group *g,
			  const char *only, const atomic_int *cancel,
			  struct fleet_set *out, struct fleet_discovery *rep,
			  struct st_error *err)
{
	struct forge_fleet_projects list = { 0 };
	struct forge_list_result res;
	struct forge *f = NULL;
	struct secret tok;
	int rc;

	memset(&res, 0, sizeof(res));
	secret_init(&tok);
	rc = fleet_token_load(&g->settings, &tok, err);
	if (!rc)
		rc = fleet_forge_new(&g->settings, g->path, tok.value, cancel,
				     &f, err);
	if (!rc)
		rc = forge_group_projects(f, g->path, g->topic, &list, &res, err);
	if (rc)
		st_error_prefix(err, "[group \"%s\"]", g->path);
	rep->requests += res.requests;
	for (size_t i = 0; !rc && i < list.len; i++) {
		const struct forge_fleet_project *fp = &list.items[i];

		if (taken(out, fp->id))
			continue;
		rc = add_discovered(c, g, fp, out, err);
		if (!rc && !wanted(&out->items[out->len - 1].cfg, fp->id, only)) {
			config_project_release(&out->items[--out->len].cfg);
			continue;
		}
		if (!rc)
			rep->discovered++;
	}
	forge_fleet_projects_release(&list);
	forge_free(f);
	secret_release(&tok);
	return rc;
}

/* [project] sections not found in any group. */
static int by_name(const void *a, const void *b)
{
	const struct config_project *x = *(const struct config_project *const *)a;
	const struct config_project *y = *(const struct config_project *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x < y ? -1 : x > y);
}

/* dup[i]: an earlier section has the same name (config_load refuses
 * that, but c may come from elsewhere). Sorted, not a scan per
 * section: 10,000 sections were 50 million comparisons. */
static bool *dup_sections(const struct config *c)
{
	const struct config_project **v = calloc(c->n_projects + 1, sizeof(*v));
	bool *dup = calloc(c->n_projects + 1, sizeof(*dup));

	if (!v || !dup) {
		free(v);
		free(dup);
		return NULL;
	}
	for (size_t i = 0; i < c->n_projects; i++)
		v[i] = &c->projects[i];
	qsort(v, c->n_projects, sizeof(*v), by_name);
	for (size_t i = 1; i < c->n_projects; i++)
		if (strcmp(v[i]->name, v[i - 1]->name) == 0)
			dup[v[i] - c->projects] = true;
	free(v);
	return dup;
}

static int add_explicit(const struct config *c, const char *only,
			struct fleet_set *out, struct st_error *err)
{
	bool *dup = dup_sections(c);

	if (!dup)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	for (size_t i = 0; i < c->n_projects; i++) {
		const struct config_project *sec = &c->projects[i];
		struct fleet_project *p;

		if (dup[i] || !wanted(sec, 0, only))
			continue;
		p = set_push(out);
		if (!p || config_project_copy(&p->cfg, sec) != 0) {
			if (p)
				out->len--;
			free(dup);
			return st_error_set(err, ST_ENOMEM, "out of memory");
		}
		p->explicit_section = true;
	}
	free(dup);
	return ST_OK;
}

int fleet_discover(const struct config *c, const char *only,
		   const atomic_int *cancel, struct fleet_set *out,
		   struct fleet_discovery *rep, struct st_error *err)
{
	const struct config_group **order;
	int rc = 0;

	memset(rep, 0, sizeof(*rep));
	order = calloc(c->n_groups ? c->n_groups : 1, sizeof(*order));
	if (!order)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	for (size_t i = 0; i < c->n_groups; i++)
		order[i] = &c->groups[i];
	qsort(order, c->n_groups, sizeof(*order), by_depth);
	for (size_t i = 0; !rc && i < c->n_groups; i++) {
		struct st_error e;

		st_error_clear(&e);
		rc = discover_group(c, order[i], only, cancel, out, rep, &e);
		if (rc && rc != ST_ENOMEM) {
			if (rep->groups_failed++ == 0)
				snprintf(rep->error, sizeof(rep->error), "%s",
					 e.msg);
			rc = 0;
		} else if (rc) {
			*err = e;
		}
	}
	free(order);
	if (!rc)
		rc = add_explicit(c, only, out, err);
	return rc;
}

const char *fleet_label_name(const char *pattern, char *buf, size_t size)
{
	const char *s = pattern;

	while (s && *s) {
		size_t n = strcspn(s, "|");

		if (n && n < size && !memchr(s, '\\', n) &&
		    strcspn(s, ".^$*+?()[]{}") >= n) {
			memcpy(buf, s, n);
			buf[n] = '\0';
			return buf;
		}
		s += n + (s[n] ? 1 : 0);
	}
	return NULL;
}

static const struct {
	enum impact impact;
	const char *color;
	const char *description;
} impact_labels[] = {
	{ IMPACT_MAJOR, "#dc143c", "semver-tagger: merging this releases a "
	  "new major version (an incompatible change)" },
	{ IMPACT_MINOR, "#428bca", "semver-tagger: merging this releases a "
	  "new minor version (a compatible feature)" },
	{ IMPACT_PATCH, "#69d100", "semver-tagger: merging this releases a "
	  "new patch version (a compatible fix)" },
};

int fleet_ensure_labels(struct forge *f, const char *group,
			const struct config_project *cfg, unsigned *created,
			struct st_error *err)
{
	const char *pat[] = {
		cfg->label_major ? cfg->label_major : LABELS_DEFAULT_MAJOR,
		cfg->label_minor ? cfg->label_minor : LABELS_DEFAULT_MINOR,
		cfg->label_patch ? cfg->label_patch : LABELS_DEFAULT_PATCH,
	};
	struct forge_names have = { 0 };
	struct labels *l = labels_new(pat[0], pat[1], pat[2], err);
	int rc = l ? forge_labels(f, group, &have, err) : ST_ECONFIG;

	for (size_t i = 0; !rc && i < 3; i++) {
		enum forge_outcome out = 0;
		bool found = false;
		char name[256];

		for (size_t j = 0; j < have.len && !found; j++)
			found = labels_match(l, have.items[j]) ==
				impact_labels[i].impact;
		if (found || !fleet_label_name(pat[i], name, sizeof(name)))
			continue;
		rc = forge_create_label(f, group, name, impact_labels[i].color,
					impact_labels[i].description, &out,
					err);
		if (!rc && out == FORGE_CREATED)
			(*created)++;
	}
	forge_names_release(&have);
	labels_free(l);
	return rc;
}
