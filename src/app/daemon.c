/* SPDX-License-Identifier: MIT */
/*
 * The daemon: configuration generations, the scheduler's run hook (one
 * child process per reconciliation or MR check, see cycle.h), the webhook
 * handlers, systemd notification and the signal loop.
 *
 * Threads: the main thread (signals, reload, watchdog), the listener's
 * thread (libmicrohttpd: decode, decide, enqueue; never blocks) and the
 * scheduler's workers (wait for children, set commit statuses). Signal
 * handlers only set flags; the main thread sleeps in ppoll() with the
 * signals unblocked only there.
 */
#include "daemon.h"

#include "cycle.h"
#include "metrics.h"
#include "output.h"
#include "config.h"
#include "scheduler.h"
#include "sdnotify.h"
#include "statusboard.h"
#include "semver-tagger/config.h"
#include "semver-tagger/error.h"
#include "semver-tagger/forge.h"
#include "semver-tagger/gitlab.h"
#include "semver-tagger/http.h"
#include "semver-tagger/labels.h"
#include "semver-tagger/log.h"
#include "semver-tagger/num.h"
#include "semver-tagger/secret.h"
#include "semver-tagger/strbuf.h"
#include "semver-tagger/webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CYCLE_DEADLINE_S 3600 /* a reconciliation, first clone included */
#define CHECK_DEADLINE_S 600
#define STOP_GRACE_S 5        /* SIGTERM: time for a cycle to finish */
#define STATUS_DESC_MAX 255   /* GitLab's commit status description */
#define NO_LABEL_DESC "no impact label: add ImpactMajor, ImpactMinor or " \
		      "ImpactPatch"

/* The only mutable globals: set by signal handlers, read by the loop. */
static volatile sig_atomic_t got_term, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

struct gen;

/* A project of one configuration generation. */
struct project_rt {
	struct gen *gen;
	struct config_project *cfg;
	struct secret token;
	/* Touched only by the worker running the project's turn. */
	uint64_t logged_fp; /* problems last logged, to log changes only */
};

/* One loaded configuration, shared by reference (reload swaps it). */
struct gen {
	atomic_int refs;
	struct config cfg;
	int config_fd;        /* the validated text, for the children */
	char *state_dir;
	struct secret webhook_secret;
	struct secret status_token; /* NULL value: the read pages are open */
	struct project_rt *p;
	size_t n;
	int64_t loaded_unix;
};

struct daemon {
	const struct daemon_args *a;
	char **env;
	pthread_mutex_t lock;  /* gen, reload counters */
	struct gen *gen;
	struct scheduler *sched;
	struct statusboard *board; /* what the status page shows */
	struct webhook_server *server;
	struct sdnotify notify;
	int listen_fds;        /* from systemd socket activation */
	char exe[64];
	int stop_pipe[2];
	atomic_int stopping; /* read by the listener and the workers */
	int64_t start_unix;
	uint64_t reloads_ok, reloads_failed;
	struct scheduler_options so;
};

/* One queued MR check (from a webhook). */
struct mr_check {
	int64_t iid;
	char *target, *source, *sha, *title, *url;
	char **labels;
	size_t n_labels;
};

/* ---- generations --------------------------------------------------------- */

static void gen_free(struct gen *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		secret_release(&g->p[i].token);
	free(g->p);
	secret_release(&g->webhook_secret);
	secret_release(&g->status_token);
	if (g->config_fd >= 0)
		close(g->config_fd);
	free(g->state_dir);
	config_release(&g->cfg);
	free(g);
}

static void gen_ref(struct gen *g)
{
	atomic_fetch_add(&g->refs, 1);
}

static void gen_unref(struct gen *g)
{
	if (g && atomic_fetch_sub(&g->refs, 1) == 1)
		gen_free(g);
}

static void rt_ref(void *data)
{
	gen_ref(((struct project_rt *)data)->gen);
}

static void rt_unref(void *data)
{
	gen_unref(((struct project_rt *)data)->gen);
}

static struct gen *gen_get(struct daemon *d)
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

/* The project's token: token_file, token_env, else the gitlab-token
 * credential (LoadCredential=). */
static int load_token(const struct config_project *p, struct secret *s,
		      struct st_error *err)
{
	int rc;

	if (p->token_file)
		rc = secret_read_file(s, p->token_file, err);
	else if (p->token_env)
		rc = secret_from_env(s, p->token_env, false, err);
	else
		rc = secret_from_credentials(s, "gitlab-token", err);
	if (rc == ST_ENOTFOUND && !p->token_file && !p->token_env) {
		st_error_clear(err);
		rc = st_error_set(err, ST_EAUTH, "no API token: set "
				  "token_file or token_env, or give the "
				  "gitlab-token credential (LoadCredential=)");
	}
	if (rc == 0)
		log_add_secret(s->value);
	return rc;
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
	if (rc == 0)
		log_add_secret(s->value);
	return rc;
}

