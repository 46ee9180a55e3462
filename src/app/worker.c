/* SPDX-License-Identifier: MIT */
/*
 * The worker process (worker.h): one thread, jobs in, results out, warm
 * state per project in between.
 */
#include "worker.h"

#include "semver-tagger/gitrepo.h"
#include "semver-tagger/http.h"
#include "semver-tagger/log.h"
#include "wire.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct warm_slot {
	char *key;              /* the project's state folder */
	uint64_t fp;            /* settings it was built with */
	struct engine_warm *w;
	uint64_t used;          /* LRU clock */
};

struct worker {
	int fd;
	struct warm_slot slots[WORKER_WARM_MAX];
	uint64_t clock;
	struct engine_conns *conns; /* quick checks' clients, per API origin */
};

uint64_t worker_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static void slot_clear(struct warm_slot *sl)
{
	engine_warm_free(sl->w);
	free(sl->key);
	memset(sl, 0, sizeof(*sl));
}

/* The project's warm state: kept when warm_ok and the settings are the
 * same, else dropped and started fresh; the least recently used project
 * makes room. NULL when out of memory (the job then runs cold). */
static struct engine_warm *warm_for(struct worker *wk,
				    const struct engine_settings *s,
				    bool warm_ok)
{
	struct warm_slot *sl = NULL, *lru = &wk->slots[0];
	uint64_t fp = engine_settings_fingerprint(s);

	for (size_t i = 0; i < WORKER_WARM_MAX; i++) {
		struct warm_slot *x = &wk->slots[i];

		if (x->key && strcmp(x->key, s->state_dir) == 0)
			sl = x;
		if (!x->key || (lru->key && x->used < lru->used))
			lru = x;
	}
	if (sl && (!warm_ok || sl->fp != fp))
		slot_clear(sl);
	if (!sl || !sl->key) {
		sl = sl ? sl : lru;
		if (sl->key) {
			slot_clear(sl);
			malloc_trim(0); /* a cold project's pages go back */
		}
		sl->key = strdup(s->state_dir);
		sl->w = engine_warm_new();
		sl->fp = fp;
		if (!sl->key || !sl->w) {
			slot_clear(sl);
			return NULL;
		}
	}
	sl->used = ++wk->clock;
	return sl->w;
}

static int reply(struct worker *wk, uint64_t seq,
		 const struct engine_result *r)
{
	struct wire_buf b;
	int rc;

	wire_buf_init(&b);
	rc = wire_put_result(&b, seq, r);
	if (rc == 0)
		rc = wire_send(wk->fd, WIRE_RESULT, &b);
	wire_buf_release(&b);
	return rc;
}

static int serve(struct worker *wk, const struct wire_rx *rx)
{
	struct engine_settings s;
	struct engine_job j = { 0 };
	struct engine_result r;
	struct st_error err;
	uint64_t seq = 0;
	bool warm_ok = false;
	int rc;

	engine_settings_init(&s);
	engine_result_init(&r);
	st_error_clear(&err);
	rc = wire_get_job(rx->body.p, rx->body.len, &seq, &s, &j, &warm_ok,
			  &err);
	if (rc == 0) {
		/* only the job's token is current in this process */
		log_clear_secrets();
		log_add_secret(s.token.value);
		/* a poll answered by the quick check takes no warm slot (it
		 * would evict a project that needs one) */
		if (!engine_quick_try(&s, &j, wk->conns, &r)) {
			j.quick_ok = false;
			engine_run_conns(&s, &j, warm_for(wk, &s, warm_ok),
					 wk->conns, NULL, &r);
		}
	} else {
		r.report.status = rc;
		snprintf(r.report.error, sizeof(r.report.error), "%s",
			 err.msg);
	}
	rc = reply(wk, seq, &r);
	engine_result_release(&r);
	engine_settings_release(&s);
	return rc;
}

/* One frame, waiting as long as it takes. 1, or -1 at EOF/error. */
static int next_frame(int fd, struct wire_rx *rx)
{
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int rc = wire_rx_read(fd, rx);

		if (rc != 0)
			return rc;
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return -1;
	}
}

int worker_main(int fd)
{
	struct worker *wk = calloc(1, sizeof(*wk));
	struct wire_rx rx;
	struct st_error err;
	int status = 0;

	signal(SIGPIPE, SIG_IGN);
	st_error_clear(&err);
	/* memory bounded with thousands of projects: LRU of warm projects
	 * (warm_for) and libgit2's caches capped across all of them */
	if (gitrepo_process_init(WORKER_GIT_CACHE, WORKER_GIT_MAPPED,
				 WORKER_GIT_PACKS) != 0)
		log_warning("worker: libgit2 limits not set");
	if (!wk || http_global_init(&err) != 0) {
		log_error("worker: %s", wk ? err.msg : "out of memory");
		free(wk);
		return 70;
	}
	wk->fd = fd;
	wk->conns = engine_conns_new(); /* NULL: a client per quick check */
	wire_rx_init(&rx);
	while (next_frame(fd, &rx) == 1) {
		if (rx.type != WIRE_JOB || serve(wk, &rx) != 0) {
			status = 70; /* the daemon replaces this worker */
			break;
		}
		wire_rx_release(&rx);
	}
	wire_rx_release(&rx);
	for (size_t i = 0; i < WORKER_WARM_MAX; i++)
		slot_clear(&wk->slots[i]);
	engine_conns_free(wk->conns);
	free(wk);
	http_global_cleanup();
	return status;
}
