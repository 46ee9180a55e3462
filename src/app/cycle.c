/* SPDX-License-Identifier: MIT */
#include "cycle.h"

#include "semver-tagger/error.h"
#include "semver-tagger/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 2048
#define LABELS_MAX_BYTES 8192

void cycle_result_init(struct cycle_result *r)
{
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
}

void cycle_result_release(struct cycle_result *r)
{
	if (!r)
		return;
	cJSON_Delete(r->report);
	cycle_result_init(r);
}

int cycle_status_from_exit(int code)
{
	switch (code) {
	case 0: return ST_OK;
	case 65: return ST_EREFUSED;
	case 74: return ST_EIO;
	case 75: return ST_ETEMP;
	case 76: return ST_EINVAL;
	case 77: return ST_EAUTH;
	case 78: return ST_ECONFIG;
	default: return ST_EINTERNAL;
	}
}

int cycle_status_from_name(const char *name)
{
	for (int c = 0; name && c >= ST_EINTERNAL; c--)
		if (strcmp(st_status_name(c), name) == 0)
			return c;
	return ST_EINTERNAL;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A memfd holding text, positioned at 0. -1 on failure. */
static int memfd_with(const char *name, const char *text, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Everything the child needs, built before fork (no malloc after it). */
struct spawn {
	const char *argv[16];
	char *envp[32];
	char env_buf[LABELS_MAX_BYTES + 4096];
	size_t env_used;
	size_t n_env;
};

static void add_env(struct spawn *sp, const char *name, const char *value)
{
	size_t need = strlen(name) + strlen(value) + 2;
	char *p = sp->env_buf + sp->env_used;

	if (!value || sp->n_env + 1 >= sizeof(sp->envp) / sizeof(sp->envp[0]) ||
	    sp->env_used + need > sizeof(sp->env_buf))
		return;
	snprintf(p, need, "%s=%s", name, value);
	sp->envp[sp->n_env++] = p;
	sp->envp[sp->n_env] = NULL;
	sp->env_used += need;
}

static void pass_env(struct spawn *sp, const char *name)
{
	const char *v = getenv(name);

	if (v)
		add_env(sp, name, v);
}

static void build_spawn(const struct cycle_job *j, struct spawn *sp)
{
	static const char *const passed[] = {
		"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR",
		"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
		"no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY",
		"SSL_CERT_FILE", "SSL_CERT_DIR",
		"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
	};
	char labels[LABELS_MAX_BYTES], iid[32];
	size_t a = 0, off = 0;

	memset(sp, 0, sizeof(*sp));
	sp->argv[a++] = "semver-tagger";
	sp->argv[a++] = "--once";
	sp->argv[a++] = "--json";
	sp->argv[a++] = "--config";
	sp->argv[a++] = "/proc/self/fd/3";
	sp->argv[a++] = "--state-dir";
	sp->argv[a++] = j->state_dir;
	sp->argv[a++] = "--token-file";
	sp->argv[a++] = "/proc/self/fd/4";
	if (j->debug)
		sp->argv[a++] = "-vv";
	sp->argv[a] = NULL;
	for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++)
		pass_env(sp, passed[i]);
	/* selects the [project "..."] section of the configuration */
	add_env(sp, "CI_PROJECT_PATH", j->section);
	if (j->iid > 0) {
		labels[0] = '\0';
		for (size_t i = 0; i < j->n_labels; i++) {
			int n = snprintf(labels + off, sizeof(labels) - off,
					 "%s%s", off ? "," : "", j->labels[i]);

			if (n < 0 || (size_t)n >= sizeof(labels) - off)
				break;
			off += (size_t)n;
		}
		snprintf(iid, sizeof(iid), "%lld", (long long)j->iid);
		add_env(sp, "CI_MERGE_REQUEST_IID", iid);
		add_env(sp, "CI_MERGE_REQUEST_LABELS", labels);
		add_env(sp, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
			j->target_branch ? j->target_branch : "");
		if (j->title)
			add_env(sp, "CI_MERGE_REQUEST_TITLE", j->title);
	}
	for (size_t i = 0; j->extra_env && j->extra_env[i]; i++) {
		const char *eq = strchr(j->extra_env[i], '=');
		char name[128];

		if (!eq || (size_t)(eq - j->extra_env[i]) >= sizeof(name))
			continue;
		memcpy(name, j->extra_env[i], (size_t)(eq - j->extra_env[i]));
		name[eq - j->extra_env[i]] = '\0';
		add_env(sp, name, eq + 1);
	}
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child(const struct cycle_job *j, const struct spawn *sp,
		  pid_t parent, int devnull, int out_w, int err_w, int token_fd)
{
	int fds[5] = { devnull, out_w, err_w, j->config_fd, token_fd };
	int moved[5];
	sigset_t none;
	struct sigaction dfl;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	sigaction(SIGHUP, &dfl, NULL);
	sigaction(SIGINT, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Move everything above 10 first so no dup2 overwrites a source. */
	for (int i = 0; i < 5; i++) {
		moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
		if (moved[i] < 0)
			_exit(127);
	}
	for (int i = 0; i < 5; i++)
		if (dup2(moved[i], i) != i) /* dup2 clears FD_CLOEXEC */
			_exit(127);
	if (syscall(SYS_close_range, 5u, ~0u, 0u) != 0)
		for (int fd = 5; fd < 4096; fd++)
			close(fd);
	execve(j->exe, (char *const *)sp->argv, (char *const *)sp->envp);
	_exit(127);
}

struct lines {
	char buf[LINE_MAX_BYTES];
	size_t len;
	bool dropping; /* the rest of an over-long line */
};

static void emit_line(const struct cycle_job *j, char *line)
{
	static const char prefix[] = "semver-tagger: ";
	enum log_level level = LOG_LEVEL_INFO;

	if (strncmp(line, prefix, sizeof(prefix) - 1) == 0)
		line += sizeof(prefix) - 1;
	if (strncmp(line, "error: ", 7) == 0) {
		level = LOG_LEVEL_ERROR;
		line += 7;
	} else if (strncmp(line, "warning: ", 9) == 0) {
		level = LOG_LEVEL_WARNING;
		line += 9;
	}
	if (*line && j->log_line)
		j->log_line(j->log_ctx, level, line);
}

static void feed_lines(const struct cycle_job *j, struct lines *l,
		       const char *p, size_t n, bool flush)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (!l->dropping) {
				l->buf[l->len] = '\0';
				emit_line(j, l->buf);
			}
			l->len = 0;
			l->dropping = false;
		} else if (!l->dropping) {
			if (l->len + 1 >= sizeof(l->buf)) {
				l->buf[l->len] = '\0';
				emit_line(j, l->buf);
				l->len = 0;
				l->dropping = true;
			} else {
				l->buf[l->len++] = p[i];
			}
		}
	}
	if (flush && l->len && !l->dropping) {
		l->buf[l->len] = '\0';
		emit_line(j, l->buf);
		l->len = 0;
	}
}

