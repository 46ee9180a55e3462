/* SPDX-License-Identifier: MIT */
#include "gitrepo_testutil.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
