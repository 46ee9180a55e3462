/* SPDX-License-Identifier: MIT */
#include "scheduler.h"

#include "semver-tagger/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const double sched_duration_bounds[SCHED_DURATION_BUCKETS] = {
	0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300,
};

#define NEVER INT64_MAX

struct item {
	int64_t key;
	void *data;
};

struct entry {
	char *name;
	void *data;            /* one reference held */
	unsigned interval_s;
	bool running, want_cycle, removed;
	bool auth_hold;        /* last cycle: authentication failed */
	char why[128];
	int64_t due_ms;        /* monotonic */
	int64_t started_ms;
	struct item *items;
	size_t n_items;
	size_t order;          /* position in the configuration */
	struct sched_stats st;
};

struct scheduler {
	struct scheduler_options o;
	struct scheduler_hooks h;
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* CLOCK_MONOTONIC */
	struct entry **e;
	size_t n;
	pthread_t *threads;
	size_t n_threads;
	atomic_int stopping; /* read by hooks without the lock */
	bool timer_taken;      /* one idle worker waits with a timeout */
	int64_t timer_at;      /* ... until then */
	uint64_t rng;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t unix_now(void)
{
	return (int64_t)time(NULL);
}

/* xorshift64*: jitter only, no secrecy needed. Under the lock. */
static double rnd(struct scheduler *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (double)((s->rng * 2685821657736338717ull) >> 11) /
	       9007199254740992.0;
}

void scheduler_options_default(struct scheduler_options *o)
{
	o->workers = 4;
	o->retry_base_ms = 10000;
	o->retry_max_ms = 900000;
	o->spread_ms = 5000;
	o->max_checks = 32;
	o->unhealthy_after = 5;
	o->auth_hold_ms = 300000;
}

int64_t sched_backoff_ms(unsigned failures, unsigned interval_s,
			 unsigned base_ms, unsigned max_ms)
{
	int64_t interval = (int64_t)interval_s * 1000, d, cap;

	if (failures == 0)
		return interval;
	d = base_ms < interval ? base_ms : interval;
	if (d < 1)
		d = 1;
	cap = max_ms > interval ? max_ms : interval;
	for (unsigned i = 1; i < failures && d < cap; i++)
		d *= 2;
	return d < cap ? d : cap;
}

int64_t sched_jitter_ms(int64_t ms, double r)
{
	return ms + (int64_t)((double)ms * 0.2 * (r - 0.5));
}

int scheduler_new(const struct scheduler_options *o,
		  const struct scheduler_hooks *h, struct scheduler **out)
{
	struct scheduler *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;

	if (!s)
		return -1;
	s->o = *o;
	if (s->o.workers == 0)
		s->o.workers = 1;
	if (s->o.max_checks == 0)
		s->o.max_checks = 1;
	s->h = *h;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	s->rng = (uint64_t)mono_ms() * 0x9E3779B97F4A7C15ull ^
		 (uint64_t)getpid() ^ (uint64_t)(uintptr_t)s;
	if (s->rng == 0)
		s->rng = 1;
	*out = s;
	return 0;
}

static void free_items(struct scheduler *s, struct item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s->h.free_item)
			s->h.free_item(items[i].data);
	free(items);
}

static void entry_free(struct scheduler *s, struct entry *e)
{
	if (!e)
		return;
	if (e->data && s->h.unref)
		s->h.unref(e->data);
	free_items(s, e->items, e->n_items);
	free(e->st.last_error);
	free(e->name);
	free(e);
}

/* The earliest entry ready to run at `now`, or NULL; *next gets the
 * earliest due time of the others (NEVER when none). */
static struct entry *pick(struct scheduler *s, int64_t now, int64_t *next)
{
	struct entry *best = NULL;
	int64_t best_due = NEVER;

	*next = NEVER;
	for (size_t i = 0; i < s->n; i++) {
		struct entry *e = s->e[i];
		int64_t due;

		if (e->running || e->removed)
			continue;
		due = (e->n_items || e->want_cycle) &&
		      !(e->auth_hold && e->due_ms > now) ? now : e->due_ms;
		if (due <= now) {
			if (due < best_due) {
				best = e;
				best_due = due;
			}
		} else if (due < *next) {
			*next = due;
		}
	}
	return best;
}

/* The entry's last error: NULL when empty, else a copy cut at
 * SCHED_MSG_MAX - 1 bytes (kept when out of memory: a stale message
 * beats none). */
static void set_last_error(struct sched_stats *st, const char *msg)
{
	size_t n = strnlen(msg, SCHED_MSG_MAX - 1);
	char *copy;

	if (n == 0) {
		free(st->last_error);
		st->last_error = NULL;
		return;
	}
	if (st->last_error && strncmp(st->last_error, msg, n) == 0 &&
	    st->last_error[n] == '\0')
		return;
	if (!(copy = malloc(n + 1)))
		return;
	memcpy(copy, msg, n);
	copy[n] = '\0';
	free(st->last_error);
	st->last_error = copy;
}

