/* SPDX-License-Identifier: MIT */
/*
 * What the daemon knows about each project, for a status page or an API
 * (read with daemon_status_snapshot(), daemon_internal.h): the latest
 * release seen, the last reconciliation, why the project is blocked and
 * by which MRs, and the last verdict posted on each open MR checked.
 * Plain data, fixed sizes, copied out under a lock.
 */
#ifndef SEMVER_TAGGER_STATUS_H
#define SEMVER_TAGGER_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATUS_BLOCKED_MRS 16
#define STATUS_VERDICTS 32

struct status_verdict {
	int64_t iid;
	bool success;             /* commit status success, else failed */
	char sha[72];             /* the head GitLab named */
	char description[256];
	int64_t at_unix;
};

struct project_status {
	char section[256];        /* config section (label) */
	char project[256];        /* GitLab project */
	char latest_release[64];  /* "1.4.0", "" when none known yet */
	int64_t last_cycle_unix;  /* 0: none yet */
	int last_status;          /* 0 or ST_E* of the last reconciliation */
	char last_error[512];
	bool blocked;             /* a person must act (refusal, conflict) */
	char blocked_reason[1024];
	int64_t blocked_mrs[STATUS_BLOCKED_MRS];
	size_t n_blocked_mrs;
	struct status_verdict verdicts[STATUS_VERDICTS]; /* newest last */
	size_t n_verdicts;
};

#endif
