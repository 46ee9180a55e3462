/* SPDX-License-Identifier: MIT */
/*
 * Configuration generations (daemon_internal.h): the file read and
 * validated, every project's settings resolved once (engine.h: the
 * section -> GitLab project mapping, the state folder, the token), the
 * webhook secret. A generation is shared by reference; a reload builds a
 * new one and swaps it, running turns keep theirs.
 */
#include "daemon_internal.h"

#include "statusboard.h"

#include "semver-tagger/labels.h"
#include "semver-tagger/log.h"
#include "semver-tagger/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void gen_free(struct gen *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++) {
		engine_settings_release(&g->p[i].s);
		free(g->p[i].quick);
	}
	free(g->p);
	fleet_set_release(&g->fleet);
	secret_release(&g->webhook_secret);
	secret_release(&g->status_token);
	free(g->state_dir);
	config_release(&g->cfg);
	free(g);
}

void gen_ref(struct gen *g)
{
	atomic_fetch_add(&g->refs, 1);
}

void gen_unref(struct gen *g)
{
	if (g && atomic_fetch_sub(&g->refs, 1) == 1)
		gen_free(g);
}

struct gen *gen_get(struct daemon *d)
{
	struct gen *g;

	pthread_mutex_lock(&d->lock);
	g = d->gen;
	gen_ref(g);
	pthread_mutex_unlock(&d->lock);
	return g;
}

static int read_text(const char *path, struct strbuf *sb, struct st_error *err)
{
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int rc = 0;

	if (fd < 0)
		return st_error_set(err, ST_ECONFIG, "%s: %s", path,
				    strerror(errno));
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = st_error_set(err, ST_ECONFIG, "%s: %s", path,
					  strerror(errno));
			break;
		}
		if (r == 0)
			break;
		if (strbuf_add(sb, chunk, (size_t)r) != 0) {
			rc = st_error_set(err, ST_ECONFIG, "%s: larger than "
					  "%d bytes", path, CONFIG_FILE_MAX);
			break;
		}
	}
	close(fd);
	return rc;
}

static int mkdir_p(const char *path, struct st_error *err)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return st_error_set(err, ST_ECONFIG, "state directory '%s' is "
				    "empty or too long", path);
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return st_error_set(err, ST_EIO, "state directory %s: "
					    "%s", buf, strerror(errno));
		buf[i] = i == n ? '\0' : '/';
	}
	if (access(path, W_OK | X_OK) != 0)
		return st_error_set(err, ST_EIO, "state directory %s: %s",
				    path, strerror(errno));
	return ST_OK;
}

static char *state_dir_for(const struct daemon *d, const struct config *c)
{
	const char *sd;
	char buf[4096];

	if (d->a->state_dir)
		return strdup(d->a->state_dir);
	if (c->state_dir)
		return strdup(c->state_dir);
	/* systemd's StateDirectory= (a colon-separated list) */
	sd = config_getenv(d->env, "STATE_DIRECTORY");
	if (sd && *sd) {
		size_t n = strcspn(sd, ":");

		if (n < sizeof(buf)) {
			memcpy(buf, sd, n);
			buf[n] = '\0';
			return strdup(buf);
		}
	}
	return strdup(DAEMON_STATE_DEFAULT);
}

static int load_webhook_secret(const struct config *c, struct secret *s,
			       struct st_error *err)
{
	int rc = secret_from_credentials(s, "webhook-secret", err);

	if (rc == ST_ENOTFOUND && c->webhook_secret_file) {
		st_error_clear(err);
		rc = secret_read_file(s, c->webhook_secret_file, err);
	} else if (rc == ST_ENOTFOUND) {
		st_error_clear(err);
		rc = st_error_set(err, ST_ECONFIG, "the webhook listener needs "
				  "a secret: set webhook_secret_file, or give "
				  "the webhook-secret credential "
				  "(LoadCredential=)");
	}
	return rc;
}

/* Settings, labels and token of one section, resolved once. */
static int resolve_project(struct project_rt *rt, const char *state_dir,
			   struct st_error *err)
{
	const struct config_project *p = rt->section;
	struct engine_token_from from = { false, NULL };
	struct labels *l;
	int rc;

	if (!p->api_url)
		return st_error_set(err, ST_ECONFIG, "no api_url (e.g. "
				    "https://gitlab.example.com/api/v4)");
	l = labels_new(p->label_major, p->label_minor, p->label_patch, err);
	if (!l)
		return err->code ? err->code : ST_ECONFIG;
	labels_free(l);
	rc = engine_settings_from_section(&rt->s, p, state_dir, err);
	if (rc == 0)
		rc = engine_token_load(p, &from, &rt->s.token,
				       &rt->s.token_kind, err);
	rt->s.debug = log_threshold() >= LOG_LEVEL_DEBUG;
	rt->aff.hash = worker_hash(rt->s.state_dir);
	rt->aff.last = -1;
	return rc;
}

/* The [project] sections and the projects discovered in each [group]
 * (fleet.h); a group that cannot be listed is in g->disc, logged by the
 * caller. Projects a group poller watches are reconciled in full every
 * reconcile_interval (the safety net), not every poll_interval. */
