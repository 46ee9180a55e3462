/* SPDX-License-Identifier: MIT */
#include "statusboard.h"

#include "statuspage.h"
#include "semver-tagger/error.h"
#include "semver-tagger/log.h"
#include "semver-tagger/semver.h"

#include "semver-tagger/webhook.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A blocker or an open MR, owned copies. */
struct board_mr {
	int64_t iid;
	char *title, *url, *detail;
	bool success;     /* open MRs: the verdict */
	int64_t checked;  /* open MRs: when */
};

struct board_entry {
	char *name;       /* the configuration section */
	char *path, *web_url;
	char *latest_tag;
	/* grown on demand: a project without MRs costs a few pointers */
	struct board_mr *blockers;  /* at most STATUSBOARD_BLOCKERS_MAX */
	size_t n_blockers, cap_blockers;
	struct board_mr *open;      /* at most STATUSBOARD_OPEN_MAX, oldest
				     * verdict first */
	size_t n_open, cap_open;
};

struct statusboard {
	pthread_mutex_t lock;
	struct board_entry **e; /* sorted by name */
	size_t n, cap;
};

/* A copy cut at STATUSBOARD_TEXT_MAX bytes, not inside a UTF-8
 * sequence. NULL for NULL (or out of memory: the fact is then unknown). */
static char *text_dup(const char *s)
{
	size_t n;
	char *d;

	if (!s)
		return NULL;
	n = strlen(s);
	if (n > STATUSBOARD_TEXT_MAX) {
		n = STATUSBOARD_TEXT_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static void set_text(char **field, const char *s)
{
	char *d = text_dup(s);

	if (s && !d)
		return; /* out of memory: keep the old value */
	free(*field);
	*field = d;
}

static void mr_clear(struct board_mr *m)
{
	free(m->title);
	free(m->url);
	free(m->detail);
	memset(m, 0, sizeof(*m));
}

/* A new zeroed last element of *arr (n of cap used), growing it up to
 * max elements. NULL when full or out of memory. */
static struct board_mr *slot(struct board_mr **arr, size_t *n, size_t *cap,
			     size_t max)
{
	if (*n == max)
		return NULL;
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 4;
		struct board_mr *grown;

		if (c > max)
			c = max;
		grown = realloc(*arr, c * sizeof(*grown));
		if (!grown)
			return NULL;
		*arr = grown;
		*cap = c;
	}
	memset(&(*arr)[*n], 0, sizeof(**arr));
	return &(*arr)[(*n)++];
}

static void entry_free(struct board_entry *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n_blockers; i++)
		mr_clear(&x->blockers[i]);
	for (size_t i = 0; i < x->n_open; i++)
		mr_clear(&x->open[i]);
	free(x->blockers);
	free(x->open);
	free(x->name);
	free(x->path);
	free(x->web_url);
	free(x->latest_tag);
	free(x);
}

struct statusboard *statusboard_new(void)
{
	struct statusboard *b = calloc(1, sizeof(*b));

	if (b)
		pthread_mutex_init(&b->lock, NULL);
	return b;
}

