/* SPDX-License-Identifier: MIT */
/*
 * Network operations under a deadline. libgit2 1.5 has no connect or read
 * timeouts, so a server that accepts and never answers would block a
 * thread forever. Each network operation therefore runs in a forked child
 * that does only libgit2 work on a repository it opens itself and then
 * _exit()s; the parent waits with poll() until the deadline and SIGKILLs
 * and reaps the child past it. docs/gitrepo.md records why fork (and not
 * a thread, a custom stream or an exec'd helper) and what the child must
 * never touch.
 *
 * The answer comes back over a pipe as one frame:
 *   u32 magic, u32 payload length, payload = u32 -status, str message,
 *   u32 reply length, reply bytes.
 * The parent never relies on EOF alone: another thread's child may have
 * inherited the pipe's write end, so a complete frame or the child's exit
 * ends the wait.
 */
#include "gitrepo_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define FRAME_MAGIC 0x31475453u /* "STG1" */
#define FRAME_MAX (GITREPO_CHILD_REPLY_MAX + ST_ERROR_MSG_MAX + 64)
#define POLL_SLICE_MS 100

int gitrepo__put_u32(struct strbuf *sb, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8),
			       (unsigned char)(v >> 16), (unsigned char)(v >> 24) };

	return strbuf_add(sb, b, 4);
}

int gitrepo__put_bytes(struct strbuf *sb, const void *p, size_t n)
{
	return strbuf_add(sb, p, n);
}

int gitrepo__put_str(struct strbuf *sb, const char *s)
{
	if (!s)
		return gitrepo__put_u32(sb, UINT32_MAX);
	if (strlen(s) >= UINT32_MAX)
		return ST_ETOOBIG;
	return gitrepo__put_u32(sb, (uint32_t)strlen(s)) ||
	       strbuf_adds(sb, s) ? ST_ETOOBIG : 0;
}

uint32_t gitrepo__get_u32(struct gitrepo_wire *w)
{
	const unsigned char *b;

	if (w->bad || w->len - w->pos < 4) {
		w->bad = true;
		return 0;
	}
	b = (const unsigned char *)w->p + w->pos;
	w->pos += 4;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

void gitrepo__get_bytes(struct gitrepo_wire *w, void *out, size_t n)
{
	if (w->bad || w->len - w->pos < n) {
		w->bad = true;
		memset(out, 0, n);
		return;
	}
	memcpy(out, w->p + w->pos, n);
	w->pos += n;
}

char *gitrepo__get_str(struct gitrepo_wire *w, bool *was_null)
{
	uint32_t n = gitrepo__get_u32(w);
	char *s;

	*was_null = !w->bad && n == UINT32_MAX;
	if (w->bad || n == UINT32_MAX)
		return NULL;
	if (w->len - w->pos < n) {
		w->bad = true;
		return NULL;
	}
	s = strndup(w->p + w->pos, n);
	w->bad = w->bad || !s;
	w->pos += n;
	return s;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* The child: libgit2 work, one frame, _exit. Never returns. */
__attribute__((noreturn)) static void child_run(int fd, pid_t parent, gitrepo_child_fn fn, void *ctx)
{
	struct strbuf reply, frame, payload;
	struct st_error err;
	int rc;

	/* die with the thread that forked us; never outlive a dead parent */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	signal(SIGPIPE, SIG_IGN); /* a closed socket is an error, not death */
	st_error_clear(&err);
	strbuf_init(&reply, GITREPO_CHILD_REPLY_MAX);
	rc = fn(ctx, &reply, &err);
	if (rc && !err.code)
		st_error_set(&err, rc, "failed");
	strbuf_init(&payload, FRAME_MAX);
	strbuf_init(&frame, FRAME_MAX);
	if (gitrepo__put_u32(&payload, (uint32_t)-rc) ||
	    gitrepo__put_str(&payload, err.msg) ||
	    gitrepo__put_u32(&payload, (uint32_t)reply.len) ||
	    gitrepo__put_bytes(&payload, strbuf_str(&reply), reply.len) ||
	    gitrepo__put_u32(&frame, FRAME_MAGIC) ||
	    gitrepo__put_u32(&frame, (uint32_t)payload.len) ||
	    gitrepo__put_bytes(&frame, strbuf_str(&payload), payload.len))
		_exit(2);
	write_all(fd, strbuf_str(&frame), frame.len);
	_exit(0);
}

static bool frame_complete(const struct strbuf *f)
{
	struct gitrepo_wire w = { f->buf, f->len, 0, false };
	uint32_t magic = gitrepo__get_u32(&w), len = gitrepo__get_u32(&w);

	return !w.bad && magic == FRAME_MAGIC && f->len - 8 >= len;
}

/* Read what is there; 1 at EOF, 0 otherwise, <0 on overflow. */
static int drain(int fd, struct strbuf *frame)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == 0)
			return 1;
		if (n < 0)
			return errno == EINTR ? drain(fd, frame) : 0;
		if (strbuf_add(frame, buf, (size_t)n))
			return -1;
	}
}

