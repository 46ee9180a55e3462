/* SPDX-License-Identifier: MIT */
/*
 * The forge interface: what the release engine needs from GitLab (or any
 * other forge), as plain facts. A forge is an opaque handle over a table of
 * function pointers, so a second forge or a test fake plugs in without
 * touching the engine: fill a struct forge_ops and call forge_new().
 *
 * Conventions: every call returns 0 or a negative ST_E* class and fills a
 * caller-owned struct st_error; output parameters are set only on success.
 * Adapters never log: warnings and counters come back in result structs,
 * and the application decides what to print.
 */
#ifndef SEMVER_TAGGER_FORGE_H
#define SEMVER_TAGGER_FORGE_H

#include "semver-tagger/error.h"
#include "semver-tagger/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct forge;
struct forge_fleet_ops;

struct forge_project {
	int64_t id;
	char *path;             /* "group/sub/project" */
	char *default_branch;   /* NULL while the repository is empty */
	char *http_url_to_repo; /* HTTPS clone URL */
	char *web_url;
};

void forge_project_init(struct forge_project *p);
void forge_project_release(struct forge_project *p);

/* One merge request, as facts. Strings are owned by the list; any of them
 * may be NULL when the forge did not say (merged_at on imported MRs). */
struct forge_mr {
	int64_t iid;             /* project-scoped number: !iid */
	char *title;
	char *web_url;
	char *source_branch;
	char *target_branch;
	char *author_username;
	char *author_name;
	char **labels;           /* label names, in the forge's order */
	size_t n_labels;
	char *merged_at;         /* ISO 8601, NULL when unknown */
	char *updated_at;        /* ISO 8601, never NULL */
	char *head_sha;          /* head of the source branch ("sha") */
	/* The commit that landed (SPEC §2): merge_commit_sha, else
	 * squash_commit_sha, else head_sha. NULL only if all three are. */
	char *commit;
};

/* A list of MRs sorted by iid, no iid twice (after forge_mr_list_sort). */
struct forge_mr_list {
	struct forge_mr *items;
	size_t len;
	size_t cap;
};

void forge_mr_list_init(struct forge_mr_list *l);
void forge_mr_list_release(struct forge_mr_list *l);
/* Append an empty MR and return it (NULL when out of memory). */
struct forge_mr *forge_mr_list_push(struct forge_mr_list *l);
/* Sort by iid; of several entries with one iid the last appended wins. */
void forge_mr_list_sort(struct forge_mr_list *l);
/* Binary search in a sorted list. */
const struct forge_mr *forge_mr_list_find(const struct forge_mr_list *l,
					  int64_t iid);
void forge_mr_release(struct forge_mr *mr);
/* Deep copy (src unchanged). */
int forge_mr_copy(struct forge_mr *dst, const struct forge_mr *src);
/* Same facts (every field compared). */
bool forge_mr_equal(const struct forge_mr *a, const struct forge_mr *b);

enum forge_cache_state {
	FORGE_CACHE_UNUSED = 0, /* no cache path given: full listing */
	FORGE_CACHE_NONE,       /* no cache file yet (first cycle): full */
	FORGE_CACHE_HIT,        /* cache used: incremental listing */
	FORGE_CACHE_EXPIRED,    /* periodic full listing (drops deleted MRs) */
	FORGE_CACHE_CORRUPT,    /* damaged/foreign cache: full + warning */
};

/* What a listing cost and what happened to the cache. */
struct forge_list_result {
	unsigned requests;       /* HTTP requests sent, retries included */
	unsigned retries;
	unsigned pages;
	size_t received;         /* MR records received */
	size_t changed;          /* MRs new or different from the cache */
	bool full;               /* the whole list was fetched */
	enum forge_cache_state cache;
	bool cache_saved;
	bool warning;            /* set with warning_msg: the app should log */
	char warning_msg[512];
	/* web_url of the most recently updated MR this listing received
	 * ("" when none): the server's current address of the project */
	char newest_web_url[1024];
};

/* Outcome of an idempotent write. */
enum forge_outcome {
	FORGE_CREATED = 1,         /* done now */
	FORGE_EXISTED,             /* already there, same content */
	FORGE_EXISTED_DIFFERENT,   /* already there, other content: kept */
};

struct forge_note {
	int64_t mr_iid;
	/* Hidden marker that makes the note idempotent, [A-Za-z0-9._:+/-]
	 * ("semver-tagger:release:1.4.0"). The forge appends it to the body
	 * as an HTML comment and skips posting when a note has it. */
	const char *marker;
	const char *body;          /* Markdown; see forge_text_escape() */
};

struct forge_release {
	const char *tag;           /* existing tag name */
	const char *name;          /* NULL: the tag name */
	const char *description;   /* Markdown */
};

enum forge_commit_state {
	FORGE_STATUS_PENDING,
	FORGE_STATUS_RUNNING,
	FORGE_STATUS_SUCCESS,
	FORGE_STATUS_FAILED,
	FORGE_STATUS_CANCELED,
};