static int check_project(struct project_rt *rt, struct st_error *err)
{
	const struct config_project *p = rt->cfg;
	struct labels *l;

	if (!p->api_url)
		return st_error_set(err, ST_ECONFIG, "no api_url (e.g. "
				    "https://gitlab.example.com/api/v4)");
	l = labels_new(p->label_major, p->label_minor, p->label_patch, err);
	if (!l)
		return err->code ? err->code : ST_ECONFIG;
	labels_free(l);
	return load_token(p, &rt->token, err);
}

static int gen_load(struct daemon *d, struct gen **out, struct st_error *err)
{
	const char *path = d->a->config_path ? d->a->config_path
					     : DAEMON_CONFIG_DEFAULT;
	struct gen *g = calloc(1, sizeof(*g));
	struct strbuf text;
	int rc;

	if (!g)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	atomic_init(&g->refs, 1);
	g->config_fd = -1;
	config_init(&g->cfg);
	secret_init(&g->webhook_secret);
	secret_init(&g->status_token);
	g->loaded_unix = (int64_t)time(NULL);
	strbuf_init(&text, CONFIG_FILE_MAX);
	rc = read_text(path, &text, err);
	if (rc == 0)
		rc = config_load_string(path, strbuf_str(&text), text.len,
					&g->cfg, err);
	if (rc == 0 && g->cfg.n_projects == 0)
		rc = st_error_set(err, ST_ECONFIG, "%s: no [project \"...\"] "
				  "section: nothing to release", path);
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
	if (rc == 0 && g->status_token.value)
		log_add_secret(g->status_token.value);
	if (rc == 0 && !(g->p = calloc(g->cfg.n_projects, sizeof(*g->p))))
		rc = st_error_set(err, ST_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < g->cfg.n_projects; i++) {
		struct project_rt *rt = &g->p[i];

		rt->gen = g;
		rt->cfg = &g->cfg.projects[i];
		secret_init(&rt->token);
		g->n = i + 1;
		rc = check_project(rt, err);
		if (rc)
			st_error_prefix(err, "%s: [project \"%s\"]", path,
					rt->cfg->name);
	}
	if (rc == 0) {
		g->config_fd = memfd_create("semver-tagger.conf", MFD_CLOEXEC);
		if (g->config_fd < 0 ||
		    write(g->config_fd, strbuf_str(&text), text.len) !=
			    (ssize_t)text.len)
			rc = st_error_set(err, ST_EIO, "memfd: %s",
					  strerror(errno));
	}
	strbuf_release(&text);
	if (rc) {
		gen_free(g);
		return rc;
	}
	*out = g;
	return ST_OK;
}

/* ---- reconciliations and checks (worker threads) -------------------------- */

static void child_log(void *ctx, enum log_level level, const char *line)
{
	const struct project_rt *rt = ctx;

	log_msg(level, "%s: %s", rt->cfg->name, line);
}

static void base_job(struct daemon *d, struct project_rt *rt,
		     struct cycle_job *j)
{
	memset(j, 0, sizeof(*j));
	j->exe = d->exe;
	j->config_fd = rt->gen->config_fd;
	j->section = rt->cfg->name;
	j->state_dir = rt->gen->state_dir;
	j->token = rt->token.value;
	j->debug = log_threshold() >= LOG_LEVEL_DEBUG;
	j->stop_fd = d->stop_pipe[0];
	j->deadline_s = CYCLE_DEADLINE_S;
	j->grace_s = STOP_GRACE_S;
	j->log_line = child_log;
	j->log_ctx = rt;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;

	return v && cJSON_IsString(v) ? v->valuestring : NULL;
}

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h ^ 0xff;
}

/* "!12, !13" of a branch's merge requests. */
static void mr_list(const cJSON *branch, char *buf, size_t size)
{
	const cJSON *mrs = cJSON_GetObjectItemCaseSensitive(branch,
							    "merge_requests");
	const cJSON *m;
	size_t off = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(m, mrs) {
		const cJSON *iid = cJSON_GetObjectItemCaseSensitive(m, "iid");
		int n;

		if (!cJSON_IsNumber(iid) || off + 16 >= size)
			continue;
		n = snprintf(buf + off, size - off, "%s!%.0f", off ? ", " : "",
			     iid->valuedouble);
		if (n > 0)
			off += (size_t)n;
	}
}

