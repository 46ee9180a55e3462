/* SPDX-License-Identifier: MIT */
/*
 * The typed engine boundary: one project's settings resolved once into a
 * struct (from a config section for the daemon, from the CI environment
 * for --once), one job (reconcile, or check an open MR), one typed result.
 * Both modes load the token and build the forge here, and only here.
 *
 * The section -> GitLab project mapping is explicit: settings.cfg.project
 * is `project =` when the section sets it, else the section name
 * (SPEC §10); every request, git URL and the state folder use it. The
 * section name (settings.section) is for log lines only.
 *
 * The daemon hands these structs to a worker process (worker.h) over a
 * socketpair in binary (wire.h); --once calls engine_run() directly.
 */
#ifndef SEMVER_TAGGER_ENGINE_H
#define SEMVER_TAGGER_ENGINE_H

#include "semver-tagger/config.h"
#include "semver-tagger/error.h"
#include "semver-tagger/forge.h"
#include "semver-tagger/gitlab.h"
#include "semver-tagger/release.h"
#include "semver-tagger/secret.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENGINE_PATH_MAX 4096
#define ENGINE_LABELS_MAX 4096      /* labels of one MR taken into a check */
#define ENGINE_RECHECK_MAX 256      /* open MRs re-checked after a release */
#define ENGINE_STATUS_DESC_MAX 255  /* GitLab's commit status description */
#define ENGINE_TITLE_MAX 1024       /* an MR's title or URL in a check */

/* One project, resolved. Every string owned (engine_settings_release). */
struct engine_settings {
	struct config_project cfg;  /* cfg.project: the GitLab project */
	char *section;              /* config section (logs), may equal it */
	char *state_dir;            /* <base>/projects/<key of cfg.project> */
	struct secret token;
	enum gitlab_token_kind token_kind;
	char *branch;               /* NULL: default + every release branch */
	bool dry_run;
	bool debug;                 /* collect debug lines in the report */
	char *failpoint;            /* crash trials only, else NULL */
	long network_timeout_ms;    /* per git operation (total_timeout) */
};

void engine_settings_init(struct engine_settings *s);
void engine_settings_release(struct engine_settings *s);

/* The project's folder under base: "<base>/projects/<escaped project>".
 * ST_ECONFIG when it does not fit in size. */
int engine_state_dir(const char *base, const char *project, char *buf,
		     size_t size, struct st_error *err);

/*
 * Settings of a config section (the daemon): a copy of sec with
 * cfg.project = sec->project (config_load sets it to the section name when
 * the section has no `project =`), the state folder under state_base.
 * The token is not loaded (engine_token_load).
 */
int engine_settings_from_section(struct engine_settings *s,
				 const struct config_project *sec,
				 const char *state_base, struct st_error *err);

/* Where engine_token_load() looks. */
struct engine_token_from {
	bool ci;                  /* --once: $SEMVER_TAGGER_TOKEN first, and
				   * $GITLAB_TOKEN / $CI_JOB_TOKEN last */
	const char *file;         /* --token-file (overrides token_file) */
};

/*
 * The project's API token: ($SEMVER_TAGGER_TOKEN with ci), the token
 * file, token_env, the gitlab-token credential ($CREDENTIALS_DIRECTORY),
 * then ($GITLAB_TOKEN, $CI_JOB_TOKEN with ci). ST_EAUTH naming what to
 * set when there is none. Not registered for log redaction: the caller
 * does (log_add_secret), as it knows which secrets are current.
 */
int engine_token_load(const struct config_project *p,
		      const struct engine_token_from *from, struct secret *out,
		      enum gitlab_token_kind *kind, struct st_error *err);

/* The forge for s (makes no request). cancel (may be NULL) aborts
 * requests once non-zero. */
int engine_forge_new(const struct engine_settings *s, const atomic_int *cancel,
		     struct forge **out, struct st_error *err);

enum engine_job_kind {
	ENGINE_JOB_RECONCILE = 1,
	/* Check open MR iid: re-read it from the API (head sha, labels,
	 * target branch, web URL), plan its merge, set the commit status on
	 * the head GitLab names. Nothing from a webhook is used. */
	ENGINE_JOB_CHECK_MR = 2,
	/* --- preflight (issue 13) --- */
	/* The --assess checks of the project (assess.h), GET requests only,
	 * with the repository file's settings as the mirror has them:
	 * result in engine_result.assess. */
	ENGINE_JOB_ASSESS = 3,
	/* --- end preflight --- */
};

