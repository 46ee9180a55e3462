/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of the engine workers (worker.h): spawn (fork+exec),
 * route, send a job, wait for its result with the stop pipe and a
 * deadline, kill and replace.
 */
#include "worker.h"

#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILL_WAIT_MS 2000  /* SIGTERM, then SIGKILL after this */

struct slot {
	pid_t pid;              /* 0: not running */
	int fd;                 /* daemon's end, non-blocking */
	bool busy;
	uint64_t incarnation;
	uint64_t seq;
};

struct worker_pool {
	pthread_mutex_t lock;
	pthread_cond_t idle;
	char exe[256];
	bool debug;
	unsigned n;
	struct slot *slots;
	/* environment for the workers, built once */
	char **envp;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char **worker_env(void)
{
	static const char *const passed[] = {
		"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR",
		"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
		"no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY",
		"SSL_CERT_FILE", "SSL_CERT_DIR", "JOURNAL_STREAM",
		"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
		"TSAN_OPTIONS",
	};
	size_t n = sizeof(passed) / sizeof(passed[0]), k = 0;
	char **env = calloc(n + 1, sizeof(*env));

	for (size_t i = 0; env && i < n; i++) {
		const char *v = getenv(passed[i]);
		size_t len;

		if (!v)
			continue;
		len = strlen(passed[i]) + strlen(v) + 2;
		if (!(env[k] = malloc(len)))
			break;
		snprintf(env[k++], len, "%s=%s", passed[i], v);
	}
	return env;
}

int worker_pool_new(unsigned n, const char *exe, bool debug,
		    struct worker_pool **out)
{
	struct worker_pool *p = calloc(1, sizeof(*p));

	if (!p || !(p->slots = calloc(n ? n : 1, sizeof(*p->slots))) ||
	    !(p->envp = worker_env())) {
		if (p)
			free(p->slots);
		free(p);
		return ST_ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->idle, NULL);
	snprintf(p->exe, sizeof(p->exe), "%s", exe);
	p->debug = debug;
	p->n = n ? n : 1;
	for (unsigned i = 0; i < p->n; i++)
		p->slots[i].fd = -1;
	*out = p;
	return ST_OK;
}

/* SIGTERM to the worker's group, SIGKILL if it is still there after
 * KILL_WAIT_MS (or at once with hard), then reap it. */
static void slot_kill(struct slot *s, bool hard)
{
	int st;

	if (s->pid > 0) {
		kill(-s->pid, hard ? SIGKILL : SIGTERM);
		for (int64_t end = mono_ms() + KILL_WAIT_MS; !hard;) {
			pid_t r = waitpid(s->pid, &st, WNOHANG);

			if (r == s->pid || (r < 0 && errno != EINTR))
				break;
			if (mono_ms() >= end) {
				hard = true;
				break;
			}
			poll(NULL, 0, 10);
		}
		if (hard) {
			kill(-s->pid, SIGKILL);
			while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
				;
		}
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->pid = 0;
}

void worker_pool_free(struct worker_pool *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->n; i++)
		slot_kill(&p->slots[i], true);
	for (size_t i = 0; p->envp[i]; i++)
		free(p->envp[i]);
	free(p->envp);
	free(p->slots);
	pthread_cond_destroy(&p->idle);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Between fork and exec: async-signal-safe calls only. */
static void child(const struct worker_pool *p, int fd, pid_t parent)
{
	const char *argv[4] = { "semver-tagger", "--internal-worker",
				p->debug ? "-vv" : NULL, NULL };
	struct sigaction dfl;
	sigset_t none;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent || devnull < 0)
		_exit(127);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	sigaction(SIGHUP, &dfl, NULL);
	sigaction(SIGINT, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(devnull, 0) != 0 || dup2(devnull, 1) != 1 ||
	    dup2(fd, WORKER_FD) != WORKER_FD) /* dup2 clears FD_CLOEXEC */
		_exit(127);
	if (syscall(SYS_close_range, 4u, ~0u, 0u) != 0)
		for (int i = 4; i < 4096; i++)
			close(i);
	execve(p->exe, (char *const *)argv, p->envp);
	_exit(127);
}

static int slot_spawn(struct worker_pool *p, struct slot *s, char *err,
		      size_t size)
{
	int sv[2];
	pid_t parent = getpid(), pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(err, size, "socketpair: %s", strerror(errno));
		return ST_EIO;
	}
	/* sv[1] must not be fd 3 or lower in the child before the dup2s:
	 * 0-2 are the daemon's, so it never is. */
	pid = fork();
	if (pid == 0)
		child(p, sv[1], parent);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		snprintf(err, size, "fork: %s", strerror(errno));
		return ST_EIO;
	}
	setpgid(pid, pid); /* also in the child: whoever runs first */
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	s->pid = pid;
	s->fd = sv[0];
	s->incarnation++;
	return ST_OK;
}