static int gen_projects(struct gen *g, const char *path, struct st_error *err)
{
	int rc = fleet_discover(&g->cfg, NULL, NULL, &g->fleet, &g->disc, err);

	if (rc)
		return rc;
	if (!(g->p = calloc(g->fleet.len ? g->fleet.len : 1, sizeof(*g->p))))
		return st_error_set(err, ST_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < g->fleet.len; i++) {
		struct project_rt *rt = &g->p[i];

		rt->gen = g;
		rt->section = &g->fleet.items[i].cfg;
		rt->fleet_id = g->fleet.items[i].id;
		rt->group = g->fleet.items[i].group;
		engine_settings_init(&rt->s);
		g->n = i + 1;
		rc = resolve_project(rt, g->state_dir, err);
		if (rc)
			st_error_prefix(err, "%s: [%s \"%s\"]", path,
					rt->group ? "group" : "project",
					rt->group ? rt->group
						  : rt->section->name);
		if (rc == 0 && rt->group)
			rt->s.cfg.poll_interval = g->cfg.reconcile_interval;
	}
	/* the resolved settings are the copy in use: the parsed sections'
	 * texts go (10,000 projects: ~10 MB less). Not with a [group]: its
	 * re-discoveries read the [project] sections again, and the fleet's
	 * items are not one-to-one with cfg.projects. */
	for (size_t i = 0; rc == 0 && g->cfg.n_groups == 0 &&
			   i < g->n && i < g->cfg.n_projects; i++)
		config_project_release(&g->cfg.projects[i]);
	/* nor is the fleet's combined copy used after this (a re-discovery
	 * is a new generation; rt->group points into g->cfg): another
	 * ~2 KB per project */
	for (size_t i = 0; rc == 0 && i < g->n; i++)
		g->p[i].section = NULL;
	if (rc == 0)
		fleet_set_release(&g->fleet);
	return rc;
}

int gen_load(struct daemon *d, struct gen **out, struct st_error *err)
{
	const char *path = d->a->config_path ? d->a->config_path
					     : DAEMON_CONFIG_DEFAULT;
	struct gen *g = calloc(1, sizeof(*g));
	struct strbuf text;
	int rc;

	if (!g)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	atomic_init(&g->refs, 1);
	g->seq = ++d->gen_seq;
	config_init(&g->cfg);
	secret_init(&g->webhook_secret);
	secret_init(&g->status_token);
	g->loaded_unix = (int64_t)time(NULL);
	strbuf_init(&text, CONFIG_FILE_MAX);
	rc = read_text(path, &text, err);
	if (rc == 0)
		rc = config_load_string(path, strbuf_str(&text), text.len,
					&g->cfg, err);
	strbuf_release(&text);
	if (rc == 0 && g->cfg.n_projects == 0 && g->cfg.n_groups == 0)
		rc = st_error_set(err, ST_ECONFIG, "%s: no [project \"...\"] "
				  "or [group \"...\"] section: nothing to "
				  "release", path);
	if (rc == 0 && !(g->cfg.path = strdup(path)))
		rc = st_error_set(err, ST_ENOMEM, "out of memory");
	if (rc == 0 && !(g->state_dir = state_dir_for(d, &g->cfg)))
		rc = st_error_set(err, ST_ENOMEM, "out of memory");
	if (rc == 0)
		rc = mkdir_p(g->state_dir, err);
	if (rc == 0 && (g->cfg.listen || d->listen_fds > 0))
		rc = load_webhook_secret(&g->cfg, &g->webhook_secret, err);
	if (rc == 0 && (g->cfg.listen || d->listen_fds > 0))
		rc = statusboard_read_token(&g->cfg, &g->status_token, err);
	if (rc == 0)
		rc = gen_projects(g, path, err);
	if (rc) {
		gen_free(g);
		return rc;
	}
	*out = g;
	return ST_OK;
}

size_t gen_register_secrets(const struct gen *g)
{
	size_t lost = 0;

	/* Tokens rotated away by a reload leave the table: the redaction
	 * table holds what is current, not every token ever loaded. */
	log_clear_secrets();
	if (g->webhook_secret.value && log_add_secret(g->webhook_secret.value))
		lost++;
	if (g->status_token.value && log_add_secret(g->status_token.value))
		lost++;
	for (size_t i = 0; i < g->n; i++)
		if (log_add_secret(g->p[i].s.token.value) != 0)
			lost++;
	return lost;
}

void gen_carry_said(struct gen *g, const struct gen *old)
{
	for (size_t i = 0; old && i < g->n; i++)
		for (size_t k = 0; k < old->n; k++)
			if (strcmp(g->p[i].s.section, old->p[k].s.section) == 0) {
				atomic_store(&g->p[i].said.blocked_fp,
					     atomic_load(&old->p[k].said.blocked_fp));
				atomic_store(&g->p[i].said.warned_fp,
					     atomic_load(&old->p[k].said.warned_fp));
				break;
			}
}
