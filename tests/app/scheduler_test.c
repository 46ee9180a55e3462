/* SPDX-License-Identifier: MIT */
/*
 * The daemon's scheduler with a fake run hook: one turn per project at a
 * time, triggers coalesced while a turn runs, a blocked project does not
 * hold the others, queued checks replaced by key and capped, back-off and
 * health bookkeeping, reloads keeping statistics. Waits are bounded polls
 * on outcomes, never timing assertions.
 */
#include "scheduler.h"

#include "semver-tagger/error.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fake {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool block_a;          /* turns of "a" wait until cleared */
	int running_a;         /* turns of "a" running right now */
	int max_running_a;
	int turns_a, turns_b, cycles_a;
	int status;            /* returned by every cycle */
	int64_t last_keys[8];
	size_t n_last;
	int refs;
};

struct item {
	int64_t key;
};

static void run(void *ctx, const struct sched_turn *t, struct sched_outcome *o)
{
	struct fake *f = ctx;
	bool is_a = strcmp(t->name, "a") == 0;

	pthread_mutex_lock(&f->lock);
	if (is_a) {
		f->turns_a++;
		f->running_a++;
		if (f->running_a > f->max_running_a)
			f->max_running_a = f->running_a;
		if (t->cycle)
			f->cycles_a++;
		f->n_last = 0;
		for (size_t i = 0; i < t->n_checks && i < 8; i++)
			f->last_keys[f->n_last++] =
				((struct item *)t->checks[i])->key;
		pthread_cond_broadcast(&f->cond);
		while (f->block_a && !*t->stopping)
			pthread_cond_wait(&f->cond, &f->lock);
		f->running_a--;
	} else {
		f->turns_b++;
	}
	o->cycle_ran = t->cycle;
	o->status = f->status;
	o->seconds = 0.1;
	o->checks_done = (unsigned)t->n_checks;
	if (f->status)
		snprintf(o->error, sizeof(o->error), "boom");
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void ref(void *data)
{
	struct fake *f = data;

	__atomic_add_fetch(&f->refs, 1, __ATOMIC_SEQ_CST);
}

static void unref(void *data)
{
	struct fake *f = data;

	__atomic_sub_fetch(&f->refs, 1, __ATOMIC_SEQ_CST);
}

static void free_item(void *item)
{
	free(item);
}

static struct item *item(int64_t key)
{
	struct item *it = malloc(sizeof(*it));

	it->key = key;
	return it;
}

/* Wait (at most 10 s) until cond holds; the lock is held while testing. */
#define WAIT_UNTIL(F, COND)                                                 \
	do {                                                                \
		struct timespec dl;                                         \
		clock_gettime(CLOCK_REALTIME, &dl);                         \
		dl.tv_sec += 10;                                            \
		pthread_mutex_lock(&(F)->lock);                             \
		while (!(COND))                                             \
			if (pthread_cond_timedwait(&(F)->cond, &(F)->lock,  \
						   &dl) != 0)               \
				break;                                      \
		ck_assert_msg(COND, "timed out: " #COND);                   \
		pthread_mutex_unlock(&(F)->lock);                           \
	} while (0)

static struct fake fake;

/* Statistics are recorded after the hook returns: poll (at most 10 s)
 * until project i's satisfy ok(), then return them (free). */
static struct sched_stats *stats_when(struct scheduler *s, size_t i,
				      bool (*ok)(const struct sched_stats *))
{
	for (int k = 0; k < 1000; k++) {
		struct sched_stats *st;
		size_t n;

		ck_assert_int_eq(scheduler_snapshot(s, &st, &n), 0);
		if (i < n && ok(&st[i]))
			return st;
		free(st);
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	ck_abort_msg("statistics never got there");
	return NULL;
}

static bool three_checks(const struct sched_stats *st)
{
	return st->checks == 3;
}

static bool five_failures(const struct sched_stats *st)
{
	return st->failures >= 5;
}

static struct scheduler *start(unsigned workers, unsigned max_checks)
{
	struct scheduler_options o;
	struct scheduler_hooks h = { &fake, run, ref, unref, free_item };
	struct sched_project p[2] = { { "a", 3600, &fake },
				      { "b", 3600, &fake } };
	struct scheduler *s;

	memset(&fake, 0, sizeof(fake));
	pthread_mutex_init(&fake.lock, NULL);
	pthread_cond_init(&fake.cond, NULL);
	scheduler_options_default(&o);
	o.workers = workers;
	o.spread_ms = 0; /* first cycles at once */
	o.max_checks = max_checks;
	o.retry_base_ms = 50;
	ck_assert_int_eq(scheduler_new(&o, &h, &s), 0);
	ck_assert_int_eq(scheduler_set_projects(s, p, 2, false), 0);
	ck_assert_int_eq(scheduler_start(s), 0);
	WAIT_UNTIL(&fake, fake.turns_a == 1 && fake.turns_b == 1);
	return s;
}

START_TEST(test_backoff_and_jitter)
{
	ck_assert(sched_backoff_ms(0, 300, 10000, 900000) == 300000);
	ck_assert(sched_backoff_ms(1, 300, 10000, 900000) == 10000);
	ck_assert(sched_backoff_ms(2, 300, 10000, 900000) == 20000);
	ck_assert(sched_backoff_ms(7, 300, 10000, 900000) == 640000);
	ck_assert(sched_backoff_ms(8, 300, 10000, 900000) == 900000);
	ck_assert(sched_backoff_ms(60, 300, 10000, 900000) == 900000);
	/* never a base above the interval; the cap never below it */
	ck_assert(sched_backoff_ms(1, 2, 10000, 900000) == 2000);
	ck_assert(sched_backoff_ms(30, 7200, 10000, 900000) == 7200000);
	ck_assert(sched_jitter_ms(1000, 0.0) == 900);
	ck_assert(sched_jitter_ms(1000, 0.5) == 1000);
	ck_assert(sched_jitter_ms(1000, 0.999999) <= 1100);
	ck_assert(sched_jitter_ms(1000, 0.999999) >= 1099);
}
END_TEST

START_TEST(test_triggers_coalesce_one_turn_at_a_time)
{
	struct scheduler *s = start(3, 8);

	pthread_mutex_lock(&fake.lock);
	fake.block_a = true;
	pthread_mutex_unlock(&fake.lock);
	ck_assert(scheduler_trigger(s, "a", "webhook 1"));
	WAIT_UNTIL(&fake, fake.running_a == 1 && fake.turns_a == 2);
	for (int i = 0; i < 20; i++) /* while it runs: one more, not 20 */
		ck_assert(scheduler_trigger(s, "a", "webhook n"));
	/* a blocked project does not hold another one */
	ck_assert(scheduler_trigger(s, "b", "webhook b"));
	WAIT_UNTIL(&fake, fake.turns_b == 2);
	pthread_mutex_lock(&fake.lock);
	fake.block_a = false;
	pthread_cond_broadcast(&fake.cond);
	pthread_mutex_unlock(&fake.lock);
	WAIT_UNTIL(&fake, fake.turns_a == 3 && fake.running_a == 0);
	ck_assert(!scheduler_trigger(s, "nope", "x"));
	scheduler_free(s);
	ck_assert_int_eq(fake.turns_a, 3);
	ck_assert_int_eq(fake.cycles_a, 3);
	ck_assert_int_eq(fake.max_running_a, 1);
	ck_assert_int_eq(fake.refs, 0); /* every reference dropped */
}
END_TEST

START_TEST(test_checks_replaced_by_key_and_capped)
{
	struct scheduler *s = start(2, 3);
	struct sched_stats *st;

	pthread_mutex_lock(&fake.lock);
	fake.block_a = true;
	pthread_mutex_unlock(&fake.lock);
	ck_assert(scheduler_trigger(s, "a", "hold"));
	WAIT_UNTIL(&fake, fake.running_a == 1);
	ck_assert(scheduler_enqueue(s, "a", 1, item(1)));
	ck_assert(scheduler_enqueue(s, "a", 2, item(2)));
	ck_assert(scheduler_enqueue(s, "a", 1, item(1))); /* replaces */
	ck_assert(scheduler_enqueue(s, "a", 3, item(3)));
	ck_assert(scheduler_enqueue(s, "a", 4, item(4))); /* drops 2 */
	ck_assert(!scheduler_enqueue(s, "nope", 5, item(5)));
	pthread_mutex_lock(&fake.lock);
	fake.block_a = false;
	pthread_cond_broadcast(&fake.cond);
	pthread_mutex_unlock(&fake.lock);
	/* the next turn: checks only (no trigger, not due), in order */
	WAIT_UNTIL(&fake, fake.turns_a == 3 && fake.running_a == 0);
	ck_assert_int_eq(fake.cycles_a, 2);
	ck_assert_uint_eq(fake.n_last, 3);
	ck_assert(fake.last_keys[0] == 1 && fake.last_keys[1] == 3 &&
		  fake.last_keys[2] == 4);
	st = stats_when(s, 0, three_checks);
	ck_assert_str_eq(st[0].name, "a");
	ck_assert(st[0].checks == 3 && st[0].checks_dropped == 1);
	free(st);
	scheduler_free(s);
}
END_TEST

START_TEST(test_failures_back_off_and_health)
{
	struct scheduler *s = start(2, 8);
	struct sched_stats *st;
	size_t n;
	char why[256];

	pthread_mutex_lock(&fake.lock);
	fake.status = ST_ETEMP;
	pthread_mutex_unlock(&fake.lock);
	/* retries come by themselves: 50 ms, 100, 200, ... */
	ck_assert(scheduler_trigger(s, "a", "go"));
	st = stats_when(s, 0, five_failures);
	ck_assert(st[0].cycles_failed >= 5 && st[0].cycles_ok == 1);
	ck_assert(st[0].errors[-ST_ETEMP] >= 5);
	ck_assert(!scheduler_stats_healthy(&st[0], 5, why, sizeof(why)));
	ck_assert(strstr(why, "boom") != NULL);
	ck_assert(scheduler_stats_healthy(&st[1], 5, why, sizeof(why)));
	free(st);
	/* a refusal is a person's job: no retry, counts reset, healthy */
	pthread_mutex_lock(&fake.lock);
	fake.status = ST_EREFUSED;
	pthread_mutex_unlock(&fake.lock);
	ck_assert(scheduler_trigger(s, "a", "go"));
	for (int i = 0; i < 500; i++) {
		ck_assert_int_eq(scheduler_snapshot(s, &st, &n), 0);
		ck_assert_msg(i < 499, "no refused cycle");
		if (st[0].cycles_refused) {
			ck_assert_uint_eq(st[0].failures, 0);
			ck_assert(st[0].next_in_ms > 3000 * 1000);
			ck_assert(scheduler_stats_healthy(&st[0], 5, why,
							  sizeof(why)));
			free(st);
			break;
		}
		free(st);
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	/* auth failures are unhealthy at once */
	{
		struct sched_stats a;

		memset(&a, 0, sizeof(a));
		a.failures = 1;
		a.last_status = ST_EAUTH;
		ck_assert(!scheduler_stats_healthy(&a, 5, why, sizeof(why)));
	}
	scheduler_free(s);
}
END_TEST

static bool one_auth_failure(const struct sched_stats *st)
{
	return st->errors[-ST_EAUTH] >= 1;
}

START_TEST(test_auth_failure_holds_triggers_until_reload)
{
	struct scheduler *s = start(2, 8);
	struct sched_project p[2] = { { "a", 3600, &fake },
				      { "b", 3600, &fake } };
	struct sched_stats *st;
	size_t n;

	pthread_mutex_lock(&fake.lock);
	fake.status = ST_EAUTH;
	pthread_mutex_unlock(&fake.lock);
	ck_assert(scheduler_trigger(s, "a", "go"));
	st = stats_when(s, 0, one_auth_failure);
	free(st);
	/* webhooks and checks wait for the hold (300 s), not 50 ms */
	for (int i = 0; i < 5; i++)
		ck_assert(scheduler_trigger(s, "a", "webhook"));
	ck_assert(scheduler_enqueue(s, "a", 1, item(1)));
	ck_assert_int_eq(scheduler_snapshot(s, &st, &n), 0);
	ck_assert(st[0].next_in_ms > 200 * 1000);
	free(st);
	pthread_mutex_lock(&fake.lock);
	ck_assert_int_eq(fake.cycles_a, 2);
	pthread_mutex_unlock(&fake.lock);
	/* a reload (maybe a new token) ends the hold */
	pthread_mutex_lock(&fake.lock);
	fake.status = ST_OK;
	pthread_mutex_unlock(&fake.lock);
	ck_assert_int_eq(scheduler_set_projects(s, p, 2, true), 0);
	WAIT_UNTIL(&fake, fake.cycles_a == 3 && fake.running_a == 0);
	scheduler_free(s);
}
END_TEST

START_TEST(test_reload_keeps_stats_and_drops_removed)
{
	struct scheduler *s = start(2, 8);
	struct sched_project p[2] = { { "b", 60, &fake }, { "c", 60, &fake } };
	struct sched_stats *st;
	size_t n;

	ck_assert_int_eq(scheduler_set_projects(s, p, 2, true), 0);
	ck_assert_int_eq(scheduler_snapshot(s, &st, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(st[0].name, "b");
	ck_assert_str_eq(st[1].name, "c");
	free(st);
	WAIT_UNTIL(&fake, fake.turns_b >= 3); /* b reloaded; c is new */
	ck_assert_int_eq(scheduler_snapshot(s, &st, &n), 0);
	ck_assert(st[0].cycles_ok >= 1);
	free(st);
	ck_assert(!scheduler_trigger(s, "a", "gone"));
	scheduler_free(s);
	ck_assert_int_eq(fake.refs, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scheduler");
	TCase *tc = tcase_create("scheduler");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_backoff_and_jitter);
	tcase_add_test(tc, test_triggers_coalesce_one_turn_at_a_time);
	tcase_add_test(tc, test_checks_replaced_by_key_and_capped);
	tcase_add_test(tc, test_failures_back_off_and_health);
	tcase_add_test(tc, test_auth_failure_holds_triggers_until_reload);
	tcase_add_test(tc, test_reload_keeps_stats_and_drops_removed);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