static void log_goal(const char *project, const cJSON *branch,
		     const cJSON *g, unsigned *releases)
{
	const char *kind = jstr(g, "kind"), *state = jstr(g, "state");
	const char *version = jstr(g, "version"), *bname = jstr(g, "branch");
	const char *action = jstr(g, "action"), *commit = jstr(g, "commit");

	if (!kind || !state)
		return;
	if (strcmp(state, "failed") == 0) {
		log_error("%s: %s %s: %s", project, kind,
			  bname ? bname : version ? version : "?",
			  jstr(g, "detail") ? jstr(g, "detail") : "failed");
		return;
	}
	if (strcmp(state, "done") != 0)
		return;
	if (strcmp(kind, "tag") == 0) {
		char mrs[512] = "";
		const char *impact = branch ? jstr(branch, "impact") : NULL;

		if (branch)
			mr_list(branch, mrs, sizeof(mrs));
		(*releases)++;
		log_notice("%s: released %s on %s (%s%s%s)", project,
			   version ? version : "?",
			   branch && jstr(branch, "branch")
				   ? jstr(branch, "branch") : "?",
			   impact ? impact : "maintenance",
			   mrs[0] ? ": " : "", mrs);
		return;
	}
	log_info("%s: %s %s%s%s: %s at %.12s", project, kind,
		 bname ? bname : "", version && strcmp(kind, "prep") == 0
		 ? " " : "", version && strcmp(kind, "prep") == 0 ? version : "",
		 action && *action ? action : "done", commit ? commit : "");
}

/* Problems (refusals, warnings) are logged when they change, not on
 * every poll. */
static void log_problems(struct project_rt *rt, const cJSON *report,
			 int status, const char *error)
{
	const char *name = rt->cfg->name;
	const cJSON *branches = cJSON_GetObjectItemCaseSensitive(report,
								 "branches");
	const cJSON *b, *w;
	uint64_t fp = 1469598103934665603ull;
	bool any = false;

	cJSON_ArrayForEach(b, branches) {
		const cJSON *list[2] = {
			cJSON_GetObjectItemCaseSensitive(b, "errors"),
			cJSON_GetObjectItemCaseSensitive(b, "warnings"),
		};

		for (int k = 0; k < 2; k++)
			cJSON_ArrayForEach(w, list[k]) {
				fp = fnv(fp, jstr(w, "message"));
				any = true;
			}
	}
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(report,
							       "warnings")) {
		fp = fnv(fp, cJSON_IsString(w) ? w->valuestring : "");
		any = true;
	}
	if (status == ST_EREFUSED || status == ST_ECONFLICT)
		fp = fnv(fp, error);
	if (fp == rt->logged_fp)
		return;
	rt->logged_fp = fp;
	if (!any && status != ST_EREFUSED && status != ST_ECONFLICT)
		return;
	cJSON_ArrayForEach(b, branches) {
		cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(b,
								       "errors"))
			log_warning("%s: %s", name, jstr(w, "message")
				    ? jstr(w, "message") : "?");
		cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(
					      b, "warnings"))
			log_warning("%s: %s", name, jstr(w, "message")
				    ? jstr(w, "message") : "?");
	}
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(report,
							       "warnings"))
		if (cJSON_IsString(w))
			log_warning("%s: %s", name, w->valuestring);
	if ((status == ST_ECONFLICT || status == ST_EREFUSED) && error &&
	    *error)
		log_warning("%s: %s", name, error);
}

static void refresh_open_mrs(struct daemon *d, struct project_rt *rt,
			     const char *default_branch);

static void reconcile(struct daemon *d, struct project_rt *rt,
		      const char *why, struct sched_outcome *out)
{
	const char *name = rt->cfg->name;
	struct cycle_job j;
	struct cycle_result r;
	const cJSON *b, *g;
	unsigned releases = 0;

	base_job(d, rt, &j);
	log_debug("%s: reconciling (%s)", name, why);
	cycle_run(&j, &r);
	if (r.abandoned) {
		log_warning("%s: reconciliation abandoned: the daemon stops",
			    name);
		cycle_result_release(&r);
		return; /* not a failure of the project */
	}
	out->cycle_ran = true;
	out->status = r.status;
	out->seconds = r.seconds;
	snprintf(out->error, sizeof(out->error), "%s", r.error);
	if (r.report) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(
			r.report, "api_requests");

		if (cJSON_IsNumber(n) && n->valuedouble >= 0)
			out->api_requests = (unsigned)n->valuedouble;
		cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(
					      r.report, "branches"))
			cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(
						      b, "goals"))
				log_goal(name, b, g, &releases);
		cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(
					      r.report, "maintenance"))
			log_goal(name, NULL, g, &releases);
		log_problems(rt, r.report, r.status, r.error);
	}
	out->releases = releases;
	statusboard_cycle(d->board, name, rt->cfg->tag_prefix, r.report);
	if (releases && !d->stopping)
		refresh_open_mrs(d, rt, jstr(r.report, "default_branch"));
	if (r.status == ST_OK || r.status == ST_EREFUSED ||
	    r.status == ST_ECONFLICT) {
		if (!r.report)
			log_problems(rt, NULL, r.status, r.error);
		log_debug("%s: reconciled in %.2f s (%s, %s)", name, r.seconds,
			  why, st_status_name(r.status));
	} else {
		rt->logged_fp = 0;
		log_msg(r.status == ST_ETEMP || r.status == ST_ERACE
			? LOG_LEVEL_WARNING : LOG_LEVEL_ERROR,
			"%s: reconciliation failed (%s): %s; will retry", name,
			st_status_name(r.status), r.error);
	}
	cycle_result_release(&r);
}

