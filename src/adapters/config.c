/* SPDX-License-Identifier: MIT */
#include "semver-tagger/config.h"

#include "semver-tagger/notes.h"
#include "semver-tagger/num.h"
#include "semver-tagger/policy.h"
#include "semver-tagger/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* inih as Debian builds it reads lines of at most 199 bytes and splits
 * longer ones silently; we refuse them first with a clear message. */
#define CONFIG_LINE_MAX 199
#define CONFIG_VALUE_MAX 1024
#define CONFIG_PREFIX_MAX 64

enum key_type { K_STRING, K_REFPART, K_PATH, K_BOOL, K_SECONDS, K_BUILD,
		K_VERSION, K_AUTOBOOL };

struct key {
	const char *name;
	enum key_type type;
	size_t offset;
};

#define KEY(n, t, f) { n, t, offsetof(struct config_project, f) }

static const struct key keys[] = {
	KEY("project", K_STRING, project),
	KEY("api_url", K_STRING, api_url),
	KEY("git_url", K_STRING, git_url),
	KEY("token_file", K_PATH, token_file),
	KEY("token_env", K_STRING, token_env),
	KEY("ca_file", K_PATH, ca_file),
	KEY("ca_dir", K_PATH, ca_dir),
	KEY("build_system", K_BUILD, build),
	KEY("tag_prefix", K_REFPART, tag_prefix),
	KEY("version_file", K_PATH, version_file),
	KEY("label_major", K_STRING, label_major),
	KEY("label_minor", K_STRING, label_minor),
	KEY("label_patch", K_STRING, label_patch),
	KEY("release_prefix", K_REFPART, release_prefix),
	KEY("snapshot_suffix", K_REFPART, snapshot_suffix),
	KEY("default_branch", K_STRING, default_branch),
	KEY("git_name", K_STRING, git_name),
	KEY("git_email", K_STRING, git_email),
	KEY("signing_format", K_STRING, signing_format),
	KEY("signing_key", K_STRING, signing_key),
	KEY("gnupg_home", K_PATH, gnupg_home),
	KEY("base_version", K_VERSION, base),
	KEY("poll_interval", K_SECONDS, poll_interval),
	KEY("connect_timeout", K_SECONDS, connect_timeout),
	KEY("total_timeout", K_SECONDS, total_timeout),
	KEY("notes", K_BOOL, notes),
	KEY("releases", K_BOOL, releases),
	KEY("stable_release", K_BOOL, stable_release),
	KEY("changelog", K_AUTOBOOL, changelog),
	KEY("changelog_file", K_PATH, changelog_file),
	KEY("release_sections", K_STRING, release_sections),
	KEY("release_exclude_labels", K_STRING, release_exclude_labels),
	KEY("released_notes", K_BOOL, released_notes),
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))
/* struct config_project.set has one bit per key */
_Static_assert(N_KEYS <= 64, "more keys than bits in config_project.set");

static size_t field_size(const struct key *k);

const char *build_system_name(enum build_system b)
{
	switch (b) {
	case BUILD_VERSION_FILE: return "version-file";
	case BUILD_MAVEN: return "maven";
	default: return "simple";
	}
}

static char **str_field(struct config_project *p, const struct key *k)
{
	return (char **)(void *)((char *)p + k->offset);
}

void config_project_release(struct config_project *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];

		if (k->type <= K_PATH) {
			free(*str_field(p, k));
			*str_field(p, k) = NULL;
		}
	}
	free(p->name);
	p->name = NULL;
}

int config_project_defaults(struct config_project *p)
{
	memset(p, 0, sizeof(*p));
	p->build = BUILD_SIMPLE;
	p->tag_prefix = strdup("");
	p->version_file = strdup("VERSION");
	p->release_prefix = strdup("release/");
	p->snapshot_suffix = strdup("-SNAPSHOT");
	p->git_name = strdup("semver-tagger");
	p->git_email = strdup("semver-tagger@localhost");
	p->poll_interval = 300;
	p->connect_timeout = 10;
	p->total_timeout = 60;
	p->notes = true;
	p->releases = true;
	p->changelog = -1;
	p->changelog_file = strdup("CHANGELOG.md");
	p->released_notes = true;
	if (!p->changelog_file || !p->tag_prefix || !p->version_file || !p->release_prefix ||
	    !p->snapshot_suffix || !p->git_name || !p->git_email) {
		config_project_release(p);
		return ST_ENOMEM;
	}
	return ST_OK;
}

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Relative, no empty, "." or ".." part, not under .git (the same rule
 * as gitrepo_path_valid, which config must not depend on). */
