/* SPDX-License-Identifier: MIT */
/*
 * The quick check of a steady poll (engine.h, docs/daemon.md "Quick
 * check"): one REST request (merged MRs updated since T) and one ref
 * advertisement, compared with what the last reconciliation that changed
 * nothing decided from. Equal: the answer is the same, and the mirror,
 * the MR cache file and project.cache are not touched. Anything else
 * (a difference, an error, a doubt) runs the full cycle.
 */
#include "engine.h"

#include "semver-tagger/gitlab_quick.h"
#include "semver-tagger/gitrepo_advert.h"
#include "semver-tagger/json.h"
#include "semver-tagger/urlrule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define CONNS_MAX 8           /* API origins with a kept client */
#define CONN_KEY_MAX 2048

/* ---- settings fingerprint ------------------------------------------------ */

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h * 31 + n;
}

uint64_t engine_settings_fingerprint(const struct engine_settings *s)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < config_key_count(); i++) {
		struct config_field f;

		config_project_field(&s->cfg, i, &f);
		if (f.is_string)
			h = mix(h, f.text ? f.text : "\1", f.text ?
				strlen(f.text) : 1);
		else
			h = mix(h, f.data, f.size);
	}
	h = mix(h, s->token.value, s->token.len);
	h = mix(h, s->state_dir, strlen(s->state_dir));
	return mix(h, &s->token_kind, sizeof(s->token_kind));
}

/* ---- connections ---------------------------------------------------------- */

struct conn {
	char *key;
	struct http_client *c;
	uint64_t used;
};

struct engine_conns {
	struct conn v[CONNS_MAX];
	uint64_t clock;
};

struct engine_conns *engine_conns_new(void)
{
	return calloc(1, sizeof(struct engine_conns));
}

static void conn_clear(struct conn *c)
{
	http_client_free(c->c);
	free(c->key);
	memset(c, 0, sizeof(*c));
}

void engine_conns_free(struct engine_conns *cs)
{
	if (!cs)
		return;
	for (size_t i = 0; i < CONNS_MAX; i++)
		conn_clear(&cs->v[i]);
	free(cs);
}

static int client_new(const struct engine_settings *s,
		      struct http_client **out, struct st_error *err)
{
	struct http_options o;

	http_options_default(&o);
	o.connect_timeout_ms = (long)s->cfg.connect_timeout * 1000;
	o.timeout_ms = (long)s->cfg.total_timeout * 1000;
	o.max_attempts = 1; /* a failure runs the full cycle, which retries */
	o.ca_file = s->cfg.ca_file;
	o.ca_path = s->cfg.ca_dir;
	return http_client_new(&o, out, err);
}

/* What a kept client must share: the API origin and TLS/timeout options. */
static bool conn_key(const struct engine_settings *s, char *key, size_t size)
{
	struct urlrule_origin o;

	if (!s->cfg.api_url || urlrule_origin(s->cfg.api_url, &o) != 0)
		return false;
	return (size_t)snprintf(key, size, "%s://%s:%u|%s|%s|%u|%u", o.scheme,
				o.host, o.port,
				s->cfg.ca_file ? s->cfg.ca_file : "",
				s->cfg.ca_dir ? s->cfg.ca_dir : "",
				s->cfg.connect_timeout, s->cfg.total_timeout)
	       < size;
}

/* The kept client for s (LRU among CONNS_MAX), or a new one in *own. */
static struct http_client *conn_for(struct engine_conns *cs,
				    const struct engine_settings *s,
				    struct http_client **own,
				    struct st_error *err)
{
	char key[CONN_KEY_MAX];
	struct conn *lru;

