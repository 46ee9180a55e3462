/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of [group] sections (daemon_internal.h), on a thread
 * of its own:
 *
 *  - the group poller: one GET /groups/:id/merge_requests (state=merged,
 *    updated_after, order_by=updated_at, every page) per group and poll
 *    round says which projects have new or relabelled merged MRs; only
 *    those are reconciled, so a quiet group costs one request per round
 *    whatever its size (the projects' own schedule is the long
 *    reconcile_interval safety net);
 *  - re-discovery every discovery_interval, and at once after a System
 *    Hook or group hook project event: the main thread reloads (SIGHUP to
 *    ourselves, marked quiet: nothing else is reconciled), so projects
 *    created, renamed, transferred, archived or deleted join or leave;
 *  - the impact labels: created once per configuration generation where
 *    missing (group labels for a [group], project labels otherwise).
 *
 * The thread only triggers turns and reads the configuration; it never
 * decides a release (the engine re-reads everything).
 */
#include "daemon_internal.h"
#include "metrics.h"

#include "semver-tagger/forge_fleet.h"
#include "semver-tagger/log.h"
#include "semver-tagger/strbuf.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OVERLAP_MS (300 * 1000) /* re-read MRs this much before the cursor:
				 * clock skew between GitLab's writers */
#define SEEN_MAX 100000         /* (project, iid, updated_at) remembered */

struct seen {
	int64_t project_id, iid, updated_ms;
};

/* One [group]'s poller state (kept across generations by path). */
struct poller {
	char *path;
	struct forge *forge;       /* for generation gen_seq */
	uint64_t gen_seq;
	struct secret token;
	int64_t cursor_ms;         /* newest updated_at seen, -1: none yet */
	struct seen *seen;         /* within OVERLAP_MS of the cursor */
	size_t n_seen;
	bool failing;              /* said once per failure streak */
	uint64_t rounds, requests, triggered;
};

struct daemon_fleet {
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	bool rediscover;           /* a project event asked for it */
	int64_t next_discovery_ms; /* monotonic */
	int64_t next_poll_ms;
	uint64_t labels_seq;       /* generation whose labels were ensured */
	struct poller *p;
	size_t n;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void poller_forget_forge(struct poller *p)
{
	forge_free(p->forge);
	p->forge = NULL;
	p->gen_seq = 0;
	secret_release(&p->token);
}

/* Only the fleet thread calls this; the array changes under mu, which
 * /metrics takes to read it. */
static struct poller *poller_for(struct daemon_fleet *f, const char *path)
{
	struct poller *grown, *p = NULL;
	char *copy;

	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->p[i].path, path) == 0)
			return &f->p[i];
	if (!(copy = strdup(path)))
		return NULL;
	pthread_mutex_lock(&f->mu);
	grown = realloc(f->p, (f->n + 1) * sizeof(*grown));
	if (grown) {
		f->p = grown;
		p = &grown[f->n++];
		memset(p, 0, sizeof(*p));
		secret_init(&p->token);
		p->cursor_ms = -1;
		p->path = copy;
	}
	pthread_mutex_unlock(&f->mu);
	if (!p)
		free(copy);
	return p;
}

/* The forge of group gr for generation g (rebuilt after a reload). */
static int poller_forge(struct daemon *d, struct poller *p,
			const struct gen *g, const struct config_group *gr,
			struct st_error *err)
{
	int rc;

	if (p->forge && p->gen_seq == g->seq)
		return ST_OK;
	poller_forget_forge(p);
	rc = fleet_token_load(&gr->settings, &p->token, err);
	if (!rc)
		rc = fleet_forge_new(&gr->settings, gr->path, p->token.value,
				     &d->stopping, &p->forge, err);
	if (!rc)
		p->gen_seq = g->seq;
	return rc;
}

static bool seen_has(const struct poller *p, const struct forge_group_mr *m)
{
	for (size_t i = 0; i < p->n_seen; i++)
		if (p->seen[i].project_id == m->project_id &&
		    p->seen[i].iid == m->iid &&
		    p->seen[i].updated_ms == m->updated_ms)
			return true;
	return false;
}

static void seen_add(struct poller *p, const struct forge_group_mr *m)
{
	struct seen *grown;

	if (p->n_seen >= SEEN_MAX)
		return;
	grown = realloc(p->seen, (p->n_seen + 1) * sizeof(*grown));
	if (!grown)
		return;
	p->seen = grown;
	grown[p->n_seen++] = (struct seen){ m->project_id, m->iid,
					    m->updated_ms };
}

static void seen_prune(struct poller *p)
{
	size_t k = 0;

	for (size_t i = 0; i < p->n_seen; i++)
		if (p->seen[i].updated_ms >= p->cursor_ms - OVERLAP_MS)
			p->seen[k++] = p->seen[i];
	p->n_seen = k;
}