/* Read what is there; returns false at EOF or error. */
static bool drain(int fd, struct strbuf *out, const struct cycle_job *j,
		  struct lines *l)
{
	char chunk[8192];

	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return true;
		if (r <= 0)
			return false;
		if (out)
			strbuf_add(out, chunk, (size_t)r); /* past the cap: drop */
		else
			feed_lines(j, l, chunk, (size_t)r, false);
	}
}

static void kill_group(pid_t pid, int sig)
{
	kill(-pid, sig);
	kill(pid, sig);
}

struct wait_state {
	pid_t pid;
	int pidfd;
	int out_fd, err_fd;
	bool exited;
	int wstatus;
	int64_t start, deadline, stop_at, term_at;
};

/* Has the child exited? (Not reaped: its pid and group stay ours.) */
static bool child_exited(struct wait_state *w)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	    si.si_pid == w->pid)
		w->exited = true;
	return w->exited;
}

static void wait_loop(const struct cycle_job *j, struct wait_state *w,
		      struct cycle_result *r, struct strbuf *out,
		      struct lines *l)
{
	bool out_open = true, err_open = true;

	while (!w->exited || out_open || err_open) {
		struct pollfd p[4];
		int np = 0, timeout;
		int64_t now = mono_ms(), until = w->deadline;

		if (w->exited) {
			/* Descendants may still hold the pipes: end them. */
			kill_group(w->pid, SIGKILL);
			out_open = out_open && drain(w->out_fd, out, j, l);
			err_open = err_open && drain(w->err_fd, NULL, j, l);
			break;
		}
		if (now >= w->deadline) {
			r->timed_out = true;
			kill_group(w->pid, SIGKILL);
			w->deadline = INT64_MAX;
		}
		if (w->stop_at && now >= w->stop_at && !w->term_at) {
			r->abandoned = true;
			kill_group(w->pid, SIGTERM);
			w->term_at = now + 2000;
		}
		if (w->term_at && now >= w->term_at) {
			kill_group(w->pid, SIGKILL);
			w->term_at = INT64_MAX;
		}
		if (w->stop_at && !r->abandoned && w->stop_at < until)
			until = w->stop_at;
		if (w->term_at && w->term_at < until)
			until = w->term_at;
		timeout = until == INT64_MAX ? -1
			  : (int)(until - now < 0 ? 0
				  : until - now > 60000 ? 60000 : until - now);
		if (w->pidfd < 0 && (timeout < 0 || timeout > 200))
			timeout = 200; /* no pidfd: look for the exit now and then */
		if (out_open)
			p[np++] = (struct pollfd){ w->out_fd, POLLIN, 0 };
		if (err_open)
			p[np++] = (struct pollfd){ w->err_fd, POLLIN, 0 };
		if (w->pidfd >= 0)
			p[np++] = (struct pollfd){ w->pidfd, POLLIN, 0 };
		if (j->stop_fd >= 0 && !w->stop_at)
			p[np++] = (struct pollfd){ j->stop_fd, POLLIN, 0 };
		if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < np; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == w->out_fd)
				out_open = drain(w->out_fd, out, j, l);
			else if (p[i].fd == w->err_fd)
				err_open = drain(w->err_fd, NULL, j, l);
			else if (p[i].fd == j->stop_fd)
				w->stop_at = mono_ms() +
					     (int64_t)j->grace_s * 1000;
		}
		child_exited(w);
	}
	feed_lines(j, l, "", 0, true);
}