	*own = NULL;
	if (!cs || !conn_key(s, key, sizeof(key)))
		return client_new(s, own, err) ? NULL : *own;
	lru = &cs->v[0];
	for (size_t i = 0; i < CONNS_MAX; i++) {
		struct conn *c = &cs->v[i];

		if (c->key && strcmp(c->key, key) == 0) {
			c->used = ++cs->clock;
			return c->c;
		}
		if (!c->key || (lru->key && c->used < lru->used))
			lru = c;
	}
	conn_clear(lru);
	if (client_new(s, &lru->c, err) != 0)
		return NULL;
	if (!(lru->key = strdup(key))) {
		conn_clear(lru);
		return client_new(s, own, err) ? NULL : *own;
	}
	lru->used = ++cs->clock;
	return lru->c;
}

/* ---- the merged MRs ------------------------------------------------------- */

static uint64_t final_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Newest updated_at of l (-1: none). false when one does not parse. */
static bool mr_cursor(const struct forge_mr_list *l, int64_t *t)
{
	int64_t v;

	*t = -1;
	for (size_t i = 0; i < l->len; i++) {
		if (!l->items[i].updated_at ||
		    json_time_parse(l->items[i].updated_at, &v) != 0)
			return false;
		if (v > *t)
			*t = v;
	}
	return true;
}

/* (iid, updated_at) of the MRs updated at or after t, order-independent.
 * false when an updated_at does not parse. */
static bool mr_hash(const struct forge_mr_list *l, int64_t t, uint64_t *out)
{
	uint64_t sum = 0, n = 0;
	int64_t v;

	for (size_t i = 0; i < l->len; i++) {
		const struct forge_mr *m = &l->items[i];

		if (!m->updated_at || json_time_parse(m->updated_at, &v) != 0)
			return false;
		if (v < t)
			continue;
		sum += final_mix(mix(mix(1469598103934665603ull, &m->iid,
					 sizeof(m->iid)), &v, sizeof(v)));
		n++;
	}
	*out = final_mix(sum ^ n * 0x9e3779b97f4a7c15ull);
	return true;
}

/* ---- made by a full cycle ------------------------------------------------- */

static bool goals_done(const struct release_goal_report *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (g[i].state == GOAL_STATE_DONE)
			return true;
	return false;
}

/* Nothing written to GitLab or the repository by this run. */
static bool changed_nothing(const struct release_report *r)
{
	if (r->replans || r->release_objects || r->released_notes ||
	    goals_done(r->maintenance, r->n_maintenance))
		return false;
	for (size_t i = 0; i < r->n_branches; i++)
		if (r->branches[i].note_posted ||
		    goals_done(r->branches[i].goals, r->branches[i].n_goals))
			return false;
	return true;
}

void engine_quick_make(const struct engine_settings *s,
		       const struct release_warm *rw, struct engine_result *r)
{
	struct engine_quick *q = &r->quick;
	struct gitrepo_advert a;
	struct st_error e;
	int st = r->report.status;

	memset(q, 0, sizeof(*q));
	if ((st != ST_OK && st != ST_EREFUSED && st != ST_ECONFLICT) ||
	    s->dry_run || s->branch || !rw->repo || !rw->repo_url ||
	    strlen(rw->repo_url) >= sizeof(q->git_url) ||
	    !changed_nothing(&r->report))
		return;
	st_error_clear(&e);
	if (gitrepo_advert_mirror(rw->repo, &a, &e) != 0 ||
	    !mr_cursor(&rw->mrs, &q->mr_cursor_ms) ||
	    !mr_hash(&rw->mrs, q->mr_cursor_ms, &q->mr_hash))
		return;
	q->refs_hash = a.hash;
	q->settings_fp = engine_settings_fingerprint(s);
	memcpy(q->git_url, rw->repo_url, strlen(rw->repo_url) + 1);
	q->status = st;
	q->valid = true;
}

/* ---- used by a poll ------------------------------------------------------- */

static double cpu_now_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* The stored state may be used with these settings at all. NULL when
 * yes, else why not. */
