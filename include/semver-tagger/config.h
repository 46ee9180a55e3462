/* SPDX-License-Identifier: MIT */
/*
 * Configuration: the INI file (daemon, or --once --config) and the CI
 * environment (--once), merged into one struct config_project per project.
 * Every key has one name, used as "key" in the file and as
 * SEMVER_TAGGER_KEY (upper case) in the environment. Errors name the file,
 * line and key, or the variable.
 */
#ifndef SEMVER_TAGGER_CONFIG_H
#define SEMVER_TAGGER_CONFIG_H

#include "semver-tagger/error.h"
#include "semver-tagger/semver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_FILE_MAX (1024 * 1024)  /* bytes of config file read */
#define CONFIG_PROJECTS_MAX 10000
#define CONFIG_GROUPS_MAX 1000
/* The repository settings file: read from the default branch's tree. */
#define CONFIG_REPO_FILE ".gitlab/semver-tagger.conf"
#define CONFIG_REPO_FILE_MAX (64 * 1024)
#define CONFIG_DISCOVERY_INTERVAL_DEFAULT 3600  /* seconds */
#define CONFIG_RECONCILE_INTERVAL_DEFAULT 86400 /* seconds */

enum build_system {
	BUILD_SIMPLE,        /* tag the branch head itself */
	BUILD_VERSION_FILE,  /* VERSION file (Python style) */
	BUILD_MAVEN,         /* pom.xml <version> */
};

/* One project's settings. Strings are owned (NULL = unset). */
struct config_project {
	char *name;             /* section name or CI project; for messages */
	char *project;          /* API id: numeric id or "group/sub/name" */
	char *api_url;          /* e.g. https://gitlab.example/api/v4 */
	char *git_url;          /* NULL: the project's http_url_to_repo */
	char *token_file;       /* file holding the API token */
	char *token_env;        /* environment variable holding the token */
	char *ca_file, *ca_dir; /* TLS trust (NULL: system default) */
	enum build_system build;
	char *tag_prefix;       /* "" or e.g. "v" */
	char *version_file;     /* "VERSION" */
	char *label_major, *label_minor, *label_patch; /* PCRE2, whole name */
	char *release_prefix;   /* "release/" */
	char *snapshot_suffix;  /* "-SNAPSHOT" */
	char *default_branch;   /* NULL: the project's default branch */
	char *git_name, *git_email; /* identity of the commits we make */
	/* signing (signer.h): "openpgp" or "ssh", NULL = unsigned; the key
	 * (OpenPGP id/fingerprint, or the SSH private key file); GnuPG home */
	char *signing_format, *signing_key, *gnupg_home;
	struct semver_ver base; /* the virtual latest with no release */
	unsigned poll_interval; /* seconds */
	unsigned connect_timeout, total_timeout; /* seconds */
	bool notes;             /* note on MRs that block a release */
	bool releases;          /* GitLab release objects */
	bool stable_release;    /* STABLE_RELEASE for --once */
	/* What a release says (docs/release-engine.md) */
	int changelog;          /* -1 auto: on for version-file and maven */
	char *changelog_file;   /* "CHANGELOG.md" */
	char *release_sections; /* "Heading:~label, ..." (notes.h) */
	char *release_exclude_labels; /* "label, ..." */
	bool released_notes;    /* "Released in X.Y.Z" note on each MR */
	uint64_t set;           /* internal: which keys were given (bit per key) */
};

/*
 * A [group "platform/backend"] section: every project of that GitLab
 * group and its subgroups (archived ones skipped), optionally only those
 * with a topic, released with the section's settings. Owned strings.
 */
struct config_group {
	char *path;                     /* full path or numeric id */
	char *topic;                    /* NULL: every project */
	struct config_project settings; /* name = path; [global] inherited */
};

struct config {
	char *path;               /* the file read, NULL for env only */
	char *state_dir;
	char *listen;             /* "127.0.0.1:8080", NULL = no listener */
	char *webhook_secret_file;
	char *status_token_file;  /* bearer token of the read pages, or NULL */
	int log_level;            /* enum log_level value, -1 = default */
	struct config_project global; /* [global]: what projects inherit */
	struct config_project *projects;
	size_t n_projects;
	size_t cap_projects;      /* allocated: grows by doubling */
	struct config_group *groups;
	size_t n_groups;
	unsigned discovery_interval; /* s between group re-discoveries */
	unsigned reconcile_interval; /* s between full safety-net cycles */
};

