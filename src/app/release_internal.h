/* SPDX-License-Identifier: MIT */
/* Private to the release engine (release*.c). */
#ifndef SEMVER_TAGGER_RELEASE_INTERNAL_H
#define SEMVER_TAGGER_RELEASE_INTERNAL_H

#include "semver-tagger/gitrepo.h"
#include "semver-tagger/release.h"
#include "semver-tagger/versionfile.h"

#define ENGINE_HEADS_MAX 4096

/* A release known to this run: from a tag, or tagged by this run. */
struct known_release {
	struct semver_ver v;
	struct gitrepo_oid commit;
	bool fresh;                /* tagged (or planned) by this run */
};

/* The commit of merged MR e->mrs.items[mr] (SPEC §2). */
struct mr_commit {
	struct gitrepo_oid id;
	size_t mr;
};

/* A branch as the remote had it when planned, and what we will push. */
struct engine_head {
	char name[POLICY_NAME_MAX];
	bool exists;               /* on the remote when planned */
	struct gitrepo_oid old;    /* its head then (zero if !exists) */
	struct gitrepo_oid head;   /* planned head (== old: untouched) */
	bool failed;               /* a goal on it failed: later ones skip */
	int push_rc;               /* outcome of publishing head */
	char detail[GITREPO_PUSH_MSG_MAX];
};

struct engine {
	const struct release_options *o;
	struct forge *forge;
	struct release_report *rep;
	struct forge_project project;
	bool project_cached;       /* from <state>/project.cache */
	char *git_url;
	const char *default_branch;
	struct gitrepo *repo;
	struct gitrepo_credentials cred;
	struct forge_mr_list mrs;
	/* MR commits parsed once per run, sorted by id (release.c) */
	struct mr_commit *mr_commits;
	size_t n_mr_commits;
	struct versionfile_spec spec;
	struct gitrepo_identity who;
	struct signer *signer;     /* NULL: unsigned (release_guard.c) */
	bool rules_checked;        /* push rules read this run: */
	int rules_rc;              /* 0, or why every push is refused */
	struct st_error rules_err;
	struct policy_settings settings;
	/* per attempt */
	struct gitrepo_tags tags;
	struct gitrepo_branches branches;
	struct known_release *known;
	size_t n_known;
	/* known sorted by version while the family goals are planned
	 * (release_goals.c); stale as soon as n_known differs */
	const struct known_release **known_sorted;
	size_t n_known_sorted;
	struct engine_head *heads;
	size_t n_heads;
	/* Families whose branch was refused: their goals wait (SPEC §3:
	 * nothing is changed for a refused branch). */
	struct semver_ver blocked[64];
	size_t n_blocked;
	/* notes computed this run, by version (release_content.c) */
	struct content_cache *content;
};

/* release.c */
void engine_warn(struct engine *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void engine_debug(struct engine *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int64_t engine_deadline(const struct engine *e);
void engine_failpoint(const struct engine *e, const char *name);

/* release_guard.c: the signer, and push rules before the first push */
int engine_guard_open(struct engine *e, struct st_error *err);
void engine_guard_close(struct engine *e);
/* gitrepo_push() after the push-rule check (once per run); a refusal
 * names the push rule from GitLab's message. */
int engine_push(struct engine *e, const struct gitrepo_ref_update *up,
		size_t n, struct gitrepo_push_result *res,
		struct st_error *err);

/* release_goals.c */
int engine_tag_goal(struct engine *e, struct release_branch_report *br,
		    const struct gitrepo_oid *head, struct st_error *err);
int engine_family_goals(struct engine *e, struct st_error *err);
void engine_heads_reset(struct engine *e);
int engine_known_add(struct engine *e, const struct semver_ver *v,
		     const struct gitrepo_oid *commit);

/* release_content.c: what a release says */
bool engine_changelog_on(const struct engine *e);
/* The release commit of br's planned release on head: version files and,
 * when enabled, the changelog with the release's section. */
int engine_release_commit(struct engine *e, struct release_branch_report *br,
			  const struct gitrepo_oid *head, const char *version,
			  struct gitrepo_oid *out, bool *made,
			  struct st_error *err);
/* Does head's changelog lack the section of release k, a release this
 * tool made (a person's old tags are not written up on adoption)? */
bool engine_changelog_missing(struct engine *e, const struct gitrepo_oid *head,
			      const struct known_release *k);
/* A prep commit on head writing version (NULL: version files left as
 * they are); it also adds release k's changelog section when head's
 * changelog lacks it. */
int engine_prep_commit(struct engine *e, const struct gitrepo_oid *head,
		       const struct known_release *k, const char *version,
		       const char *msg, struct gitrepo_oid *out, bool *made,
		       struct st_error *err);
/* Goal 4 of release v at commit: "released in" notes, release object.
 * Optional: failures are warnings. */
void engine_content_goal(struct engine *e, const struct semver_ver *v,
			 const struct gitrepo_oid *commit);
void engine_content_free(struct engine *e);

/* release_report.c */
int report_add_branch(struct release_report *r, const char *name,
		      struct release_branch_report **out);
int report_add_maintenance(struct release_report *r,
			   const struct release_goal_report *g);
int report_add_warning(struct release_report *r, const char *msg);
int report_add_debug(struct release_report *r, const char *msg);
void report_clear_attempt(struct release_report *r);
/* The branch report's goal matching g (kind, branch, release), or NULL. */
struct release_goal_report *report_find_goal(struct release_report *r,
					     const struct policy_goal *g);
/* Worst status first: config, auth, refused/conflict, io, temp/race. */
int report_worse(int a, int b);

#endif