struct forge_commit_status {
	const char *sha;
	const char *name;          /* "semver-tagger" */
	enum forge_commit_state state;
	const char *description;   /* NULL or one line */
	const char *target_url;    /* NULL or a link */
	const char *ref;           /* NULL or the branch it is for */
	/* The pipeline to attach the status to (an MR's head pipeline),
	 * 0 for none. GitLab matches a pipeline on pipeline_id AND ref,
	 * so set ref NULL with it (docs/fleet.md). */
	int64_t pipeline_id;
};

/*
 * The project's push rules (GitLab Premium: Settings > Repository > Push
 * rules), the fields that decide whether what semver-tagger pushes is
 * accepted. Read before the first push so a release is refused whole
 * rather than half pushed (release_pushrule.c); the fleet preflight
 * reports the same facts.
 */
enum forge_push_rule_state {
	FORGE_PUSH_RULES_NONE = 0,    /* read: the project has no push rule */
	FORGE_PUSH_RULES_SET,         /* read: the fields below apply */
	FORGE_PUSH_RULES_UNAVAILABLE, /* the forge has none to apply (GitLab
				       * Free, no licence, or a forge without
				       * them): nothing is enforced */
	FORGE_PUSH_RULES_FORBIDDEN,   /* the token may not read them (GitLab:
				       * below Maintainer, or a CI job token):
				       * unknown */
};

struct forge_push_rule {
	enum forge_push_rule_state state;
	bool reject_unsigned_commits;
	bool commit_committer_check;      /* committer email = pusher's */
	bool commit_committer_name_check; /* author name = pusher's name */
	bool member_check;                /* author email is a user's */
	bool deny_delete_tag;
	bool reject_non_dco_commits;      /* Signed-off-by: in messages */
	/* RE2 patterns as GitLab stores them; NULL when unset or empty.
	 * Owned by the struct; at most FORGE_PUSH_RULE_REGEX_MAX bytes. */
	char *commit_message_regex;
	char *commit_message_negative_regex;
	char *branch_name_regex;
	char *author_email_regex;
	/* UNAVAILABLE / FORBIDDEN: what the server said, for a warning
	 * ("HTTP 403 (403 Forbidden)"); "" otherwise. */
	char detail[256];
};

#define FORGE_PUSH_RULE_REGEX_MAX 4096

void forge_push_rule_init(struct forge_push_rule *r);
/* Frees the patterns and re-initialises r. */
void forge_push_rule_release(struct forge_push_rule *r);

/* The token's user: who GitLab's committer push rules compare commits
 * with. Strings owned by the struct. */
struct forge_user {
	int64_t id;
	char *username;
	char *name;          /* full name ("Reject inconsistent user name") */
	char **emails;       /* verified: primary, commit, confirmed others */
	size_t n_emails;
};

#define FORGE_USER_EMAILS_MAX 100

void forge_user_init(struct forge_user *u);
void forge_user_release(struct forge_user *u);

/* Totals since forge_new (for /metrics). */
struct forge_counters {
	uint64_t requests;
	uint64_t retries;
	uint64_t bytes_received;
};

/*
 * The table an implementation fills. impl is its private state. Lists are
 * caller-initialised (forge_mr_list_init); on success their old contents
 * are released and replaced, on failure they are left as they were.
 * A forge is not thread-safe: use one per thread (or per project).
 */
struct forge_ops {
	const char *name; /* "gitlab" */
	int (*project)(void *impl, struct forge_project *out,
		       struct st_error *err);
	/* Every merged MR of the project, all target branches, sorted by
	 * iid. cache_path NULL: no cache (full listing each time). */
	int (*merged_mrs)(void *impl, const char *cache_path,
			  struct forge_mr_list *out,
			  struct forge_list_result *res, struct st_error *err);
	/* Every open MR (labels, target branch, head sha), sorted by iid. */
	int (*open_mrs)(void *impl, struct forge_mr_list *out,
			struct forge_list_result *res, struct st_error *err);
	int (*post_note)(void *impl, const struct forge_note *note,
			 enum forge_outcome *out, struct st_error *err);
	int (*create_release)(void *impl, const struct forge_release *rel,
			      enum forge_outcome *out, struct st_error *err);
	int (*set_commit_status)(void *impl,
				 const struct forge_commit_status *st,
				 enum forge_outcome *out, struct st_error *err);
	void (*counters)(void *impl, struct forge_counters *out);
	void (*free)(void *impl);
	/* Optional (NULL: forge_project_cached() asks project()). */
	int (*project_cached)(void *impl, const char *cache_path, bool refresh,
			      struct forge_project *out, bool *from_cache,
			      struct st_error *err);
	/* Optional (NULL: nothing read ahead). */
	void (*preload_mrs)(void *impl, const char *cache_path);
	/* Optional (NULL: forge_release_exists() fails ST_EINVAL). */
	int (*release_exists)(void *impl, const char *tag, bool *exists,
			      struct st_error *err);
	/* Optional (NULL: *text NULL, MR titles only). */
	int (*mr_release_text)(void *impl, int64_t iid, char **text,
			       struct st_error *err);
	/* Optional (NULL: FORGE_PUSH_RULES_UNAVAILABLE). */
	int (*push_rule)(void *impl, struct forge_push_rule *out,
			 struct st_error *err);
	/* Optional (NULL: ST_ENOTFOUND). */
	int (*user)(void *impl, struct forge_user *out, struct st_error *err);
	/* Optional (NULL: none): many-project operations, forge_fleet.h */
	const struct forge_fleet_ops *fleet;
};

