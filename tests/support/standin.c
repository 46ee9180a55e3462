/* SPDX-License-Identifier: MIT */
/*
 * C side of the GitLab stand-in: spawn tests/forge/standin.py, read the URL
 * line it prints when ready, talk to its control API with libcurl, stop it.
 */
#include "standin.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef STANDIN_PY
#define STANDIN_PY "tests/forge/standin.py"
#endif

#define STANDIN_START_TIMEOUT_MS 30000
#define STANDIN_BODY_CAP (64u * 1024u * 1024u)

static void standin_reset(struct standin *s)
{
	s->pid = 0;
	s->stdin_fd = -1;
	s->url[0] = '\0';
	s->api_url[0] = '\0';
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Read one line (the URL) from fd within the deadline. */
static int read_url_line(int fd, char *buf, size_t size)
{
	size_t len = 0;
	long deadline = now_ms() + STANDIN_START_TIMEOUT_MS;

	while (len + 1 < size) {
		long left = deadline - now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r;
		ssize_t n;
		char c;

		if (left <= 0)
			return -1;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (c == '\n') {
			buf[len] = '\0';
			return len > 0 ? 0 : -1;
		}
		buf[len++] = c;
	}
	return -1;
}

int standin_start(struct standin *s)
{
	int in_pipe[2], out_pipe[2];
	const char *script = getenv("STANDIN_PY");
	const char *python = getenv("STANDIN_PYTHON");
	pid_t pid;

	standin_reset(s);
	if (!script || !*script)
		script = STANDIN_PY;
	if (!python || !*python)
		python = "python3";

	if (pipe2(in_pipe, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(out_pipe, O_CLOEXEC) != 0) {
		close(in_pipe[0]);
		close(in_pipe[1]);
		return -1;
	}

	pid = fork();
	if (pid < 0) {
		close(in_pipe[0]);
		close(in_pipe[1]);
		close(out_pipe[0]);
		close(out_pipe[1]);
		return -1;
	}
	if (pid == 0) {
		/* Child: stdin = read end of in_pipe, stdout = write end of out_pipe. */
		if (dup2(in_pipe[0], STDIN_FILENO) < 0 ||
		    dup2(out_pipe[1], STDOUT_FILENO) < 0)
			_exit(127);
		execlp(python, python, script, "--watch-stdin", (char *)NULL);
		_exit(127);
	}

	close(in_pipe[0]);
	close(out_pipe[1]);
	s->pid = pid;
	s->stdin_fd = in_pipe[1];

	if (read_url_line(out_pipe[0], s->url, sizeof(s->url)) != 0 ||
	    strncmp(s->url, "http://127.0.0.1:", 17) != 0) {
		close(out_pipe[0]);
		standin_stop(s);
		return -1;
	}
	/* Nothing else is printed on stdout; close our end. */
	close(out_pipe[0]);
	snprintf(s->api_url, sizeof(s->api_url), "%s/api/v4", s->url);
	return 0;
}

void standin_stop(struct standin *s)
{
	if (s->pid > 0) {
		int status;
		long deadline = now_ms() + 10000;

		kill(s->pid, SIGTERM);
		for (;;) {
			pid_t r = waitpid(s->pid, &status, WNOHANG);

			if (r == s->pid || (r < 0 && errno != EINTR))
				break;
			if (now_ms() > deadline) {
				kill(s->pid, SIGKILL);
				waitpid(s->pid, &status, 0);
				break;
			}
			usleep(10000);
		}
	}
	if (s->stdin_fd >= 0)
		close(s->stdin_fd);
	standin_reset(s);
}

struct body_buf {
	char *data;
	size_t len;
	size_t cap;
	int overflow;
};

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body_buf *b = userdata;
	size_t n = size * nmemb;

	if (b->len + n + 1 > STANDIN_BODY_CAP) {
		b->overflow = 1;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return 0;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

int standin_control(struct standin *s, const char *method, const char *path,
		    const char *json_body, struct standin_response *out)
{
	CURL *c;
	struct curl_slist *hdrs = NULL;
	struct body_buf b = { 0 };
	char url[4096];
	long status = 0;
	CURLcode rc;
	int n;

	if (!s->url[0])
		return -1;
	n = snprintf(url, sizeof(url), "%s%s", s->url, path);
	if (n < 0 || (size_t)n >= sizeof(url))
		return -1;
	c = curl_easy_init();
	if (!c)
		return -1;
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (json_body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)strlen(json_body));
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK || b.overflow) {
		free(b.data);
		return -1;
	}
	if (!b.data) {
		b.data = calloc(1, 1);
		if (!b.data)
			return -1;
	}
	out->status = status;
	out->body = b.data;
	out->len = b.len;
	return 0;
}

int standin_controlf(struct standin *s, struct standin_response *out,
		     const char *method, const char *path,
		     const char *json_fmt, ...)
{
	va_list ap;
	char *body = NULL;
	int n, r;

	if (json_fmt) {
		va_start(ap, json_fmt);
		n = vasprintf(&body, json_fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
	}
	r = standin_control(s, method, path, body, out);
	free(body);
	return r;
}

void standin_response_release(struct standin_response *r)
{
	if (!r)
		return;
	free(r->body);
	r->body = NULL;
	r->len = 0;
	r->status = 0;
}

int standin_git_url(const struct standin *s, const char *path_with_namespace,
		    char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s.git", s->url, path_with_namespace);

	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}