static void finish(struct wait_state *w, struct cycle_result *r,
		   struct strbuf *out)
{
	int st = 0;
	const cJSON *status;

	while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
		;
	r->seconds = (double)(mono_ms() - w->start) / 1000.0;
	if (WIFEXITED(st))
		r->exit_code = WEXITSTATUS(st);
	if (out->len) {
		r->report = cJSON_ParseWithLength(strbuf_str(out), out->len);
		if (r->report && !cJSON_IsObject(r->report)) {
			cJSON_Delete(r->report);
			r->report = NULL;
		}
	}
	status = r->report ? cJSON_GetObjectItemCaseSensitive(r->report,
							      "status")
			   : NULL;
	if (r->timed_out || r->abandoned) {
		r->status = ST_ETEMP;
		snprintf(r->error, sizeof(r->error), "%s",
			 r->timed_out ? "killed past its deadline"
				      : "abandoned: the daemon is stopping");
	} else if (cJSON_IsString(status)) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->report,
								  "error");

		r->status = cycle_status_from_name(status->valuestring);
		if (r->status && cJSON_IsString(e))
			snprintf(r->error, sizeof(r->error), "%s",
				 e->valuestring);
	} else if (WIFEXITED(st)) {
		r->status = cycle_status_from_exit(r->exit_code);
		if (r->status)
			snprintf(r->error, sizeof(r->error), "exit status %d "
				 "(see the lines above)", r->exit_code);
	} else {
		r->status = ST_EINTERNAL;
		snprintf(r->error, sizeof(r->error), "killed by signal %d",
			 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	}
	if (r->status && !r->error[0])
		snprintf(r->error, sizeof(r->error), "%s",
			 st_status_name(r->status));
}

int cycle_run(const struct cycle_job *j, struct cycle_result *r)
{
	struct spawn *sp = malloc(sizeof(*sp));
	struct strbuf out;
	struct lines *l = calloc(1, sizeof(*l));
	struct wait_state w;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int devnull = -1, token_fd = -1;
	pid_t parent = getpid();

	cycle_result_init(r);
	memset(&w, 0, sizeof(w));
	w.pidfd = -1;
	strbuf_init(&out, CYCLE_REPORT_MAX);
	if (!sp || !l) {
		free(sp);
		free(l);
		r->status = ST_ENOMEM;
		snprintf(r->error, sizeof(r->error), "out of memory");
		return r->status;
	}
	build_spawn(j, sp);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	token_fd = memfd_with("semver-tagger-token", j->token ? j->token : "",
			      j->token ? strlen(j->token) : 0);
	if (devnull < 0 || token_fd < 0 || pipe2(outp, O_CLOEXEC) != 0 ||
	    pipe2(errp, O_CLOEXEC) != 0) {
		r->status = ST_EIO;
		snprintf(r->error, sizeof(r->error), "cannot prepare the "
			 "child: %s", strerror(errno));
		goto out;
	}
	w.start = mono_ms();
	w.pid = fork();
	if (w.pid < 0) {
		r->status = ST_EIO;
		snprintf(r->error, sizeof(r->error), "fork: %s",
			 strerror(errno));
		goto out;
	}
	if (w.pid == 0)
		child(j, sp, parent, devnull, outp[1], errp[1], token_fd);
	setpgid(w.pid, w.pid); /* also here: no race with kill(-pid) */
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	close(token_fd);
	token_fd = -1;
	fcntl(outp[0], F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	w.pidfd = (int)syscall(SYS_pidfd_open, w.pid, 0u);
	w.out_fd = outp[0];
	w.err_fd = errp[0];
	w.deadline = j->deadline_s ? w.start + (int64_t)j->deadline_s * 1000
				   : INT64_MAX;
	wait_loop(j, &w, r, &out, l);
	finish(&w, r, &out);
out:
	if (w.pidfd >= 0)
		close(w.pidfd);
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (devnull >= 0)
		close(devnull);
	if (token_fd >= 0)
		close(token_fd);
	strbuf_release(&out);
	free(sp);
	free(l);
	return r->status;
}