/* ---- quick check of a steady poll (issue 12; engine_quick.c) ---------- */

#define ENGINE_QUICK_URL_MAX 512   /* kept per project by the daemon */

/*
 * What a reconciliation that changed nothing decided from: kept by the
 * daemon per project (fixed size, no pointers), sent back with the next
 * poll. The decision is a function of the settings, the repository's
 * refs and the merged MRs; when the server still shows the same refs and
 * no merged MR updated since T, the poll's answer is the same.
 */
struct engine_quick {
	bool valid;
	uint64_t settings_fp;     /* engine_settings_fingerprint() */
	uint64_t refs_hash;       /* gitrepo_advert hash of the mirror */
	int64_t mr_cursor_ms;     /* T: newest updated_at of the merged
				   * MRs, -1 when there are none */
	uint64_t mr_hash;         /* (iid, updated_at) of those >= T */
	int status;               /* ST_OK, ST_EREFUSED or ST_ECONFLICT */
	int64_t full_at;          /* monotonic s of that cycle (daemon's) */
	/* last: the daemon keeps only the bytes used (daemon_jobs.c) */
	char git_url[ENGINE_QUICK_URL_MAX]; /* the mirror's remote */
};

enum engine_quick_outcome {
	ENGINE_QUICK_NONE = 0,    /* no quick check, or the full cycle ran */
	ENGINE_QUICK_UNCHANGED,   /* same as last time: nothing was run */
};

/* Everything a reconciliation's decision depends on from the settings:
 * every key, token, folder (also the worker's warm-state key). */
uint64_t engine_settings_fingerprint(const struct engine_settings *s);

/* Quick-check HTTP clients kept by a long-lived caller (the worker),
 * one per API origin and TLS settings, so a cold project reuses the
 * connection. Single-threaded. engine_conns_free(NULL) is a no-op. */
struct engine_conns;
struct engine_conns *engine_conns_new(void);
void engine_conns_free(struct engine_conns *c);

/* ---- end of the quick-check block -------------------------------------- */

struct engine_job {
	enum engine_job_kind kind;
	int64_t iid;                /* ENGINE_JOB_CHECK_MR */
	/* Quick check (reconcile only): try `quick` first, the full cycle
	 * in the same job when anything differs. */
	bool quick_ok;
	struct engine_quick quick;
};

/* The outcome of an MR check. */
enum engine_check_outcome {
	ENGINE_CHECK_NONE = 0,      /* not a check, or no verdict */
	ENGINE_CHECK_POSTED,        /* status set on sha */
	ENGINE_CHECK_NOT_OPEN,      /* the MR is not open (merged, closed,
				     * unknown): nothing posted */
	ENGINE_CHECK_NOT_RELEASED,  /* targets a branch not released from */
	ENGINE_CHECK_FAILED,        /* verdict, but the status not set */
};

struct engine_check {
	enum engine_check_outcome outcome;
	bool success;               /* the status: success, else failed */
	char sha[72];               /* the head GitLab named */
	char target[POLICY_NAME_MAX];
	char desc[ENGINE_STATUS_DESC_MAX + 1];
	/* The MR as GitLab has it, for the status page (cut UTF-8-safe). */
	char title[ENGINE_TITLE_MAX];
	char web_url[ENGINE_TITLE_MAX];
	char error[ST_ERROR_MSG_MAX];
};

/* --- preflight (issue 13) --- */
#define ENGINE_ASSESS_MAX 32        /* problems carried back (the rest
				     * counted in n_more) */
#define ENGINE_ASSESS_TEXT_MAX 512  /* bytes of a problem or a fix */

enum engine_assess_severity {
	ENGINE_ASSESS_ERROR = 0,    /* the project cannot be released */
	ENGINE_ASSESS_WARNING = 1,  /* works, but worse */
};

struct engine_assess_problem {
	enum engine_assess_severity severity;
	char check[16];
	char problem[ENGINE_ASSESS_TEXT_MAX];
	char fix[ENGINE_ASSESS_TEXT_MAX];
};