/* Reconcile the project of m now, when it is one of ours. */
static bool trigger(struct daemon *d, const struct gen *g,
		    const struct forge_group_mr *m)
{
	char why[96];

	for (size_t i = 0; i < g->n; i++) {
		if (g->p[i].fleet_id != m->project_id)
			continue;
		snprintf(why, sizeof(why), "group listing: !%lld merged or "
			 "relabelled", (long long)m->iid);
		return scheduler_trigger(d->sched, g->p[i].s.section, why);
	}
	return false;
}

static void poll_group(struct daemon *d, const struct gen *g,
		       const struct config_group *gr)
{
	struct poller *p = poller_for(d->fleet, gr->path);
	struct forge_group_mrs m = { 0 };
	struct forge_list_result res;
	struct st_error err;
	int64_t after;
	size_t n = 0;
	int rc;

	if (!p)
		return;
	memset(&res, 0, sizeof(res));
	st_error_clear(&err);
	/* First round: from a little before now (the first cycles of every
	 * project cover what came before). */
	after = (p->cursor_ms >= 0 ? p->cursor_ms : wall_ms()) - OVERLAP_MS;
	rc = poller_forge(d, p, g, gr, &err);
	if (!rc)
		rc = forge_group_mrs(p->forge, gr->path, after, &m, &res, &err);
	pthread_mutex_lock(&d->fleet->mu);
	p->rounds++;
	p->requests += res.requests;
	pthread_mutex_unlock(&d->fleet->mu);
	if (rc) {
		if (!p->failing)
			log_warning("[group \"%s\"]: merge request listing "
				    "failed (projects still reconcile every "
				    "reconcile_interval): %s", gr->path,
				    err.msg);
		p->failing = true;
		return;
	}
	if (p->failing)
		log_notice("[group \"%s\"]: merge request listing works "
			   "again", gr->path);
	p->failing = false;
	for (size_t i = 0; i < m.len; i++) {
		if (seen_has(p, &m.items[i]))
			continue;
		seen_add(p, &m.items[i]);
		if (m.items[i].updated_ms > p->cursor_ms)
			p->cursor_ms = m.items[i].updated_ms;
		if (trigger(d, g, &m.items[i]))
			n++;
	}
	if (p->cursor_ms < 0)
		p->cursor_ms = after + OVERLAP_MS;
	seen_prune(p);
	p->triggered += n;
	if (n)
		log_debug("[group \"%s\"]: %zu project%s to reconcile (%u "
			  "request%s)", gr->path, n, n == 1 ? "" : "s",
			  res.requests, res.requests == 1 ? "" : "s");
	forge_group_mrs_release(&m);
}

/* The impact labels of every group, and of projects outside groups. */
static void ensure_labels(struct daemon *d, const struct gen *g)
{
	struct st_error err;

	for (size_t i = 0; i < g->cfg.n_groups && !d->stopping; i++) {
		const struct config_group *gr = &g->cfg.groups[i];
		struct poller *p = poller_for(d->fleet, gr->path);
		unsigned made = 0;

		st_error_clear(&err);
		if (!p || poller_forge(d, p, g, gr, &err) != 0 ||
		    fleet_ensure_labels(p->forge, gr->path, &gr->settings,
					&made, &err) != 0)
			log_warning("[group \"%s\"]: impact labels not checked: "
				    "%s", gr->path, err.msg);
		else if (made)
			log_notice("[group \"%s\"]: created %u impact label%s",
				   gr->path, made, made == 1 ? "" : "s");
	}
	for (size_t i = 0; i < g->n && !d->stopping; i++) {
		const struct project_rt *rt = &g->p[i];
		struct forge *f = NULL;
		unsigned made = 0;

		if (rt->group)
			continue;
		st_error_clear(&err);
		if (engine_forge_new(&rt->s, &d->stopping, &f, &err) != 0 ||
		    fleet_ensure_labels(f, NULL, &rt->s.cfg, &made, &err) != 0)
			log_warning("%s: impact labels not checked: %s",
				    rt->s.section, err.msg);
		else if (made)
			log_notice("%s: created %u impact label%s",
				   rt->s.section, made, made == 1 ? "" : "s");
		forge_free(f);
	}
}

/* Ask the main thread for a quiet reload (a re-discovery). */
static void rediscover(struct daemon *d)
{
	atomic_store(&d->quiet_reload, 1);
	kill(getpid(), SIGHUP);
}

static unsigned poll_interval_s(const struct gen *g)
{
	unsigned s = 0;

	for (size_t i = 0; i < g->cfg.n_groups; i++)
		if (!s || g->cfg.groups[i].settings.poll_interval < s)
			s = g->cfg.groups[i].settings.poll_interval;
	return s;
}