static void record(struct scheduler *s, struct entry *e,
		   const struct sched_outcome *out, int64_t now)
{
	struct sched_stats *st = &e->st;
	int64_t next;
	int status = out->status;
	bool failed;

	st->checks += out->checks_done;
	st->checks_failed += out->checks_failed;
	if (!out->cycle_ran)
		return;
	st->releases += out->releases;
	st->api_requests += out->api_requests;
	st->duration_sum += out->seconds;
	st->duration_count++;
	for (size_t i = 0; i < SCHED_DURATION_BUCKETS; i++)
		if (out->seconds <= sched_duration_bounds[i])
			st->duration_buckets[i]++;
	st->last_cycle_unix = unix_now();
	st->last_status = status;
	set_last_error(st, status ? out->error : "");
	if (status < 0 && -status < SCHED_ERROR_CLASSES)
		st->errors[-status]++;
	failed = status != ST_OK && status != ST_EREFUSED &&
		 status != ST_ECONFLICT;
	if (status == ST_OK) {
		st->cycles_ok++;
		st->last_success_unix = st->last_cycle_unix;
	} else if (!failed) {
		st->cycles_refused++;
	} else {
		st->cycles_failed++;
	}
	if (failed) {
		if (st->failures++ == 0)
			st->failing_since_unix = st->last_cycle_unix;
		next = sched_backoff_ms(st->failures, e->interval_s,
					s->o.retry_base_ms, s->o.retry_max_ms);
	} else {
		st->failures = 0;
		st->failing_since_unix = 0;
		next = (int64_t)e->interval_s * 1000;
	}
	next = sched_jitter_ms(next, rnd(s));
	e->auth_hold = status == ST_EAUTH;
	if (e->auth_hold && next < (int64_t)s->o.auth_hold_ms)
		next = s->o.auth_hold_ms;
	e->due_ms = now + next;
}

static void run_turn(struct scheduler *s, struct entry *e, int64_t now)
{
	struct sched_turn t;
	struct sched_outcome out;
	struct item *items = e->items;
	size_t n_items = e->n_items;
	void **checks = NULL;

	memset(&t, 0, sizeof(t));
	memset(&out, 0, sizeof(out));
	t.cycle = e->want_cycle || e->due_ms <= now;
	snprintf(t.why, sizeof(t.why), "%s",
		 e->want_cycle ? e->why
		 : e->st.failures ? "retry" : "poll");
	e->want_cycle = false;
	e->why[0] = '\0';
	e->items = NULL;
	e->n_items = 0;
	e->running = true;
	e->started_ms = now;
	t.name = e->name;
	t.data = e->data;
	t.stopping = &s->stopping;
	if (s->h.ref)
		s->h.ref(t.data);
	if (t.cycle) /* until the outcome says when, not again */
		e->due_ms = NEVER;
	pthread_mutex_unlock(&s->lock);

	if (n_items && (checks = calloc(n_items, sizeof(*checks))) != NULL)
		for (size_t i = 0; i < n_items; i++)
			checks[i] = items[i].data;
	t.checks = checks;
	t.n_checks = checks ? n_items : 0;
	s->h.run(s->h.ctx, &t, &out);
	if (!checks)
		free_items(s, items, n_items);
	else {
		for (size_t i = 0; i < n_items; i++)
			if (s->h.free_item)
				s->h.free_item(checks[i]);
		free(items);
		free(checks);
	}
	if (s->h.unref)
		s->h.unref(t.data);

	pthread_mutex_lock(&s->lock);
	now = mono_ms();
	e->running = false;
	if (t.cycle)
		record(s, e, &out, now);
	else if (out.checks_done || out.checks_failed)
		record(s, e, &out, now);
	if (e->due_ms == NEVER) /* a turn that skipped its cycle (stopping) */
		e->due_ms = now + (int64_t)e->interval_s * 1000;
	/* The next due time may be earlier than what the timer waits for. */
	if (e->want_cycle || e->n_items || e->due_ms < s->timer_at)
		pthread_cond_broadcast(&s->cond);
}

static void to_timespec(int64_t ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ms / 1000);
	ts->tv_nsec = (long)(ms % 1000) * 1000000;
}

