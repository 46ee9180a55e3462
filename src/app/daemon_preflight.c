/* SPDX-License-Identifier: MIT */
/*
 * The daemon's preflight (issue 13, docs/fleet.md "Preflight in the
 * daemon"): before the first reconciliation of each project it takes
 * into service, the --assess checks run on an engine worker
 * (ENGINE_JOB_ASSESS, GET requests only). A project with errors is not
 * released (its cycle would fail half-way: tag pushed, release branch
 * refused) and is assessed again at its next poll; warnings are reported
 * but do not block. Said once: one log line when the set of problems
 * changes, "assessment passed" when it clears; a /metrics gauge per
 * project; /healthz lists the projects that fail it.
 *
 * A pass holds while the project's resolved settings (token included)
 * stay the same: a reload or a re-discovery that leaves a project as it
 * was does not assess it again; a new or changed project is.
 *
 * The table is keyed by section (the scheduler's name of a project) and
 * kept across configuration generations; its lock is held only to copy
 * in or out, never during a job.
 */
#include "daemon_internal.h"

#include "metrics.h"

#include "semver-tagger/log.h"
#include "semver-tagger/strbuf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFLIGHT_DEADLINE_S 300
#define PREFLIGHT_LINE_MAX 4096 /* bytes of the one log line */
#define PREFLIGHT_REASON_MAX 600

struct pf_entry {
	char *section;
	uint64_t settings_fp;  /* of the settings last assessed */
	bool assessed;         /* an assessment ran for settings_fp */
	bool passed;           /* ... and found no error */
	uint64_t said_fp;      /* the problem set last logged, 0: none */
	uint64_t unrun_fp;     /* the "could not run" error last logged */
	unsigned errors, warnings;
	char *reason;          /* the first error, for /healthz; NULL:
				* none (10,000 projects that pass: no
				* 600 bytes each) */
};

struct daemon_preflight {
	pthread_mutex_t mu;
	struct pf_entry *e;
	size_t n, cap;         /* cap doubles: no copy per new project */
};

struct daemon_preflight *preflight_new(void)
{
	struct daemon_preflight *p = calloc(1, sizeof(*p));

	if (p)
		pthread_mutex_init(&p->mu, NULL);
	return p;
}

void preflight_free(struct daemon_preflight *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->e[i].section);
		free(p->e[i].reason);
	}
	free(p->e);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	h ^= 0xff; /* field separator: "ab","c" differs from "a","bc" */
	return h * 1099511628211ull;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return fnv(h, s ? s : "", s ? strlen(s) + 1 : 0);
}

/* Every resolved setting of the project, and its token (never shown). */
static uint64_t settings_fp(const struct engine_settings *s)
{
	uint64_t h = 1469598103934665603ull;
	size_t n = config_key_count();

	h = fnv_str(h, s->cfg.project);
	h = fnv_str(h, s->state_dir);
	h = fnv_str(h, s->token.value);
	h = fnv(h, &s->token_kind, sizeof(s->token_kind));
	for (size_t i = 0; i < n; i++) {
		struct config_field f;

		if (config_project_field(&s->cfg, i, &f) != 0)
			continue;
		h = f.is_string ? fnv_str(h, f.text) : fnv(h, f.data, f.size);
	}
	return h ? h : 1;
}

static uint64_t problems_fp(const struct engine_assess *a)
{
	uint64_t h = 1469598103934665603ull;

	if (!a->n && !a->n_more)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		h = fnv(h, &a->items[i].severity, sizeof(a->items[i].severity));
		h = fnv_str(h, a->items[i].check);
		h = fnv_str(h, a->items[i].problem);
	}
	h = fnv(h, &a->n_more, sizeof(a->n_more));
	return h ? h : 1;
}

/* The index of section in the sorted table, or where it would go
 * (*found false). Called with mu held. */
static size_t find(const struct daemon_preflight *p, const char *section,
		   bool *found)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->e[mid].section, section);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* The entry of section (created); NULL when out of memory. Called with
 * mu held; the pointer is valid until mu is released. */
static struct pf_entry *entry_of(struct daemon_preflight *p,
				 const char *section)
{
	struct pf_entry *grown;
	bool found;
	size_t at = find(p, section, &found);
	char *copy;

	if (found)
		return &p->e[at];
	if (!(copy = strdup(section)))
		return NULL;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;

		if (!(grown = realloc(p->e, cap * sizeof(*grown)))) {
			free(copy);
			return NULL;
		}
		p->e = grown;
		p->cap = cap;
	}
	grown = p->e;
	memmove(&grown[at + 1], &grown[at], (p->n - at) * sizeof(*grown));
	memset(&grown[at], 0, sizeof(*grown));
	grown[at].section = copy;
	p->n++;
	return &grown[at];
}

/* The entry of section when there is one (mu held). */
static const struct pf_entry *entry_get(const struct daemon_preflight *p,
					const char *section)
{
	bool found;
	size_t at = find(p, section, &found);

	return found ? &p->e[at] : NULL;
}

