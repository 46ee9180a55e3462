/* SPDX-License-Identifier: MIT */
/* The daemon <-> worker protocol (wire.h). */
#include "wire.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NULL_LEN 0xffffffffu

/* ---- building ------------------------------------------------------------ */

void wire_buf_init(struct wire_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void wire_buf_release(struct wire_buf *b)
{
	if (!b)
		return;
	free(b->p);
	wire_buf_init(b);
}

static void put(struct wire_buf *b, const void *p, size_t n)
{
	if (b->failed)
		return;
	if (n > WIRE_MSG_MAX - b->len) {
		b->failed = true;
		return;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		unsigned char *g;

		while (cap < b->len + n)
			cap *= 2;
		if (!(g = realloc(b->p, cap))) {
			b->failed = true;
			return;
		}
		b->p = g;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_u32(struct wire_buf *b, uint32_t v)
{
	put(b, &v, sizeof(v));
}

static void put_u64(struct wire_buf *b, uint64_t v)
{
	put(b, &v, sizeof(v));
}

static void put_str(struct wire_buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (s && n >= WIRE_STR_MAX) {
		b->failed = true;
		return;
	}
	put_u32(b, s ? (uint32_t)n : NULL_LEN);
	put(b, s, n);
}

/* A fixed-size plain struct (same binary on both ends). */
static void put_pod(struct wire_buf *b, const void *p, size_t n)
{
	put_u32(b, (uint32_t)n);
	put(b, p, n);
}

/* ---- reading ------------------------------------------------------------- */

struct rd {
	const unsigned char *p;
	size_t n, off;
	const char *bad;  /* first field that did not decode */
	const char *at;   /* field being read */
};

static bool get(struct rd *r, void *out, size_t n)
{
	if (r->bad || n > r->n - r->off) {
		if (!r->bad)
			r->bad = r->at;
		return false;
	}
	memcpy(out, r->p + r->off, n);
	r->off += n;
	return true;
}

static uint32_t get_u32(struct rd *r)
{
	uint32_t v = 0;

	get(r, &v, sizeof(v));
	return v;
}

static uint64_t get_u64(struct rd *r)
{
	uint64_t v = 0;

	get(r, &v, sizeof(v));
	return v;
}

/* A string: malloc'd copy (NULL for a null string or on error). Refuses
 * embedded NUL bytes. */
static char *get_str(struct rd *r)
{
	uint32_t n = get_u32(r);
	char *s;

	if (r->bad || n == NULL_LEN)
		return NULL;
	if (n >= WIRE_STR_MAX || n > r->n - r->off ||
	    memchr(r->p + r->off, '\0', n)) {
		r->bad = r->at;
		return NULL;
	}
	if (!(s = malloc((size_t)n + 1))) {
		r->bad = "out of memory";
		return NULL;
	}
	memcpy(s, r->p + r->off, n);
	s[n] = '\0';
	r->off += n;
	return s;
}

/* A non-null string into a fixed buffer. */
static void get_fixed(struct rd *r, char *buf, size_t size)
{
	char *s = get_str(r);

	buf[0] = '\0';
	if (s && strlen(s) < size)
		memcpy(buf, s, strlen(s) + 1);
	else if (!r->bad)
		r->bad = r->at;
	free(s);
}

static void get_pod(struct rd *r, void *out, size_t n)
{
	if (get_u32(r) != n) {
		if (!r->bad)
			r->bad = r->at;
		return;
	}
	get(r, out, n);
}

/* An array count: each element takes at least min_size bytes, so a count
 * past what the payload can hold is refused before any allocation. */
static size_t get_count(struct rd *r, size_t min_size)
{
	uint32_t n = get_u32(r);

	if (r->bad || (size_t)n > (r->n - r->off) / min_size) {
		if (!r->bad)
			r->bad = r->at;
		return 0;
	}
	return n;
}

static void *get_array(struct rd *r, size_t n, size_t size)
{
	void *p = calloc(n + 1, size);

	if (!p && !r->bad)
		r->bad = "out of memory";
	return p;
}

static void terminate(char *s, size_t size)
{
	s[size - 1] = '\0';
}

/* ---- quick-check state (issue 12) ------------------------------------- */

static void put_quick(struct wire_buf *b, const struct engine_quick *q)
{
	put_u32(b, q->valid);
	put_u64(b, q->settings_fp);
	put_u64(b, q->refs_hash);
	put_u64(b, (uint64_t)q->mr_cursor_ms);
	put_u64(b, q->mr_hash);
	put_str(b, q->valid ? q->git_url : "");
	put_u32(b, (uint32_t)q->status);
	put_u64(b, (uint64_t)q->full_at);
}

/* Validated: a flag 0/1, a cursor >= -1, a final status, a URL that
 * fits; an invalid state carries nothing. */
static void get_quick(struct rd *r, struct engine_quick *q)
{
	uint32_t valid;

	r->at = "quick-check state";
	valid = get_u32(r);
	q->settings_fp = get_u64(r);
	q->refs_hash = get_u64(r);
	q->mr_cursor_ms = (int64_t)get_u64(r);
	q->mr_hash = get_u64(r);
	get_fixed(r, q->git_url, sizeof(q->git_url));
	q->status = (int)get_u32(r);
	q->full_at = (int64_t)get_u64(r);
	if (r->bad)
		return;
	if (valid > 1 || q->mr_cursor_ms < -1 ||
	    (valid && (!q->git_url[0] || (q->status != ST_OK &&
					  q->status != ST_EREFUSED &&
					  q->status != ST_ECONFLICT))))
		r->bad = r->at;
	q->valid = valid == 1;
}

/* ---- end of the quick-check state -------------------------------------- */

/* ---- settings and job ---------------------------------------------------- */

static void put_cfg(struct wire_buf *b, const struct config_project *p)
{
	size_t n = config_key_count();

	put_str(b, p->name);
	put_u64(b, p->set);
	put_u32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		struct config_field f;

		config_project_field(p, i, &f);
		put_u32(b, f.is_string);
		if (f.is_string)
			put_str(b, f.text);
		else
			put_pod(b, f.data, f.size);
	}
}

static void get_cfg(struct rd *r, struct config_project *p)
{
	size_t n;

	r->at = "project settings";
	p->name = get_str(r);
	p->set = get_u64(r);
	n = get_u32(r);
	if (n != config_key_count() && !r->bad)
		r->bad = "project settings (another version's keys)";
	for (size_t i = 0; i < n && !r->bad; i++) {
		struct config_field f = { 0 };
		unsigned char data[64];
		char *text = NULL;

		f.is_string = get_u32(r) != 0;
		if (f.is_string) {
			f.text = text = get_str(r);
		} else {
			f.size = get_u32(r);
			if (f.size > sizeof(data) || !get(r, data, f.size))
				r->bad = r->at;
			f.data = data;
		}
		if (!r->bad && config_project_field_set(p, i, &f) != 0)
			r->bad = r->at;
		free(text);
	}
}

int wire_put_job(struct wire_buf *b, uint64_t seq,
		 const struct engine_settings *s, const struct engine_job *j,
		 bool warm_ok)
{
	b->len = 0;
	b->failed = false;
	put_u64(b, seq);
	put_cfg(b, &s->cfg);
	put_str(b, s->section);
	put_str(b, s->state_dir);
	put_str(b, s->token.value);
	put_u32(b, (uint32_t)s->token_kind);
	put_str(b, s->branch);
	put_u32(b, (uint32_t)s->dry_run | (uint32_t)s->debug << 1 |
			   (uint32_t)warm_ok << 2);
	put_str(b, s->failpoint);
	put_u64(b, (uint64_t)s->network_timeout_ms);
	put_u32(b, (uint32_t)j->kind);
	put_u64(b, (uint64_t)j->iid);
	/* quick check (issue 12) */
	put_u32(b, j->quick_ok);
	put_quick(b, &j->quick);
	return b->failed ? ST_ENOMEM : ST_OK;
}

int wire_get_job(const void *p, size_t n, uint64_t *seq,
		 struct engine_settings *s, struct engine_job *j,
		 bool *warm_ok, struct st_error *err)
{
	struct rd r = { p, n, 0, NULL, "sequence" };
	char *token;
	uint32_t flags, kind, tk, quick_ok;
	int rc = 0;

	*seq = get_u64(&r);
	get_cfg(&r, &s->cfg);
	r.at = "settings";
	s->section = get_str(&r);
	s->state_dir = get_str(&r);
	token = get_str(&r);
	tk = get_u32(&r);
	s->branch = get_str(&r);
	flags = get_u32(&r);
	s->failpoint = get_str(&r);
	s->network_timeout_ms = (long)get_u64(&r);
	r.at = "job";
	kind = get_u32(&r);
	j->iid = (int64_t)get_u64(&r);
	/* quick check (issue 12) */
	quick_ok = get_u32(&r);
	get_quick(&r, &j->quick);
	if (quick_ok > 1 && !r.bad)
		r.bad = "job quick flag";
	j->quick_ok = quick_ok == 1;
	if (token) {
		rc = secret_set(&s->token, token, strlen(token), "the daemon",
				err);
		explicit_bzero(token, strlen(token));
		free(token);
	}
	if (rc)
		return rc;
	if (!r.bad && (!s->section || !s->state_dir || !s->cfg.project ||
		       !s->token.value || tk > GITLAB_TOKEN_JOB ||
		       (kind != ENGINE_JOB_RECONCILE &&
			kind != ENGINE_JOB_CHECK_MR &&
			kind != ENGINE_JOB_ASSESS) || r.off != r.n))
		r.bad = "job (missing or extra fields)";
	if (r.bad)
		return st_error_set(err, ST_EINVAL, "job message: bad %s",
				    r.bad);
	s->token_kind = (enum gitlab_token_kind)tk;
	s->dry_run = flags & 1;
	s->debug = flags & 2;
	*warm_ok = flags & 4;
	j->kind = (enum engine_job_kind)kind;
	return ST_OK;
}

/* ---- result ------------------------------------------------------------- */

static void put_goal_report(struct wire_buf *b,
			    const struct release_goal_report *g)
{
	put_pod(b, g, sizeof(*g));
}

static bool goal_report_ok(struct release_goal_report *g)
{
	terminate(g->goal.branch, sizeof(g->goal.branch));
	terminate(g->goal.version, sizeof(g->goal.version));
	terminate(g->action, sizeof(g->action));
	terminate(g->commit, sizeof(g->commit));
	terminate(g->detail, sizeof(g->detail));
	return (unsigned)g->goal.kind <= GOAL_PREP &&
	       (unsigned)g->state <= GOAL_STATE_SKIPPED;
}

static void put_plan(struct wire_buf *b, const struct policy_plan *p)
{
	put_pod(b, &p->branch, sizeof(p->branch));
	put_u32(b, (uint32_t)p->release | (uint32_t)p->stable << 1);
	put_pod(b, &p->next, sizeof(p->next));
	put_u32(b, (uint32_t)p->impact);
	put_u32(b, (uint32_t)p->n_goals);
	for (size_t i = 0; i < p->n_goals; i++)
		put_pod(b, &p->goals[i], sizeof(p->goals[i]));
	put_u32(b, (uint32_t)p->n_problems);
	for (size_t i = 0; i < p->n_problems; i++)
		put_pod(b, &p->problems[i], sizeof(p->problems[i]));
	put_u64(b, p->n_errors);
}

static void get_plan(struct rd *r, struct policy_plan *p)
{
	uint32_t flags, impact;

	r->at = "plan";
	get_pod(r, &p->branch, sizeof(p->branch));
	flags = get_u32(r);
	get_pod(r, &p->next, sizeof(p->next));
	impact = get_u32(r);
	if ((unsigned)p->branch.role > BRANCH_OTHER || impact > IMPACT_MAJOR)
		r->bad = r->bad ? r->bad : r->at;
	p->release = flags & 1;
	p->stable = flags & 2;
	p->impact = (enum impact)impact;
	p->n_goals = get_count(r, sizeof(struct policy_goal));
	if ((p->goals = get_array(r, p->n_goals, sizeof(*p->goals))))
		for (size_t i = 0; i < p->n_goals; i++) {
			get_pod(r, &p->goals[i], sizeof(p->goals[i]));
			terminate(p->goals[i].branch,
				  sizeof(p->goals[i].branch));
			terminate(p->goals[i].version,
				  sizeof(p->goals[i].version));
			if ((unsigned)p->goals[i].kind > GOAL_PREP && !r->bad)
				r->bad = "plan goal";
		}
	else
		p->n_goals = 0;
	p->n_problems = get_count(r, sizeof(struct policy_problem));
	if ((p->problems = get_array(r, p->n_problems, sizeof(*p->problems))))
		for (size_t i = 0; i < p->n_problems; i++) {
			get_pod(r, &p->problems[i], sizeof(p->problems[i]));
			terminate(p->problems[i].message,
				  sizeof(p->problems[i].message));
			if ((unsigned)p->problems[i].kind >
				    PROBLEM_SEVERAL_IMPACTS && !r->bad)
				r->bad = "plan problem";
		}
	else
		p->n_problems = 0;
	p->n_errors = get_u64(r);
	if (p->n_errors > p->n_problems && !r->bad)
		r->bad = "plan error count";
}

static void put_branch(struct wire_buf *b, const struct release_branch_report *br)
{
	put_str(b, br->branch);
	put_plan(b, &br->plan);
	put_u32(b, (uint32_t)br->n_mrs);
	for (size_t i = 0; i < br->n_mrs; i++) {
		put_u64(b, (uint64_t)br->mrs[i].iid);
		put_str(b, br->mrs[i].title);
		put_str(b, br->mrs[i].web_url);
		put_str(b, br->mrs[i].author);
		put_u32(b, (uint32_t)br->mrs[i].impact);
	}
	put_u32(b, (uint32_t)br->n_goals);
	for (size_t i = 0; i < br->n_goals; i++)
		put_goal_report(b, &br->goals[i]);
	put_u32(b, (uint32_t)br->status);
	put_str(b, br->error);
	put_u32(b, br->note_posted);
}

static void get_branch(struct rd *r, struct release_branch_report *br)
{
	r->at = "branch";
	br->branch = get_str(r);
	get_plan(r, &br->plan);
	r->at = "branch MRs";
	br->n_mrs = get_count(r, 24);
	if ((br->mrs = get_array(r, br->n_mrs, sizeof(*br->mrs))))
		for (size_t i = 0; i < br->n_mrs && !r->bad; i++) {
			br->mrs[i].iid = (int64_t)get_u64(r);
			br->mrs[i].title = get_str(r);
			br->mrs[i].web_url = get_str(r);
			br->mrs[i].author = get_str(r);
			br->mrs[i].impact = (enum impact)get_u32(r);
			if ((unsigned)br->mrs[i].impact > IMPACT_MAJOR)
				r->bad = r->at;
		}
	else
		br->n_mrs = 0;
	r->at = "branch goals";
	br->n_goals = get_count(r, sizeof(struct release_goal_report));
	if ((br->goals = get_array(r, br->n_goals, sizeof(*br->goals))))
		for (size_t i = 0; i < br->n_goals; i++) {
			get_pod(r, &br->goals[i], sizeof(br->goals[i]));
			if (!goal_report_ok(&br->goals[i]) && !r->bad)
				r->bad = r->at;
		}
	else
		br->n_goals = 0;
	br->status = (int)get_u32(r);
	get_fixed(r, br->error, sizeof(br->error));
	br->note_posted = get_u32(r) != 0;
}

static void put_strings(struct wire_buf *b, char *const *v, size_t n)
{
	put_u32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_str(b, v[i]);
}

static char **get_strings(struct rd *r, size_t *n)
{
	char **v;

	*n = get_count(r, 4);
	if (!(v = get_array(r, *n, sizeof(*v)))) {
		*n = 0;
		return NULL;
	}
	for (size_t i = 0; i < *n; i++)
		if (!(v[i] = get_str(r)) && !r->bad)
			r->bad = r->at;
	return v;
}

/* --- preflight (issue 13) --- */
static void put_assess(struct wire_buf *b, const struct engine_assess *a)
{
	put_u32(b, a->ran);
	put_u64(b, a->errors);
	put_u64(b, a->warnings);
	put_u64(b, a->n_more);
	put_u32(b, (uint32_t)a->n);
	for (size_t i = 0; i < a->n; i++) {
		put_u32(b, (uint32_t)a->items[i].severity);
		put_str(b, a->items[i].check);
		put_str(b, a->items[i].problem);
		put_str(b, a->items[i].fix);
	}
}

/* Every count against its cap and the others: errors + warnings is
 * every problem, carried or not; the carried errors fit in errors. */
static void get_assess(struct rd *r, struct engine_assess *a)
{
	size_t errs = 0;

	r->at = "assessment";
	a->ran = get_u32(r) != 0;
	a->errors = get_u64(r);
	a->warnings = get_u64(r);
	a->n_more = get_u64(r);
	a->n = get_count(r, 16);
	if (a->n > ENGINE_ASSESS_MAX && !r->bad)
		r->bad = r->at;
	if (r->bad) {
		a->n = 0;
		return;
	}
	if (a->n && !(a->items = get_array(r, a->n, sizeof(*a->items))))
		a->n = 0;
	for (size_t i = 0; i < a->n && !r->bad; i++) {
		struct engine_assess_problem *p = &a->items[i];
		uint32_t sev = get_u32(r);

		if (sev > ENGINE_ASSESS_WARNING)
			r->bad = "assessment severity";
		p->severity = (enum engine_assess_severity)sev;
		errs += sev == ENGINE_ASSESS_ERROR;
		get_fixed(r, p->check, sizeof(p->check));
		get_fixed(r, p->problem, sizeof(p->problem));
		get_fixed(r, p->fix, sizeof(p->fix));
	}
	if (!r->bad && (a->n_more > UINT32_MAX || errs > a->errors ||
			a->errors > UINT32_MAX || a->warnings > UINT32_MAX ||
			a->errors + a->warnings != a->n + a->n_more ||
			(!a->ran && (a->n || a->n_more))))
		r->bad = "assessment counts";
}
/* --- end preflight --- */

int wire_put_result(struct wire_buf *b, uint64_t seq,
		    const struct engine_result *res)
{
	const struct release_report *r = &res->report;
	const struct engine_check *c = &res->check;

	b->len = 0;
	b->failed = false;
	put_u64(b, seq);
	put_str(b, r->project);
	put_str(b, r->default_branch);
	put_str(b, r->web_url);
	put_u32(b, (uint32_t)r->n_branches);
	for (size_t i = 0; i < r->n_branches; i++)
		put_branch(b, &r->branches[i]);
	put_u32(b, (uint32_t)r->n_maintenance);
	for (size_t i = 0; i < r->n_maintenance; i++)
		put_goal_report(b, &r->maintenance[i]);
	put_strings(b, r->warnings, r->n_warnings);
	put_strings(b, r->debug, r->n_debug);
	put_u32(b, r->replans);
	put_u32(b, r->api_requests);
	put_u32(b, (uint32_t)r->status);
	put_str(b, r->error);
	put_u32(b, (uint32_t)c->outcome);
	put_u32(b, c->success);
	put_str(b, c->sha);
	put_str(b, c->target);
	put_str(b, c->desc);
	put_str(b, c->title);
	put_str(b, c->web_url);
	put_str(b, c->error);
	put_u32(b, (uint32_t)res->n_recheck);
	for (size_t i = 0; i < res->n_recheck; i++)
		put_u64(b, (uint64_t)res->recheck[i]);
	put_u32(b, res->warm);
	put_u64(b, (uint64_t)(res->cpu_ms * 1000.0));
	/* quick check (issue 12) */
	put_u32(b, (uint32_t)res->quick_outcome);
	put_str(b, res->quick_why);
	put_quick(b, &res->quick);
	put_assess(b, &res->assess); /* preflight (issue 13) */
	return b->failed ? ST_ENOMEM : ST_OK;
}

static bool status_ok(int st)
{
	return st <= 0 && st >= ST_EINTERNAL;
}

static void get_report(struct rd *r, struct release_report *rep)
{
	r->at = "report";
	rep->project = get_str(r);
	rep->default_branch = get_str(r);
	rep->web_url = get_str(r); /* NULL when GitLab gave none */
	rep->n_branches = get_count(r, 64);
	if ((rep->branches = get_array(r, rep->n_branches,
				       sizeof(*rep->branches))))
		for (size_t i = 0; i < rep->n_branches && !r->bad; i++) {
			policy_plan_init(&rep->branches[i].plan);
			get_branch(r, &rep->branches[i]);
			if (!status_ok(rep->branches[i].status))
				r->bad = "branch status";
		}
	else
		rep->n_branches = 0;
	r->at = "maintenance goals";
	rep->n_maintenance = get_count(r, sizeof(struct release_goal_report));
	if ((rep->maintenance = get_array(r, rep->n_maintenance,
					  sizeof(*rep->maintenance))))
		for (size_t i = 0; i < rep->n_maintenance; i++) {
			get_pod(r, &rep->maintenance[i],
				sizeof(rep->maintenance[i]));
			if (!goal_report_ok(&rep->maintenance[i]) && !r->bad)
				r->bad = r->at;
		}
	else
		rep->n_maintenance = 0;
	r->at = "warnings";
	rep->warnings = get_strings(r, &rep->n_warnings);
	r->at = "debug lines";
	rep->debug = get_strings(r, &rep->n_debug);
	r->at = "report";
	rep->replans = get_u32(r);
	rep->api_requests = get_u32(r);
	rep->status = (int)get_u32(r);
	get_fixed(r, rep->error, sizeof(rep->error));
	if (!status_ok(rep->status) && !r->bad)
		r->bad = "report status";
}

int wire_get_result(const void *p, size_t n, uint64_t *seq,
		    struct engine_result *res, struct st_error *err)
{
	struct rd r = { p, n, 0, NULL, "sequence" };
	struct engine_check *c = &res->check;
	uint32_t outcome, quick;

	*seq = get_u64(&r);
	get_report(&r, &res->report);
	r.at = "check";
	outcome = get_u32(&r);
	c->success = get_u32(&r) != 0;
	get_fixed(&r, c->sha, sizeof(c->sha));
	get_fixed(&r, c->target, sizeof(c->target));
	get_fixed(&r, c->desc, sizeof(c->desc));
	get_fixed(&r, c->title, sizeof(c->title));
	get_fixed(&r, c->web_url, sizeof(c->web_url));
	get_fixed(&r, c->error, sizeof(c->error));
	if (outcome > ENGINE_CHECK_FAILED && !r.bad)
		r.bad = r.at;
	c->outcome = (enum engine_check_outcome)outcome;
	r.at = "re-checks";
	res->n_recheck = get_count(&r, 8);
	if ((res->recheck = get_array(&r, res->n_recheck,
				      sizeof(*res->recheck))))
		for (size_t i = 0; i < res->n_recheck; i++)
			res->recheck[i] = (int64_t)get_u64(&r);
	else
		res->n_recheck = 0;
	r.at = "result";
	res->warm = get_u32(&r) != 0;
	res->cpu_ms = (double)get_u64(&r) / 1000.0;
	/* quick check (issue 12) */
	quick = get_u32(&r);
	get_fixed(&r, res->quick_why, sizeof(res->quick_why));
	get_quick(&r, &res->quick);
	if (quick > ENGINE_QUICK_UNCHANGED && !r.bad)
		r.bad = "quick-check outcome";
	res->quick_outcome = (enum engine_quick_outcome)quick;
	get_assess(&r, &res->assess); /* preflight (issue 13) */
	if (!r.bad && r.off != r.n)
		r.bad = "result (extra bytes)";
	if (r.bad)
		return st_error_set(err, ST_EINVAL, "result message: bad %s",
				    r.bad);
	return ST_OK;
}

/* ---- frames -------------------------------------------------------------- */

int wire_send(int fd, uint32_t type, const struct wire_buf *b)
{
	uint32_t hdr[2] = { type, (uint32_t)b->len };
	const unsigned char *parts[2] = { (const unsigned char *)hdr, b->p };
	size_t lens[2] = { sizeof(hdr), b->len };

	if (b->failed || b->len > WIRE_MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	for (int k = 0; k < 2; k++)
		for (size_t off = 0; off < lens[k];) {
			ssize_t w = write(fd, parts[k] + off, lens[k] - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				/* a non-blocking end: the reader is there */
				struct pollfd p = { fd, POLLOUT, 0 };

				if (poll(&p, 1, 10000) <= 0)
					return -1;
				continue;
			}
			if (w <= 0)
				return -1;
			off += (size_t)w;
		}
	return 0;
}

void wire_rx_init(struct wire_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	wire_buf_init(&rx->body);
}

void wire_rx_release(struct wire_rx *rx)
{
	wire_buf_release(&rx->body);
	wire_rx_init(rx);
}

static int rx_header(struct wire_rx *rx)
{
	memcpy(&rx->type, rx->hdr, 4);
	memcpy(&rx->len, rx->hdr + 4, 4);
	if (rx->len > WIRE_MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	rx->body.p = malloc(rx->len ? rx->len : 1);
	if (!rx->body.p)
		return -1;
	rx->body.cap = rx->len;
	return 0;
}

int wire_rx_read(int fd, struct wire_rx *rx)
{
	for (;;) {
		bool in_hdr = rx->got < sizeof(rx->hdr);
		size_t want = in_hdr ? sizeof(rx->hdr) - rx->got
				     : rx->len - rx->body.len;
		unsigned char *dst = in_hdr ? rx->hdr + rx->got
					    : rx->body.p + rx->body.len;
		ssize_t n;

		if (!in_hdr && want == 0)
			return 1;
		n = read(fd, dst, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		rx->got += (size_t)n;
		if (!in_hdr)
			rx->body.len += (size_t)n;
		else if (rx->got == sizeof(rx->hdr) && rx_header(rx) != 0)
			return -1;
	}
}
