/* SPDX-License-Identifier: MIT */
/*
 * What the daemon knows about each project, for a status page or an API:
 * the latest release seen, the last reconciliation, why the project is
 * blocked and by which MRs, and the last verdict posted on each open MR
 * checked. Read with daemon_status_snapshot() (daemon_internal.h), which
 * returns copies the caller frees with project_status_free(). Kept small
 * per project (a few hundred bytes plus the texts that exist), since
 * 10,000 projects may be configured.
 */
#ifndef SEMVER_TAGGER_STATUS_H
#define SEMVER_TAGGER_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATUS_BLOCKED_MRS 16
#define STATUS_VERDICTS 32      /* the newest kept per project */

struct status_verdict {
	int64_t iid;
	bool success;             /* commit status success, else failed */
	char sha[72];             /* the head GitLab named */
	char description[256];
	int64_t at_unix;
};

struct project_status {
	char *section;            /* config section (a label) */
	char *project;            /* the GitLab project */
	char latest_release[32];  /* "1.4.0", "" when none known yet */
	int64_t last_cycle_unix;  /* 0: none yet */
	int last_status;          /* 0 or ST_E* of the last reconciliation */
	char *last_error;         /* NULL when none */
	bool blocked;             /* a person must act (refusal, conflict) */
	char *blocked_reason;     /* NULL unless blocked */
	int64_t blocked_mrs[STATUS_BLOCKED_MRS];
	size_t n_blocked_mrs;
	struct status_verdict *verdicts; /* oldest first */
	size_t n_verdicts;
};

/* Free what a snapshot holds (n entries, then the array). */
void project_status_free(struct project_status *v, size_t n);

#endif