static void kill_and_reap(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

/* Wait for a frame or the child's end; ST_ETEMP at the deadline. */
static int wait_child(pid_t pid, int fd, const char *what, int64_t deadline,
		      struct strbuf *frame, int *status, struct st_error *err)
{
	bool reaped = false;
	int rc = 0;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (!frame_complete(frame) && !reaped && rc == 0) {
		int64_t left = deadline - gitrepo_now_ms();
		struct pollfd p = { fd, POLLIN, 0 };

		if (left <= 0) {
			kill_and_reap(pid);
			return st_error_set(err, ST_ETEMP,
					    "%s: no answer within the deadline; the git process was killed",
					    what);
		}
		if (poll(&p, 1, left > POLL_SLICE_MS ? POLL_SLICE_MS : (int)left) > 0)
			rc = drain(fd, frame);
		if (rc >= 0 && waitpid(pid, status, WNOHANG) == pid) {
			reaped = true;
			rc = drain(fd, frame) < 0 ? -1 : 0;
		}
	}
	if (!reaped)
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
	if (rc < 0) {
		kill_and_reap(pid);
		return st_error_set(err, ST_ETOOBIG, "%s: answer too large", what);
	}
	return 0;
}

static int decode(const struct strbuf *frame, int wstatus, const char *what,
		  struct strbuf *reply, struct st_error *err)
{
	struct gitrepo_wire w = { frame->buf, frame->len, 8, false };
	uint32_t neg, n;
	bool was_null;
	char *msg;
	int rc;

	if (!frame_complete(frame))
		return st_error_set(err, ST_ETEMP, "%s: the git process died (%s %d)",
				    what, WIFSIGNALED(wstatus) ? "signal" : "status",
				    WIFSIGNALED(wstatus) ? WTERMSIG(wstatus)
							 : WEXITSTATUS(wstatus));
	neg = gitrepo__get_u32(&w);
	msg = gitrepo__get_str(&w, &was_null);
	n = gitrepo__get_u32(&w);
	if (w.bad || w.len - w.pos < n || neg > 100) {
		free(msg);
		return st_error_set(err, ST_EINTERNAL, "%s: garbled answer", what);
	}
	strbuf_reset(reply);
	rc = strbuf_add(reply, w.p + w.pos, n);
	if (!rc && neg)
		rc = st_error_set(err, -(int)neg, "%s", msg ? msg : "failed");
	else if (rc)
		rc = st_error_set(err, rc, "%s: answer too large", what);
	free(msg);
	return rc;
}

int gitrepo__run_child(const char *what, int64_t deadline_ms,
		       gitrepo_child_fn fn, void *ctx, struct strbuf *reply,
		       struct st_error *err)
{
	struct strbuf frame;
	int fds[2], wstatus = 0, rc;
	pid_t parent = getpid(), pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return st_error_set(err, ST_EIO, "%s: pipe: %s", what,
				    strerror(errno));
	pid = fork();
	if (pid < 0) {
		rc = errno;
		close(fds[0]);
		close(fds[1]);
		return st_error_set(err, ST_EIO, "%s: fork: %s", what,
				    strerror(rc));
	}
	if (pid == 0) {
		close(fds[0]);
		child_run(fds[1], parent, fn, ctx);
	}
	close(fds[1]);
	strbuf_init(&frame, FRAME_MAX);
	rc = wait_child(pid, fds[0], what, deadline_ms, &frame, &wstatus, err);
	close(fds[0]);
	if (!rc)
		rc = decode(&frame, wstatus, what, reply, err);
	strbuf_release(&frame);
	return rc;
}