static bool repo_path_ok(const char *v)
{
	const char *p = v;

	if (!*v || *v == '/')
		return false;
	for (const char *c = v; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\')
			return false;
	while (p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.') ||
		    (n == 4 && strncasecmp(p, ".git", 4) == 0))
			return false;
		p = slash ? slash + 1 : NULL;
	}
	return true;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* A piece of a ref name: no control characters, space, or the characters
 * git forbids in refs, no "..", bounded. */
static bool valid_refpart(const char *v)
{
	if (strlen(v) > CONFIG_PREFIX_MAX || strstr(v, ".."))
		return false;
	for (const char *c = v; *c; c++)
		if ((unsigned char)*c < 0x21 || *c == 0x7f ||
		    strchr("~^:?*[\\", *c))
			return false;
	return true;
}

static int set_string(struct config_project *p, const struct key *k,
		      const char *value, struct st_error *err)
{
	char *copy;

	if (k->type == K_REFPART && !valid_refpart(value))
		return st_error_set(err, ST_ECONFIG,
				    "%s '%s' is not usable in a git ref name "
				    "(at most %d bytes, no spaces, '..' or "
				    "any of ~^:?*[\\)",
				    k->name, value, CONFIG_PREFIX_MAX);
	if (k->type == K_PATH && !*value)
		return st_error_set(err, ST_ECONFIG, "%s is empty", k->name);
	if (strcmp(k->name, "signing_format") == 0 &&
	    strcmp(value, "openpgp") != 0 && strcmp(value, "ssh") != 0)
		return st_error_set(err, ST_ECONFIG, "signing_format '%s' is "
				    "not one of openpgp, ssh", value);
	copy = strdup(value);
	if (!copy)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	free(*str_field(p, k));
	*str_field(p, k) = copy;
	return ST_OK;
}

static int set_build(struct config_project *p, const char *value,
		     struct st_error *err)
{
	if (strcmp(value, "simple") == 0)
		p->build = BUILD_SIMPLE;
	else if (strcmp(value, "version-file") == 0)
		p->build = BUILD_VERSION_FILE;
	else if (strcmp(value, "maven") == 0)
		p->build = BUILD_MAVEN;
	else
		return st_error_set(err, ST_ECONFIG,
				    "build_system '%s' is not one of simple, "
				    "version-file, maven",
				    value);
	return ST_OK;
}

/* "auto" (-1) or a boolean. */
static int set_autobool(const struct key *k, const char *value, int *field,
			struct st_error *err)
{
	bool b;

	if (strcasecmp(value, "auto") == 0) {
		*field = -1;
		return ST_OK;
	}
	if (parse_bool(value, &b) != 0)
		return st_error_set(err, ST_ECONFIG,
				    "%s '%s' is not auto or a boolean (true, "
				    "false, yes, no, on, off, 1, 0)",
				    k->name, value);
	*field = b;
	return ST_OK;
}

/* Keys whose text has a grammar of its own: checked when read, so a
 * mistake names the file and line instead of failing a release. */
static int check_grammar(const struct key *k, const char *value,
			 struct st_error *err)
{
	struct notes_config nc;

	if (strcmp(k->name, "release_sections") == 0)
		return notes_config_parse(value, NULL, &nc, err);
	if (strcmp(k->name, "release_exclude_labels") == 0)
		return notes_config_parse(NULL, value, &nc, err);
	if (strcmp(k->name, "changelog_file") == 0 && !repo_path_ok(value))
		return st_error_set(err, ST_ECONFIG, "changelog_file '%s' is "
				    "not a relative path inside the "
				    "repository (no leading '/', '.' or '..' "
				    "parts, not under .git)", value);
	return ST_OK;
}

static int set_typed(struct config_project *p, const struct key *k,
		     const char *value, struct st_error *err)
{
	void *field = (char *)p + k->offset;
	uint64_t n;

	switch (k->type) {
	case K_BOOL:
		if (parse_bool(value, field) != 0)
			return st_error_set(err, ST_ECONFIG,
					    "%s '%s' is not a boolean (true, "
					    "false, yes, no, on, off, 1, 0)",
					    k->name, value);
		return ST_OK;
	case K_SECONDS:
		if (num_parse_u64_max(value, 86400, &n) != 0 || n == 0)
			return st_error_set(err, ST_ECONFIG,
					    "%s '%s' is not a number of seconds "
					    "from 1 to 86400",
					    k->name, value);
		*(unsigned *)field = (unsigned)n;
		return ST_OK;
	case K_BUILD:
		return set_build(p, value, err);
	case K_AUTOBOOL:
		return set_autobool(k, value, field, err);
	case K_VERSION:
		if (!semver_release_from_tag(value, "", field))
			return st_error_set(err, ST_ECONFIG,
					    "%s '%s' is not a MAJOR.MINOR.PATCH "
					    "version",
					    k->name, value);
		return ST_OK;
	default:
		return set_string(p, k, value, err);
	}
}

int config_project_set(struct config_project *p, const char *key,
		       const char *value, struct st_error *err)
{
	const struct key *k = find_key(key);
	int rc;

	if (!k)
		return st_error_set(err, ST_ENOTFOUND, "unknown key '%s'", key);
	if (strlen(value) > CONFIG_VALUE_MAX)
		return st_error_set(err, ST_ECONFIG,
				    "%s is longer than %d bytes", key,
				    CONFIG_VALUE_MAX);
	rc = check_grammar(k, value, err);
	if (rc == 0)
		rc = set_typed(p, k, value, err);
	if (rc == 0)
		p->set |= UINT64_C(1) << (k - keys);
	return rc;
}

/* Copy one key's value from src to dst (deep for strings). */
static int copy_key(struct config_project *dst,
		    const struct config_project *src, const struct key *k)
{
	size_t size;

	if (k->type <= K_PATH) {
		const char *v = *str_field((struct config_project *)src, k);
		char *copy = v ? strdup(v) : NULL;

		if (v && !copy)
			return ST_ENOMEM;
		free(*str_field(dst, k));
		*str_field(dst, k) = copy;
		return ST_OK;
	}
	size = field_size(k);
	memcpy((char *)dst + k->offset, (const char *)src + k->offset, size);
	return ST_OK;
}

int config_project_inherit(struct config_project *dst,
			   const struct config_project *src)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (!(dst->set & (UINT64_C(1) << i)) &&
		    copy_key(dst, src, &keys[i]))
			return ST_ENOMEM;
	return ST_OK;
}

