/* SPDX-License-Identifier: MIT */
/*
 * [group] sections, the service intervals, and the repository settings
 * file (.gitlab/semver-tagger.conf): precedence and hostile files.
 */
#include "semver-tagger/config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(const char *text, struct config *c, struct st_error *err)
{
	config_init(c);
	st_error_clear(err);
	return config_load_string("test.conf", text, strlen(text), c, err);
}

static int repo(const char *text, struct config_project *out,
		struct st_error *err)
{
	st_error_clear(err);
	return config_repo_parse(CONFIG_REPO_FILE, text, strlen(text), out,
				 err);
}

START_TEST(test_groups_and_intervals)
{
	const char *text =
		"[global]\n"
		"api_url = https://gitlab.example/api/v4\n"
		"tag_prefix = v\n"
		"discovery_interval = 600\n"
		"reconcile_interval = 43200\n"
		"[group \"platform/backend\"]\n"
		"topic = release\n"
		"build_system = maven\n"
		"[group \"tools\"]\n"
		"[project \"platform/backend/special\"]\n"
		"release_prefix = rel/\n";
	struct config c;
	struct st_error err;

	ck_assert_int_eq(load(text, &c, &err), 0);
	ck_assert_uint_eq(c.discovery_interval, 600);
	ck_assert_uint_eq(c.reconcile_interval, 43200);
	ck_assert_uint_eq(c.n_groups, 2);
	ck_assert_str_eq(c.groups[0].path, "platform/backend");
	ck_assert_str_eq(c.groups[0].topic, "release");
	ck_assert_int_eq(c.groups[0].settings.build, BUILD_MAVEN);
	ck_assert_str_eq(c.groups[0].settings.tag_prefix, "v"); /* [global] */
	ck_assert_str_eq(c.groups[0].settings.api_url,
			 "https://gitlab.example/api/v4");
	ck_assert_ptr_null(c.groups[1].topic);
	ck_assert_int_eq(c.groups[1].settings.build, BUILD_SIMPLE);
	ck_assert_uint_eq(c.n_projects, 1);
	config_release(&c);

	ck_assert_int_eq(load("[global]\n", &c, &err), 0);
	ck_assert_uint_eq(c.discovery_interval,
			  CONFIG_DISCOVERY_INTERVAL_DEFAULT);
	ck_assert_uint_eq(c.reconcile_interval,
			  CONFIG_RECONCILE_INTERVAL_DEFAULT);
	config_release(&c);
}
END_TEST

/* [project] > [group] > [global], the way the daemon combines them for a
 * discovered project that also has a [project] section. */
START_TEST(test_precedence)
{
	const char *text =
		"[global]\n"
		"tag_prefix = v\n"
		"snapshot_suffix = -DEV\n"
		"[group \"g\"]\n"
		"build_system = version-file\n"
		"tag_prefix = g-\n"
		"[project \"g/p\"]\n"
		"tag_prefix = p-\n";
	struct config c;
	struct config_project p, file;
	struct st_error err;

	ck_assert_int_eq(load(text, &c, &err), 0);
	ck_assert_int_eq(config_project_copy(&p, &c.projects[0]), 0);
	ck_assert_int_eq(config_project_inherit(&p, &c.groups[0].settings), 0);
	ck_assert_str_eq(p.tag_prefix, "p-");            /* [project] */
	ck_assert_int_eq(p.build, BUILD_VERSION_FILE);   /* [group] */
	ck_assert_str_eq(p.snapshot_suffix, "-DEV");     /* [global] */
	ck_assert_int_eq(repo("tag_prefix = r-\nbuild_system = maven\n"
			      "# comment\n",
			      &file, &err),
			 0);
	ck_assert_int_eq(config_project_overlay(&p, &file), 0);
	ck_assert_str_eq(p.tag_prefix, "r-");            /* repository */
	ck_assert_int_eq(p.build, BUILD_MAVEN);
	ck_assert_str_eq(p.snapshot_suffix, "-DEV");
	config_project_release(&file);
	config_project_release(&p);
	config_release(&c);
}
END_TEST

static const struct {
	const char *text;
	const char *msg; /* substring of the error */
} bad_groups[] = {
	{ "[group \"\"]\n", "test.conf:1: section [group \"\"]" },
	{ "[group \"a//b\"]\n", "is unknown" },
	{ "[group \"/a\"]\n", "is unknown" },
	{ "[group \"a/\"]\n", "is unknown" },
	{ "[group \"a b\"]\n", "is unknown" },
	{ "[group \"a\"]\n[group \"a\"]\n", "test.conf:2: section [group \"a\"] given twice" },
	{ "[group \"a\"]\ntopic = x\ntopic = y\n", "test.conf:3: key 'topic' given twice" },
	{ "[group \"a\"]\ntopic = x,y\n", "test.conf:2: topic 'x,y'" },
	{ "[group \"a\"]\nproject = 5\n", "test.conf:2: key 'project' names one project" },
	{ "[project \"a\"]\ntopic = x\n", "test.conf:2: unknown key 'topic'" },
	{ "[global]\ndiscovery_interval = 5\n", "test.conf:2: discovery_interval '5'" },
	{ "[global]\nreconcile_interval = 1e9\n", "reconcile_interval '1e9'" },
	{ "[group \"a\"]\ndiscovery_interval = 60\n", "unknown key 'discovery_interval'" },
};

