/* SPDX-License-Identifier: MIT */
/*
 * What the status page shows beyond the scheduler's statistics, per
 * project (by configuration section name): the GitLab path and web_url,
 * the latest release, the merge requests that block a release, and the
 * verdicts set on open merge requests. The daemon records into it after
 * each reconciliation and MR check (worker threads); the listener renders
 * from it (statuspage.h). Thread-safe; bounded: at most
 * STATUSBOARD_BLOCKERS_MAX blockers and STATUSBOARD_OPEN_MAX open MRs per
 * project, strings cut at STATUSBOARD_TEXT_MAX bytes.
 *
 * Open MRs are those the daemon has checked (webhooks, re-checks after a
 * release); one disappears when a reconciliation sees it merged or a
 * check finds it no longer open.
 */
#ifndef SEMVER_TAGGER_STATUSBOARD_H
#define SEMVER_TAGGER_STATUSBOARD_H

#include "scheduler.h"
#include "semver-tagger/config.h"
#include "semver-tagger/secret.h"
#include "semver-tagger/strbuf.h"

#include "semver-tagger/release.h"

#include <stdbool.h>
#include <stdint.h>

#define STATUSBOARD_BLOCKERS_MAX 50
#define STATUSBOARD_OPEN_MAX 100
#define STATUSBOARD_TEXT_MAX 1024

struct statusboard;

/* NULL when out of memory. */
struct statusboard *statusboard_new(void);
void statusboard_free(struct statusboard *b);

/* After a reconciliation of project `name`, from its report (NULL, or a
 * report without branches: the previous release and blockers stay). */
void statusboard_cycle(struct statusboard *b, const char *name,
		       const char *tag_prefix, const struct release_report *r);

/* After an MR check set a commit status. */
void statusboard_verdict(struct statusboard *b, const char *name,
			 int64_t iid, const char *title, const char *url,
			 bool success, const char *description, int64_t now);

/* An MR GitLab says is no longer open (a check found it merged or
 * closed) leaves the open list. */
void statusboard_forget(struct statusboard *b, const char *name, int64_t iid);

/* Process-wide facts for the page's header. */
struct statusboard_info {
	const char *version;
	int64_t now_unix, start_unix;
	bool stopping;
	unsigned unhealthy_after;
};

/*
 * Fill a snapshot from the scheduler's statistics (every configured or
 * discovered project, in its order) and the board, and render it as HTML
 * or JSON into out. Returns the HTTP status: 200 (the page says whether
 * the service is healthy; /healthz is the probe), 500 when the page does
 * not fit or memory runs out.
 */
int statusboard_render(struct statusboard *b, const struct sched_stats *st,
		       size_t n, const struct statusboard_info *info,
		       bool json, struct strbuf *out);

/*
 * The bearer token of /, /status.json and /metrics: the status-token
 * credential (LoadCredential=; the unit's default "(none)", which cannot be
 * a bearer token, means none), else status_token_file, else none (0 and
 * s->value NULL). Errors name the file, never the value.
 */
int statusboard_read_token(const struct config *c, struct secret *s,
			   struct st_error *err);

/* Whether listen ("127.0.0.1:8080", "[::1]:80") binds a loopback address
 * only; false for "", "*", ":8080", names and other addresses. */
bool statusboard_listen_loopback(const char *listen);

#endif