int config_project_overlay(struct config_project *dst,
			   const struct config_project *src)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!(src->set & (UINT64_C(1) << i)))
			continue;
		if (copy_key(dst, src, &keys[i]))
			return ST_ENOMEM;
		dst->set |= UINT64_C(1) << i;
	}
	return ST_OK;
}

int config_project_copy(struct config_project *dst,
			const struct config_project *src)
{
	memset(dst, 0, sizeof(*dst));
	*dst = *src;
	dst->name = NULL;
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].type <= K_PATH)
			*str_field(dst, &keys[i]) = NULL;
	for (size_t i = 0; i < N_KEYS; i++) {
		if (copy_key(dst, src, &keys[i]) != 0) {
			config_project_release(dst);
			return ST_ENOMEM;
		}
	}
	if (src->name && !(dst->name = strdup(src->name))) {
		config_project_release(dst);
		return ST_ENOMEM;
	}
	return ST_OK;
}

static size_t field_size(const struct key *k)
{
	return k->type == K_BOOL ? sizeof(bool)
	       : k->type == K_VERSION ? sizeof(struct semver_ver)
	       : k->type == K_BUILD ? sizeof(enum build_system)
				     : sizeof(unsigned);
}

size_t config_key_count(void)
{
	return N_KEYS;
}

int config_project_field(const struct config_project *p, size_t i,
			 struct config_field *out)
{
	const struct key *k;

	if (i >= N_KEYS)
		return ST_ENOTFOUND;
	k = &keys[i];
	out->name = k->name;
	out->is_string = k->type <= K_PATH;
	if (out->is_string) {
		out->text = *str_field((struct config_project *)p, k);
		out->data = NULL;
		out->size = 0;
	} else {
		out->text = NULL;
		out->data = (const char *)p + k->offset;
		out->size = field_size(k);
	}
	return ST_OK;
}

