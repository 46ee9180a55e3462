/* SPDX-License-Identifier: MIT */
/* Configuration: INI file and CI environment (bad input is data). */
#include "semver-tagger/config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int load(const char *text, struct config *c, struct st_error *err)
{
	config_init(c);
	st_error_clear(err);
	return config_load_string("test.conf", text, strlen(text), c, err);
}

START_TEST(test_full_file)
{
	const char *text =
		"; comment\n"
		"[global]\n"
		"state_dir = /var/lib/semver-tagger\n"
		"listen = 127.0.0.1:8080\n"
		"log_level = debug\n"
		"api_url = https://gitlab.example/api/v4\n"
		"token_file = /etc/semver-tagger/token\n"
		"poll_interval = 120\n"
		"tag_prefix = v\n"
		"\n"
		"[project \"platform/backend/a-rather-long-subgroup-name/payments-api\"]\n"
		"build_system = maven\n"
		"notes = off\n"
		"\n"
		"[project \"g/simple\"]\n"
		"project = 42\n"
		"tag_prefix =\n"
		"label_major = Breaking|Impact::Major  ; inline comment\n"
		"[project \"g/empty\"]";
	struct config c;
	struct st_error err;
	const struct config_project *p;

	ck_assert_int_eq(load(text, &c, &err), 0);
	ck_assert_str_eq(c.state_dir, "/var/lib/semver-tagger");
	ck_assert_str_eq(c.listen, "127.0.0.1:8080");
	ck_assert_int_eq(c.log_level, 7);
	ck_assert_uint_eq(c.n_projects, 3);
	p = &c.projects[0];
	ck_assert_str_eq(p->name,
			 "platform/backend/a-rather-long-subgroup-name/payments-api");
	ck_assert_str_eq(p->project, p->name);
	ck_assert_int_eq(p->build, BUILD_MAVEN);
	ck_assert(!p->notes);
	ck_assert(p->releases);
	ck_assert_str_eq(p->tag_prefix, "v");         /* inherited */
	ck_assert_uint_eq(p->poll_interval, 120);     /* inherited */
	ck_assert_str_eq(p->api_url, "https://gitlab.example/api/v4");
	ck_assert_str_eq(p->release_prefix, "release/"); /* default */
	p = &c.projects[1];
	ck_assert_str_eq(p->project, "42");
	ck_assert_str_eq(p->tag_prefix, "");          /* own value wins */
	ck_assert_str_eq(p->label_major, "Breaking|Impact::Major");
	ck_assert(p->notes);
	p = &c.projects[2];                           /* no keys, still there */
	ck_assert_str_eq(p->name, "g/empty");
	ck_assert_int_eq(p->build, BUILD_SIMPLE);
	ck_assert_str_eq(p->token_file, "/etc/semver-tagger/token");
	config_release(&c);
	config_release(&c); /* twice is harmless */
}
END_TEST

static const struct {
	const char *text, *want;
} bad[] = {
	{ "[global]\nfoo = 1\n", "test.conf:2: unknown key 'foo'" },
	{ "[global]\n\n[project \"a\"]\nbuild_system = gradle\n",
	  "test.conf:4: build_system 'gradle' is not one of simple, "
	  "version-file, maven" },
	{ "[global]\npoll_interval = 0\n",
	  "test.conf:2: poll_interval '0' is not a number of seconds" },
	{ "[global]\npoll_interval = 10s\n", "test.conf:2: poll_interval '10s'" },
	{ "[global]\npoll_interval = 99999999999999999999999\n",
	  "test.conf:2: poll_interval" },
	{ "[global]\nnotes = maybe\n", "test.conf:2: notes 'maybe' is not a "
	  "boolean" },
	{ "[global]\ntag_prefix = v x\n", "test.conf:2: tag_prefix 'v x' is "
	  "not usable in a git ref name" },
	{ "[global]\nrelease_prefix = rel..\n", "test.conf:2: release_prefix" },
	{ "[global]\nbase_version = 1.0\n", "test.conf:2: base_version '1.0'" },
	{ "[global]\nlog_level = loud\n", "test.conf:2: log_level 'loud'" },
	{ "[global]\ntag_prefix = v\ntag_prefix = w\n",
	  "test.conf:3: key 'tag_prefix' given twice" },
	{ "[global]\nstate_dir = /a\nstate_dir = /b\n",
	  "test.conf:3: key 'state_dir' given twice" },
	{ "tag_prefix = v\n", "test.conf:1: key 'tag_prefix' outside a "
	  "section" },
	{ "[globals]\n", "test.conf:1: section [globals] is unknown" },
	{ "[project g/p]\n", "test.conf:1: section [project g/p] is unknown" },
	{ "[project \"a\"b\"]\n", "test.conf:1: section [project \"a\"b\"]" },
	{ "[project \"\"]\n", "test.conf:1: section [project \"\"] is unknown" },
	{ "[project \"a\"]\n[project \"a\"]\n",
	  "test.conf:2: section [project \"a\"] given twice" },
	{ "[global]\nthis line has no equals sign\n",
	  "test.conf:2: syntax error" },
	{ "[global]\n\n\n[project \"x\"]\n\nnotes = yes\nbogus = 1\n",
	  "test.conf:7: unknown key 'bogus'" },
	{ "[global]\nstate_dir = /a\n[project \"x\"]\nstate_dir = /b\n",
	  "test.conf:4: unknown key 'state_dir'" },
	{ "[global]\nsigning_format = x509\n",
	  "test.conf:2: signing_format 'x509' is not one of openpgp, ssh" },
	{ "[project \"x\"]\ngnupg_home =\n", "test.conf:2: gnupg_home" },
	/* what a release says (issue 16) */
	{ "[global]\nchangelog = sometimes\n",
	  "test.conf:2: changelog 'sometimes' is not auto or a boolean" },
	{ "[global]\nchangelog_file = ../CHANGELOG.md\n",
	  "test.conf:2: changelog_file '../CHANGELOG.md' is not a relative" },
	{ "[global]\nchangelog_file = /etc/passwd\n",
	  "test.conf:2: changelog_file '/etc/passwd'" },
	{ "[global]\nchangelog_file = .git/config\n",
	  "test.conf:2: changelog_file '.git/config'" },
	{ "[global]\nrelease_sections = Security\n",
	  "test.conf:2: release_sections: 'Security' is not" },
	{ "[global]\nrelease_sections = A:~a, :~b\n",
	  "test.conf:2: release_sections: ':~b'" },
	{ "[global]\nrelease_exclude_labels = ~\n",
	  "test.conf:2: release_exclude_labels" },
};