START_TEST(test_bad_groups)
{
	struct config c;
	struct st_error err;

	ck_assert_int_eq(load(bad_groups[_i].text, &c, &err), ST_ECONFIG);
	ck_assert_msg(strstr(err.msg, bad_groups[_i].msg),
		      "'%s' lacks '%s'", err.msg, bad_groups[_i].msg);
	config_release(&c);
}
END_TEST

/* What a hostile or broken repository file gets: an error naming the file,
 * the line and the key; nothing half-applied. */
static const struct {
	const char *text;
	const char *msg;
} bad_repo[] = {
	{ "build_system = maven\napi_url = https://evil.example/api/v4\n",
	  ".gitlab/semver-tagger.conf:2: key 'api_url' is not allowed in a repository file" },
	{ "token_file = /etc/shadow\n", ":1: key 'token_file' is not allowed" },
	{ "token_env = HOME\n", ":1: key 'token_env' is not allowed" },
	{ "git_url = http://evil.example/x.git\n", ":1: key 'git_url'" },
	{ "ca_file = /tmp/ca.pem\n", ":1: key 'ca_file'" },
	{ "ca_dir = /tmp\n", ":1: key 'ca_dir'" },
	{ "project = 1\n", ":1: key 'project'" },
	{ "state_dir = /tmp\n", ":1: key 'state_dir'" },
	{ "listen = 0.0.0.0:80\n", ":1: key 'listen'" },
	{ "webhook_secret_file = /x\n", ":1: key 'webhook_secret_file'" },
	{ "git_email = root@example.com\n", ":1: key 'git_email'" },
	{ "poll_interval = 1\n", ":1: key 'poll_interval'" },
	{ "\n\nbuild_system = gradle\n", ".gitlab/semver-tagger.conf:3: build_system 'gradle'" },
	{ "tag_prefix = v..\n", ":1: tag_prefix 'v..' is not usable" },
	{ "[project \"x\"]\nbuild_system = maven\n", ":1: sections are not used" },
	{ "notes = true\nnotes = false\n", ":2: key 'notes' given twice" },
	{ "what is this\n", ":1: syntax error" },
	{ "frobnicate = 1\n", ":1: key 'frobnicate' is not allowed" },
};

START_TEST(test_bad_repo_files)
{
	struct config_project p;
	struct st_error err;

	ck_assert_int_eq(repo(bad_repo[_i].text, &p, &err), ST_ECONFIG);
	ck_assert_msg(strstr(err.msg, bad_repo[_i].msg), "'%s' lacks '%s'",
		      err.msg, bad_repo[_i].msg);
	/* Nothing owned is left behind (ASan checks the release). */
	ck_assert_ptr_null(p.tag_prefix);
}
END_TEST

START_TEST(test_repo_file_sizes)
{
	struct config_project p;
	struct st_error err;
	size_t big = CONFIG_REPO_FILE_MAX + 1;
	char *text = malloc(big + 1);
	char nul[] = "notes = on\n\0x = 1\n";

	ck_assert_ptr_nonnull(text);
	memset(text, '#', big);
	text[big] = '\0';
	st_error_clear(&err);
	ck_assert_int_eq(config_repo_parse(CONFIG_REPO_FILE, text, big, &p, &err),
			 ST_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "larger than"));
	free(text);
	st_error_clear(&err);
	ck_assert_int_eq(config_repo_parse(CONFIG_REPO_FILE, nul, sizeof(nul) - 1,
					   &p, &err),
			 ST_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "NUL byte"));
	ck_assert_int_eq(repo("", &p, &err), 0); /* empty: nothing set */
	ck_assert_uint_eq(p.set, 0);
	config_project_release(&p);
	ck_assert_int_eq(repo("version_file = build/VERSION\n"
			      "label_major = Breaking\n"
			      "releases = no\n",
			      &p, &err),
			 0);
	ck_assert_str_eq(p.version_file, "build/VERSION");
	ck_assert_str_eq(p.label_major, "Breaking");
	ck_assert(!p.releases);
	config_project_release(&p);
}
END_TEST

START_TEST(test_repo_key_rule)
{
	static const char *const ok[] = {
		"build_system", "version_file", "tag_prefix", "release_prefix",
		"label_major", "label_minor", "label_patch", "snapshot_suffix",
		"notes", "releases", "base_version", "changelog", "changelog_file",
		"notes_template", "release_sections", "release_exclude_labels",
		"released_notes",
	};
	static const char *const no[] = {
		"api_url", "git_url", "token_file", "token_env", "ca_file",
		"ca_dir", "project", "state_dir", "git_name", "git_email",
		"poll_interval", "connect_timeout", "total_timeout",
		"stable_release", "signing_key", "signing_key_file",
		"signing_passphrase_file", "changelog_url", "notes_token",
		"release_token", "released_hook_url",
		"label_secret", "default_branch", "listen", "anything_new",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(config_key_repo_allowed(ok[i]), "%s", ok[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ck_assert_msg(!config_key_repo_allowed(no[i]), "%s", no[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config_repo");
	TCase *tc = tcase_create("config_repo");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_groups_and_intervals);
	tcase_add_test(tc, test_precedence);
	tcase_add_loop_test(tc, test_bad_groups, 0,
			    sizeof(bad_groups) / sizeof(bad_groups[0]));
	tcase_add_loop_test(tc, test_bad_repo_files, 0,
			    sizeof(bad_repo) / sizeof(bad_repo[0]));
	tcase_add_test(tc, test_repo_file_sizes);
	tcase_add_test(tc, test_repo_key_rule);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