static void mr_check_free(void *item)
{
	struct mr_check *c = item;

	if (!c)
		return;
	free(c->target);
	free(c->source);
	free(c->sha);
	free(c->title);
	free(c->url);
	for (size_t i = 0; i < c->n_labels; i++)
		free(c->labels[i]);
	free(c->labels);
	free(c);
}

static struct mr_check *mr_check_from(const struct webhook_event *ev)
{
	struct mr_check *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->iid = ev->iid;
	c->target = strdup(ev->target_branch);
	c->source = ev->source_branch ? strdup(ev->source_branch) : NULL;
	c->sha = strdup(ev->head_sha);
	c->title = ev->title ? strdup(ev->title) : NULL;
	c->url = ev->url ? strdup(ev->url) : NULL;
	c->labels = calloc(ev->n_labels ? ev->n_labels : 1, sizeof(char *));
	if (!c->target || !c->sha || !c->labels) {
		mr_check_free(c);
		return NULL;
	}
	for (size_t i = 0; i < ev->n_labels; i++) {
		/* CI_MERGE_REQUEST_LABELS is comma-separated; GitLab label
		 * names cannot contain one. */
		if (strchr(ev->labels[i], ','))
			continue;
		if (!(c->labels[c->n_labels] = strdup(ev->labels[i]))) {
			mr_check_free(c);
			return NULL;
		}
		c->n_labels++;
	}
	return c;
}

static int make_forge(struct daemon *d, const struct project_rt *rt,
		      struct forge **out, struct st_error *err)
{
	const struct config_project *p = rt->cfg;
	struct gitlab_options g;

	gitlab_options_default(&g);
	g.api_url = p->api_url;
	g.project = p->project;
	g.token = rt->token.value;
	g.token_kind = GITLAB_TOKEN_PRIVATE;
	g.http.connect_timeout_ms = (long)p->connect_timeout * 1000;
	g.http.timeout_ms = (long)p->total_timeout * 1000;
	g.http.ca_file = p->ca_file;
	g.http.ca_path = p->ca_dir;
	g.http.cancel = &d->stopping;
	return gitlab_forge_new(&g, out, err);
}

static struct mr_check *mr_check_from_forge(const struct forge_mr *mr)
{
	struct webhook_event ev;
	struct mr_check *c;

	webhook_event_init(&ev);
	ev.iid = mr->iid;
	ev.target_branch = mr->target_branch;
	ev.source_branch = mr->source_branch;
	ev.head_sha = mr->head_sha;
	ev.title = mr->title;
	ev.url = mr->web_url;
	ev.labels = mr->labels;
	ev.n_labels = mr->n_labels;
	c = mr_check_from(&ev); /* copies; ev is borrowed, not released */
	return c;
}

static bool released_from(const struct project_rt *rt, const char *branch,
			  const char *default_branch)
{
	const char *prefix = rt->cfg->release_prefix;
	size_t n = strlen(prefix);

	if (!branch)
		return false;
	if (default_branch && strcmp(branch, default_branch) == 0)
		return true;
	return n && strncmp(branch, prefix, n) == 0 && branch[n];
}

/*
 * A release changes what merging every open MR would release ("1.4.0" is
 * taken now): queue a fresh check of each, for the turn after this one.
 */
static void refresh_open_mrs(struct daemon *d, struct project_rt *rt,
			     const char *default_branch)
{
	const char *name = rt->cfg->name;
	struct forge *forge = NULL;
	struct forge_mr_list l;
	struct forge_list_result res;
	struct st_error err;
	size_t n = 0;

	st_error_clear(&err);
	forge_mr_list_init(&l);
	memset(&res, 0, sizeof(res));
	if (make_forge(d, rt, &forge, &err) != 0 ||
	    forge_open_mrs(forge, &l, &res, &err) != 0) {
		log_warning("%s: open merge requests not re-checked: %s", name,
			    err.msg);
		forge_free(forge);
		return;
	}
	for (size_t i = 0; i < l.len && n < d->so.max_checks; i++) {
		const struct forge_mr *mr = &l.items[i];
		struct mr_check *c;

		if (!mr->head_sha || !released_from(rt, mr->target_branch,
						    rt->cfg->default_branch
						    ? rt->cfg->default_branch
						    : default_branch))
			continue;
		c = mr_check_from_forge(mr);
		if (c && scheduler_enqueue(d->sched, name, mr->iid, c))
			n++;
	}
	if (n)
		log_info("%s: re-checking %zu open merge request%s after the "
			 "release", name, n, n == 1 ? "" : "s");
	forge_mr_list_release(&l);
	forge_free(forge);
}

static const char *impact_title(const char *impact)
{
	if (!impact)
		return "no impact";
	if (strcmp(impact, "major") == 0)
		return "ImpactMajor";
	if (strcmp(impact, "minor") == 0)
		return "ImpactMinor";
	if (strcmp(impact, "patch") == 0)
		return "ImpactPatch";
	return impact;
}

