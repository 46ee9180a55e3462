/* SPDX-License-Identifier: MIT */
/* versionfile: VERSION files and Maven poms, byte-exact rewriting. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "semver-tagger/versionfile.h"

/* An in-memory project: path -> content. */
struct mem_file {
	const char *path;
	const char *content;
};

static int mem_read(void *ctx, const char *path, struct strbuf *out,
		    struct st_error *err)
{
	for (const struct mem_file *f = ctx; f->path; f++) {
		if (strcmp(f->path, path) == 0) {
			strbuf_reset(out);
			return strbuf_adds(out, f->content);
		}
	}
	(void)err;
	return ST_ENOTFOUND;
}

static const char *ROOT_POM =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<!-- <version>9.9.9</version> in a comment -->\n"
	"<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n"
	"  <modelVersion>4.0.0</modelVersion>\n"
	"  <parent>\n"
	"    <groupId>org.example</groupId>\n"
	"    <artifactId>corp-parent</artifactId>\n"
	"    <version>7.1</version>\n"
	"  </parent>\n"
	"  <artifactId>app</artifactId>\n"
	"  <version>1.2.0-SNAPSHOT</version>\n"
	"  <packaging>pom</packaging>\n"
	"  <description><![CDATA[ <version>0.0.1</version> ]]></description>\n"
	"  <modules>\n"
	"    <module>core</module>\n"
	"    <module> web </module>\n"
	"  </modules>\n"
	"  <dependencies>\n"
	"    <dependency><groupId>x</groupId><artifactId>y</artifactId>"
	"<version>3.0</version></dependency>\n"
	"  </dependencies>\n"
	"  <build><plugins><plugin attr=\"a>b\"><version>2.5</version>"
	"</plugin></plugins></build>\n"
	"</project>\n";

static const char *CORE_POM =
	"<project>\n"
	"  <parent><artifactId>app</artifactId><version>1.2.0-SNAPSHOT</version></parent>\n"
	"  <artifactId>core</artifactId>\n"
	"  <version>1.2.0-SNAPSHOT</version>\n"
	"  <modules><module>../libs/util</module></modules>\n"
	"</project>";

static const char *WEB_POM =
	"<project>\r\n"
	"  <artifactId>web</artifactId>\r\n"
	"  <?pi <version>x</version> ?>\r\n"
	"  <version>\r\n    1.2.0-SNAPSHOT\r\n  </version>\r\n"
	"</project>\r\n";

static const char *UTIL_POM =
	"<project><version>1.2.0-SNAPSHOT</version>"
	"<modules><module>../../core</module></modules></project>\n";

