/* SPDX-License-Identifier: MIT */
/*
 * The status page: GET / (HTML) and GET /status.json, rendered from a
 * small typed snapshot by pure functions (no clock, no I/O, no locks):
 * the daemon fills the snapshot (statusboard.h), these render it.
 *
 * Everything in a snapshot may be hostile (MR titles, error messages,
 * URLs from the API): the HTML renderer escapes every string, and emits a
 * string as a link only when it is an absolute http(s) URL
 * (statuspage_url_ok); anything else is shown as text. The page has no
 * script and no external asset (one inline style sheet), so it reads the
 * same without JavaScript and under a "default-src 'none'" policy.
 */
#ifndef SEMVER_TAGGER_STATUSPAGE_H
#define SEMVER_TAGGER_STATUSPAGE_H

#include "semver-tagger/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest URL emitted as a link; longer ones are shown as text. */
#define STATUSPAGE_URL_MAX 2048

enum statuspage_state {
	STATUSPAGE_PENDING = 0, /* no reconciliation yet */
	STATUSPAGE_OK,          /* released or nothing to do */
	STATUSPAGE_BLOCKED,     /* refused or conflict: a person must act */
	STATUSPAGE_FAILING,     /* failed: retried with back-off */
};

/* A merge request on the page: one that blocks a release, or an open one
 * with the verdict its commit status carries. Strings borrowed. */
struct statuspage_mr {
	int64_t iid;
	const char *title;   /* may be NULL */
	const char *url;     /* the MR's web_url; NULL: no link */
	const char *verdict; /* "success", "failed" (open MRs); NULL */
	const char *detail;  /* why it blocks, or the status description */
	int64_t checked_unix;/* open MRs: when the verdict was set; 0 */
};

/* One project (configured or discovered). Strings borrowed; NULL when
 * unknown. */
struct statuspage_project {
	const char *name;         /* the configuration section */
	const char *path;         /* path_with_namespace on GitLab */
	const char *web_url;      /* the project's page */
	const char *latest_tag;   /* the latest release's tag name */
	enum statuspage_state state;
	bool healthy;             /* by /healthz's rule */
	const char *unhealthy_why;
	bool running;
	int64_t last_cycle_unix;  /* 0: none yet */
	int64_t last_success_unix;
	const char *result;       /* "ok", "refused", "temporary"... */
	const char *error;        /* the last cycle's error, or NULL */
	unsigned failures;        /* consecutive failed cycles */
	int64_t next_in_s;        /* until the next poll; < 0 unknown */
	const struct statuspage_mr *blockers;
	size_t n_blockers;
	const struct statuspage_mr *open_mrs;
	size_t n_open_mrs;
};

struct statuspage_snapshot {
	const char *version;      /* of semver-tagger */
	int64_t now_unix;         /* when the snapshot was taken */
	int64_t start_unix;       /* when the daemon started */
	bool stopping;
	const struct statuspage_project *projects;
	size_t n_projects;
};

/* "ok", "unhealthy" (a project is) or "stopping": the page's headline,
 * the same verdict as /healthz. */
const char *statuspage_health(const struct statuspage_snapshot *s);
const char *statuspage_state_name(enum statuspage_state st);

/* Append the HTML page. 0, or ST_ETOOBIG when out's cap is reached (the
 * page is then cut). */
int statuspage_html(struct strbuf *out, const struct statuspage_snapshot *s);

/* Append the same facts as JSON (cJSON). 0, ST_ENOMEM or ST_ETOOBIG. */
int statuspage_json(struct strbuf *out, const struct statuspage_snapshot *s);

/* Append s with & < > " ' as entities and control characters (but tab
 * and newline) as U+FFFD, for HTML text and quoted attribute values. */
int statuspage_escape(struct strbuf *out, const char *s);

/* An absolute http:// or https:// URL with a host, at most
 * STATUSPAGE_URL_MAX bytes, without spaces, quotes, angle brackets,
 * backslashes or control characters. Nothing else becomes a link. */
bool statuspage_url_ok(const char *url);

/* "<web_url>/-/releases/<tag, percent-encoded>" (GitLab's release page)
 * into buf. false when web_url is not statuspage_url_ok or it does not
 * fit. */
bool statuspage_release_url(const char *web_url, const char *tag, char *buf,
			    size_t size);

#endif