/* Cut s to at most max bytes without splitting a UTF-8 sequence. */
static void utf8_cut(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	s[max] = '\0';
}

/* The verdict from the child's report. false when there is none. */
static bool verdict(const struct cycle_result *r, const struct mr_check *c,
		    enum forge_commit_state *state, char *desc, size_t size)
{
	const cJSON *b = NULL, *errors, *first;
	const char *next, *kind;

	if (r->report)
		b = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
					       r->report, "branches"), 0);
	if (r->status == ST_EREFUSED) {
		errors = b ? cJSON_GetObjectItemCaseSensitive(b, "errors")
			   : NULL;
		first = cJSON_GetArrayItem(errors, 0);
		kind = jstr(first, "kind");
		*state = FORGE_STATUS_FAILED;
		if (kind && strcmp(kind, "missing-impact") == 0)
			snprintf(desc, size, "%s", NO_LABEL_DESC);
		else
			snprintf(desc, size, "%s", jstr(first, "message")
				 ? jstr(first, "message") : r->error);
		utf8_cut(desc, STATUS_DESC_MAX);
		return true;
	}
	if (r->status != ST_OK || !b)
		return false;
	next = jstr(b, "next");
	*state = FORGE_STATUS_SUCCESS;
	if (next)
		snprintf(desc, size, "%s: merging releases %s on %s",
			 impact_title(jstr(b, "impact")), next, c->target);
	else
		snprintf(desc, size, "merging releases nothing on %s",
			 c->target);
	utf8_cut(desc, STATUS_DESC_MAX);
	return true;
}

static int set_status(struct daemon *d, struct project_rt *rt,
		      const struct mr_check *c, enum forge_commit_state state,
		      const char *desc, struct st_error *err)
{
	struct forge *forge = NULL;
	struct forge_commit_status st = {
		.sha = c->sha,
		.name = "semver-tagger",
		.state = state,
		.description = desc,
		.target_url = c->url,
		.ref = c->source,
	};
	enum forge_outcome outcome;
	int rc = make_forge(d, rt, &forge, err);

	if (rc == 0)
		rc = forge_set_commit_status(forge, &st, &outcome, err);
	forge_free(forge);
	return rc;
}

static void check_mr(struct daemon *d, struct project_rt *rt,
		     const struct mr_check *c, struct sched_outcome *out)
{
	const char *name = rt->cfg->name;
	struct cycle_job j;
	struct cycle_result r;
	enum forge_commit_state state;
	char desc[1024];
	struct st_error err;

	base_job(d, rt, &j);
	j.deadline_s = CHECK_DEADLINE_S;
	j.iid = c->iid;
	j.target_branch = c->target;
	j.title = c->title;
	j.labels = (const char *const *)c->labels;
	j.n_labels = c->n_labels;
	cycle_run(&j, &r);
	st_error_clear(&err);
	if (r.abandoned) {
		cycle_result_release(&r);
		return;
	}
	if (!verdict(&r, c, &state, desc, sizeof(desc))) {
		out->checks_failed++;
		log_warning("%s: !%lld: no verdict (%s): %s", name,
			    (long long)c->iid, st_status_name(r.status),
			    r.error);
	} else if (set_status(d, rt, c, state, desc, &err) != 0) {
		out->checks_failed++;
		log_warning("%s: !%lld: commit status not set: %s", name,
			    (long long)c->iid, err.msg);
	} else {
		out->checks_done++;
		statusboard_verdict(d->board, name, c->iid, c->title, c->url,
				    state == FORGE_STATUS_SUCCESS, desc,
				    (int64_t)time(NULL));
		log_info("%s: !%lld: status %s on %.12s: %s", name,
			 (long long)c->iid,
			 state == FORGE_STATUS_SUCCESS ? "success" : "failed",
			 c->sha, desc);
	}
	cycle_result_release(&r);
}

static void run_turn(void *ctx, const struct sched_turn *t,
		     struct sched_outcome *out)
{
	struct daemon *d = ctx;
	struct project_rt *rt = t->data;

	if (t->cycle && !*t->stopping)
		reconcile(d, rt, t->why, out);
	for (size_t i = 0; i < t->n_checks && !*t->stopping; i++)
		check_mr(d, rt, t->checks[i], out);
}

/* ---- webhooks (the listener's thread) ------------------------------------ */

static bool same_project(const struct webhook_event *ev,
			 const struct config_project *p)
{
	uint64_t id;

	if (ev->project_path && (strcmp(ev->project_path, p->project) == 0 ||
				 strcmp(ev->project_path, p->name) == 0))
		return true;
	return ev->project_id > 0 &&
	       num_parse_u64_max(p->project, INT64_MAX, &id) == 0 &&
	       (int64_t)id == ev->project_id;
}