/* Signing keys (issue 15): global defaults, per-project overrides. */
START_TEST(test_signing_keys_inherit)
{
	const char *text =
		"[global]\n"
		"signing_format = openpgp\n"
		"signing_key = 0123456789ABCDEF0123456789ABCDEF01234567\n"
		"gnupg_home = /var/lib/semver-tagger/gnupg\n"
		"[project \"a\"]\n"
		"[project \"b\"]\n"
		"signing_format = ssh\n"
		"signing_key = /etc/semver-tagger/b.key\n";
	struct config c;
	struct st_error err;

	ck_assert_msg(load(text, &c, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(c.n_projects, 2);
	ck_assert_str_eq(c.projects[0].signing_format, "openpgp");
	ck_assert_str_eq(c.projects[0].signing_key,
			 "0123456789ABCDEF0123456789ABCDEF01234567");
	ck_assert_str_eq(c.projects[0].gnupg_home,
			 "/var/lib/semver-tagger/gnupg");
	ck_assert_str_eq(c.projects[1].signing_format, "ssh");
	ck_assert_str_eq(c.projects[1].signing_key, "/etc/semver-tagger/b.key");
	config_release(&c);
	ck_assert_msg(load("[project \"a\"]\n", &c, &err) == 0, "%s", err.msg);
	ck_assert_ptr_null(c.projects[0].signing_format); /* unsigned */
	config_release(&c);
}
END_TEST

/* More than 32 keys: the last one's "set in the section" bit still
 * keeps a project's own value against [global]'s. */
START_TEST(test_last_key_not_overridden)
{
	const char *text =
		"[global]\nreleased_notes = false\nrelease_sections = A:~a\n"
		"[project \"a\"]\nreleased_notes = true\n"
		"release_sections = B:~b\n";
	struct config c;
	struct st_error err;

	ck_assert_msg(load(text, &c, &err) == 0, "%s", err.msg);
	ck_assert(c.projects[0].released_notes);
	ck_assert_str_eq(c.projects[0].release_sections, "B:~b");
	config_release(&c);
}
END_TEST

START_TEST(test_bad_files)
{
	struct config c;
	struct st_error err;

	ck_assert_int_eq(load(bad[_i].text, &c, &err), ST_ECONFIG);
	ck_assert_msg(strncmp(err.msg, bad[_i].want, strlen(bad[_i].want)) == 0,
		      "got '%s', want '%s...'", err.msg, bad[_i].want);
	config_release(&c);
}
END_TEST

START_TEST(test_release_content_keys)
{
	struct config c;
	struct st_error err;
	const char *text = "[global]\n[project \"a\"]\n"
			   "[project \"b\"]\nchangelog = yes\n"
			   "changelog_file = docs/NEWS.md\n"
			   "release_sections = Security:~security, Fixes:~bug\n"
			   "release_exclude_labels = skip-changelog, ~deps\n"
			   "released_notes = off\n"
			   "[project \"c\"]\nchangelog = auto\n";

	ck_assert_int_eq(load(text, &c, &err), 0);
	ck_assert_int_eq(c.projects[0].changelog, -1); /* default: auto */
	ck_assert_str_eq(c.projects[0].changelog_file, "CHANGELOG.md");
	ck_assert(c.projects[0].released_notes);
	ck_assert_ptr_null(c.projects[0].release_sections);
	ck_assert_int_eq(c.projects[1].changelog, 1);
	ck_assert_str_eq(c.projects[1].changelog_file, "docs/NEWS.md");
	ck_assert_str_eq(c.projects[1].release_sections,
			 "Security:~security, Fixes:~bug");
	ck_assert_str_eq(c.projects[1].release_exclude_labels,
			 "skip-changelog, ~deps");
	ck_assert(!c.projects[1].released_notes);
	ck_assert_int_eq(c.projects[2].changelog, -1);
	config_release(&c);
}
END_TEST

START_TEST(test_long_line_and_nul)
{
	char text[600];
	struct config c;
	struct st_error err;

	snprintf(text, sizeof(text), "[global]\nlabel_major = %0300d\n", 7);
	ck_assert_int_eq(load(text, &c, &err), ST_ECONFIG);
	ck_assert_str_eq(err.msg, "test.conf:2: line longer than 199 bytes");
	config_release(&c);

	config_init(&c);
	st_error_clear(&err);
	ck_assert_int_eq(config_load_string("x.conf", "[global]\0", 9, &c, &err),
			 ST_ECONFIG);
	ck_assert_str_eq(err.msg, "x.conf: contains a NUL byte");
	config_release(&c);
}
END_TEST

START_TEST(test_file_errors)
{
	char path[] = "/tmp/semver-tagger-config-XXXXXX";
	struct config c;
	struct st_error err;
	int fd = mkstemp(path);
	FILE *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	for (int i = 0; i < 50000; i++)
		fputs("; padding comment line\n", f);
	fclose(f);
	config_init(&c);
	st_error_clear(&err);
	ck_assert_int_eq(config_load_file(path, &c, &err), ST_ECONFIG);
	ck_assert_msg(strstr(err.msg, "larger than 1048576 bytes"), "%s",
		      err.msg);
	config_release(&c);
	unlink(path);

	config_init(&c);
	st_error_clear(&err);
	ck_assert_int_eq(config_load_file(path, &c, &err), ST_ECONFIG);
	ck_assert_msg(strstr(err.msg, "No such file"), "%s", err.msg);
	config_release(&c);
}
END_TEST

START_TEST(test_env)
{
	char *env[] = {
		"CI_API_V4_URL=https://gl.example/api/v4",
		"CI_PROJECT_ID=",
		"CI_PROJECT_PATH=group/sub/proj",
		"STABLE_RELEASE=Yes",
		"SEMVER_TAGGER_BUILD_SYSTEM=version-file",
		"SEMVER_TAGGER_VERSION_FILE=src/VERSION",
		"SEMVER_TAGGER_TAG_PREFIX=v",
		"SEMVER_TAGGER_TOKEN=never-read-here",
		"CI_DEFAULT_BRANCH=trunk",
		NULL,
	};
	char *bad_env[] = { "SEMVER_TAGGER_BUILD_SYSTEM=ant", NULL };
	char *off_env[] = { "STABLE_RELEASE=on", "CI_PROJECT_ID=7",
			    "CI_PROJECT_PATH=g/p", NULL };
	struct config_project p;
	struct st_error err;

	ck_assert_int_eq(config_project_defaults(&p), 0);
	st_error_clear(&err);
	ck_assert_int_eq(config_apply_env(&p, env, &err), 0);
	ck_assert_str_eq(p.api_url, "https://gl.example/api/v4");
	ck_assert_str_eq(p.project, "group/sub/proj");
	ck_assert(p.stable_release);
	ck_assert_int_eq(p.build, BUILD_VERSION_FILE);
	ck_assert_str_eq(p.version_file, "src/VERSION");
	ck_assert_str_eq(p.tag_prefix, "v");
	ck_assert_str_eq(p.default_branch, "trunk");
	config_project_release(&p);

	ck_assert_int_eq(config_project_defaults(&p), 0);
	ck_assert_int_eq(config_apply_env(&p, off_env, &err), 0);
	ck_assert(!p.stable_release); /* "on" is not truthy for STABLE_RELEASE */
	ck_assert_str_eq(p.project, "7"); /* the numeric id is preferred */
	config_project_release(&p);

	ck_assert_int_eq(config_project_defaults(&p), 0);
	ck_assert_int_eq(config_apply_env(&p, bad_env, &err), ST_ECONFIG);
	ck_assert_msg(strstr(err.msg, "environment variable "
				      "SEMVER_TAGGER_BUILD_SYSTEM: build_system "
				      "'ant'"), "%s", err.msg);
	config_project_release(&p);
	config_project_release(NULL);
	ck_assert_ptr_null(config_getenv(NULL, "X"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_full_file);
	tcase_add_loop_test(tc, test_bad_files, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_long_line_and_nul);
	tcase_add_test(tc, test_release_content_keys);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_env);
	tcase_add_test(tc, test_signing_keys_inherit);
	tcase_add_test(tc, test_last_key_not_overridden);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
