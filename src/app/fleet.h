/* SPDX-License-Identifier: MIT */
/*
 * The set of projects a configuration covers (issue 13): the explicit
 * [project] sections and the projects discovered in each [group], with
 * their settings combined (repository file > [project] > [group] >
 * [global]); tokens and forges for them. Shared by --assess and the
 * daemon's fleet.
 */
#ifndef SEMVER_TAGGER_APP_FLEET_H
#define SEMVER_TAGGER_APP_FLEET_H

#include "semver-tagger/config.h"
#include "semver-tagger/error.h"
#include "semver-tagger/forge.h"
#include "semver-tagger/secret.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct fleet_project {
	struct config_project cfg; /* combined settings (owned) */
	const char *group;         /* [group] it came from, or NULL (borrowed
				    * from the config) */
	bool explicit_section;     /* a [project] section names it */
	int64_t id;                /* GitLab's id, 0 until known */
};

struct fleet_set {
	struct fleet_project *items;
	size_t len;
	size_t cap;      /* allocated: grows by doubling */
};

void fleet_set_release(struct fleet_set *s);

/* The token of p's settings: token_file, token_env, else the gitlab-token
 * credential. Registered with the log's redaction. */
int fleet_token_load(const struct config_project *p, struct secret *s,
		     struct st_error *err);

/* A GitLab forge for project (NULL: p->project) with p's API URL, TLS
 * and timeouts. */
int fleet_forge_new(const struct config_project *p, const char *project,
		    const char *token, const atomic_int *cancel,
		    struct forge **out, struct st_error *err);

/* What a discovery cost, for logs and /metrics. */
struct fleet_discovery {
	unsigned requests;
	size_t discovered;   /* projects found in groups */
	size_t groups_failed;
	char error[ST_ERROR_MSG_MAX]; /* the first group that failed */
};

/*
 * The projects of c: every [project] section (those inside a [group]
 * also take the group's keys they do not set) and every non-archived
 * project of each [group] with its topic, subgroups included. A project
 * in two configured groups belongs to the deeper one. only: keep just
 * the project whose path, name or id is only (NULL: all). A group that
 * cannot be listed is skipped and counted (its error in rep->error).
 */
int fleet_discover(const struct config *c, const char *only,
		   const atomic_int *cancel, struct fleet_set *out,
		   struct fleet_discovery *rep, struct st_error *err);

/* A literal label name for an impact pattern (the first alternative
 * without regular-expression syntax), or NULL when there is none. */
const char *fleet_label_name(const char *pattern, char *buf, size_t size);

/*
 * The impact labels of cfg's patterns exist: in group (a [group]), else
 * in f's project, created where missing with a description saying what
 * each means. Idempotent: with every label there, one GET and no write.
 * *created counts the labels made.
 */
int fleet_ensure_labels(struct forge *f, const char *group,
			const struct config_project *cfg, unsigned *created,
			struct st_error *err);

#endif
