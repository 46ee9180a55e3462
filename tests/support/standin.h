/* SPDX-License-Identifier: MIT */
/*
 * Start, stop and drive the GitLab stand-in (tests/forge/standin.py) from
 * Check tests. Contract: tests/forge/README.md.
 */
#ifndef SEMVER_TAGGER_TESTS_STANDIN_H
#define SEMVER_TAGGER_TESTS_STANDIN_H

#include <stddef.h>
#include <sys/types.h>

struct standin {
	pid_t pid;          /* 0 when not running */
	int stdin_fd;       /* write end of the child's stdin; -1 when closed */
	char url[128];      /* "http://127.0.0.1:PORT" */
	char api_url[160];  /* url + "/api/v4" */
};

struct standin_response {
	long status;        /* HTTP status */
	char *body;         /* NUL-terminated, malloc'd; never NULL after success */
	size_t len;
};

/* Spawns `python3 standin.py --watch-stdin`, waits for its URL line.
 * Env STANDIN_PY overrides the script, STANDIN_PYTHON the interpreter.
 * 0 on success, -1 on failure (s is then safe to standin_stop()). */
int standin_start(struct standin *s);

/* SIGTERM and wait; idempotent. */
void standin_stop(struct standin *s);

/* One HTTP request to url + path (no auth header); json_body may be NULL.
 * 0 when a response arrived (any status), -1 otherwise (out untouched). */
int standin_control(struct standin *s, const char *method, const char *path,
		    const char *json_body, struct standin_response *out);

/* Same with a printf-formatted body (json_fmt may be NULL: no body). */
int standin_controlf(struct standin *s, struct standin_response *out,
		     const char *method, const char *path,
		     const char *json_fmt, ...)
	__attribute__((format(printf, 5, 6)));

void standin_response_release(struct standin_response *r);

/* "http://127.0.0.1:PORT/<path_with_namespace>.git"; 0, or -1 if too long. */
int standin_git_url(const struct standin *s, const char *path_with_namespace,
		    char *buf, size_t size);

#endif
