/* SPDX-License-Identifier: MIT */
/*
 * A version file far over the 16 MiB cap is refused from its object
 * header, before it is loaded (issue 14, item 8): reading a 256 MiB
 * VERSION blob used to cost 256 MiB of memory. The test compares the
 * peak RSS of its forked child before and after (no time asserted).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "gitrepo_testutil.h"

#define BIG_MIB 256

static char root[4096];

static void setup(void)
{
	tu_env();
	tu_tmpdir(root, sizeof(root));
	/* zeros compress to a few hundred KiB of loose object */
	ck_assert_int_eq(tu_sh("set -e; git init -q -b main '%s'; cd '%s';"
			       "head -c %dM /dev/zero > VERSION;"
			       "git -c core.bigFileThreshold=1g add VERSION;"
			       "git commit -q -m big", root, root, BIG_MIB), 0);
}

static void teardown(void)
{
	tu_rmrf(root);
}

static long peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

START_TEST(oversize_version_file_is_refused_before_loading)
{
	struct gitrepo *r = tu_open(root);
	struct versionfile_spec spec = { VERSIONFILE_PLAIN, "VERSION" };
	struct gitrepo_oid head = tu_rev(root, "HEAD");
	struct st_error err;
	char buf[256];
	long before = peak_rss_kib(), grew;

	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_version_at(r, &head, &spec, buf, sizeof(buf),
					    &err), ST_ETOOBIG);
	grew = peak_rss_kib() - before;
	printf("reading a %d MiB VERSION blob: peak RSS grew by %ld KiB\n",
	       BIG_MIB, grew);
	ck_assert_msg(grew < 32 * 1024, "peak RSS grew by %ld KiB", grew);
	ck_assert_msg(strstr(err.msg, "VERSION: 268435456 bytes, larger than"),
		      "%s", err.msg);
	gitrepo_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gitrepo_bigblob");
	TCase *tc = tcase_create("all");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, oversize_version_file_is_refused_before_loading);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