void statusboard_free(struct statusboard *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		entry_free(b->e[i]);
	free(b->e);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* Index of name, or where it would go (*found false). Lock held. */
static size_t find(const struct statusboard *b, const char *name, bool *found)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(b->e[mid]->name, name);

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

/* The entry of name, created when missing. NULL out of memory. Lock
 * held. Entries of projects that left the configuration stay (about a
 * hundred bytes plus their MRs) and are not shown: the page lists the
 * scheduler's projects. */
static struct board_entry *entry_get(struct statusboard *b, const char *name)
{
	bool found;
	size_t at = find(b, name, &found);
	struct board_entry *x;

	if (found)
		return b->e[at];
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct board_entry **grown = realloc(b->e, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		b->e = grown;
		b->cap = cap;
	}
	x = calloc(1, sizeof(*x));
	if (!x || !(x->name = strdup(name))) {
		free(x);
		return NULL;
	}
	memmove(&b->e[at + 1], &b->e[at], (b->n - at) * sizeof(*b->e));
	b->e[at] = x;
	b->n++;
	return x;
}

/* Raise *best to v when it is a higher release. */
static void consider(const struct semver_ver *v, struct semver_ver *best,
		     bool *have)
{
	if (!*have || semver_ver_compare(v, best) > 0) {
		*best = *v;
		*have = true;
	}
}

/* The highest release the report knows: each family branch's latest,
 * and the tags this cycle made or found. */
static void latest_from(struct board_entry *x, const char *prefix,
			const struct release_report *r)
{
	struct semver_ver best = { 0, 0, 0 };
	bool have = false;
	char tag[SEMVER_VER_STR_MAX + 128];

	for (size_t i = 0; i < r->n_branches; i++) {
		const struct release_branch_report *b = &r->branches[i];

		if (b->plan.branch.has_latest &&
		    b->plan.branch.role != BRANCH_OTHER &&
		    b->plan.branch.role != BRANCH_NO_FAMILY)
			consider(&b->plan.branch.latest, &best, &have);
		for (size_t k = 0; k < b->n_goals; k++)
			if (b->goals[k].goal.kind == GOAL_TAG &&
			    (b->goals[k].state == GOAL_STATE_DONE ||
			     b->goals[k].state == GOAL_STATE_ACHIEVED))
				consider(&b->goals[k].goal.release, &best,
					 &have);
	}
	if (have && semver_tag_name(&best, prefix ? prefix : "", tag,
				    sizeof(tag)) == 0)
		set_text(&x->latest_tag, tag);
}

/* The MR !iid among a branch's new MRs (title, web_url), or NULL. */
static const struct release_mr_report *
branch_mr(const struct release_branch_report *b, int64_t iid)
{
	for (size_t i = 0; iid > 0 && i < b->n_mrs; i++)
		if (b->mrs[i].iid == iid)
			return &b->mrs[i];
	return NULL;
}

static bool has_blocker(const struct board_entry *x, int64_t iid,
			const char *msg)
{
	for (size_t i = 0; i < x->n_blockers; i++)
		if (iid ? x->blockers[i].iid == iid
			: !x->blockers[i].iid && x->blockers[i].detail &&
			  strcmp(x->blockers[i].detail, msg) == 0)
			return true;
	return false;
}

/* The refusal's problems, one per MR (or per reason naming none). */
static void blockers_from(struct board_entry *x,
			  const struct release_report *r)
{
	for (size_t i = 0; i < x->n_blockers; i++)
		mr_clear(&x->blockers[i]);
	x->n_blockers = 0;
	for (size_t i = 0; i < r->n_branches; i++) {
		const struct release_branch_report *b = &r->branches[i];

		for (size_t k = 0; k < b->plan.n_problems; k++) {
			const struct policy_problem *p = &b->plan.problems[k];
			int64_t iid = p->iid <= INT64_MAX ? (int64_t)p->iid : 0;
			const struct release_mr_report *m = branch_mr(b, iid);
			struct board_mr *y;

			if (!p->is_error || has_blocker(x, iid, p->message))
				continue;
			y = slot(&x->blockers, &x->n_blockers,
				 &x->cap_blockers, STATUSBOARD_BLOCKERS_MAX);
			if (!y)
				return; /* full: the first ones are shown */
			y->iid = iid;
			y->title = text_dup(m ? m->title : NULL);
			y->url = text_dup(m ? m->web_url : NULL);
			y->detail = text_dup(p->message);
		}
	}
}

static void open_remove(struct board_entry *x, size_t i)
{
	mr_clear(&x->open[i]);
	memmove(&x->open[i], &x->open[i + 1],
		(x->n_open - i - 1) * sizeof(x->open[0]));
	x->n_open--;
}

/* An MR a reconciliation saw merged is no longer open. */
static void drop_merged(struct board_entry *x, const struct release_report *r)
{
	for (size_t b = 0; b < r->n_branches; b++)
		for (size_t i = 0; i < x->n_open;)
			if (branch_mr(&r->branches[b], x->open[i].iid))
				open_remove(x, i);
			else
				i++;
}

void statusboard_cycle(struct statusboard *b, const char *name,
		       const char *tag_prefix, const struct release_report *r)
{
	struct board_entry *x;

	if (!b || !name || !r)
		return;
	pthread_mutex_lock(&b->lock);
	x = entry_get(b, name);
	if (x) {
		if (r->project && *r->project && strcmp(r->project, "?") != 0)
			set_text(&x->path, r->project);
		if (r->web_url && *r->web_url)
			set_text(&x->web_url, r->web_url);
		latest_from(x, tag_prefix, r);
		if (r->n_branches) /* else the cycle stopped before planning */
			blockers_from(x, r);
		drop_merged(x, r);
	}
	pthread_mutex_unlock(&b->lock);
}

void statusboard_verdict(struct statusboard *b, const char *name,
			 int64_t iid, const char *title, const char *url,
			 bool success, const char *description, int64_t now)
{
	struct board_entry *x;
	struct board_mr *m = NULL;

	if (!b || !name || iid <= 0)
		return;
	pthread_mutex_lock(&b->lock);
	x = entry_get(b, name);
	for (size_t i = 0; x && i < x->n_open; i++)
		if (x->open[i].iid == iid)
			open_remove(x, i); /* re-added as the newest */
	if (x && x->n_open == STATUSBOARD_OPEN_MAX)
		open_remove(x, 0); /* the oldest verdict goes */
	if (x)
		m = slot(&x->open, &x->n_open, &x->cap_open,
			 STATUSBOARD_OPEN_MAX);
	if (m) {
		m->iid = iid;
		m->title = text_dup(title);
		m->url = text_dup(url);
		m->detail = text_dup(description);
		m->success = success;
		m->checked = now;
	}
	pthread_mutex_unlock(&b->lock);
}

void statusboard_forget(struct statusboard *b, const char *name, int64_t iid)
{
	bool found;
	size_t at;

	if (!b || !name)
		return;
	pthread_mutex_lock(&b->lock);
	at = find(b, name, &found);
	for (size_t i = 0; found && i < b->e[at]->n_open; i++)
		if (b->e[at]->open[i].iid == iid) {
			open_remove(b->e[at], i);
			break;
		}
	pthread_mutex_unlock(&b->lock);
}

/* ---- the snapshot (the listener's thread) ------------------------------ */

/* Per project: what the snapshot borrows that is not in the board. */
struct row {
	char error[SCHED_MSG_MAX];
	char why[SCHED_MSG_MAX + 128];
};

static enum statuspage_state state_of(const struct sched_stats *st)
{
	if (st->last_cycle_unix <= 0)
		return STATUSPAGE_PENDING;
	if (st->last_status == ST_OK)
		return STATUSPAGE_OK;
	if (st->last_status == ST_EREFUSED || st->last_status == ST_ECONFLICT)
		return STATUSPAGE_BLOCKED;
	return STATUSPAGE_FAILING;
}

static void borrow_mrs(const struct board_mr *m, size_t n, bool open,
		       struct statuspage_mr *out)
{
	for (size_t i = 0; i < n; i++) {
		out[i].iid = m[i].iid;
		out[i].title = m[i].title;
		out[i].url = m[i].url;
		out[i].detail = m[i].detail;
		out[i].verdict = open ? (m[i].success ? "success" : "failed")
				      : NULL;
		out[i].checked_unix = open ? m[i].checked : 0;
	}
}

/* One project of the snapshot from its statistics and board entry (x may
 * be NULL: nothing recorded yet); mrs has room for x's MRs. Lock held. */
static void fill_project(const struct sched_stats *st,
			 const struct board_entry *x, unsigned unhealthy_after,
			 struct row *r, struct statuspage_mr *mrs,
			 struct statuspage_project *p)
{
	memset(p, 0, sizeof(*p));
	p->name = st->name;
	p->state = state_of(st);
	p->healthy = scheduler_stats_healthy(st, unhealthy_after, r->why,
					     sizeof(r->why));
	log_redact(r->why);
	p->unhealthy_why = r->why;
	p->running = st->running;
	p->last_cycle_unix = st->last_cycle_unix;
	p->last_success_unix = st->last_success_unix;
	p->result = st_status_name(st->last_status);
	snprintf(r->error, sizeof(r->error), "%s",
		 st->last_error ? st->last_error : "");
	log_redact(r->error);
	p->error = st->last_status && r->error[0] ? r->error : NULL;
	p->failures = st->failures;
	p->next_in_s = st->next_in_ms < 0 ? -1 : st->next_in_ms / 1000;
	if (!x)
		return;
	p->path = x->path;
	p->web_url = x->web_url;
	p->latest_tag = x->latest_tag;
	if (p->state == STATUSPAGE_BLOCKED) {
		borrow_mrs(x->blockers, x->n_blockers, false, mrs);
		p->blockers = mrs;
		p->n_blockers = x->n_blockers;
	}
	borrow_mrs(x->open, x->n_open, true, mrs + x->n_blockers);
	p->open_mrs = mrs + x->n_blockers;
	p->n_open_mrs = x->n_open;
}

/* The board entry of each project (NULL: none), and how many MRs they
 * hold in all. Lock held. */
static size_t match(const struct statusboard *b, const struct sched_stats *st,
		    size_t n, const struct board_entry **xs)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++) {
		bool found;
		size_t at = find(b, st[i].name, &found);

		xs[i] = found ? b->e[at] : NULL;
		if (xs[i])
			total += xs[i]->n_blockers + xs[i]->n_open;
	}
	return total;
}

