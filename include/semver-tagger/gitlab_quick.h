/* SPDX-License-Identifier: MIT */
/*
 * The one REST request of a steady poll's quick check (issue 12): the
 * first page of a project's merged MRs updated at or after a time, sorted
 * ascending: the same query shape as the incremental listing of
 * gitlab_sync.c (GitLab: updated_after is "on or after", ISO 8601). Made
 * on a caller's long-lived client so that many projects on one GitLab
 * share its connection; the token header is set on it for this request.
 */
#ifndef SEMVER_TAGGER_GITLAB_QUICK_H
#define SEMVER_TAGGER_GITLAB_QUICK_H

#include "semver-tagger/forge.h"
#include "semver-tagger/gitlab.h"
#include "semver-tagger/http.h"

#include <stdbool.h>
#include <stdint.h>

#define GITLAB_QUICK_PER_PAGE 100

struct gitlab_quick_request {
	const char *api_url;          /* "https://host/api/v4" */
	const char *project;          /* id or "group/project" */
	const char *token;
	enum gitlab_token_kind token_kind;
	int64_t after_ms;             /* updated_after; < 0: no bound */
};

/*
 * One page into out (sorted by iid). *more: the server has further pages
 * (or did not say on a full page): the answer is incomplete. ST_EINVAL
 * for a status other than 200 or a body that is not MRs; http_do's
 * errors as they are.
 */
int gitlab_quick_merged(struct http_client *c,
			const struct gitlab_quick_request *rq,
			struct forge_mr_list *out, bool *more,
			struct st_error *err);

#endif
