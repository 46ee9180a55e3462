/* SPDX-License-Identifier: MIT */
/*
 * --assess: what would stop each project's release, found with GET
 * requests only, each problem named with its fix (issue 13, item 6).
 */
#include "assess.h"

#include "fleet.h"
#include "semver-tagger/forge_fleet.h"
#include "semver-tagger/http.h"
#include "semver-tagger/labels.h"
#include "semver-tagger/log.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_REFUSED 65
#define EXIT_TEMP 75
#define EXIT_CONFIG 78
#define EXPIRY_WARN_DAYS 14

void assess_result_release(struct assess_result *r)
{
	free(r->items);
	r->items = NULL;
	r->len = r->errors = 0;
}

#define add assess_add

void assess_add(struct assess_result *r, enum assess_severity sev,
		const char *check, const char *fix, const char *fmt, ...)
{
	struct assess_problem *grown = realloc(r->items,
					       (r->len + 1) * sizeof(*grown));
	struct assess_problem *p;
	va_list ap;

	if (!grown) {
		r->status = ST_ENOMEM;
		return;
	}
	r->items = grown;
	p = &grown[r->len++];
	memset(p, 0, sizeof(*p));
	p->severity = sev;
	snprintf(p->check, sizeof(p->check), "%s", check);
	snprintf(p->fix, sizeof(p->fix), "%s", fix);
	va_start(ap, fmt);
	vsnprintf(p->problem, sizeof(p->problem), fmt, ap);
	va_end(ap);
	log_redact(p->problem);
	if (sev == ASSESS_ERROR)
		r->errors++;
}

static const char *role_name(int level)
{
	switch (level) {
	case FORGE_ACCESS_NONE: return "no one";
	case FORGE_ACCESS_REPORTER: return "Reporter";
	case FORGE_ACCESS_DEVELOPER: return "Developer";
	case FORGE_ACCESS_MAINTAINER: return "Maintainer";
	case FORGE_ACCESS_OWNER: return "Owner";
	case FORGE_ACCESS_ADMIN: return "Administrator";
	default: return level < FORGE_ACCESS_DEVELOPER ? "Guest" : "custom role";
	}
}