static void *worker(void *arg)
{
	struct scheduler *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		int64_t now = mono_ms(), next;
		struct entry *e = pick(s, now, &next);

		if (e) {
			run_turn(s, e, now);
			if (e->removed && !e->running) {
				for (size_t i = 0; i < s->n; i++)
					if (s->e[i] == e) {
						memmove(&s->e[i], &s->e[i + 1],
							(s->n - i - 1) *
								sizeof(*s->e));
						s->n--;
						break;
					}
				entry_free(s, e);
			}
			continue;
		}
		if (!s->timer_taken && next != NEVER) {
			struct timespec ts;

			s->timer_taken = true;
			s->timer_at = next;
			to_timespec(next, &ts);
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
			s->timer_taken = false;
			s->timer_at = NEVER;
			/* someone else may need to take over the timer */
			pthread_cond_signal(&s->cond);
		} else {
			pthread_cond_wait(&s->cond, &s->lock);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int scheduler_start(struct scheduler *s)
{
	s->threads = calloc(s->o.workers, sizeof(*s->threads));
	if (!s->threads)
		return -1;
	s->timer_at = NEVER;
	for (unsigned i = 0; i < s->o.workers; i++) {
		pthread_attr_t a;
		int rc;

		pthread_attr_init(&a);
		/* Workers only wait for child processes and parse JSON. */
		pthread_attr_setstacksize(&a, 256 * 1024);
		rc = pthread_create(&s->threads[i], &a, worker, s);
		pthread_attr_destroy(&a);
		if (rc != 0) {
			scheduler_stop(s);
			return -1;
		}
		s->n_threads++;
	}
	return 0;
}

void scheduler_stop(struct scheduler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < s->n_threads; i++)
		pthread_join(s->threads[i], NULL);
	s->n_threads = 0;
	free(s->threads);
	s->threads = NULL;
}

void scheduler_free(struct scheduler *s)
{
	if (!s)
		return;
	scheduler_stop(s);
	for (size_t i = 0; i < s->n; i++)
		entry_free(s, s->e[i]);
	free(s->e);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static struct entry *find(struct scheduler *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!s->e[i]->removed && strcmp(s->e[i]->name, name) == 0)
			return s->e[i];
	return NULL;
}

int scheduler_set_projects(struct scheduler *s, const struct sched_project *p,
			   size_t n, bool trigger)
{
	struct entry **fresh = calloc(n ? n : 1, sizeof(*fresh));
	struct entry **all;
	size_t n_all = 0;
	int64_t now = mono_ms();

	if (!fresh)
		return -1;
	/* Allocate the new entries first: failing here changes nothing. */
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		if (find(s, p[i].name))
			continue;
		fresh[i] = calloc(1, sizeof(**fresh));
		if (!fresh[i] || !(fresh[i]->name = strdup(p[i].name))) {
			pthread_mutex_unlock(&s->lock);
			for (size_t j = 0; j <= i; j++) {
				if (fresh[j])
					free(fresh[j]->name);
				free(fresh[j]);
			}
			free(fresh);
			return -1;
		}
	}
	all = calloc(n + s->n + 1, sizeof(*all));
	if (!all) {
		pthread_mutex_unlock(&s->lock);
		for (size_t i = 0; i < n; i++) {
			if (fresh[i])
				free(fresh[i]->name);
			free(fresh[i]);
		}
		free(fresh);
		return -1;
	}
	for (size_t i = 0; i < s->n; i++)
		s->e[i]->order = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		struct entry *e = fresh[i] ? fresh[i] : find(s, p[i].name);
		/* First cycles spread out: 50 ms per project, at most
		 * spread_ms, never past the project's interval. */
		uint64_t spread = (uint64_t)n * 50;

		if (spread > s->o.spread_ms)
			spread = s->o.spread_ms;
		if (spread > (uint64_t)p[i].interval_s * 1000)
			spread = (uint64_t)p[i].interval_s * 1000;

		if (fresh[i]) {
			e->st.name = e->name;
			e->due_ms = now + (int64_t)(rnd(s) * (double)spread);
		} else if (trigger) {
			e->want_cycle = true;
			e->auth_hold = false; /* maybe a new token */
			snprintf(e->why, sizeof(e->why), "reload");
		}
		if (s->h.ref)
			s->h.ref(p[i].data);
		if (e->data && s->h.unref)
			s->h.unref(e->data);
		e->data = p[i].data;
		if (e->interval_s != p[i].interval_s && !fresh[i] &&
		    !e->running && !e->st.failures)
			e->due_ms = now + sched_jitter_ms(
				(int64_t)p[i].interval_s * 1000, rnd(s));
		e->interval_s = p[i].interval_s;
		e->order = i;
		all[n_all++] = e;
	}
	/* Gone from the configuration: dropped now, or after their turn. */
	for (size_t i = 0; i < s->n; i++) {
		struct entry *e = s->e[i];

		if (e->order != SIZE_MAX)
			continue;
		e->removed = true;
		if (e->running)
			all[n_all++] = e;
		else
			entry_free(s, e);
	}
	free(s->e);
	s->e = all;
	s->n = n_all;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	free(fresh);
	return 0;
}