/* One "check: problem (fix: ...)" part of the log line. */
static void add_part(struct strbuf *sb, const struct engine_assess_problem *q,
		     size_t *left_out)
{
	char part[2 * ENGINE_ASSESS_TEXT_MAX + 64];

	snprintf(part, sizeof(part), "%s%s: %s (fix: %s)",
		 q->severity == ENGINE_ASSESS_WARNING ? "(warning) " : "",
		 q->check, q->problem, q->fix);
	if (sb->len + strlen(part) + 2 >= PREFLIGHT_LINE_MAX) {
		(*left_out)++;
		return;
	}
	if (sb->len)
		strbuf_add(sb, "; ", 2);
	strbuf_add(sb, part, strlen(part));
}

/* The one line naming the project and every problem with its fix. */
static void log_problems(const char *name, const struct engine_assess *a)
{
	struct strbuf sb;
	size_t more = a->n_more;

	strbuf_init(&sb, PREFLIGHT_LINE_MAX);
	for (int pass = 0; pass < 2; pass++) /* errors first */
		for (size_t i = 0; i < a->n; i++)
			if ((int)a->items[i].severity == pass)
				add_part(&sb, &a->items[i], &more);
	if (a->errors && more)
		log_warning("%s: preflight: not released until fixed: %s (and "
			    "%zu more)", name, strbuf_str(&sb), more);
	else if (a->errors)
		log_warning("%s: preflight: not released until fixed: %s",
			    name, strbuf_str(&sb));
	else
		log_warning("%s: preflight: assessment passed with warnings: "
			    "%s", name, strbuf_str(&sb));
	strbuf_release(&sb);
}

/* What the scheduler is told of a blocked project: a refusal (a person
 * must act) unless the token or the project itself is refused, which
 * /healthz reports as the reconciliation's own refusal would be. */
static int blocked_status(const struct engine_assess *a,
			  const struct engine_assess_problem **first)
{
	*first = NULL;
	for (size_t i = 0; i < a->n && !*first; i++)
		if (a->items[i].severity == ENGINE_ASSESS_ERROR)
			*first = &a->items[i];
	if (*first && strcmp((*first)->check, "token") == 0)
		return ST_EAUTH;
	if (*first && strcmp((*first)->check, "project") == 0)
		return ST_ENOTFOUND;
	return ST_EREFUSED;
}

/* Record a finished assessment; log when the problem set changed. */
static void record(struct daemon *d, const char *name, uint64_t sfp,
		   const struct engine_assess *a, const char *reason)
{
	struct daemon_preflight *p = d->preflight;
	uint64_t fp = problems_fp(a), was = 0;
	struct pf_entry *e;

	pthread_mutex_lock(&p->mu);
	if ((e = entry_of(p, name))) {
		was = e->said_fp;
		e->settings_fp = sfp;
		e->assessed = true;
		e->passed = a->errors == 0;
		e->said_fp = fp;
		e->unrun_fp = 0;
		e->errors = (unsigned)a->errors;
		e->warnings = (unsigned)a->warnings;
		free(e->reason);
		e->reason = reason && *reason ? strndup(reason,
						PREFLIGHT_REASON_MAX - 1)
					      : NULL;
	}
	pthread_mutex_unlock(&p->mu);
	if (fp == was)
		return;
	if (fp)
		log_problems(name, a);
	else
		log_notice("%s: preflight: assessment passed", name);
}

/* The assessment could not run (GitLab did not answer, ...): said once
 * per error, and the reconciliation goes ahead (it meets the same
 * GitLab and reports what it finds). */
static void unrun(struct daemon *d, const char *name, const char *error)
{
	struct daemon_preflight *p = d->preflight;
	uint64_t fp = fnv_str(1469598103934665603ull, error);
	bool say = false;
	struct pf_entry *e;

	pthread_mutex_lock(&p->mu);
	if ((e = entry_of(p, name)) && e->unrun_fp != fp) {
		e->unrun_fp = fp;
		say = true;
	}
	pthread_mutex_unlock(&p->mu);
	if (say)
		log_info("%s: preflight: the assessment could not run (%s); "
			 "reconciling anyway, assessing again next cycle",
			 name, error);
}

static bool passed_already(struct daemon_preflight *p, const char *name,
			   uint64_t sfp)
{
	const struct pf_entry *e;
	bool ok;

	pthread_mutex_lock(&p->mu);
	e = entry_get(p, name);
	ok = e && e->assessed && e->passed && e->settings_fp == sfp;
	pthread_mutex_unlock(&p->mu);
	return ok;
}

static int run_assess(struct daemon *d, struct project_rt *rt,
		      struct engine_result *r, struct worker_outcome *o)
{
	struct engine_job j = { .kind = ENGINE_JOB_ASSESS };
	struct worker_call c = {
		.s = &rt->s,
		.j = &j,
		.aff = &rt->aff,
		.stop_fd = d->stop_pipe[0],
		.deadline_s = PREFLIGHT_DEADLINE_S,
		.grace_s = STOP_GRACE_S,
	};

	return worker_pool_run(d->pool, &c, r, o);
}

