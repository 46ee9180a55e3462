/* SPDX-License-Identifier: MIT */
/*
 * Shared by the GitLab client tests that talk to the stand-in: one stand-in
 * per test binary (started before the forked tests run), a canary token,
 * stand-in counters, recorded back-off waits, and a log of every error and
 * warning the client produced, checked for the token at the end.
 */
#ifndef GITLAB_TESTUTIL_H
#define GITLAB_TESTUTIL_H

#include "semver-tagger/gitlab.h"
#include "standin.h"

#include <stddef.h>

/* The token every test uses; no message may ever contain it. */
#define TU_TOKEN "glpat-CANARY-5f0c1e7d9a3b42c68e1f0a9b7c3d5e21"
#define TU_RO_TOKEN "glpat-CANARY-readonly-77aa0b1c2d3e4f5a6b7c8d9e"
#define TU_JOB_TOKEN "CANARY-job-0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"

extern struct standin tu_standin;

/* Unchecked fixture (runs once, before the forks): start the stand-in. */
void tu_setup_once(void);
void tu_teardown_once(void);

/* Checked fixture: reset the stand-in, create the tokens and project 7
 * ("grp/app"), clear counters and recorded waits. */
void tu_setup(void);
/* Checked teardown: remove the directory of tu_dir(). */
void tu_teardown(void);

/* A control call that must answer `status`; returns the parsed body (free
 * with cJSON_Delete; NULL when the body is empty). */
cJSON *tu_ctl(const char *method, const char *path, const char *body,
	      long status);

/* Requests the stand-in counted for a route key ("GET /api/v4/..."). */
long tu_count(const char *route);
/* Requests it counted in all. */
long tu_count_all(void);
void tu_clear_counts(void);

/* Add a fault (JSON as in tests/forge/README.md). */
void tu_fault(const char *json);

/* Create n merged MRs on project 7 in one call. extra: JSON members added
 * to each ("" for none), e.g. "\"labels\":[\"Impact::Minor\"]". */
void tu_bulk(int n, const char *extra);

/* Options for project 7 with TU_TOKEN and short, recorded waits. */
void tu_options(struct gitlab_options *o);
struct forge *tu_forge(const struct gitlab_options *o);

/* Back-off waits asked for since tu_setup (not slept). */
extern long tu_waits[64];
extern int tu_nwaits;

/* Record an error message or warning the client produced, and fail at
 * once if it holds the token (raw, URL-encoded or base64). */
void tu_msg(const char *msg);
/* Messages recorded by every test of this binary so far. */
size_t tu_msg_count(void);
/* 1 when text holds any of the test tokens in any of those forms. */
int tu_has_token(const char *text);

/* Path of a fresh directory for this test (removed by tu_teardown). */
const char *tu_dir(void);

#endif
