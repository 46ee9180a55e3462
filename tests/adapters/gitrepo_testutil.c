/* SPDX-License-Identifier: MIT */
#include "gitrepo_testutil.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/wait.h>

void tu_env(void)
{
	setenv("GIT_AUTHOR_NAME", "Test Author", 1);
	setenv("GIT_AUTHOR_EMAIL", "author@example.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "Test Committer", 1);
	setenv("GIT_COMMITTER_EMAIL", "committer@example.invalid", 1);
	setenv("GIT_AUTHOR_DATE", "1700000000 +0100", 1);
	setenv("GIT_COMMITTER_DATE", "1700000000 +0100", 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_TERMINAL_PROMPT", "0", 1);
	unsetenv("GIT_DIR");
	unsetenv("GIT_WORK_TREE");
}

void tu_tmpdir(char *buf, size_t size)
{
	const char *base = getenv("TMPDIR");

	snprintf(buf, size, "%s/gitrepo-test-XXXXXX",
		 base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

void tu_rmrf(const char *path)
{
	if (path && *path && strcmp(path, "/") != 0)
		tu_sh("rm -rf '%s'", path);
}

static int run(char *out, size_t size, const char *fmt, va_list ap)
{
	char cmd[8192];
	FILE *p;
	size_t n = 0;
	int st;

	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	if (out) {
		n = fread(out, 1, size - 1, p);
		out[n] = '\0';
		while (n > 0 && out[n - 1] == '\n')
			out[--n] = '\0';
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int tu_sh(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = run(NULL, 0, fmt, ap);
	va_end(ap);
	return rc;
}

int tu_sh_out(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = run(out, size, fmt, ap);
	va_end(ap);
	return rc;
}

struct gitrepo_oid tu_rev(const char *dir, const char *rev)
{
	char hex[128];
	struct gitrepo_oid id;

	ck_assert_int_eq(tu_sh_out(hex, sizeof(hex), "git -C '%s' rev-parse '%s'",
				   dir, rev), 0);
	ck_assert_int_eq(gitrepo_oid_fromhex(hex, &id), 0);
	return id;
}

void tu_write(const char *dir, const char *path, const char *content)
{
	char full[4096];
	FILE *f;

	snprintf(full, sizeof(full), "%s/%s", dir, path);
	ck_assert_int_eq(tu_sh("mkdir -p \"$(dirname '%s')\"", full), 0);
	f = fopen(full, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(content, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

struct gitrepo *tu_open(const char *dir)
{
	struct gitrepo *r = NULL;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_msg(gitrepo_open(dir, &r, &err) == 0, "open %s: %s", dir,
		      err.msg);
	return r;
}

static void serve_redirect(struct tu_server *s, int c)
{
	char req[4096], resp[1024];
	size_t n = 0;

	/* read the request head, then answer and hang up */
	while (n < sizeof(req) - 1) {
		ssize_t r = read(c, req + n, sizeof(req) - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (strcasestr(req, "\nAuthorization:"))
		__atomic_add_fetch(&s->with_auth, 1, __ATOMIC_SEQ_CST);
	if (s->mode == TU_AUTH)
		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 401 Unauthorized\r\n"
			 "WWW-Authenticate: Basic realm=\"GitLab\"\r\n"
			 "Content-Length: 0\r\nConnection: close\r\n\r\n");
	else
		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n"
			 "Connection: close\r\n\r\n", s->redirect_to);
	if (write(c, resp, strlen(resp)) < 0)
		perror("redirect");
	close(c);
}

static void *server_main(void *arg)
{
	struct tu_server *s = arg;

	for (;;) {
		struct pollfd p[2] = { { s->fd, POLLIN, 0 },
				       { s->stop_pipe[0], POLLIN, 0 } };
		int c;

		if (poll(p, 2, -1) < 0 || p[1].revents)
			break;
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		__atomic_add_fetch(&s->accepted, 1, __ATOMIC_SEQ_CST);
		if (s->mode != TU_SILENT)
			serve_redirect(s, c);
		else if (s->nheld < 64)
			s->held[s->nheld++] = c; /* keep it open, say nothing */
		else
			close(c);
	}
	return NULL;
}

void tu_server_start(struct tu_server *s, enum tu_server_mode mode,
		     const char *redirect_to)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	pthread_t t;

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	snprintf(s->redirect_to, sizeof(s->redirect_to), "%s",
		 redirect_to ? redirect_to : "");
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s->fd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s->fd, 16), 0);
	ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	ck_assert_int_eq(pipe(s->stop_pipe), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, server_main, s), 0);
	s->thread = (unsigned long)t;
}

void tu_server_stop(struct tu_server *s)
{
	if (write(s->stop_pipe[1], "x", 1) != 1)
		perror("stop");
	pthread_join((pthread_t)s->thread, NULL);
	for (int i = 0; i < s->nheld; i++)
		close(s->held[i]);
	close(s->fd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
}

int tu_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
