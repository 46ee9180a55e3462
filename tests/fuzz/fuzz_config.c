/* SPDX-License-Identifier: MIT */
/*
 * The config file and the CI environment (src/adapters/config.c, inih).
 * Input: the INI text, optionally followed by a NUL byte and environment
 * lines ("NAME=value\n..."). On success every project has a name and an
 * API project and inherited the defaults; errors carry a message naming
 * the file. The environment is then applied to a project built like
 * --once builds it (defaults, inherit the file's project or [global]).
 */
#include "fuzz.h"

#include "semver-tagger/config.h"

#include <string.h>

#define ENV_MAX 64

static void check_project(const struct config_project *p, bool named)
{
	if (named)
		FUZZ_ASSERT(p->name && p->project);
	FUZZ_ASSERT(p->release_prefix && p->snapshot_suffix && p->tag_prefix);
	FUZZ_ASSERT(p->version_file && p->git_name && p->git_email);
	FUZZ_ASSERT(p->build == BUILD_SIMPLE || p->build == BUILD_VERSION_FILE ||
		    p->build == BUILD_MAVEN);
}

static void apply_env(const struct config *c, const char *text, size_t len)
{
	char *copy = malloc(len + 1), *env[ENV_MAX + 1];
	struct config_project p;
	struct st_error err;
	size_t n = 0;
	int rc;

	if (!copy)
		return;
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (char *s = copy; s && *s && n < ENV_MAX;) {
		char *nl = strchr(s, '\n');

		if (nl)
			*nl = '\0';
		env[n++] = s;
		s = nl ? nl + 1 : NULL;
	}
	env[n] = NULL;
	memset(&p, 0, sizeof(p));
	if (config_project_defaults(&p) == 0) {
		const struct config_project *base = c->n_projects ?
			&c->projects[0] : &c->global;

		config_project_release(&p);
		memset(&p, 0, sizeof(p));
		if (config_project_inherit(&p, base) == 0) {
			st_error_clear(&err);
			rc = config_apply_env(&p, env, &err);
			if (rc == 0)
				check_project(&p, false);
			else
				FUZZ_ASSERT(rc < 0 && err.code == rc &&
					    err.msg[0]);
		}
		config_project_release(&p);
	}
	free(copy);
}

/* The same text as a repository settings file (issue 13): success only
 * with release keys, else an error naming the file. */
static void repo_file(const char *s, size_t len)
{
	struct config_project p;
	struct st_error err;
	int rc;

	st_error_clear(&err);
	rc = config_repo_parse(CONFIG_REPO_FILE, s, len, &p, &err);
	if (rc == 0) {
		FUZZ_ASSERT(!p.api_url && !p.git_url && !p.token_file &&
			    !p.token_env && !p.ca_file && !p.ca_dir &&
			    !p.project);
		config_project_release(&p);
	} else {
		FUZZ_ASSERT(rc < 0 && err.code == rc);
		FUZZ_ASSERT(strncmp(err.msg, CONFIG_REPO_FILE,
				    strlen(CONFIG_REPO_FILE)) == 0 ||
			    strstr(err.msg, "memory"));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nul = memchr(s, '\0', size);
	size_t tlen = nul ? (size_t)(nul - s) : size;
	struct config c;
	struct st_error err;
	int rc;

	repo_file(s, tlen);
	config_init(&c);
	st_error_clear(&err);
	rc = config_load_string("fuzz.conf", s, tlen, &c, &err);
	if (rc == 0) {
		check_project(&c.global, false);
		for (size_t i = 0; i < c.n_projects; i++)
			check_project(&c.projects[i], true);
		for (size_t i = 0; i < c.n_groups; i++) {
			check_project(&c.groups[i].settings, false);
			FUZZ_ASSERT(c.groups[i].path && c.groups[i].path[0]);
		}
		if (nul)
			apply_env(&c, nul + 1, size - tlen - 1);
	} else {
		FUZZ_ASSERT(rc < 0 && err.code == rc);
		FUZZ_ASSERT(strncmp(err.msg, "fuzz.conf", 9) == 0 ||
			    strstr(err.msg, "memory"));
	}
	config_release(&c);
	return 0;
}
