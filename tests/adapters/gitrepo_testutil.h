/* SPDX-License-Identifier: MIT */
/* Fixtures for the gitrepo/versionfile tests: temp dirs, the git CLI. */
#ifndef GITREPO_TESTUTIL_H
#define GITREPO_TESTUTIL_H

#include <stddef.h>

#include "semver-tagger/gitrepo.h"

#include <check.h>

/* Run a Check suite (forked tests) and free it: the process exit status. */
int tu_run_suite(Suite *s);

/* Fixed identity and dates for git CLI commits, no user/system config. */
void tu_env(void);

/* A fresh directory under $TMPDIR (or /tmp); path written into buf. */
void tu_tmpdir(char *buf, size_t size);

/* rm -rf path (fixture cleanup). */
void tu_rmrf(const char *path);

/* Run a shell command (printf format); its exit status. */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command and keep its stdout (trailing newlines removed);
 * the exit status. */
int tu_sh_out(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* `git -C dir rev-parse rev` as an id (the test fails if it fails). */
struct gitrepo_oid tu_rev(const char *dir, const char *rev);

/* Write a file (creating directories). */
void tu_write(const char *dir, const char *path, const char *content);

/* Open dir with gitrepo_open (the test fails if it fails). */
struct gitrepo *tu_open(const char *dir);

#endif

/*
 * A TCP server on 127.0.0.1 for network failure tests, served by a thread:
 *   TU_SILENT    accepts and never answers (a hung GitLab)
 *   TU_REDIRECT  answers every request with 302 to redirect_to
 *   TU_AUTH      answers every request with 401 (Basic), counting in
 *                with_auth the requests that carried credentials
 * accepted counts connections; tu_server_stop() closes everything.
 */
enum tu_server_mode { TU_SILENT, TU_REDIRECT, TU_AUTH };

struct tu_server {
	int fd;
	int port;
	enum tu_server_mode mode;
	char redirect_to[256];
	int accepted;
	int with_auth;
	int held[64];
	int nheld;
	unsigned long thread; /* pthread_t */
	int stop_pipe[2];
};

void tu_server_start(struct tu_server *s, enum tu_server_mode mode,
		     const char *redirect_to);
void tu_server_stop(struct tu_server *s);