int config_project_field_set(struct config_project *p, size_t i,
			     const struct config_field *f)
{
	const struct key *k;
	char *copy = NULL;

	if (i >= N_KEYS || f->is_string != (keys[i].type <= K_PATH))
		return ST_EINVAL;
	k = &keys[i];
	if (!f->is_string) {
		if (f->size != field_size(k))
			return ST_EINVAL;
		if (k->type == K_BOOL)
			*(bool *)(void *)((char *)p + k->offset) =
				*(const unsigned char *)f->data != 0;
		else if (k->type == K_BUILD) {
			enum build_system b;

			memcpy(&b, f->data, sizeof(b));
			if (b != BUILD_SIMPLE && b != BUILD_VERSION_FILE &&
			    b != BUILD_MAVEN)
				return ST_EINVAL;
			p->build = b;
		} else
			memcpy((char *)p + k->offset, f->data, f->size);
		return ST_OK;
	}
	if (f->text && !(copy = strdup(f->text)))
		return ST_ENOMEM;
	free(*str_field(p, k));
	*str_field(p, k) = copy;
	return ST_OK;
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->log_level = -1;
	c->discovery_interval = CONFIG_DISCOVERY_INTERVAL_DEFAULT;
	c->reconcile_interval = CONFIG_RECONCILE_INTERVAL_DEFAULT;
}

void config_release(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_projects; i++)
		config_project_release(&c->projects[i]);
	free(c->projects);
	for (size_t i = 0; i < c->n_groups; i++) {
		config_project_release(&c->groups[i].settings);
		free(c->groups[i].path);
		free(c->groups[i].topic);
	}
	free(c->groups);
	config_project_release(&c->global);
	free(c->path);
	free(c->state_dir);
	free(c->listen);
	free(c->webhook_secret_file);
	free(c->status_token_file);
	config_init(c);
}

/* ---- INI files ---------------------------------------------------------- */

/*
 * We split the file at its section headers ourselves and hand inih one
 * section body at a time: inih as Debian builds it truncates section names
 * at 49 bytes (too short for "group/subgroup/project" paths) and skips
 * sections that have no keys. inih still parses keys, values, comments and
 * continuation lines.
 */
/* The [project] names seen so far, for "given twice" (open addressing:
 * index + 1 into c->projects, 0 empty; at most half full). A linear
 * scan made 10,000 sections cost 50 million comparisons. */
struct name_set {
	size_t *slot;
	size_t cap;
};

struct ini_ctx {
	struct config *c;
	struct name_set names;
	struct config_project *target; /* NULL before the first section */
	struct config_group *group;    /* the [group] being read, else NULL */
	bool is_global;
	bool repo;                     /* a repository settings file */
	char errmsg[ST_ERROR_MSG_MAX];
	int errcode;
};

static int set_log_level(struct config *c, const char *value,
			 struct st_error *err)
{
	static const char *const names[] = { "error", "warning", "notice",
					     "info", "debug" };

	for (int i = 0; i < 5; i++) {
		if (strcmp(value, names[i]) == 0) {
			c->log_level = 3 + i; /* enum log_level values */
			return ST_OK;
		}
	}
	return st_error_set(err, ST_ECONFIG,
			    "log_level '%s' is not one of error, warning, "
			    "notice, info, debug",
			    value);
}

/* discovery_interval (10 s to a day), reconcile_interval (1 min to 30
 * days): [global] only, they pace the whole service. */
static int set_interval(unsigned *field, const char *key, const char *value,
			uint64_t min, uint64_t max, struct st_error *err)
{
	uint64_t n;

	if (num_parse_u64_max(value, max, &n) != 0 || n < min)
		return st_error_set(err, ST_ECONFIG,
				    "%s '%s' is not a number of seconds from "
				    "%llu to %llu",
				    key, value, (unsigned long long)min,
				    (unsigned long long)max);
	*field = (unsigned)n;
	return ST_OK;
}

static int set_global_only(struct config *c, const char *key,
			   const char *value, struct st_error *err)
{
	char **field = NULL;

	if (strcmp(key, "log_level") == 0)
		return set_log_level(c, value, err);
	if (strcmp(key, "discovery_interval") == 0)
		return set_interval(&c->discovery_interval, key, value, 10,
				    86400, err);
	if (strcmp(key, "reconcile_interval") == 0)
		return set_interval(&c->reconcile_interval, key, value, 60,
				    30 * 86400, err);
	if (strcmp(key, "state_dir") == 0)
		field = &c->state_dir;
	else if (strcmp(key, "listen") == 0)
		field = &c->listen;
	else if (strcmp(key, "webhook_secret_file") == 0)
		field = &c->webhook_secret_file;
	else if (strcmp(key, "status_token_file") == 0)
		field = &c->status_token_file;
	if (!field)
		return ST_ENOTFOUND;
	if (*field)
		return st_error_set(err, ST_ECONFIG, "key '%s' given twice", key);
	*field = strdup(value);
	return *field ? ST_OK : st_error_set(err, ST_ENOMEM, "out of memory");
}

