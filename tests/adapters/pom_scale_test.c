/* SPDX-License-Identifier: MIT */
/*
 * The pom scanner on hostile sizes (issue 14, item 5). Finding each
 * <module>'s line from the start of the file made the scan quadratic
 * (10k/20k/40k modules: 0.9/4.6/18.8 s). The test scans 200,000 modules
 * under a 20 s CPU limit (RLIMIT_CPU in Check's forked child: the
 * quadratic scan needs minutes, the linear one milliseconds; no time is
 * asserted). "pom_scale_test bench" prints the figures of
 * docs/reliability.md.
 */
#include "semver-tagger/strbuf.h"
#include "semver-tagger/versionfile.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* A pom with n modules, one per line, after 4 lines of header. */
static char *make_pom(size_t n, size_t *len)
{
	struct strbuf sb;

	strbuf_init(&sb, (size_t)64 << 20);
	strbuf_adds(&sb, "<project>\n  <version>1.0</version>\n"
		    "  <modules>\n\n");
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&sb, "    <module>m%zu</module>\n", i);
	strbuf_adds(&sb, "  </modules>\n</project>\n");
	*len = sb.len;
	return strbuf_detach(&sb);
}

START_TEST(test_module_lines)
{
	struct versionfile_pom p;
	struct st_error err;
	size_t len;
	char *pom = make_pom(1000, &len);

	st_error_clear(&err);
	ck_assert_int_eq(versionfile_pom_scan("pom.xml", pom, len, &p, &err), 0);
	ck_assert_uint_eq(p.nmodules, 1000);
	ck_assert_uint_eq(p.project_line, 1);
	ck_assert_uint_eq(p.version_line, 2);
	ck_assert_str_eq(p.modules[0], "m0");
	ck_assert_uint_eq(p.module_lines[0], 5);
	ck_assert_str_eq(p.modules[999], "m999");
	ck_assert_uint_eq(p.module_lines[999], 1004);
	versionfile_pom_release(&p);
	free(pom);
}
END_TEST

/* Errors after the modules still name the right line. */
START_TEST(test_error_lines_after_modules)
{
	const char *a = "<project>\n<modules>\n<module>a</module>\n"
			"<module>b</module>\n</modules>\n<version>\n\n</version>"
			"\n</project>\n";
	const char *b = "<project>\n<version>1</version>\n<modules>\n"
			"<module>a</module>\n</modules>\n";
	struct versionfile_pom p;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(versionfile_pom_scan("pom.xml", a, strlen(a), &p, &err),
			 ST_EINVAL);
	ck_assert_str_eq(err.msg, "pom.xml:8: empty project <version>");
	st_error_clear(&err);
	ck_assert_int_eq(versionfile_pom_scan("pom.xml", b, strlen(b), &p, &err),
			 ST_EINVAL);
	ck_assert_str_eq(err.msg, "pom.xml:6: unclosed element at end of file");
}
END_TEST

/* Found by the pom fuzz target: a "<!...>" declaration inside <version>
 * became part of the version text. */
START_TEST(test_declaration_inside_version_is_markup)
{
	const char *a = "<project><version><!+CDATA[1]]></version></project>";
	struct versionfile_pom p;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(versionfile_pom_scan("pom.xml", a, strlen(a), &p, &err),
			 ST_EINVAL);
	ck_assert_str_eq(err.msg, "pom.xml:1: project <version> contains "
			 "markup; cannot rewrite it");
}
END_TEST

START_TEST(test_200k_modules_in_linear_time)
{
	struct rlimit cpu = { 20, 20 };
	struct versionfile_pom p;
	struct st_error err;
	size_t len;
	char *pom = make_pom(200000, &len);

	ck_assert_int_eq(setrlimit(RLIMIT_CPU, &cpu), 0); /* SIGXCPU past it */
	st_error_clear(&err);
	ck_assert_int_eq(versionfile_pom_scan("pom.xml", pom, len, &p, &err), 0);
	ck_assert_uint_eq(p.nmodules, 200000);
	ck_assert_uint_eq(p.module_lines[199999], 200004);
	versionfile_pom_release(&p);
	free(pom);
}
END_TEST

static int bench(void)
{
	static const size_t sizes[] = { 10000, 20000, 40000, 100000, 1000000 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct versionfile_pom p;
		struct st_error err;
		struct timespec a, b;
		size_t len;
		char *pom = make_pom(sizes[i], &len);

		st_error_clear(&err);
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (versionfile_pom_scan("pom.xml", pom, len, &p, &err) != 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		printf("pom scan: %zu modules (%zu bytes): %.1f ms\n", sizes[i],
		       len, (double)(b.tv_sec - a.tv_sec) * 1e3 +
				    (double)(b.tv_nsec - a.tv_nsec) / 1e6);
		versionfile_pom_release(&p);
		free(pom);
	}
	return 0;
}

int main(int argc, char **argv)
{
	Suite *s = suite_create("pom_scale");
	TCase *tc = tcase_create("scale");
	SRunner *sr;
	int failed;

	if (argc > 1 && strcmp(argv[1], "bench") == 0)
		return bench();
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_module_lines);
	tcase_add_test(tc, test_error_lines_after_modules);
	tcase_add_test(tc, test_declaration_inside_version_is_markup);
	tcase_add_test(tc, test_200k_modules_in_linear_time);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