/* Wrap impl; ops must outlive the forge. ST_ENOMEM (impl then untouched:
 * the caller still owns it). */
int forge_new(const struct forge_ops *ops, void *impl, struct forge **out);
/* Frees impl through ops->free. NULL is a no-op. */
void forge_free(struct forge *f);

int forge_project(struct forge *f, struct forge_project *out,
		  struct st_error *err);
int forge_merged_mrs(struct forge *f, const char *cache_path,
		     struct forge_mr_list *out, struct forge_list_result *res,
		     struct st_error *err);

/*
 * Project facts without a request when cache_path holds them for this
 * forge's server and project (*from_cache true), else forge_project() and
 * a new cache_path (*from_cache false); refresh: always ask the server.
 * A cache never decides anything on its own: the caller checks the
 * cached default branch against the repository's HEAD after fetching and
 * refreshes on a mismatch or a failed fetch (release.c). cache_path NULL:
 * forge_project().
 */
int forge_project_cached(struct forge *f, const char *cache_path,
			 bool refresh, struct forge_project *out,
			 bool *from_cache, struct st_error *err);

/*
 * Read the merged-MR cache at cache_path ahead (disk only, no request),
 * for the next forge_merged_mrs() with the same path, which then does not
 * read the file again. Meant to overlap with the mirror's fetch: it may
 * run on another thread as long as nothing else calls into f meanwhile.
 * Problems (a damaged file) surface in that forge_merged_mrs(), as if it
 * had read the file itself.
 */
void forge_preload_mrs(struct forge *f, const char *cache_path);
int forge_open_mrs(struct forge *f, struct forge_mr_list *out,
		   struct forge_list_result *res, struct st_error *err);
int forge_post_note(struct forge *f, const struct forge_note *note,
		    enum forge_outcome *out, struct st_error *err);
int forge_create_release(struct forge *f, const struct forge_release *rel,
			 enum forge_outcome *out, struct st_error *err);
int forge_set_commit_status(struct forge *f,
			    const struct forge_commit_status *st,
			    enum forge_outcome *out, struct st_error *err);
void forge_counters(struct forge *f, struct forge_counters *out);

/* Does the forge have a release object for tag? (GitLab: GET
 * /projects/:id/releases/:tag_name, 200 or 404.) */
int forge_release_exists(struct forge *f, const char *tag, bool *exists,
			 struct st_error *err);

/* The "Release notes" section of MR !iid's description (notes.h:
 * notes_description_section, capped at NOTES_MR_TEXT_MAX), malloc'd into
 * *text (caller frees), or NULL when it has none. */
int forge_mr_release_text(struct forge *f, int64_t iid, char **text,
			  struct st_error *err);

/*
 * The project's push rules into out (initialised by the caller; released
 * and replaced on success). A forge that has none, and a token that may
 * not read them, are not errors: see out->state. Errors: the transport,
 * a bad token, a malformed answer (ST_EINVAL naming the field).
 */
int forge_push_rule(struct forge *f, struct forge_push_rule *out,
		    struct st_error *err);

/* The token's user and its verified emails into out (initialised by the
 * caller; replaced on success). ST_ENOTFOUND when the forge cannot say. */
int forge_user(struct forge *f, struct forge_user *out, struct st_error *err);

/*
 * Append outside text (MR titles, user names) to out so it is inert in a
 * Markdown note: no line can start a quick action ('/' first on a line,
 * after blanks, becomes "\/"), and '<' becomes "&lt;" so the text cannot
 * fake a hidden marker or an HTML comment. Control characters other than
 * newline and tab become spaces.
 */
int forge_text_escape(struct strbuf *out, const char *text);

/*
 * Append text to out with only the quick-action guard of
 * forge_text_escape(): a '/' that starts a line (after blanks) becomes
 * "\/". Forges apply it to every note and release body they send, as a
 * backstop behind the escaping of outside text.
 */
int forge_text_defuse(struct strbuf *out, const char *text);

/* 1 when no line of text would run as a quick action, else 0. */
int forge_text_is_inert(const char *text);

/* 1 when marker is a valid note marker (see struct forge_note). */
int forge_marker_valid(const char *marker);

#endif