static int set_project_key(struct config_project *p, const char *key,
			   const char *value, struct st_error *err)
{
	const struct key *k = find_key(key);

	if (k && (p->set & (UINT64_C(1) << (k - keys))))
		return st_error_set(err, ST_ECONFIG,
				    "key '%s' given twice (an indented line "
				    "continues the previous value)",
				    key);
	return config_project_set(p, key, value, err);
}

static int set_topic(struct config_group *g, const char *value,
		     struct st_error *err)
{
	if (g->topic)
		return st_error_set(err, ST_ECONFIG, "key 'topic' given twice");
	if (!*value || strlen(value) > 255 || strchr(value, ','))
		return st_error_set(err, ST_ECONFIG,
				    "topic '%s' is not a topic name (1 to 255 "
				    "bytes, no comma)",
				    value);
	g->topic = strdup(value);
	return g->topic ? ST_OK : st_error_set(err, ST_ENOMEM, "out of memory");
}

static int on_ini_key(void *user, const char *section, const char *key,
		       const char *value)
{
	struct ini_ctx *ctx = user;
	struct st_error e;
	int rc = ST_ENOTFOUND;

	(void)section; /* always "": we feed inih one section body at a time */
	st_error_clear(&e);
	if (ctx->repo && !config_key_repo_allowed(key))
		rc = st_error_set(&e, ST_ECONFIG,
				  "key '%s' is not allowed in a repository "
				  "file (only release keys are: it could send "
				  "the token elsewhere or change who is "
				  "trusted); set it in the daemon's "
				  "configuration",
				  key);
	else if (ctx->group && strcmp(key, "topic") == 0)
		rc = set_topic(ctx->group, value, &e);
	else if (ctx->group && strcmp(key, "project") == 0)
		rc = st_error_set(&e, ST_ECONFIG,
				  "key 'project' names one project: use a "
				  "[project] section, not a [group]");
	else if (!ctx->target)
		rc = st_error_set(&e, ST_ECONFIG,
				  "key '%s' outside a section: put it under "
				  "[global] or [project \"group/name\"]",
				  key);
	else if (ctx->is_global)
		rc = set_global_only(ctx->c, key, value, &e);
	if (rc == ST_ENOTFOUND && ctx->target)
		rc = set_project_key(ctx->target, key, value, &e);
	if (rc == 0)
		return 1;
	if (ctx->errcode == 0) {
		ctx->errcode = rc == ST_ENOTFOUND ? ST_ECONFIG : rc;
		if (rc == ST_ENOTFOUND)
			snprintf(ctx->errmsg, sizeof(ctx->errmsg),
				 "unknown key '%s'", key);
		else
			snprintf(ctx->errmsg, sizeof(ctx->errmsg), "%s", e.msg);
	}
	return 0;
}

static size_t trim(const char **s, size_t n)
{
	while (n && isspace((unsigned char)**s)) {
		(*s)++;
		n--;
	}
	while (n && isspace((unsigned char)(*s)[n - 1]))
		n--;
	return n;
}

/* A group path as GitLab spells one: segments of [A-Za-z0-9_.-], not
 * starting with '-' or '.', separated by single '/'. */
static bool valid_group_path(const char *s, size_t n)
{
	bool start = true;

	if (n == 0 || n > 255 || s[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '/') {
			if (start)
				return false;
			start = true;
			continue;
		}
		if (!isalnum((unsigned char)ch) && !strchr("_.-", ch))
			return false;
		if (start && (ch == '-' || ch == '.'))
			return false;
		start = false;
	}
	return true;
}

