/* SPDX-License-Identifier: MIT */
/*
 * Where the token may go (issue 14, items 1 and 6). Pure: libc only.
 *
 * A clone URL that came from GitLab's API (http_url_to_repo, or a cached
 * copy of it) must name the same scheme, host and port as the configured
 * api_url; plain http is accepted only to a numeric loopback address
 * (127.0.0.0/8 or [::1], decided with inet_pton, never by the look of a
 * name: "127.evil.example" and "localhost.evil" are names); nothing from
 * the API may name a local path or file://. Only a git_url set in the
 * configuration may point elsewhere (still https, or http to loopback,
 * or a local path the operator chose).
 *
 * The URL grammar is deliberately narrower than RFC 3986 so that this
 * check, libcurl and libgit2 cannot read one URL differently: no user
 * info, no percent-encoding, backslash, '?' or '#' in the authority, no
 * zone ids, no empty port.
 */
#ifndef SEMVER_TAGGER_URLRULE_H
#define SEMVER_TAGGER_URLRULE_H

#include "semver-tagger/error.h"

#include <stdbool.h>

/* scheme://host:port of an http(s) URL; host in lower case, IPv6 with
 * its brackets, port made explicit (80, 443 by default). */
struct urlrule_origin {
	char scheme[6];  /* "http" or "https" */
	char host[256];
	unsigned port;
};

/* Parse url's origin. 0, or ST_EINVAL for anything outside the grammar
 * above (out is then unspecified). */
int urlrule_origin(const char *url, struct urlrule_origin *out);

/* true when host ("127.0.0.1", "[::1]") is a numeric loopback address. */
bool urlrule_loopback(const char *host);

/* true for https, or http to a numeric loopback address. */
bool urlrule_transport_safe(const char *url);

/*
 * May the token be sent to clone_url? api_url is the configured API URL;
 * configured: clone_url is the configuration's git_url (else it came
 * from the API or from a cache of an API answer). 0, or ST_ECONFIG with
 * a message naming the rule broken and the fix (never the URL when it
 * could carry credentials).
 */
int urlrule_clone_url(const char *api_url, const char *clone_url,
		      bool configured, struct st_error *err);

#endif