/* The project's worker when idle, else any idle one, else wait. */
static unsigned slot_take(struct worker_pool *p, const struct worker_affinity *a)
{
	unsigned want = (unsigned)(a->hash % p->n), got;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		got = want;
		for (unsigned k = 0; k < p->n && p->slots[got].busy; k++)
			got = (want + k + 1) % p->n;
		if (!p->slots[got].busy)
			break;
		pthread_cond_wait(&p->idle, &p->lock);
	}
	p->slots[got].busy = true;
	pthread_mutex_unlock(&p->lock);
	return got;
}

static void slot_give(struct worker_pool *p, unsigned i)
{
	pthread_mutex_lock(&p->lock);
	p->slots[i].busy = false;
	pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->lock);
}

enum wait_end { W_RESULT, W_DIED, W_STOP, W_DEADLINE };

/* Read the result; on stop, grace_s more before giving up. */
static enum wait_end wait_result(struct slot *s, const struct worker_call *c,
				 struct wire_rx *rx, int64_t t0)
{
	int64_t deadline = t0 + (int64_t)c->deadline_s * 1000;
	bool stopping = false;

	for (;;) {
		struct pollfd pf[2] = { { s->fd, POLLIN, 0 },
					{ c->stop_fd, POLLIN, 0 } };
		int64_t left = deadline - mono_ms();
		int rc = wire_rx_read(s->fd, rx);

		if (rc == 1)
			return W_RESULT;
		if (rc < 0)
			return W_DIED;
		if (left <= 0)
			return stopping ? W_STOP : W_DEADLINE;
		rc = poll(pf, stopping || c->stop_fd < 0 ? 1 : 2,
			  left > 60000 ? 60000 : (int)left);
		if (rc < 0 && errno != EINTR)
			return W_DIED;
		if (!stopping && c->stop_fd >= 0 && (pf[1].revents & POLLIN)) {
			stopping = true;
			if (mono_ms() + (int64_t)c->grace_s * 1000 < deadline)
				deadline = mono_ms() + (int64_t)c->grace_s * 1000;
		}
	}
}

/* One attempt on slot i. 0 with r, else ST_E* and o->error. */
static int attempt(struct worker_pool *p, unsigned i,
		   const struct worker_call *c, struct engine_result *r,
		   struct worker_outcome *o)
{
	struct slot *s = &p->slots[i];
	struct wire_buf b;
	struct wire_rx rx;
	struct st_error err;
	uint64_t seq;
	bool warm_ok;
	int rc = 0;

	if (s->pid <= 0 && (rc = slot_spawn(p, s, o->error,
					    sizeof(o->error))) != 0)
		return rc;
	warm_ok = c->aff->last == (int)i &&
		  c->aff->incarnation == s->incarnation;
	wire_buf_init(&b);
	wire_rx_init(&rx);
	st_error_clear(&err);
	s->seq++;
	if (wire_put_job(&b, s->seq, c->s, c->j, warm_ok) != 0) {
		snprintf(o->error, sizeof(o->error), "job too large");
		rc = ST_ENOMEM;
	} else if (wire_send(s->fd, WIRE_JOB, &b) != 0) {
		o->crashed = true;
	} else {
		switch (wait_result(s, c, &rx, mono_ms())) {
		case W_RESULT:
			if (rx.type != WIRE_RESULT ||
			    wire_get_result(rx.body.p, rx.body.len, &seq, r,
					    &err) != 0 || seq != s->seq) {
				snprintf(o->error, sizeof(o->error), "worker "
					 "answered nonsense: %s", err.msg);
				rc = ST_EINTERNAL;
				slot_kill(s, true);
			}
			break;
		case W_DIED: o->crashed = true; break;
		case W_STOP: o->abandoned = true; break;
		case W_DEADLINE: o->timed_out = true; break;
		}
	}
	wire_rx_release(&rx);
	wire_buf_release(&b);
	if (o->crashed || o->abandoned || o->timed_out) {
		slot_kill(s, o->crashed);
		rc = o->abandoned ? ST_ETEMP : o->timed_out ? ST_ETEMP
							    : ST_EINTERNAL;
		snprintf(o->error, sizeof(o->error), "%s",
			 o->abandoned ? "abandoned: the daemon stops"
			 : o->timed_out ? "killed past the deadline"
					: "the worker died");
	}
	c->aff->last = rc == 0 ? (int)i : -1;
	c->aff->incarnation = s->incarnation;
	return rc;
}

int worker_pool_run(struct worker_pool *p, const struct worker_call *c,
		    struct engine_result *r, struct worker_outcome *o)
{
	int64_t t0 = mono_ms();
	unsigned i = slot_take(p, c->aff);
	int rc;

	memset(o, 0, sizeof(*o));
	rc = attempt(p, i, c, r, o);
	if (rc && o->crashed) {
		/* a killed worker costs the job one more run, on a new one */
		engine_result_release(r);
		memset(o, 0, sizeof(*o));
		o->retried = true;
		rc = attempt(p, i, c, r, o);
		o->crashed = true;
	}
	slot_give(p, i);
	o->seconds = (double)(mono_ms() - t0) / 1000.0;
	o->warm = rc == 0 && r->warm;
	if (rc && !r->report.status) {
		r->report.status = rc;
		snprintf(r->report.error, sizeof(r->report.error), "%s",
			 o->error);
	}
	return rc;
}