/* An ENGINE_JOB_ASSESS's findings (assess.h's, bounded). items is
 * owned (engine_result_release frees it). */
struct engine_assess {
	bool ran;                   /* the job was an assessment */
	size_t errors, warnings;    /* of every problem, n_more included */
	size_t n;                   /* problems in items (<= ASSESS_MAX) */
	size_t n_more;              /* found but not carried */
	struct engine_assess_problem *items;
};
/* --- end preflight --- */

/* What a job found and did. */
struct engine_result {
	struct release_report report;
	struct engine_check check;
	/* Open MRs into a released branch, to check again after a release
	 * (their verdict named the version just taken). */
	int64_t *recheck;
	size_t n_recheck;
	/* Worker-side facts for metrics (not part of --json). */
	bool warm;                  /* the worker had the project's state */
	double cpu_ms;              /* user+system CPU of the job (worker) */
	/* Quick check: its outcome (UNCHANGED: report.status is the stored
	 * status, nothing else is set), why a tried one ran the full cycle
	 * ("" when not tried), and the state a full cycle that changed
	 * nothing leaves for the next poll (valid false otherwise). */
	enum engine_quick_outcome quick_outcome;
	char quick_why[256];
	struct engine_quick quick;
	/* --- preflight (issue 13) --- */
	struct engine_assess assess; /* ENGINE_JOB_ASSESS only */
	/* --- end preflight --- */
};

void engine_result_init(struct engine_result *r);
void engine_result_release(struct engine_result *r);

/*
 * Warm state of one project kept between jobs by a long-lived caller (the
 * worker): the forge (its HTTP connection), the open mirror, the merged
 * MR list. Opaque; NULL means cold (everything built and freed by the
 * job). engine_warm_free(NULL) is a no-op.
 */
struct engine_warm;
struct engine_warm *engine_warm_new(void);
void engine_warm_free(struct engine_warm *w);

/*
 * Run one job. warm may be NULL. Returns the report's status (0 or
 * ST_E*); r->report.error holds the first error. Never logs.
 */
int engine_run(const struct engine_settings *s, const struct engine_job *j,
	       struct engine_warm *warm, const atomic_int *cancel,
	       struct engine_result *r);

/* engine_run for a long-lived caller: its quick-check clients (NULL:
 * none kept, a client is made for the check and freed), and a full
 * reconcile leaves r->quick for the next poll (engine_run does not). */
int engine_run_conns(const struct engine_settings *s,
		     const struct engine_job *j, struct engine_warm *warm,
		     struct engine_conns *conns, const atomic_int *cancel,
		     struct engine_result *r);

/* engine_quick.c, for engine_job.c: the quick check of a poll (true:
 * unchanged, r filled), and the state a full reconciliation leaves. */
bool engine_quick_try(const struct engine_settings *s,
		      const struct engine_job *j, struct engine_conns *conns,
		      struct engine_result *r);
void engine_quick_make(const struct engine_settings *s,
		       const struct release_warm *rw, struct engine_result *r);
/* --- repository settings file for --once (issue 13) --- */
/*
 * Run fn with the project's repository settings file (CONFIG_REPO_FILE,
 * engine_repofile.h) over s->cfg, by the rule every engine job follows:
 * read from s->state_dir's mirror (a first run without one fetches it
 * first, with a planning pass that writes nothing); a bad file is
 * ST_ECONFIG naming file:line:key, with a failed `semver-tagger` status
 * on the commit that changed it unless s->dry_run, and fn is not called.
 * forge and labels are the caller's (labels: s->cfg's patterns); fn gets
 * the effective settings and labels, valid during the call. check_dir:
 * an existing state directory must be ours alone (statedir_check) before
 * its mirror is read; false for a restored CI cache.
 */
typedef int (*engine_with_fn)(const struct engine_settings *eff,
			      const struct labels *labels, void *ctx,
			      struct st_error *err);
int engine_with_repo_settings(const struct engine_settings *s,
			      struct forge *forge, struct labels *labels,
			      bool check_dir, engine_with_fn fn, void *ctx,
			      struct st_error *err);
/* --- end repository settings file for --once --- */

#endif