/* One pass: what is due now. Returns when to look again (monotonic). */
static int64_t step(struct daemon *d, struct daemon_fleet *f, bool asked)
{
	struct gen *g = gen_get(d);
	int64_t now = mono_ms(), next;
	unsigned poll_s = poll_interval_s(g);

	if (f->labels_seq != g->seq) {
		f->labels_seq = g->seq;
		ensure_labels(d, g);
	}
	if (g->cfg.n_groups && (asked || now >= f->next_discovery_ms)) {
		f->next_discovery_ms = now + (int64_t)g->cfg.discovery_interval
					     * 1000;
		rediscover(d);
	}
	if (poll_s && now >= f->next_poll_ms) {
		for (size_t i = 0; i < g->cfg.n_groups && !d->stopping; i++)
			poll_group(d, g, &g->cfg.groups[i]);
		f->next_poll_ms = mono_ms() + (int64_t)poll_s * 1000;
	}
	next = f->next_discovery_ms;
	if (poll_s && f->next_poll_ms < next)
		next = f->next_poll_ms;
	if (!g->cfg.n_groups)
		next = now + 60 * 1000; /* a reload may add groups */
	gen_unref(g);
	return next;
}

static void *thread_main(void *arg)
{
	struct daemon *d = arg;
	struct daemon_fleet *f = d->fleet;

	pthread_mutex_lock(&f->mu);
	while (!f->stop) {
		bool asked = f->rediscover;
		int64_t next;
		struct timespec ts;

		f->rediscover = false;
		pthread_mutex_unlock(&f->mu);
		next = step(d, f, asked);
		pthread_mutex_lock(&f->mu);
		if (f->stop || f->rediscover)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		next -= mono_ms();
		if (next < 10)
			next = 10;
		ts.tv_sec += next / 1000;
		ts.tv_nsec += (next % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&f->cv, &f->mu, &ts);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

int fleet_start(struct daemon *d)
{
	struct daemon_fleet *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;
	struct gen *g = gen_get(d);

	if (!f) {
		gen_unref(g);
		return -1;
	}
	pthread_mutex_init(&f->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	/* start discovered everything just now */
	f->next_discovery_ms = mono_ms() + (int64_t)g->cfg.discovery_interval
					   * 1000;
	gen_unref(g);
	d->fleet = f;
	if (pthread_create(&f->thread, NULL, thread_main, d) != 0)
		return -1;
	f->started = true;
	return 0;
}

void fleet_stop(struct daemon *d)
{
	struct daemon_fleet *f = d->fleet;

	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (f->started)
		pthread_join(f->thread, NULL);
	for (size_t i = 0; i < f->n; i++) {
		poller_forget_forge(&f->p[i]);
		free(f->p[i].path);
		free(f->p[i].seen);
	}
	free(f->p);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
	d->fleet = NULL;
}

static bool under(const char *path, const char *group)
{
	size_t n = strlen(group);

	return path && strncmp(path, group, n) == 0 && path[n] == '/';
}

int fleet_on_project_event(struct daemon *d, const struct webhook_event *ev,
			   const struct webhook_delivery *dl)
{
	struct gen *g = gen_get(d);
	bool ours = false;

	for (size_t i = 0; i < g->cfg.n_groups && !ours; i++)
		ours = under(ev->project_path, g->cfg.groups[i].path) ||
		       under(ev->old_path, g->cfg.groups[i].path);
	for (size_t i = 0; i < g->n && !ours; i++)
		ours = g->p[i].fleet_id && g->p[i].fleet_id == ev->project_id;
	gen_unref(g);
	if (!ours || !d->fleet) {
		log_debug("%s: project_%s of %s: not in a configured group",
			  dl->event_header ? dl->event_header : "webhook",
			  ev->project_event,
			  ev->project_path ? ev->project_path : "?");
		return 204;
	}
	log_info("%s: project_%s of %s (id %lld): re-discovering",
		 dl->event_header ? dl->event_header : "webhook",
		 ev->project_event, ev->project_path ? ev->project_path : "?",
		 (long long)ev->project_id);
	pthread_mutex_lock(&d->fleet->mu);
	d->fleet->rediscover = true;
	pthread_cond_signal(&d->fleet->cv);
	pthread_mutex_unlock(&d->fleet->mu);
	return 202;
}

static void group_sample(struct strbuf *body, const char *name,
			 const char *group, uint64_t value)
{
	strbuf_addf(body, "%s{group=\"", name);
	metrics_label_escape(body, group);
	strbuf_addf(body, "\"} %llu\n", (unsigned long long)value);
}

void fleet_metrics(struct daemon *d, struct strbuf *body)
{
	struct daemon_fleet *f = d->fleet;

	if (!f)
		return;
	strbuf_adds(body, "# HELP semver_tagger_group_polls_total Group merge "
		    "request listings (poll rounds) per [group].\n"
		    "# TYPE semver_tagger_group_polls_total counter\n");
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->n; i++)
		group_sample(body, "semver_tagger_group_polls_total",
			     f->p[i].path, f->p[i].rounds);
	strbuf_adds(body, "# HELP semver_tagger_group_poll_requests_total API "
		    "requests of the group listings.\n"
		    "# TYPE semver_tagger_group_poll_requests_total counter\n");
	for (size_t i = 0; i < f->n; i++)
		group_sample(body, "semver_tagger_group_poll_requests_total",
			     f->p[i].path, f->p[i].requests);
	pthread_mutex_unlock(&f->mu);
	/* semver_tagger_projects (configured and discovered) is
	 * metrics_render's: a family declared twice fails the scrape */
}