/* X-Gitlab-Instance is the base URL; api_url starts with it. */
static bool same_instance(const char *instance, const char *api_url)
{
	size_t n;

	if (!instance || !*instance || !api_url)
		return false;
	n = strlen(instance);
	while (n && instance[n - 1] == '/')
		n--;
	return strncmp(api_url, instance, n) == 0 &&
	       (api_url[n] == '/' || api_url[n] == '\0');
}

static bool act(struct daemon *d, const struct project_rt *rt,
		const struct webhook_event *ev,
		const struct webhook_delivery *dl)
{
	const struct config_project *p = rt->cfg;
	struct webhook_branches b = { p->release_prefix, p->default_branch };
	char reason[256], why[300];
	enum webhook_decision dec = webhook_decide(ev, &b, reason,
						   sizeof(reason));
	struct mr_check *c;

	switch (dec) {
	case WEBHOOK_RECONCILE:
		log_info("%s: %s: %s: reconciling", p->name,
			 dl->event_header ? dl->event_header : "webhook",
			 reason);
		snprintf(why, sizeof(why), "webhook: %s", reason);
		return scheduler_trigger(d->sched, p->name, why);
	case WEBHOOK_CHECK_MR:
		log_info("%s: %s: %s: checking", p->name,
			 dl->event_header ? dl->event_header : "webhook",
			 reason);
		c = mr_check_from(ev);
		return c && scheduler_enqueue(d->sched, p->name, ev->iid, c);
	default:
		log_debug("%s: %s: %s: nothing to do", p->name,
			  dl->event_header ? dl->event_header : "webhook",
			  reason);
		return false;
	}
}

static int on_event(void *ctx, const struct webhook_event *ev,
		    const struct webhook_delivery *dl)
{
	struct daemon *d = ctx;
	struct gen *g;
	bool by_instance = false, matched = false, accepted = false;

	if (d->stopping)
		return 503;
	if (ev->kind == WEBHOOK_KIND_OTHER) {
		log_debug("webhook %s from %s: not handled",
			  dl->event_header ? dl->event_header : "(no event)",
			  dl->peer);
		return 204;
	}
	g = gen_get(d);
	for (size_t i = 0; i < g->n; i++)
		if (same_project(ev, g->p[i].cfg) &&
		    same_instance(dl->instance, g->p[i].cfg->api_url))
			by_instance = true;
	for (size_t i = 0; i < g->n; i++) {
		if (!same_project(ev, g->p[i].cfg) ||
		    (by_instance && !same_instance(dl->instance,
						   g->p[i].cfg->api_url)))
			continue;
		matched = true;
		if (act(d, &g->p[i], ev, dl))
			accepted = true;
	}
	if (!matched) /* group and system hooks send every project's */
		log_debug("webhook %s for project %s (id %lld) from %s: not "
			 "configured here, ignored",
			 dl->event_header ? dl->event_header : "?",
			 ev->project_path ? ev->project_path : "?",
			 (long long)ev->project_id, dl->peer);
	gen_unref(g);
	return accepted ? 202 : 204;
}

static int on_health(void *ctx, struct strbuf *body)
{
	struct daemon *d = ctx;
	struct sched_stats *st = NULL;
	size_t n = 0;
	int status;

	if (scheduler_snapshot(d->sched, &st, &n) != 0)
		return 500;
	status = metrics_health(body, st, n, d->so.unhealthy_after,
				d->stopping != 0);
	free(st);
	return status;
}

static int on_metrics(void *ctx, struct strbuf *body)
{
	struct daemon *d = ctx;
	struct sched_stats *st = NULL;
	struct webhook_stats ws;
	struct metrics_daemon md;
	size_t n = 0;
	int status;

	if (scheduler_snapshot(d->sched, &st, &n) != 0)
		return 500;
	memset(&md, 0, sizeof(md));
	md.start_unix = d->start_unix;
	pthread_mutex_lock(&d->lock);
	md.reloads_ok = d->reloads_ok;
	md.reloads_failed = d->reloads_failed;
	md.config_loaded_unix = d->gen->loaded_unix;
	pthread_mutex_unlock(&d->lock);
	if (d->server) {
		webhook_server_stats(d->server, &ws);
		md.webhook = &ws;
	}
	status = metrics_render(body, st, n, &md);
	free(st);
	return status;
}

/* GET / and /status.json: the scheduler's projects and the board. */
static int on_status(void *ctx, bool json, struct strbuf *body)
{
	struct daemon *d = ctx;
	struct sched_stats *st = NULL;
	struct statusboard_info info = {
		.version = SEMVER_TAGGER_VERSION,
		.now_unix = (int64_t)time(NULL),
		.start_unix = d->start_unix,
		.stopping = d->stopping != 0,
		.unhealthy_after = d->so.unhealthy_after,
	};
	size_t n = 0;
	int status;

	if (scheduler_snapshot(d->sched, &st, &n) != 0)
		return 500;
	status = statusboard_render(d->board, st, n, &info, json, body);
	free(st);
	return status;
}