/* A header line "[group \"platform/backend\"]". */
static int open_group(struct ini_ctx *ctx, const char *line, size_t n)
{
	struct config *c = ctx->c;
	struct config_group *grown, *g;
	const char *name = line + 8;
	size_t nn = n - 10;

	if (memcmp(line + n - 2, "\"]", 2) != 0 || !valid_group_path(name, nn))
		return ST_EINVAL;
	for (size_t i = 0; i < c->n_groups; i++)
		if (strlen(c->groups[i].path) == nn &&
		    memcmp(c->groups[i].path, name, nn) == 0)
			return ST_ECONFLICT;
	if (c->n_groups >= CONFIG_GROUPS_MAX)
		return ST_ETOOBIG;
	grown = realloc(c->groups, (c->n_groups + 1) * sizeof(*grown));
	if (!grown)
		return ST_ENOMEM;
	c->groups = grown;
	g = &c->groups[c->n_groups];
	memset(g, 0, sizeof(*g));
	g->path = strndup(name, nn);
	g->settings.name = strndup(name, nn);
	if (!g->path || !g->settings.name) {
		free(g->path);
		free(g->settings.name);
		return ST_ENOMEM;
	}
	c->n_groups++;
	ctx->target = &g->settings;
	ctx->group = g;
	ctx->is_global = false;
	return ST_OK;
}

static size_t name_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return (size_t)(h ^ (h >> 29));
}

/* The slot of name: the one holding it, or the empty one it goes in. */
static size_t *name_slot(const struct name_set *ns,
			 const struct config *c, const char *name, size_t nn)
{
	size_t i = name_hash(name, nn) & (ns->cap - 1);

	for (;; i = (i + 1) & (ns->cap - 1)) {
		const char *x;

		if (!ns->slot[i])
			return &ns->slot[i];
		x = c->projects[ns->slot[i] - 1].name;
		if (strncmp(x, name, nn) == 0 && x[nn] == '\0')
			return &ns->slot[i];
	}
}

/* Room for one more name (cap a power of two, at most half full). */
static int names_reserve(struct name_set *ns, const struct config *c)
{
	struct name_set bigger;

	if (ns->cap && (c->n_projects + 1) * 2 <= ns->cap)
		return ST_OK;
	bigger.cap = ns->cap ? ns->cap * 2 : 64;
	if (!(bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot))))
		return ST_ENOMEM;
	for (size_t i = 0; i < c->n_projects; i++) {
		const char *x = c->projects[i].name;

		*name_slot(&bigger, c, x, strlen(x)) = i + 1;
	}
	free(ns->slot);
	*ns = bigger;
	return ST_OK;
}

/* A header line "[global]" or "[project \"g/p\"]": set ctx->target. */
static int open_section(struct ini_ctx *ctx, const char *line, size_t n)
{
	struct config *c = ctx->c;
	struct config_project *grown, *p;
	const char *name;
	size_t nn, *slot;

	ctx->group = NULL;
	if (n == 8 && memcmp(line, "[global]", 8) == 0) {
		ctx->target = &c->global;
		ctx->is_global = true;
		return ST_OK;
	}
	if (n > 9 && memcmp(line, "[group \"", 8) == 0)
		return open_group(ctx, line, n);
	if (n < 13 || memcmp(line, "[project \"", 10) != 0 ||
	    memcmp(line + n - 2, "\"]", 2) != 0)
		return ST_EINVAL;
	name = line + 10;
	nn = n - 12;
	if (memchr(name, '"', nn))
		return ST_EINVAL;
	if (names_reserve(&ctx->names, c) != 0)
		return ST_ENOMEM;
	slot = name_slot(&ctx->names, c, name, nn);
	if (*slot)
		return ST_ECONFLICT;
	if (c->n_projects >= CONFIG_PROJECTS_MAX)
		return ST_ETOOBIG;
	/* doubling: a realloc per section copies the array each time with
	 * allocators that do not remap (ASan's: 13 GB at 10,000 sections) */
	if (c->n_projects == c->cap_projects) {
		size_t cap = c->cap_projects ? c->cap_projects * 2 : 16;

		if (!(grown = realloc(c->projects, cap * sizeof(*grown))))
			return ST_ENOMEM;
		c->projects = grown;
		c->cap_projects = cap;
	}
	p = &c->projects[c->n_projects];
	memset(p, 0, sizeof(*p));
	if (!(p->name = strndup(name, nn)))
		return ST_ENOMEM;
	c->n_projects++;
	*slot = c->n_projects;
	ctx->target = p;
	ctx->is_global = false;
	return ST_OK;
}

