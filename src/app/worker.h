/* SPDX-License-Identifier: MIT */
/*
 * Engine workers: long-lived, single-threaded processes that run the
 * daemon's jobs (engine.h), in the shape of OpenBSD's privilege-separated
 * daemons and postfix's reusable workers.
 *
 *   daemon (threads)  --WIRE_JOB-->   worker (one thread, own process
 *   scheduler turn    <--WIRE_RESULT-- group; forks gitrepo's network
 *                                      children safely)
 *
 * - A worker is fork+exec'd from the daemon (`semver-tagger
 *   --internal-worker`, fd 3 the socketpair), so nothing forks without
 *   exec from the multi-threaded daemon, and the worker, single-threaded,
 *   may fork gitrepo's deadline children.
 * - It keeps each project's warm state (open mirror, forge connection,
 *   compiled labels) between jobs, LRU-evicted past WORKER_WARM_MAX.
 * - A project goes to the same worker (its affinity) when that worker is
 *   idle, else to an idle one, which then runs it cold (warm_ok false:
 *   state another worker may have moved on is dropped first).
 * - A stop (the daemon's stop pipe) gives the job grace_s to finish, then
 *   the worker's process group gets SIGTERM, then SIGKILL; a job past its
 *   deadline likewise. A worker that dies (crash, SIGKILL) is replaced by
 *   a fresh one and the job is run once more on it.
 */
#ifndef SEMVER_TAGGER_WORKER_H
#define SEMVER_TAGGER_WORKER_H

#include "engine.h"

#include <stdbool.h>
#include <stdint.h>

#define WORKER_WARM_MAX 64   /* projects with warm state per worker */
#define WORKER_FD 3          /* the socketpair, in the worker */

/* The worker process: serve jobs on fd until EOF. Exit status. */
int worker_main(int fd);

struct worker_pool;

/* n workers (started on first use), exec'ing exe ("/proc/self/exe"). */
int worker_pool_new(unsigned n, const char *exe, bool debug,
		    struct worker_pool **out);
/* Kill and reap every worker. NULL is a no-op. */
void worker_pool_free(struct worker_pool *p);

/* Where a project ran last: the pool's business, the caller's storage
 * (one per project; touched only by the thread running its turn). */
struct worker_affinity {
	uint64_t hash;          /* of the project: picks its worker */
	int last;               /* index of the worker it ran on, -1 */
	uint64_t incarnation;   /* of that worker */
};

struct worker_call {
	const struct engine_settings *s;
	const struct engine_job *j;
	struct worker_affinity *aff;
	int stop_fd;            /* readable once the daemon stops, or -1 */
	unsigned deadline_s;    /* the worker is killed past this */
	unsigned grace_s;       /* after stop: time to finish, then TERM */
};

struct worker_outcome {
	bool abandoned;         /* killed because the daemon stops */
	bool timed_out;         /* killed past deadline_s */
	bool crashed;           /* the worker died; replaced */
	bool retried;           /* ran again on the replacement */
	bool warm;              /* the worker had the project's state */
	double seconds;
	char error[512];        /* when no result came back */
};

/*
 * Run one job on a worker and wait for its result (thread-safe; one
 * worker per call). Returns 0 with r filled, or a negative ST_E* with
 * o->error (r->report.status set to it too).
 */
int worker_pool_run(struct worker_pool *p, const struct worker_call *c,
		    struct engine_result *r, struct worker_outcome *o);

/* FNV-1a of s, for worker_affinity.hash. */
uint64_t worker_hash(const char *s);

#endif