/* ---- lifecycle (main thread) --------------------------------------------- */

static int schedule(struct daemon *d, struct gen *g, bool trigger)
{
	struct sched_project *sp = calloc(g->n, sizeof(*sp));
	int rc;

	if (!sp)
		return -1;
	for (size_t i = 0; i < g->n; i++) {
		sp[i].name = g->p[i].cfg->name;
		sp[i].interval_s = g->p[i].cfg->poll_interval;
		sp[i].data = &g->p[i];
	}
	rc = scheduler_set_projects(d->sched, sp, g->n, trigger);
	free(sp);
	return rc;
}

static void apply_log_level(const struct daemon *d, const struct gen *g)
{
	if (d->a->verbosity == 0 && g->cfg.log_level >= 0)
		log_setup((enum log_level)g->cfg.log_level, NULL);
}

static void status_line(struct daemon *d, const char *prefix)
{
	struct gen *g = gen_get(d);

	if (d->server)
		sdnotify_send(&d->notify, "%sSTATUS=%zu project%s, webhooks on "
			      "port %u", prefix, g->n, g->n == 1 ? "" : "s",
			      (unsigned)webhook_server_port(d->server));
	else
		sdnotify_send(&d->notify, "%sSTATUS=%zu project%s, polling "
			      "only", prefix, g->n, g->n == 1 ? "" : "s");
	gen_unref(g);
}

static void reload(struct daemon *d)
{
	struct gen *g = NULL, *old;
	struct st_error err;

	st_error_clear(&err);
	sdnotify_send(&d->notify, "RELOADING=1");
	if (gen_load(d, &g, &err) != 0) {
		log_error("reload failed, keeping the running configuration: "
			  "%s", err.msg);
		pthread_mutex_lock(&d->lock);
		d->reloads_failed++;
		pthread_mutex_unlock(&d->lock);
		sdnotify_send(&d->notify, "READY=1\nSTATUS=reload failed, "
			      "running the previous configuration");
		return;
	}
	old = gen_get(d);
	if ((g->cfg.listen && (!old->cfg.listen ||
			       strcmp(g->cfg.listen, old->cfg.listen) != 0)) ||
	    (!g->cfg.listen && old->cfg.listen && d->listen_fds == 0))
		log_warning("listen changed to %s: restart the service to "
			    "apply it", g->cfg.listen ? g->cfg.listen
						      : "(none)");
	if (d->server && g->webhook_secret.value)
		webhook_server_set_secret(d->server, g->webhook_secret.value);
	if (d->server)
		webhook_server_set_read_token(d->server, g->status_token.value);
	gen_unref(old);
	apply_log_level(d, g);
	if (schedule(d, g, true) != 0) {
		log_error("reload failed: out of memory");
		gen_unref(g);
		return;
	}
	pthread_mutex_lock(&d->lock);
	old = d->gen;
	d->gen = g;
	d->reloads_ok++;
	pthread_mutex_unlock(&d->lock);
	gen_unref(old);
	log_notice("configuration reloaded: %zu project%s", g->n,
		   g->n == 1 ? "" : "s");
	status_line(d, "READY=1\n");
}

static int start_listener(struct daemon *d, struct st_error *err)
{
	struct webhook_server_options o;
	struct gen *g = d->gen;
	int rc;

	if (!g->cfg.listen && d->listen_fds == 0)
		return ST_OK;
	memset(&o, 0, sizeof(o));
	o.listen = g->cfg.listen;
	o.listen_fd = d->listen_fds > 0 ? SDNOTIFY_LISTEN_FDS_START : -1;
	o.secret = g->webhook_secret.value;
	webhook_limits_default(&o.limits);
	o.handlers.ctx = d;
	o.handlers.event = on_event;
	o.handlers.health = on_health;
	o.handlers.metrics = on_metrics;
	o.handlers.status = on_status;
	o.read_token = g->status_token.value;
	if (!o.read_token && d->listen_fds == 0 &&
	    !statusboard_listen_loopback(g->cfg.listen))
		log_warning("listening on %s without status_token_file: the "
			    "status page and /metrics show every project to "
			    "anyone who can connect", g->cfg.listen);
	rc = webhook_server_start(&o, &d->server, err);
	if (rc == 0 && d->listen_fds > 0)
		log_notice("listening on the socket systemd passed (port %u)",
			   (unsigned)webhook_server_port(d->server));
	else if (rc == 0)
		log_notice("listening on %s (port %u): POST /webhook, "
			   "GET /healthz, GET /metrics, GET / (status page%s)",
			   g->cfg.listen, (unsigned)webhook_server_port(d->server),
			   o.read_token ? ", bearer token" : "");
	return rc;
}