bool scheduler_trigger(struct scheduler *s, const char *name, const char *why)
{
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	e = find(s, name);
	if (e) {
		e->st.triggers++;
		if (!e->want_cycle)
			snprintf(e->why, sizeof(e->why), "%s", why);
		e->want_cycle = true;
		if (!e->running)
			pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return e != NULL;
}

bool scheduler_enqueue(struct scheduler *s, const char *name, int64_t key,
		       void *item)
{
	struct entry *e;
	struct item *grown;
	void *old = NULL;
	bool ok = false;

	pthread_mutex_lock(&s->lock);
	e = find(s, name);
	if (!e)
		goto out;
	for (size_t i = 0; i < e->n_items; i++) {
		if (e->items[i].key == key) { /* newest facts win */
			old = e->items[i].data;
			memmove(&e->items[i], &e->items[i + 1],
				(e->n_items - i - 1) * sizeof(*e->items));
			e->n_items--;
			break;
		}
	}
	if (!old && e->n_items >= s->o.max_checks) {
		old = e->items[0].data;
		memmove(&e->items[0], &e->items[1],
			(e->n_items - 1) * sizeof(*e->items));
		e->n_items--;
		e->st.checks_dropped++;
	}
	grown = realloc(e->items, (e->n_items + 1) * sizeof(*grown));
	if (!grown)
		goto out;
	e->items = grown;
	e->items[e->n_items].key = key;
	e->items[e->n_items].data = item;
	e->n_items++;
	item = NULL;
	ok = true;
	if (!e->running)
		pthread_cond_signal(&s->cond);
out:
	pthread_mutex_unlock(&s->lock);
	if (s->h.free_item) {
		if (old)
			s->h.free_item(old);
		if (item)
			s->h.free_item(item);
	}
	return ok;
}

/* Bytes of the strings a snapshot of e copies (with their NULs). */
static size_t snapshot_strings(const struct entry *e)
{
	return strlen(e->name) + 1 +
	       (e->st.last_error ? strlen(e->st.last_error) : 0) + 1;
}

static const char *arena_copy(char **arena, const char *text)
{
	size_t n = text ? strlen(text) : 0;
	char *at = *arena;

	if (n)
		memcpy(at, text, n);
	at[n] = '\0';
	*arena += n + 1;
	return at;
}

/* One block: the array, then the strings it points to; free() frees
 * both. */
int scheduler_snapshot(struct scheduler *s, struct sched_stats **out,
		       size_t *n)
{
	struct sched_stats *st;
	size_t k = 0, bytes = 0;
	int64_t now = mono_ms();
	char *arena;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n; i++)
		if (!s->e[i]->removed)
			bytes += snapshot_strings(s->e[i]);
	st = malloc((s->n ? s->n : 1) * sizeof(*st) + bytes);
	if (!st) {
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	arena = (char *)(st + (s->n ? s->n : 1));
	for (size_t i = 0; i < s->n; i++) {
		struct entry *e = s->e[i];

		if (e->removed)
			continue;
		st[k] = e->st;
		st[k].name = arena_copy(&arena, e->name);
		st[k].last_error = (char *)arena_copy(&arena,
						      e->st.last_error);
		st[k].running = e->running;
		st[k].running_ms = e->running ? now - e->started_ms : 0;
		st[k].next_in_ms = e->running ||
				   (e->want_cycle && !e->auth_hold) ? 0
				   : e->due_ms == NEVER ? -1
				   : e->due_ms - now;
		if (st[k].next_in_ms < 0 && e->due_ms != NEVER)
			st[k].next_in_ms = 0;
		k++;
	}
	pthread_mutex_unlock(&s->lock);
	*out = st;
	*n = k;
	return 0;
}

int scheduler_alive(struct scheduler *s, int64_t max_turn_ms)
{
	struct timespec ts;
	int64_t now = mono_ms();
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	if (pthread_mutex_timedlock(&s->lock, &ts) != 0)
		return -1;
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i]->running && now - s->e[i]->started_ms > max_turn_ms)
			rc = -1;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

bool scheduler_stats_healthy(const struct sched_stats *st,
			     unsigned unhealthy_after, char *why,
			     size_t why_size)
{
	if (st->failures > 0 && (st->last_status == ST_EAUTH ||
				 st->last_status == ST_ECONFIG ||
				 st->last_status == ST_ENOTFOUND)) {
		snprintf(why, why_size, "%s: %s", st_status_name(st->last_status),
			 st->last_error ? st->last_error : "");
		return false;
	}
	if (st->failures >= unhealthy_after) {
		snprintf(why, why_size, "%u failed reconciliations in a row: %s",
			 st->failures, st->last_error ? st->last_error : "");
		return false;
	}
	return true;
}
