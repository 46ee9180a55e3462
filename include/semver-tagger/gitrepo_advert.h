/* SPDX-License-Identifier: MIT */
/*
 * A repository's refs as one number, from either side of a fetch: the
 * server's ref advertisement (git smart HTTP, `GET <url>/info/refs?
 * service=git-upload-pack`, protocol v0, fetched in-process over the
 * caller's libcurl client) or an open mirror. Equal numbers: the mirror
 * holds what the server advertises, so a fetch would bring nothing.
 *
 * What is hashed (the same on both sides): HEAD's symbolic target (the
 * advertisement's `symref=HEAD:` capability; the mirror's HEAD, which
 * gitrepo's fetch sets from it), and every refs/heads/ and refs/tags/
 * name with its object id (what gitrepo's fetch refspecs bring). Peeled
 * `^{}` lines and other refs are left out. The hash is order-independent
 * (a sum of mixed per-ref hashes), so neither side sorts.
 *
 * The parser is strict and capped: anything it does not expect is
 * ST_EINVAL with a message naming the line, and the caller treats the
 * repository as changed.
 */
#ifndef SEMVER_TAGGER_GITREPO_ADVERT_H
#define SEMVER_TAGGER_GITREPO_ADVERT_H

#include "semver-tagger/error.h"
#include "semver-tagger/gitrepo.h"
#include "semver-tagger/http.h"

#include <stddef.h>
#include <stdint.h>

#define GITREPO_ADVERT_PKT_MAX 65520      /* git's LARGE_PACKET_MAX */
#define GITREPO_ADVERT_REFS_MAX 1000000   /* refs in one advertisement */
#define GITREPO_ADVERT_BODY_MAX (64u << 20) /* bytes of one advertisement */
#define GITREPO_ADVERT_REFNAME_MAX 1024

struct gitrepo_advert {
	uint64_t hash;       /* of HEAD's target and the refs (see above) */
	size_t n_refs;       /* refs/heads/ and refs/tags/ counted */
	char head[GITREPO_ADVERT_REFNAME_MAX]; /* HEAD's target, "" if none */
};

/* Parse an advertisement body (pkt-lines). ST_EINVAL naming what is
 * wrong: no service line, a bad length, a line over the caps, bad hex, a
 * missing flush, bytes after the last flush. */
int gitrepo_advert_parse(const void *body, size_t len,
			 struct gitrepo_advert *out, struct st_error *err);

/* The same over an open mirror's refs. */
int gitrepo_advert_mirror(struct gitrepo *repo, struct gitrepo_advert *out,
			  struct st_error *err);

struct gitrepo_advert_request {
	const char *url;       /* the clone URL (http or https) */
	const char *username;  /* NULL or "": "oauth2" (as gitrepo's fetch) */
	const char *token;     /* sent with the first request (Basic) */
};

/*
 * GET <url>/info/refs?service=git-upload-pack on c (its timeouts, CA
 * settings, size cap; no redirects), Basic authentication set on c for
 * this request. The caller decides the token may go to url's host
 * (urlrule_clone_url). ST_EINVAL for an answer that is not an
 * advertisement (status, content type, body); http_do's errors as they
 * are.
 */
int gitrepo_advert_fetch(struct http_client *c,
			 const struct gitrepo_advert_request *rq,
			 struct gitrepo_advert *out, struct st_error *err);

#endif
