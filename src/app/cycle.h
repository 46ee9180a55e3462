/* SPDX-License-Identifier: MIT */
/*
 * One reconciliation (or one MR check) of one project, run by the daemon
 * in a child process: `semver-tagger --once --json` exec'd from
 * /proc/self/exe with the daemon's validated configuration (a memfd as
 * fd 3), the token (a memfd as fd 4), a clean environment and its own
 * process group. Why a process and not a thread:
 *
 *  - SIGTERM can abandon a cycle at any point (kill the group): goals are
 *    idempotent and pushes compare-and-swap, so the next run completes it;
 *    a thread blocked in libcurl or libgit2 cannot be stopped;
 *  - the release engine forks for its git network operations (gitrepo's
 *    deadline children), which is only safe from a single-threaded
 *    process; the daemon has a listener thread and a worker pool;
 *  - memory of a cycle (mirror packs, MR lists) is returned to the system
 *    when it ends, so the idle daemon stays small; a crash costs one cycle.
 *
 * The child's JSON report (stdout) is parsed here; its log lines (stderr)
 * are handed to a callback, one at a time, to be logged with the
 * project's name.
 */
#ifndef SEMVER_TAGGER_CYCLE_H
#define SEMVER_TAGGER_CYCLE_H

#include "semver-tagger/log.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CYCLE_REPORT_MAX (8u * 1024 * 1024) /* bytes of JSON read */

struct cycle_job {
	const char *exe;          /* "/proc/self/exe" */
	int config_fd;            /* the configuration text (memfd) */
	const char *section;      /* [project "..."] name */
	const char *state_dir;    /* base; the child adds projects/<id> */
	const char *token;        /* NUL-terminated; never in argv or env */
	bool debug;               /* child logs at debug level */
	int stop_fd;              /* readable once the daemon stops, or -1 */
	unsigned deadline_s;      /* the child is killed past this */
	unsigned grace_s;         /* after stop: time to finish, then TERM */
	/* An MR check (iid > 0) instead of a reconciliation. */
	int64_t iid;
	const char *target_branch;
	const char *title;
	const char *const *labels;
	size_t n_labels;
	/* Child log lines (without the "semver-tagger: " prefix). */
	void (*log_line)(void *ctx, enum log_level level, const char *line);
	void *log_ctx;
	/* Extra "NAME=value" passed to the child (tests), or NULL. */
	const char *const *extra_env;
};

struct cycle_result {
	int exit_code;            /* of the child; -1 when it was killed */
	int status;               /* 0 or ST_E*: the report's, else mapped */
	bool timed_out;           /* killed past deadline_s */
	bool abandoned;           /* killed because the daemon stops */
	double seconds;
	cJSON *report;            /* the child's JSON, NULL when none */
	char error[512];          /* what went wrong, for logs and metrics */
};

void cycle_result_init(struct cycle_result *r);
void cycle_result_release(struct cycle_result *r);

/* Run the child and wait for it. Returns r->status. */
int cycle_run(const struct cycle_job *j, struct cycle_result *r);

/* ST_E* from an exit status of --once (the inverse of output_exit_code). */
int cycle_status_from_exit(int code);
/* ST_E* from a st_status_name() string; ST_EINTERNAL when unknown. */
int cycle_status_from_name(const char *name);

#endif
