/* SPDX-License-Identifier: MIT */
/*
 * What a service for many projects needs from the forge beyond one
 * project's release (issue 13): the projects of a group, one listing of a
 * group's merged MRs, the token's own facts and the project's
 * permissions for the preflight (--assess), labels, hooks, and an MR's
 * head pipeline. An optional table (forge_ops.fleet): a forge without it
 * answers ST_ENOTFOUND naming the operation.
 *
 * Conventions as in forge.h: 0 or ST_E*, caller-owned st_error, outputs
 * set only on success, lists initialised by the caller (zeroed) and
 * released with their _release function. Group arguments are a group's
 * full path or numeric id; a forge made for any project of the server
 * answers them.
 */
#ifndef SEMVER_TAGGER_FORGE_FLEET_H
#define SEMVER_TAGGER_FORGE_FLEET_H

#include "semver-tagger/forge.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* GitLab's role numbers (doc/api/access_requests.md, "valid access
 * levels"); ours too. */
enum forge_access {
	FORGE_ACCESS_NONE = 0,
	FORGE_ACCESS_REPORTER = 20,
	FORGE_ACCESS_DEVELOPER = 30,
	FORGE_ACCESS_MAINTAINER = 40,
	FORGE_ACCESS_OWNER = 50,
	FORGE_ACCESS_ADMIN = 60,
};

struct forge_token_info {
	bool known;             /* false: the forge could not tell (not a
				 * personal/project/group access token) */
	char name[128];
	char scopes[256];       /* "api,write_repository" */
	char expires_at[16];    /* "YYYY-MM-DD", "" when it never expires */
	bool active;
	bool revoked;
	int64_t user_id;
	char username[256];
	bool admin;             /* an instance administrator */
};

/* A protected branch or tag pattern and the lowest role allowed to push
 * to it (branches) or create it (tags); FORGE_ACCESS_NONE: no one. */
struct forge_protected_ref {
	char name[256];
	int level;
};

struct forge_protected_refs {
	struct forge_protected_ref *items;
	size_t len;
};

/* Owned strings (label names, hook URLs). */
struct forge_names {
	char **items;
	size_t len;
};

struct forge_fleet_project {
	int64_t id;
	char *path;             /* path_with_namespace */
	char *default_branch;   /* NULL for an empty repository */
};

struct forge_fleet_projects {
	struct forge_fleet_project *items;
	size_t len;
};

/* One MR of a group listing: which project moved, and when. */
struct forge_group_mr {
	int64_t project_id;
	int64_t iid;
	int64_t updated_ms;
};

struct forge_group_mrs {
	struct forge_group_mr *items;
	size_t len;
	size_t cap;
};

enum forge_hook_scope {
	FORGE_HOOKS_PROJECT,
	FORGE_HOOKS_GROUP,
	FORGE_HOOKS_SYSTEM,
};

struct forge_fleet_ops {
	int (*token_info)(void *impl, struct forge_token_info *out,
			  struct st_error *err);
	/* The role of user_id in the forge's project (FORGE_ACCESS_NONE
	 * when not a member). */
	int (*access_level)(void *impl, int64_t user_id, int *level,
			    struct st_error *err);
	int (*protected_refs)(void *impl, bool tags,
			      struct forge_protected_refs *out,
			      struct st_error *err);
	/* group NULL: the project's labels (with its groups' labels). */
	int (*labels)(void *impl, const char *group, struct forge_names *out,
		      struct st_error *err);
	int (*create_label)(void *impl, const char *group, const char *name,
			    const char *color, const char *description,
			    enum forge_outcome *out, struct st_error *err);
	/* The URLs of the hooks of the project, a group or the instance;
	 * ST_EAUTH when the token may not list them. */
	int (*hooks)(void *impl, enum forge_hook_scope scope,
		     const char *group, struct forge_names *urls,
		     struct st_error *err);
	/* Non-archived projects of group and its subgroups, with topic
	 * (NULL: any). */
	int (*group_projects)(void *impl, const char *group,
			      const char *topic,
			      struct forge_fleet_projects *out,
			      struct forge_list_result *res,
			      struct st_error *err);
	/* Merged MRs of group (subgroups included, archived projects left
	 * out) updated at or after updated_after_ms (-1: all), oldest
	 * first. */
	int (*group_mrs)(void *impl, const char *group,
			 int64_t updated_after_ms, struct forge_group_mrs *out,
			 struct forge_list_result *res, struct st_error *err);
	/* The id of MR iid's head pipeline, 0 when it has none. */
	int (*mr_head_pipeline)(void *impl, int64_t iid, int64_t *pipeline_id,
				struct st_error *err);
};

void forge_protected_refs_release(struct forge_protected_refs *r);
void forge_names_release(struct forge_names *n);
int forge_names_add(struct forge_names *n, const char *s);
bool forge_names_has(const struct forge_names *n, const char *s);
void forge_fleet_projects_release(struct forge_fleet_projects *p);
void forge_group_mrs_release(struct forge_group_mrs *m);

/* The table and state behind f (forge.c). */
const struct forge_ops *forge_ops_of(const struct forge *f, void **impl);

int forge_token_info(struct forge *f, struct forge_token_info *out,
		     struct st_error *err);
int forge_access_level(struct forge *f, int64_t user_id, int *level,
		       struct st_error *err);
int forge_protected_refs(struct forge *f, bool tags,
			 struct forge_protected_refs *out,
			 struct st_error *err);
int forge_labels(struct forge *f, const char *group, struct forge_names *out,
		 struct st_error *err);
int forge_create_label(struct forge *f, const char *group, const char *name,
		       const char *color, const char *description,
		       enum forge_outcome *out, struct st_error *err);
int forge_hooks(struct forge *f, enum forge_hook_scope scope,
		const char *group, struct forge_names *urls,
		struct st_error *err);
int forge_group_projects(struct forge *f, const char *group,
			 const char *topic, struct forge_fleet_projects *out,
			 struct forge_list_result *res, struct st_error *err);
int forge_group_mrs(struct forge *f, const char *group,
		    int64_t updated_after_ms, struct forge_group_mrs *out,
		    struct forge_list_result *res, struct st_error *err);
int forge_mr_head_pipeline(struct forge *f, int64_t iid,
			   int64_t *pipeline_id, struct st_error *err);

/* The lowest role a protected pattern list lets at name (fnmatch
 * patterns as GitLab's wildcards); -1 when no pattern matches (not
 * protected: Developer may push, Maintainer... see the caller). */
int forge_protected_level(const struct forge_protected_refs *r,
			  const char *name);

#endif