/* Blocked: the turn's outcome is the refusal (the scheduler polls again
 * at the project's interval, /healthz and /metrics see it). */
static void block(const struct engine_assess *a,
		  const struct worker_outcome *o, struct sched_outcome *out,
		  char *reason, size_t size)
{
	const struct engine_assess_problem *q;

	out->cycle_ran = true;
	out->status = blocked_status(a, &q);
	out->seconds = o->seconds;
	snprintf(reason, size, "preflight: %s: %s (fix: %s)",
		 q ? q->check : "?", q ? q->problem : "?", q ? q->fix : "?");
	snprintf(out->error, sizeof(out->error), "%s", reason);
}

bool preflight_gate(struct daemon *d, struct project_rt *rt,
		    struct sched_outcome *out)
{
	const char *name = rt->s.section;
	uint64_t sfp = settings_fp(&rt->s);
	struct engine_result r;
	struct worker_outcome o;
	char reason[PREFLIGHT_REASON_MAX] = "";
	bool go = true;
	int rc;

	if (!d->preflight || passed_already(d->preflight, name, sfp))
		return true;
	engine_result_init(&r);
	log_debug("%s: preflight: assessing", name);
	rc = run_assess(d, rt, &r, &o);
	if (o.abandoned) {
		go = false; /* the daemon stops: nothing to say */
	} else if (rc || r.report.status || !r.assess.ran) {
		unrun(d, name, r.report.error[0] ? r.report.error
			       : o.error[0] ? o.error : st_status_name(rc));
	} else {
		if (r.assess.errors) {
			block(&r.assess, &o, out, reason, sizeof(reason));
			go = false;
		}
		record(d, name, sfp, &r.assess, reason);
	}
	engine_result_release(&r);
	return go;
}

static bool goals_failed(const struct release_goal_report *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (g[i].state == GOAL_STATE_FAILED)
			return true;
	return false;
}

void preflight_after(struct daemon *d, struct project_rt *rt,
		     const struct engine_result *r)
{
	const struct release_report *rep = &r->report;
	struct daemon_preflight *p = d->preflight;
	struct pf_entry *e;
	bool failed = goals_failed(rep->maintenance, rep->n_maintenance);

	if (!p || (rep->status != ST_EREFUSED && rep->status != ST_EAUTH))
		return;
	for (size_t i = 0; i < rep->n_branches && !failed; i++)
		failed = goals_failed(rep->branches[i].goals,
				      rep->branches[i].n_goals);
	if (!failed)
		return; /* a plan refused (labels, ...): no write was tried */
	pthread_mutex_lock(&p->mu);
	if ((e = entry_of(p, rt->s.section)))
		e->assessed = false;
	pthread_mutex_unlock(&p->mu);
	log_debug("%s: preflight: a write was refused: assessing again "
		  "before the next cycle", rt->s.section);
}

/* Only the projects of g (a project that left keeps its entry). */
void preflight_metrics(struct daemon *d, struct strbuf *body)
{
	struct daemon_preflight *p = d->preflight;
	struct gen *g;

	if (!p)
		return;
	g = gen_get(d);
	strbuf_adds(body, "# HELP semver_tagger_assessment_problems Problems "
		    "the last preflight found (error: not released until "
		    "fixed).\n# TYPE semver_tagger_assessment_problems "
		    "gauge\n");
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < g->n; i++) {
		const struct pf_entry *e = entry_get(p, g->p[i].s.section);

		for (int sev = 0; e && e->assessed && sev < 2; sev++) {
			strbuf_adds(body, "semver_tagger_assessment_problems"
				    "{project=\"");
			metrics_label_escape(body, e->section);
			strbuf_addf(body, "\",severity=\"%s\"} %u\n",
				    sev ? "warning" : "error",
				    sev ? e->warnings : e->errors);
		}
	}
	pthread_mutex_unlock(&p->mu);
	gen_unref(g);
}

static bool blocked_now(const struct pf_entry *e)
{
	return e && e->assessed && !e->passed;
}

/* Two passes under the lock: a probe of /healthz allocates only for
 * the projects held back, not for every project. */
size_t preflight_blocked(struct daemon *d, struct metrics_blocked **out)
{
	struct daemon_preflight *p = d->preflight;
	struct metrics_blocked *v = NULL;
	struct gen *g;
	size_t n = 0, want = 0;

	*out = NULL;
	if (!p)
		return 0;
	g = gen_get(d);
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < g->n; i++)
		want += blocked_now(entry_get(p, g->p[i].s.section));
	if (want)
		v = calloc(want, sizeof(*v));
	for (size_t i = 0; v && i < g->n && n < want; i++) {
		const struct pf_entry *e = entry_get(p, g->p[i].s.section);

		if (!blocked_now(e))
			continue;
		snprintf(v[n].project, sizeof(v[n].project), "%s", e->section);
		v[n].errors = e->errors;
		snprintf(v[n].reason, sizeof(v[n].reason), "%s",
			 e->reason ? e->reason : "");
		n++;
	}
	pthread_mutex_unlock(&p->mu);
	gen_unref(g);
	*out = v;
	return n;
}