/* Sleep until a signal or the next watchdog ping; handle both. */
static void main_loop(struct daemon *d, const sigset_t *wait_mask,
		      uint64_t watchdog_usec)
{
	int64_t ping_ms = watchdog_usec ? (int64_t)(watchdog_usec / 2000) : 0;
	int64_t max_turn_ms = (int64_t)(CYCLE_DEADLINE_S + CHECK_DEADLINE_S *
					d->so.max_checks + 120) * 1000;

	if (ping_ms <= 0 && watchdog_usec)
		ping_ms = 1;
	while (!got_term) {
		struct timespec ts = { (time_t)(ping_ms / 1000),
				       (long)(ping_ms % 1000) * 1000000 };

		if (ppoll(NULL, 0, ping_ms ? &ts : NULL, wait_mask) < 0 &&
		    errno != EINTR)
			break;
		if (got_hup) {
			got_hup = 0;
			reload(d);
		}
		if (ping_ms && !got_term &&
		    scheduler_alive(d->sched, max_turn_ms) == 0)
			sdnotify_send(&d->notify, "WATCHDOG=1");
	}
}

static void shutdown_all(struct daemon *d)
{
	ssize_t w;

	d->stopping = 1;
	if (d->server)
		webhook_server_quiesce(d->server);
	/* Children see the pipe readable: STOP_GRACE_S to finish, then
	 * SIGTERM, then SIGKILL (cycle.c). */
	if (d->stop_pipe[1] >= 0)
		do
			w = write(d->stop_pipe[1], "x", 1);
		while (w < 0 && errno == EINTR);
	scheduler_stop(d->sched);
	webhook_server_free(d->server);
	d->server = NULL;
}

static int setup_signals(sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	/* Blocked everywhere (threads inherit it) except in ppoll(). */
	if (pthread_sigmask(SIG_BLOCK, &block, wait_mask) != 0)
		return -1;
	sigdelset(wait_mask, SIGTERM);
	sigdelset(wait_mask, SIGINT);
	sigdelset(wait_mask, SIGHUP);
	if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL))
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

static int start(struct daemon *d, struct st_error *err)
{
	struct scheduler_hooks h = {
		.ctx = d,
		.run = run_turn,
		.ref = rt_ref,
		.unref = rt_unref,
		.free_item = mr_check_free,
	};
	int rc;

	rc = http_global_init(err);
	if (rc == 0 && !(d->board = statusboard_new()))
		rc = st_error_set(err, ST_ENOMEM, "out of memory");
	if (rc == 0)
		rc = gen_load(d, &d->gen, err);
	if (rc)
		return rc;
	apply_log_level(d, d->gen);
	if (pipe2(d->stop_pipe, O_CLOEXEC) != 0)
		return st_error_set(err, ST_EIO, "pipe: %s", strerror(errno));
	scheduler_options_default(&d->so);
	if (scheduler_new(&d->so, &h, &d->sched) != 0 ||
	    schedule(d, d->gen, false) != 0)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	rc = start_listener(d, err);
	if (rc == 0 && scheduler_start(d->sched) != 0)
		rc = st_error_set(err, ST_EIO, "cannot start the workers");
	return rc;
}

int daemon_main(const struct daemon_args *a, char **env)
{
	struct daemon d;
	struct st_error err;
	sigset_t wait_mask;
	uint64_t watchdog;
	int rc;

	memset(&d, 0, sizeof(d));
	d.a = a;
	d.env = env;
	d.stop_pipe[0] = d.stop_pipe[1] = -1;
	d.start_unix = (int64_t)time(NULL);
	pthread_mutex_init(&d.lock, NULL);
	snprintf(d.exe, sizeof(d.exe), "/proc/self/exe");
	st_error_clear(&err);
	sdnotify_open(&d.notify, env);
	d.listen_fds = sdnotify_listen_fds(env, (long)getpid());
	watchdog = sdnotify_watchdog_usec(env, (long)getpid());
	if (setup_signals(&wait_mask) != 0) {
		log_error("cannot set up signal handling: %s", strerror(errno));
		return 71; /* EX_OSERR */
	}
	rc = start(&d, &err);
	if (rc == 0) {
		log_notice("started: %zu project%s, state in %s", d.gen->n,
			   d.gen->n == 1 ? "" : "s", d.gen->state_dir);
		status_line(&d, "READY=1\n");
		main_loop(&d, &wait_mask, watchdog);
		log_notice("stopping");
		sdnotify_send(&d.notify, "STOPPING=1\nSTATUS=stopping");
	} else {
		log_error("%s", err.msg);
		sdnotify_send(&d.notify, "STATUS=failed to start: %s", err.msg);
	}
	shutdown_all(&d);
	scheduler_free(d.sched);
	statusboard_free(d.board);
	gen_unref(d.gen);
	for (int i = 0; i < 2; i++)
		if (d.stop_pipe[i] >= 0)
			close(d.stop_pipe[i]);
	sdnotify_close(&d.notify);
	http_global_cleanup();
	pthread_mutex_destroy(&d.lock);
	if (rc == 0)
		log_notice("stopped");
	return rc ? output_exit_code(rc) : 0;
}