static int section_error(const char *name, size_t lineno, int rc,
			 const char *line, size_t n, struct st_error *err)
{
	const char *why = rc == ST_ECONFLICT ? "given twice"
			  : rc == ST_ETOOBIG ? "is one section too many"
			  : rc == ST_ENOMEM ? "ran out of memory"
					    : "is unknown: use [global], "
					      "[project \"group/name\"] or "
					      "[group \"group/subgroup\"]";

	return st_error_set(err, rc == ST_ENOMEM ? ST_ENOMEM : ST_ECONFIG,
			    "%s:%zu: section %.*s %s", name, lineno, (int)n,
			    line, why);
}

/* Hand one section body (lines [from, to)) to inih. */
static int parse_body(struct ini_ctx *ctx, const char *name, const char *text,
		      size_t from, size_t to, size_t first_line,
		      struct st_error *err)
{
	char *body = strndup(text + from, to - from);
	int line;

	if (!body)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	line = ini_parse_string(body, on_ini_key, ctx);
	free(body);
	if (line == 0)
		return ST_OK;
	return st_error_set(err, ctx->errcode ? ctx->errcode : ST_ECONFIG,
			    "%s:%zu: %s", name, first_line + (size_t)line - 1,
			    ctx->errcode ? ctx->errmsg
					 : "syntax error (expected key = value)");
}

static int parse_sections(struct ini_ctx *ctx, const char *name,
			  const char *text, size_t len, struct st_error *err)
{
	size_t lineno = 0, body = 0, body_line = 1;

	for (size_t off = 0; off < len;) {
		const char *line = text + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t n = nl ? (size_t)(nl - line) : len - off, tn;
		int rc;

		lineno++;
		if (n > CONFIG_LINE_MAX)
			return st_error_set(err, ST_ECONFIG,
					    "%s:%zu: line longer than %d bytes",
					    name, lineno, CONFIG_LINE_MAX);
		tn = trim(&line, n);
		if (tn > 0 && line[0] == '[' && ctx->repo)
			return st_error_set(err, ST_ECONFIG,
					    "%s:%zu: sections are not used in "
					    "a repository file: write "
					    "key = value lines",
					    name, lineno);
		if (tn > 0 && line[0] == '[') {
			rc = parse_body(ctx, name, text, body, off, body_line,
					err);
			if (rc)
				return rc;
			rc = open_section(ctx, line, tn);
			if (rc)
				return section_error(name, lineno, rc, line, tn,
						     err);
			body = off + n + (nl ? 1 : 0);
			body_line = lineno + 1;
		}
		off += n + (nl ? 1 : 0);
	}
	return parse_body(ctx, name, text, body, len, body_line, err);
}

/* Projects take [global]'s settings for the keys they do not set; the API
 * project defaults to the name in the section header. */