/* Days from today (UTC) to "YYYY-MM-DD"; INT32_MAX when unparsable. */
static long days_until(const char *date)
{
	struct tm tm;
	time_t now = time(NULL), then;
	int y, m, d;
	char tail;

	if (sscanf(date, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
		return 0x7fffffff;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	then = timegm(&tm);
	return (long)((then - now) / 86400) + (then > now ? 1 : 0);
}

static bool has_scope(const char *scopes, const char *want)
{
	size_t n = strlen(want);

	for (const char *s = scopes; (s = strstr(s, want)); s += n)
		if ((s == scopes || s[-1] == ',') && (s[n] == ',' || !s[n]))
			return true;
	return false;
}

/* token: valid, api scope, active, expiry. Returns ST_EAUTH when the
 * token is refused (nothing else can be checked). */
static int check_token(struct forge *f, struct assess_result *r,
		       struct forge_token_info *t, struct st_error *err)
{
	long days;
	int rc = forge_token_info(f, t, err);

	if (rc == ST_EAUTH) {
		add(r, ASSESS_ERROR, "token",
		    "create a new access token (scope api) for the release "
		    "user and put it where token_file/token_env points",
		    "GitLab refuses the token: %s", err->msg);
		return rc;
	}
	if (rc)
		return rc;
	if (!t->known) {
		add(r, ASSESS_WARNING, "token",
		    "use a personal, project or group access token",
		    "GitLab does not say the token's scopes and expiry "
		    "(GET /personal_access_tokens/self: not found)");
		return ST_OK;
	}
	if (!has_scope(t->scopes, "api"))
		add(r, ASSESS_ERROR, "token",
		    "create a token with the api scope (notes, releases, "
		    "statuses and git push over HTTPS need it)",
		    "token '%s' has scopes '%s', not api", t->name, t->scopes);
	if (!t->active || t->revoked)
		add(r, ASSESS_ERROR, "token", "create a new access token",
		    "token '%s' is %s", t->name,
		    t->revoked ? "revoked" : "inactive");
	days = *t->expires_at ? days_until(t->expires_at) : 0x7fffffff;
	if (days <= 0)
		add(r, ASSESS_ERROR, "token", "rotate the token",
		    "token '%s' expired on %s", t->name, t->expires_at);
	else if (days <= EXPIRY_WARN_DAYS)
		add(r, ASSESS_WARNING, "token",
		    "rotate the token before it expires",
		    "token '%s' expires on %s (in %ld day%s)", t->name,
		    t->expires_at, days, days == 1 ? "" : "s");
	return ST_OK;
}

/* One protected ref the release writes: name against the user's role. */
static void check_ref(struct assess_result *r, bool tag, const char *name,
		      int lv, int role, const struct forge_token_info *t)
{
	const char *who = lv > 0 ? role_name(lv) : "no one";
	char fix[512];

	if (lv < 0 || (lv > 0 && role >= lv))
		return;
	snprintf(fix, sizeof(fix),
		 "in Settings > Repository > Protected %s allow %s to %s "
		 "'%s'%s%s%s",
		 tag ? "tags" : "branches",
		 lv > 0 ? role_name(lv) : "Maintainers",
		 tag ? "create" : "push to", name,
		 lv > 0 ? ", or give " : "", lv > 0 ? t->username : "",
		 lv > 0 ? " that role" : "");
	add(r, ASSESS_ERROR, "role", fix,
	    "%s %s is protected (%s allowed: %s) and %s is %s",
	    tag ? "tag" : "branch", name, tag ? "create" : "push", who,
	    t->username, role_name(role));
}

static int check_protected(struct forge *f, const struct config_project *c,
			   const char *default_branch, int role,
			   const struct forge_token_info *t,
			   struct assess_result *r, struct st_error *err)
{
	struct forge_protected_refs tags = { 0 }, heads = { 0 };
	char name[512];
	int rc = forge_protected_refs(f, true, &tags, err);

	if (!rc)
		rc = forge_protected_refs(f, false, &heads, err);
	if (rc == ST_EAUTH || rc == ST_ENOTFOUND) {
		add(r, ASSESS_WARNING, "role", "assess with a Maintainer token",
		    "cannot read protected tags and branches: %s", err->msg);
		rc = 0;
	} else if (!rc) {
		snprintf(name, sizeof(name), "%s1.0.0", c->tag_prefix);
		check_ref(r, true, name, forge_protected_level(&tags, name),
			  role, t);
		if (default_branch)
			check_ref(r, false, default_branch,
				  forge_protected_level(&heads, default_branch),
				  role, t);
		snprintf(name, sizeof(name), "%s1", c->release_prefix);
		check_ref(r, false, name, forge_protected_level(&heads, name),
			  role, t);
		snprintf(name, sizeof(name), "%s1.0", c->release_prefix);
		check_ref(r, false, name, forge_protected_level(&heads, name),
			  role, t);
	}
	forge_protected_refs_release(&tags);
	forge_protected_refs_release(&heads);
	return rc;
}

static int check_role(struct forge *f, const struct config_project *c,
		      const char *default_branch,
		      const struct forge_token_info *t,
		      struct assess_result *r, struct st_error *err)
{
	int role = FORGE_ACCESS_ADMIN, rc = 0;

	if (!t->admin)
		rc = forge_access_level(f, t->user_id, &role, err);
	if (rc)
		return rc;
	if (role < FORGE_ACCESS_DEVELOPER) {
		char fix[512];

		snprintf(fix, sizeof(fix), "give %s the Maintainer role on the "
			 "project (Developer at least)", t->username);
		add(r, ASSESS_ERROR, "role", fix,
		    "%s is %s: pushing tags and branches needs Developer or "
		    "more", t->username, role_name(role));
		return ST_OK;
	}
	return check_protected(f, c, default_branch, role, t, r, err);
}

static int check_labels(struct forge *f, const struct config_project *c,
			struct assess_result *r, struct st_error *err)
{
	static const enum impact want[] = { IMPACT_MAJOR, IMPACT_MINOR,
					    IMPACT_PATCH };
	const char *pat[] = {
		c->label_major ? c->label_major : LABELS_DEFAULT_MAJOR,
		c->label_minor ? c->label_minor : LABELS_DEFAULT_MINOR,
		c->label_patch ? c->label_patch : LABELS_DEFAULT_PATCH,
	};
	struct forge_names names = { 0 };
	struct labels *l = labels_new(c->label_major, c->label_minor,
				      c->label_patch, err);
	int rc = l ? forge_labels(f, NULL, &names, err) : ST_ECONFIG;

	for (size_t i = 0; !rc && i < 3; i++) {
		bool found = false;
		char name[256], fix[512];

		for (size_t j = 0; j < names.len && !found; j++)
			found = labels_match(l, names.items[j]) == want[i];
		if (found)
			continue;
		if (fleet_label_name(pat[i], name, sizeof(name)))
			snprintf(fix, sizeof(fix), "start the daemon (it creates "
				 "the impact labels) or create label '%s'",
				 name);
		else
			snprintf(fix, sizeof(fix), "create a label matching "
				 "'%s'", pat[i]);
		add(r, ASSESS_ERROR, "labels", fix,
		    "no label for %s impact (pattern '%s'): merge requests "
		    "cannot be given one", impact_name(want[i]), pat[i]);
	}
	if (rc == ST_EAUTH) {
		add(r, ASSESS_WARNING, "labels", "check the token's role",
		    "cannot list labels: %s", err->msg);
		rc = 0;
	}
	forge_names_release(&names);
	labels_free(l);
	return rc;
}

/* Any hook whose URL path is (or ends in) /webhook: the daemon's. */
static int find_hook(struct forge *f, enum forge_hook_scope scope,
		     const char *group, bool *found, bool *unknown)
{
	struct forge_names urls = { 0 };
	struct st_error e;
	int rc;

	st_error_clear(&e);
	rc = forge_hooks(f, scope, group, &urls, &e);
	for (size_t i = 0; !rc && i < urls.len && !*found; i++) {
		const char *u = urls.items[i], *q = strchr(u, '?');
		size_t n = q ? (size_t)(q - u) : strlen(u);

		*found = n >= 8 && memcmp(u + n - 8, "/webhook", 8) == 0;
	}
	forge_names_release(&urls);
	if (rc == ST_EAUTH || rc == ST_ENOTFOUND) {
		*unknown = true;
		return ST_OK;
	}
	return rc;
}

static int check_hooks(struct forge *f, const struct config_project *c,
		       const char *path, struct assess_result *r,
		       struct st_error *err)
{
	char group[512];
	bool found = false, unknown = false;
	int rc = find_hook(f, FORGE_HOOKS_PROJECT, NULL, &found, &unknown);

	snprintf(group, sizeof(group), "%s", path);
	for (char *s; !rc && !found && (s = strrchr(group, '/'));) {
		*s = '\0';
		rc = find_hook(f, FORGE_HOOKS_GROUP, group, &found, &unknown);
	}
	if (!rc && !found)
		rc = find_hook(f, FORGE_HOOKS_SYSTEM, NULL, &found, &unknown);
	if (rc)
		return st_error_set(err, rc, "listing hooks failed");
	if (!found)
		add(r, ASSESS_WARNING, "webhook",
		    "add a webhook to https://<daemon>/webhook with merge "
		    "request events (project or group), or a System Hook",
		    "no webhook to a /webhook URL%s: releases wait for the "
		    "next poll (every %u s)",
		    unknown ? " among the hooks the token may list" : "",
		    c->poll_interval);
	return ST_OK;
}

int assess_project(const struct config_project *cfg, const char *group,
		   struct forge *f, struct assess_result *out,
		   struct st_error *err)
{
	struct forge_token_info t;
	struct forge_project p;
	int rc;

	(void)group;
	memset(&t, 0, sizeof(t));
	forge_project_init(&p);
	snprintf(out->project, sizeof(out->project), "%s", cfg->name);
	rc = check_token(f, out, &t, err);
	if (rc == ST_EAUTH)
		return ST_OK; /* reported; nothing else can be asked */
	if (!rc)
		rc = forge_project(f, &p, err);
	if (rc == ST_ENOTFOUND || rc == ST_EAUTH) {
		add(out, ASSESS_ERROR, "project",
		    "check the project path and that the token's user is a "
		    "member", "%s", err->msg);
		return ST_OK;
	}
	if (!rc) {
		out->id = p.id;
		snprintf(out->project, sizeof(out->project), "%s", p.path);
		rc = check_role(f, cfg, cfg->default_branch ? cfg->default_branch
							    : p.default_branch,
				&t, out, err);
	}
	if (!rc)
		rc = assess_push_rules(f, cfg, out, err);
	if (!rc)
		rc = check_labels(f, cfg, out, err);
	if (!rc)
		rc = check_hooks(f, cfg, p.path, out, err);
	forge_project_release(&p);
	return rc ? rc : out->status;
}

/* ---- output ------------------------------------------------------------ */

static void print_table(const struct assess_result *r, size_t n, FILE *out)
{
	fprintf(out, "%-40s %-8s %-10s %s\n", "PROJECT", "STATUS", "CHECK",
		"PROBLEM -> FIX");
	for (size_t i = 0; i < n; i++) {
		const char *st = r[i].status ? "UNKNOWN"
				 : r[i].errors ? "BLOCKED" : "ok";

		if (r[i].len == 0)
			fprintf(out, "%-40s %-8s\n", r[i].project, st);
		for (size_t j = 0; j < r[i].len; j++) {
			const struct assess_problem *p = &r[i].items[j];

			fprintf(out, "%-40s %-8s %-10s %s%s -> %s\n",
				r[i].project, st, p->check,
				p->severity == ASSESS_WARNING ? "(warning) " : "",
				p->problem, p->fix);
		}
	}
}

static cJSON *result_json(const struct assess_result *r)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();

	if (!o || !arr) {
		cJSON_Delete(o);
		cJSON_Delete(arr);
		return NULL;
	}
	cJSON_AddStringToObject(o, "project", r->project);
	if (r->id)
		cJSON_AddNumberToObject(o, "id", (double)r->id);
	else
		cJSON_AddNullToObject(o, "id");
	cJSON_AddBoolToObject(o, "releasable", !r->errors && !r->status);
	for (size_t j = 0; j < r->len; j++) {
		cJSON *p = cJSON_CreateObject();

		if (!p)
			continue;
		cJSON_AddStringToObject(p, "check", r->items[j].check);
		cJSON_AddStringToObject(p, "severity",
					r->items[j].severity == ASSESS_ERROR
						? "error" : "warning");
		cJSON_AddStringToObject(p, "problem", r->items[j].problem);
		cJSON_AddStringToObject(p, "fix", r->items[j].fix);
		cJSON_AddItemToArray(arr, p);
	}
	cJSON_AddItemToObject(o, "problems", arr);
	return o;
}

static int print_json(const struct assess_result *r, size_t n, bool ok,
		      FILE *out)
{
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	char *text;

	if (!root || !arr) {
		cJSON_Delete(root);
		cJSON_Delete(arr);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *o = result_json(&r[i]);

		if (o)
			cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddBoolToObject(root, "releasable", ok);
	cJSON_AddItemToObject(root, "projects", arr);
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return -1;
	fprintf(out, "%s\n", text);
	cJSON_free(text);
	return 0;
}

/* ---- main --------------------------------------------------------------- */

static int assess_one(const struct fleet_project *fp, struct assess_result *r)
{
	struct forge *f = NULL;
	struct secret tok;
	struct st_error err;
	int rc;

	st_error_clear(&err);
	secret_init(&tok);
	snprintf(r->project, sizeof(r->project), "%s", fp->cfg.name);
	rc = fleet_token_load(&fp->cfg, &tok, &err);
	if (!rc)
		rc = fleet_forge_new(&fp->cfg, NULL, tok.value, NULL, &f, &err);
	if (rc) {
		add(r, ASSESS_ERROR, "token",
		    "set token_file or token_env for the project", "%s",
		    err.msg);
		rc = 0;
	} else {
		rc = assess_project(&fp->cfg, fp->group, f, r, &err);
	}
	if (rc) {
		r->status = rc;
		add(r, ASSESS_ERROR, "assess", "re-run when GitLab answers",
		    "could not assess: %s", err.msg);
	}
	forge_free(f);
	secret_release(&tok);
	return rc;
}

static int run(const struct config *c, const struct assess_args *a)
{
	struct fleet_set set = { 0 };
	struct fleet_discovery d;
	struct assess_result *res = NULL;
	struct st_error err;
	bool ok = true, temp = false;
	int rc;

	st_error_clear(&err);
	rc = fleet_discover(c, a->project, NULL, &set, &d, &err);
	if (rc) {
		log_error("%s", err.msg);
		return EXIT_TEMP;
	}
	if (d.groups_failed) {
		log_error("%s", d.error);
		ok = false;
		temp = true;
	}
	if (set.len == 0 && a->project) {
		log_error("--project %s: no configured or discovered project "
			  "has that path, name or id", a->project);
		fleet_set_release(&set);
		return EXIT_CONFIG;
	}
	res = calloc(set.len ? set.len : 1, sizeof(*res));
	for (size_t i = 0; res && i < set.len; i++) {
		if (assess_one(&set.items[i], &res[i]))
			temp = true;
		ok = ok && !res[i].errors && !res[i].status;
	}
	if (res && a->json)
		print_json(res, set.len, ok, stdout);
	else if (res)
		print_table(res, set.len, stdout);
	for (size_t i = 0; res && i < set.len; i++)
		assess_result_release(&res[i]);
	free(res);
	fleet_set_release(&set);
	return ok ? 0 : temp ? EXIT_TEMP : EXIT_REFUSED;
}

int assess_main(const struct assess_args *a)
{
	struct config c;
	struct st_error err;
	int rc;

	if (!a->config_path) {
		log_error("--assess needs -c FILE");
		return 64;
	}
	config_init(&c);
	st_error_clear(&err);
	if (http_global_init(&err) != 0) {
		log_error("%s", err.msg);
		return 70;
	}
	rc = config_load_file(a->config_path, &c, &err);
	if (rc) {
		log_error("%s", err.msg);
		rc = EXIT_CONFIG;
	} else {
		rc = run(&c, a);
	}
	config_release(&c);
	http_global_cleanup();
	return rc;
}