static const char *usable(const struct engine_settings *s,
			  const struct engine_quick *q, struct st_error *e)
{
	bool configured;

	if (memchr(q->git_url, '\0', sizeof(q->git_url)) == NULL ||
	    !q->git_url[0])
		return "no git URL";
	if (q->settings_fp != engine_settings_fingerprint(s))
		return "settings changed";
	if (q->status != ST_OK && q->status != ST_EREFUSED &&
	    q->status != ST_ECONFLICT)
		return "last status not final";
	if (s->dry_run || s->branch || !s->cfg.api_url)
		return "not a plain reconciliation";
	/* the same rule as gitrepo's: a stored URL is trusted no more than
	 * a fresh one from the API */
	configured = s->cfg.git_url && strcmp(s->cfg.git_url, q->git_url) == 0;
	if (!urlrule_transport_safe(q->git_url) ||
	    urlrule_clone_url(s->cfg.api_url, q->git_url, configured, e) != 0)
		return "git URL refused for the token";
	return NULL;
}

static int mrs_same(struct http_client *c, const struct engine_settings *s,
		    const struct engine_quick *q, bool *same,
		    struct st_error *e)
{
	struct gitlab_quick_request rq = {
		.api_url = s->cfg.api_url,
		.project = s->cfg.project,
		.token = s->token.value,
		.token_kind = s->token_kind,
		.after_ms = q->mr_cursor_ms,
	};
	struct forge_mr_list l;
	bool more = false;
	uint64_t h = 0;
	int rc;

	forge_mr_list_init(&l);
	rc = gitlab_quick_merged(c, &rq, &l, &more, e);
	*same = rc == 0 && !more && mr_hash(&l, q->mr_cursor_ms, &h) &&
		h == q->mr_hash;
	forge_mr_list_release(&l);
	return rc;
}

static int refs_same(struct http_client *c, const struct engine_settings *s,
		     const struct engine_quick *q, bool *same,
		     struct st_error *e)
{
	struct gitrepo_advert_request rq = {
		.url = q->git_url,
		.username = s->token_kind == GITLAB_TOKEN_JOB
			    ? "gitlab-ci-token" : NULL,
		.token = s->token.value,
	};
	struct gitrepo_advert a;
	int rc = gitrepo_advert_fetch(c, &rq, &a, e);

	*same = rc == 0 && a.hash == q->refs_hash;
	return rc;
}

/* NULL when unchanged, else why the full cycle runs. */
static const char *check(const struct engine_settings *s,
			 const struct engine_quick *q,
			 struct engine_conns *conns, unsigned *rest,
			 char *why, size_t size)
{
	struct http_client *own = NULL, *c;
	struct st_error e;
	const char *res = NULL;
	bool same = false;

	st_error_clear(&e);
	if ((res = usable(s, q, &e)))
		return res;
	if (!(c = conn_for(conns, s, &own, &e)))
		return "no HTTP client";
	*rest = 1; /* sent, whatever comes back */
	if (mrs_same(c, s, q, &same, &e) != 0)
		res = "merged MR listing failed";
	else if (!same)
		res = "merged MRs changed";
	else if (refs_same(c, s, q, &same, &e) != 0)
		res = "ref advertisement failed";
	else if (!same)
		res = "refs changed";
	http_client_free(own);
	if (res && e.code) {
		snprintf(why, size, "%s: %s", res, e.msg);
		return why;
	}
	return res;
}

bool engine_quick_try(const struct engine_settings *s,
		      const struct engine_job *j, struct engine_conns *conns,
		      struct engine_result *r)
{
	double t0 = cpu_now_ms();
	char buf[sizeof(r->quick_why)];
	const char *why;
	unsigned rest = 0;

	if (j->kind != ENGINE_JOB_RECONCILE || !j->quick_ok ||
	    !j->quick.valid)
		return false;
	why = check(s, &j->quick, conns, &rest, buf, sizeof(buf));
	r->cpu_ms += cpu_now_ms() - t0;
	/* counted with the full cycle's requests when one follows */
	r->report.api_requests = rest;
	if (why) {
		snprintf(r->quick_why, sizeof(r->quick_why), "%s", why);
		return false;
	}
	r->quick_outcome = ENGINE_QUICK_UNCHANGED;
	r->report.status = j->quick.status;
	return true;
}