static int finish_projects(struct config *c, struct st_error *err)
{
	for (size_t i = 0; i < c->n_projects; i++) {
		struct config_project *p = &c->projects[i];

		if (config_project_inherit(p, &c->global) != 0 ||
		    (!p->project && !(p->project = strdup(p->name))))
			return st_error_set(err, ST_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < c->n_groups; i++)
		if (config_project_inherit(&c->groups[i].settings,
					   &c->global) != 0)
			return st_error_set(err, ST_ENOMEM, "out of memory");
	return ST_OK;
}

int config_load_string(const char *name, const char *text, size_t len,
		       struct config *c, struct st_error *err)
{
	struct ini_ctx ctx = { .c = c };
	int rc;

	if (memchr(text, '\0', len))
		return st_error_set(err, ST_ECONFIG, "%s: contains a NUL byte",
				    name);
	if (len > CONFIG_FILE_MAX)
		return st_error_set(err, ST_ECONFIG, "%s: larger than %d bytes",
				    name, CONFIG_FILE_MAX);
	if (!c->global.release_prefix &&
	    config_project_defaults(&c->global) != 0)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	rc = parse_sections(&ctx, name, text, len, err);
	free(ctx.names.slot);
	return rc ? rc : finish_projects(c, err);
}

int config_load_file(const char *path, struct config *c, struct st_error *err)
{
	struct strbuf sb;
	char chunk[8192];
	FILE *f = fopen(path, "r");
	size_t n;
	int rc = 0;

	if (!f)
		return st_error_set(err, ST_ECONFIG, "%s: %s", path,
				    strerror(errno));
	strbuf_init(&sb, CONFIG_FILE_MAX);
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = strbuf_add(&sb, chunk, n);
	if (rc == 0 && ferror(f))
		rc = st_error_set(err, ST_ECONFIG, "%s: read error", path);
	fclose(f);
	if (rc == ST_ETOOBIG)
		rc = st_error_set(err, ST_ECONFIG, "%s: larger than %d bytes",
				  path, CONFIG_FILE_MAX);
	else if (rc == ST_ENOMEM)
		rc = st_error_set(err, ST_ENOMEM, "%s: out of memory", path);
	if (rc == 0) {
		free(c->path);
		c->path = strdup(path);
		rc = config_load_string(path, strbuf_str(&sb), sb.len, c, err);
	}
	strbuf_release(&sb);
	return rc;
}

/* ---- repository settings file ------------------------------------------ */

/* Release keys by name; anything naming a secret, a place or an identity
 * is refused even when it starts like a release key. */
bool config_key_repo_allowed(const char *key)
{
	static const char *const exact[] = {
		"build_system", "version_file", "tag_prefix", "release_prefix",
		"snapshot_suffix", "base_version", "notes", "releases",
	};
	static const char *const prefixes[] = { "label_", "changelog",
						"notes_", "release_",
						"released_" };
	static const char *const never[] = {
		"url", "token", "secret", "pass", "sign", "key", "cert", "ca_",
		"_dir", "_env", "state", "cred", "git_", "listen", "hook",
	};

	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (strstr(key, never[i]))
			return false;
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strcmp(key, exact[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

int config_repo_parse(const char *name, const char *text, size_t len,
		      struct config_project *out, struct st_error *err)
{
	struct config scratch;
	struct ini_ctx ctx = { .c = &scratch, .target = out, .repo = true };
	int rc;

	memset(out, 0, sizeof(*out));
	config_init(&scratch);
	if (len > CONFIG_REPO_FILE_MAX)
		return st_error_set(err, ST_ECONFIG, "%s: larger than %d bytes",
				    name, CONFIG_REPO_FILE_MAX);
	if (memchr(text, '\0', len))
		return st_error_set(err, ST_ECONFIG, "%s: contains a NUL byte",
				    name);
	rc = parse_sections(&ctx, name, text, len, err);
	free(ctx.names.slot); /* sections are refused here: never used */
	config_release(&scratch);
	if (rc)
		config_project_release(out);
	return rc;
}

/* ---- environment --------------------------------------------------------- */

const char *config_getenv(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static int apply_ci(struct config_project *p, char *const *env,
		    struct st_error *err)
{
	const char *v;
	int rc = 0;

	if (!(p->set & (UINT64_C(1) << (find_key("api_url") - keys))) &&
	    (v = config_getenv(env, "CI_API_V4_URL")))
		rc = config_project_set(p, "api_url", v, err);
	if (rc == 0 && !(p->set & (UINT64_C(1) << (find_key("project") - keys)))) {
		v = config_getenv(env, "CI_PROJECT_ID");
		if (!v || !*v)
			v = config_getenv(env, "CI_PROJECT_PATH");
		if (v && *v)
			rc = config_project_set(p, "project", v, err);
	}
	/* GitLab CI names the default branch (the same the API gives); an
	 * explicit default_branch setting wins. */
	if (rc == 0 && !p->default_branch &&
	    (v = config_getenv(env, "CI_DEFAULT_BRANCH")) && *v)
		rc = config_project_set(p, "default_branch", v, err);
	if (rc == 0 && (v = config_getenv(env, "STABLE_RELEASE")))
		p->stable_release = p->stable_release || policy_truthy(v);
	return rc;
}

int config_apply_env(struct config_project *p, char *const *env,
		     struct st_error *err)
{
	char var[64];

	for (size_t i = 0; i < N_KEYS; i++) {
		const char *v;
		size_t j;
		int rc;

		j = (size_t)snprintf(var, sizeof(var), "SEMVER_TAGGER_");
		for (const char *s = keys[i].name; *s && j + 1 < sizeof(var); s++)
			var[j++] = (char)toupper((unsigned char)*s);
		var[j] = '\0';
		v = config_getenv(env, var);
		if (!v)
			continue;
		rc = config_project_set(p, keys[i].name, v, err);
		if (rc) {
			st_error_prefix(err, "environment variable %s", var);
			return rc;
		}
	}
	return apply_ci(p, env, err);
}