/* expected: s with the first occurrence of from (after skip bytes) replaced */
static char *replace_at(const char *s, const char *from, const char *to,
			const char *after)
{
	const char *base = after ? strstr(s, after) : s;
	const char *p = strstr(base, from);
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
	char *r = malloc(n);

	ck_assert_ptr_nonnull(p);
	snprintf(r, n, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
	return r;
}

START_TEST(plain_get_trims_and_checks_lines)
{
	struct strbuf sb;
	struct st_error err;

	strbuf_init(&sb, 1024);
	st_error_clear(&err);
	ck_assert_int_eq(versionfile_plain_get("VERSION", " 1.2.3\n\n", 8, &sb,
					       &err), 0);
	ck_assert_str_eq(strbuf_str(&sb), "1.2.3");
	ck_assert_int_eq(versionfile_plain_get("VERSION", "1.2.3", 5, &sb, &err),
			 0);
	ck_assert_str_eq(strbuf_str(&sb), "1.2.3");
	ck_assert_int_eq(versionfile_plain_get("VERSION", "\n1.2.3\nx\n", 9,
					       &sb, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "VERSION:3"));
	strbuf_release(&sb);
}
END_TEST

START_TEST(plain_rewrite_keeps_bytes_when_equal)
{
	struct strbuf sb;
	struct st_error err;

	strbuf_init(&sb, 1024);
	st_error_clear(&err);
	ck_assert_int_eq(versionfile_rewrite(VERSIONFILE_PLAIN, "VERSION",
					     "  2.0.0  ", 9, "2.0.0", &sb, &err), 0);
	ck_assert_str_eq(strbuf_str(&sb), "  2.0.0  ");
	ck_assert_int_eq(versionfile_rewrite(VERSIONFILE_PLAIN, "VERSION",
					     "1.9.0\n", 6, "2.0.0", &sb, &err), 0);
	ck_assert_str_eq(strbuf_str(&sb), "2.0.0\n");
	strbuf_release(&sb);
}
END_TEST

START_TEST(pom_scan_finds_only_project_version)
{
	struct versionfile_pom pom;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(versionfile_pom_scan("pom.xml", ROOT_POM,
					      strlen(ROOT_POM), &pom, &err), 0);
	ck_assert_int_eq((int)(pom.version_end - pom.version_start), 14);
	ck_assert_int_eq(memcmp(ROOT_POM + pom.version_start, "1.2.0-SNAPSHOT",
				14), 0);
	ck_assert_int_eq((int)pom.version_line, 11);
	ck_assert_int_eq((int)pom.project_line, 3);
	ck_assert_int_eq((int)pom.nmodules, 2);
	ck_assert_str_eq(pom.modules[0], "core");
	ck_assert_str_eq(pom.modules[1], "web");
	ck_assert_int_eq((int)pom.module_lines[1], 16);
	versionfile_pom_release(&pom);
}
END_TEST

START_TEST(pom_rewrite_changes_no_other_byte)
{
	struct strbuf sb;
	struct st_error err;
	char *want;

	strbuf_init(&sb, VERSIONFILE_MAX_BYTES);
	st_error_clear(&err);
	ck_assert_int_eq(versionfile_rewrite(VERSIONFILE_MAVEN, "pom.xml",
					     ROOT_POM, strlen(ROOT_POM), "1.2.0",
					     &sb, &err), 0);
	want = replace_at(ROOT_POM, "1.2.0-SNAPSHOT", "1.2.0", "</parent>");
	ck_assert_str_eq(strbuf_str(&sb), want);
	free(want);
	/* CRLF and whitespace around the version survive */
	ck_assert_int_eq(versionfile_rewrite(VERSIONFILE_MAVEN, "web/pom.xml",
					     WEB_POM, strlen(WEB_POM), "1.2.0",
					     &sb, &err), 0);
	want = replace_at(WEB_POM, "1.2.0-SNAPSHOT", "1.2.0", NULL);
	ck_assert_str_eq(strbuf_str(&sb), want);
	free(want);
	strbuf_release(&sb);
}
END_TEST

static void expect_scan_error(const char *pom, const char *want)
{
	struct versionfile_pom p;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(versionfile_pom_scan("m/pom.xml", pom, strlen(pom), &p,
					      &err), ST_EINVAL);
	ck_assert_msg(strstr(err.msg, want), "got '%s', want '%s'", err.msg,
		      want);
}

START_TEST(pom_errors_name_file_and_line)
{
	expect_scan_error("<?xml version=\"1.0\"?>\n\n<project>\n"
			  "  <parent><version>1.0</version></parent>\n"
			  "</project>\n",
			  "m/pom.xml:3: <project> has no <version> of its own");
	expect_scan_error("<project>\n<version>${revision}</version></project>",
			  "m/pom.xml:2: project <version> is a ${property}");
	expect_scan_error("<project>\n<version>1<!--x-->.0</version></project>",
			  "m/pom.xml:2: project <version> contains markup");
	expect_scan_error("<settings><version>1</version></settings>",
			  "m/pom.xml:1: not a Maven pom");
	expect_scan_error("<project>\n<version>1</versio></project>",
			  "m/pom.xml:2: end tag does not match");
	expect_scan_error("<project>\n<!-- open\n<version>1</version>",
			  "m/pom.xml:2: unterminated comment");
	expect_scan_error("<project><version>1</version>\n\n",
			  "m/pom.xml:3: unclosed element");
}
END_TEST

START_TEST(module_paths)
{
	struct strbuf sb;

	strbuf_init(&sb, 4096);
	ck_assert_int_eq(versionfile_module_path("pom.xml", "core", &sb), 0);
	ck_assert_str_eq(strbuf_str(&sb), "core/pom.xml");
	ck_assert_int_eq(versionfile_module_path("core/pom.xml", "../libs/util",
						 &sb), 0);
	ck_assert_str_eq(strbuf_str(&sb), "libs/util/pom.xml");
	ck_assert_int_eq(versionfile_module_path("a/b/pom.xml", "./c/x.xml", &sb),
			 0);
	ck_assert_str_eq(strbuf_str(&sb), "a/b/c/x.xml");
	ck_assert_int_eq(versionfile_module_path("pom.xml", "../up", &sb),
			 ST_EINVAL);
	ck_assert_int_eq(versionfile_module_path("pom.xml", "/abs", &sb),
			 ST_EINVAL);
	strbuf_release(&sb);
}
END_TEST

START_TEST(plan_multi_module)
{
	struct mem_file files[] = {
		{ "pom.xml", ROOT_POM }, { "core/pom.xml", CORE_POM },
		{ "web/pom.xml", WEB_POM }, { "libs/util/pom.xml", UTIL_POM },
		{ NULL, NULL },
	};
	struct versionfile_spec spec = { VERSIONFILE_MAVEN, NULL };
	struct versionfile_changes ch;
	struct st_error err;
	char *want;

	st_error_clear(&err);
	ck_assert_int_eq(versionfile_plan(&spec, "1.2.0", mem_read, files, &ch,
					  &err), 0);
	ck_assert_int_eq((int)ch.n, 4); /* the loop back to core is followed once */
	ck_assert_str_eq(ch.v[0].path, "pom.xml");
	ck_assert_str_eq(ch.v[1].path, "core/pom.xml");
	ck_assert_str_eq(ch.v[2].path, "web/pom.xml");
	ck_assert_str_eq(ch.v[3].path, "libs/util/pom.xml");
	for (size_t i = 0; i < ch.n; i++)
		ck_assert(ch.v[i].changed);
	/* core's <parent><version> keeps the old value */
	want = replace_at(CORE_POM, "1.2.0-SNAPSHOT", "1.2.0", "</parent>");
	ck_assert_str_eq(strbuf_str(&ch.v[1].content), want);
	free(want);
	versionfile_changes_release(&ch);

	/* writing the version already there changes nothing */
	ck_assert_int_eq(versionfile_plan(&spec, "1.2.0-SNAPSHOT", mem_read,
					  files, &ch, &err), 0);
	ck_assert(!versionfile_changes_any(&ch));
	ck_assert_str_eq(strbuf_str(&ch.v[2].content), WEB_POM);
	versionfile_changes_release(&ch);
}
END_TEST

START_TEST(plan_errors)
{
	struct mem_file missing[] = {
		{ "pom.xml", ROOT_POM }, { "core/pom.xml", CORE_POM },
		{ "libs/util/pom.xml", UTIL_POM }, { NULL, NULL },
	};
	struct mem_file noversion[] = {
		{ "pom.xml", ROOT_POM }, { "core/pom.xml", CORE_POM },
		{ "web/pom.xml", "<project>\n  <parent><version>1</version>"
				 "</parent>\n</project>\n" },
		{ "libs/util/pom.xml", UTIL_POM }, { NULL, NULL },
	};
	struct versionfile_spec spec = { VERSIONFILE_MAVEN, NULL };
	struct versionfile_changes ch;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(versionfile_plan(&spec, "1.2.0", mem_read, missing, &ch,
					  &err), ST_EINVAL);
	ck_assert_str_eq(err.msg,
			 "pom.xml:16: module pom web/pom.xml does not exist");
	st_error_clear(&err);
	ck_assert_int_eq(versionfile_plan(&spec, "1.2.0", mem_read, noversion,
					  &ch, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "web/pom.xml:1: <project> has no"));
	st_error_clear(&err);
	ck_assert_int_eq(versionfile_plan(&spec, "1.2.0", mem_read,
					  &missing[3], &ch, &err), ST_ENOTFOUND);
	ck_assert_str_eq(err.msg, "pom.xml: not found");
}
END_TEST

START_TEST(plan_plain_and_simple)
{
	struct mem_file none[] = { { NULL, NULL } };
	struct mem_file same[] = { { "etc/VERSION", "3.0.0" }, { NULL, NULL } };
	struct versionfile_spec spec = { VERSIONFILE_PLAIN, "etc/VERSION" };
	struct versionfile_spec simple = { VERSIONFILE_SIMPLE, NULL };
	struct versionfile_changes ch;
	struct strbuf cur;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(versionfile_plan(&spec, "3.0.0", mem_read, none, &ch,
					  &err), 0);
	ck_assert(ch.n == 1 && ch.v[0].created && ch.v[0].changed);
	ck_assert_str_eq(strbuf_str(&ch.v[0].content), "3.0.0\n");
	versionfile_changes_release(&ch);
	ck_assert_int_eq(versionfile_plan(&spec, "3.0.0", mem_read, same, &ch,
					  &err), 0);
	ck_assert(ch.n == 1 && !ch.v[0].changed);
	versionfile_changes_release(&ch);
	ck_assert_int_eq(versionfile_plan(&simple, "3.0.0", mem_read, same, &ch,
					  &err), 0);
	ck_assert_int_eq((int)ch.n, 0);
	ck_assert_int_eq(versionfile_plan(&spec, "3.0.0 x", mem_read, same, &ch,
					  &err), ST_EINVAL);
	strbuf_init(&cur, 100);
	ck_assert_int_eq(versionfile_current(&spec, mem_read, same, &cur, &err),
			 0);
	ck_assert_str_eq(strbuf_str(&cur), "3.0.0");
	strbuf_release(&cur);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("versionfile");
	TCase *tc = tcase_create("all");

	tcase_add_test(tc, plain_get_trims_and_checks_lines);
	tcase_add_test(tc, plain_rewrite_keeps_bytes_when_equal);
	tcase_add_test(tc, pom_scan_finds_only_project_version);
	tcase_add_test(tc, pom_rewrite_changes_no_other_byte);
	tcase_add_test(tc, pom_errors_name_file_and_line);
	tcase_add_test(tc, module_paths);
	tcase_add_test(tc, plan_multi_module);
	tcase_add_test(tc, plan_errors);
	tcase_add_test(tc, plan_plain_and_simple);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