int statusboard_render(struct statusboard *b, const struct sched_stats *st,
		       size_t n, const struct statusboard_info *info,
		       bool json, struct strbuf *out)
{
	struct statuspage_project *p = calloc(n ? n : 1, sizeof(*p));
	struct row *rows = calloc(n ? n : 1, sizeof(*rows));
	const struct board_entry **xs = calloc(n ? n : 1, sizeof(*xs));
	struct statuspage_mr *mrs = NULL;
	struct statuspage_snapshot s = {
		.version = info->version,
		.now_unix = info->now_unix,
		.start_unix = info->start_unix,
		.stopping = info->stopping,
		.projects = p,
		.n_projects = n,
	};
	int rc = ST_ENOMEM;

	pthread_mutex_lock(&b->lock);
	if (p && rows && xs)
		mrs = calloc(match(b, st, n, xs) + 1, sizeof(*mrs));
	if (mrs) {
		size_t used = 0;

		for (size_t i = 0; i < n; i++) {
			fill_project(&st[i], xs[i], info->unhealthy_after,
				     &rows[i], mrs + used, &p[i]);
			if (xs[i])
				used += xs[i]->n_blockers + xs[i]->n_open;
		}
		rc = json ? statuspage_json(out, &s) : statuspage_html(out, &s);
	}
	pthread_mutex_unlock(&b->lock);
	free(mrs);
	free(xs);
	free(p);
	free(rows);
	return rc == 0 ? 200 : 500;
}

/* ---- access ---------------------------------------------------------- */

int statusboard_read_token(const struct config *c, struct secret *s,
			   struct st_error *err)
{
	int rc = secret_from_credentials(s, "status-token", err);

	if (rc == 0 && strcmp(s->value, "(none)") == 0) {
		secret_release(s);
		secret_init(s);
		rc = ST_ENOTFOUND;
	}
	if (rc != ST_ENOTFOUND)
		return rc;
	st_error_clear(err);
	if (c->status_token_file)
		return secret_read_file(s, c->status_token_file, err);
	return ST_OK;
}

bool statusboard_listen_loopback(const char *listen)
{
	char host[256];
	uint16_t port;
	unsigned char a[16];
	struct st_error err;

	st_error_clear(&err);
	if (!listen || webhook_parse_listen(listen, host, sizeof(host), &port,
					    &err) != 0)
		return false;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) == 1) {
		static const unsigned char one[16] = { [15] = 1 };

		return memcmp(a, one, 16) == 0;
	}
	return false;
}