void config_init(struct config *c);
void config_release(struct config *c);

/* Defaults for every key of a project ("release/", "-SNAPSHOT", ...). */
int config_project_defaults(struct config_project *p);
void config_project_release(struct config_project *p);

/* Copy src's settings into dst for the keys dst has not set itself. */
int config_project_inherit(struct config_project *dst,
			   const struct config_project *src);

/*
 * Set one key from text ("build_system", "maven"). ST_ECONFIG with a
 * message naming the key and the accepted values; ST_ENOTFOUND for an
 * unknown key.
 */
int config_project_set(struct config_project *p, const char *key,
		       const char *value, struct st_error *err);

/*
 * Read an INI file: [global] and [project "group/name"] sections. Projects
 * inherit [global]'s keys they do not set. Unknown sections or keys, bad
 * values, duplicates, over-long lines and files over CONFIG_FILE_MAX are
 * errors naming file and line.
 */
int config_load_file(const char *path, struct config *c,
		     struct st_error *err);

/* Same, from a string (tests, fuzzing); `name` is used in messages. */
int config_load_string(const char *name, const char *text, size_t len,
		       struct config *c, struct st_error *err);

/*
 * Apply SEMVER_TAGGER_<KEY> variables from env (a NULL-terminated
 * "NAME=value" array, like environ) to p, and the GitLab CI variables
 * CI_API_V4_URL, CI_PROJECT_ID / CI_PROJECT_PATH, STABLE_RELEASE.
 */
int config_apply_env(struct config_project *p, char *const *env,
		     struct st_error *err);

/*
 * Keys a repository settings file may set: release keys only (build
 * system, version file, prefixes, label patterns, suffix, notes and
 * releases, changelog and release-notes keys). Keys that could send the token
 * elsewhere or change who is trusted (URLs, tokens, CA files, paths
 * outside the repository, keys, identities, intervals) are refused. The
 * rule goes by key name, so keys added to the table later are refused
 * unless they look like release keys and name nothing secret.
 */
bool config_key_repo_allowed(const char *key);

/*
 * Parse a repository settings file (CONFIG_REPO_FILE): "key = value" lines,
 * no sections, only config_key_repo_allowed() keys. out is initialised
 * here (every field unset) and receives the keys given; on error it is
 * released. Errors name "<name>:<line>" and the key.
 */
int config_repo_parse(const char *name, const char *text, size_t len,
		      struct config_project *out, struct st_error *err);

/* Copy into dst every key src set itself (src wins): the repository file
 * over the daemon's settings. */
int config_project_overlay(struct config_project *dst,
			   const struct config_project *src);

/* Deep copy of every key, name and set bits (dst is overwritten; release
 * it with config_project_release). */
int config_project_copy(struct config_project *dst,
			const struct config_project *src);

/* Value of NAME in env, or NULL. */
const char *config_getenv(char *const *env, const char *name);

/*
 * Every key of a project, by index (0 .. config_key_count()-1), as typed
 * data: for the daemon's worker protocol, which copies a resolved
 * project into another process of the same binary key by key (a key
 * added to the table travels without touching the protocol).
 */
struct config_field {
	const char *name;
	bool is_string;
	const char *text;   /* is_string: the value, NULL when unset */
	const void *data;   /* else: the field's bytes */
	size_t size;
};

size_t config_key_count(void);
/* Borrowed view of key i of p. ST_ENOTFOUND past the last key. */
int config_project_field(const struct config_project *p, size_t i,
			 struct config_field *out);
/* Set key i of p from f (a string is copied). ST_EINVAL when f's type or
 * size is not key i's, or a value is out of range; ST_ENOMEM. */
int config_project_field_set(struct config_project *p, size_t i,
			     const struct config_field *f);

const char *build_system_name(enum build_system b);

#endif
