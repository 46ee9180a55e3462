/* SPDX-License-Identifier: MIT */
/*
 * Refs as one number, from a smart-HTTP advertisement or a mirror
 * (gitrepo_advert.h). The advertisement is protocol v0 (no Git-Protocol
 * header is sent), gitprotocol-http(5):
 *
 *   "001e# service=git-upload-pack\n" "0000"
 *   "<oid> <first ref>\0<capabilities>\n"   (an empty repository:
 *   "<oid> <ref>\n" ...                      "<zero oid> capabilities^{}")
 *   "0000"
 */
#include "semver-tagger/gitrepo_advert.h"

#include "gitrepo_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVICE_LINE "# service=git-upload-pack"
#define ADVERT_TYPE "application/x-git-upload-pack-advertisement"

/* ---- the hash (the same for both sides) ---------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* splitmix64's finaliser: spreads FNV's bits before they are summed */
static uint64_t final_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void add_pair(struct gitrepo_advert *a, const char *name, size_t nlen,
		     const char *hex, size_t hlen)
{
	uint64_t h = fnv(1469598103934665603ull, name, nlen);

	h = fnv(h, "", 1);
	h = fnv(h, hex, hlen);
	a->hash += final_mix(h);
}

static void finish(struct gitrepo_advert *a)
{
	size_t n = strlen(a->head);

	add_pair(a, "HEAD", 4, a->head, n); /* "" hashes too: no HEAD */
	a->hash = final_mix(a->hash ^ (uint64_t)a->n_refs * 0x9e3779b97f4a7c15ull);
}

static bool counted(const char *name, size_t n)
{
	return (n > 11 && memcmp(name, "refs/heads/", 11) == 0) ||
	       (n > 10 && memcmp(name, "refs/tags/", 10) == 0);
}

/* ---- pkt-lines ------------------------------------------------------------ */

struct pkt_rd {
	const unsigned char *p;
	size_t n, off;
	unsigned line;          /* pkt-lines read, for messages */
};

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The next pkt-line: 1 with its payload (*len 0 for a flush), or
 * ST_EINVAL. */
static int next_pkt(struct pkt_rd *r, const unsigned char **pl, size_t *len,
		    bool *flush, struct st_error *err)
{
	size_t v = 0;

	r->line++;
	if (r->n - r->off < 4)
		return st_error_set(err, ST_EINVAL, "ref advertisement: "
				    "truncated at pkt-line %u", r->line);
	for (int i = 0; i < 4; i++) {
		int d = hexval(r->p[r->off + (size_t)i]);

		if (d < 0)
			return st_error_set(err, ST_EINVAL, "ref advertisement: "
					    "bad length of pkt-line %u",
					    r->line);
		v = v << 4 | (size_t)d;
	}
	*flush = v == 0;
	if (v == 0) {
		r->off += 4;
		*len = 0;
		return ST_OK;
	}
	if (v <= 4 || v > GITREPO_ADVERT_PKT_MAX)
		return st_error_set(err, ST_EINVAL, "ref advertisement: "
				    "pkt-line %u has length %zu", r->line, v);
	if (v > r->n - r->off)
		return st_error_set(err, ST_EINVAL, "ref advertisement: "
				    "truncated in pkt-line %u", r->line);
	*pl = r->p + r->off + 4;
	*len = v - 4;
	r->off += v;
	return ST_OK;
}

static bool lower_hex(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool name_ok(const unsigned char *s, size_t n)
{
	if (n == 0 || n >= GITREPO_ADVERT_REFNAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* "symref=HEAD:<target>" among the space-separated capabilities. */
static int head_from_caps(const unsigned char *c, size_t n,
			  struct gitrepo_advert *a, unsigned line,
			  struct st_error *err)
{
	static const char key[] = "symref=HEAD:";
	size_t k = sizeof(key) - 1;

	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && c[j] != ' ')
			j++;
		if (j - i > k && memcmp(c + i, key, k) == 0) {
			if (!name_ok(c + i + k, j - i - k))
				return st_error_set(err, ST_EINVAL, "ref "
						    "advertisement: bad symref "
						    "in pkt-line %u", line);
			memcpy(a->head, c + i + k, j - i - k);
			a->head[j - i - k] = '\0';
		}
		i = j + 1;
	}
	return ST_OK;
}

struct ref_state {
	size_t hexlen;   /* of the first oid: every line the same */
	bool first;
};

static int ref_line(const unsigned char *pl, size_t len, struct ref_state *st,
		    struct gitrepo_advert *a, unsigned line,
		    struct st_error *err)
{
	const unsigned char *nul = memchr(pl, '\0', len);
	size_t body = nul ? (size_t)(nul - pl) : len, hexlen, nlen;
	const unsigned char *name;

	if (!nul && len && pl[len - 1] == '\n')
		body = len - 1;
	hexlen = body > 40 && pl[40] == ' ' ? 40 : body > 64 && pl[64] == ' '
		 ? 64 : 0;
	if (!hexlen || !lower_hex(pl, hexlen) || (nul && !st->first) ||
	    (st->hexlen && st->hexlen != hexlen))
		return st_error_set(err, ST_EINVAL, "ref advertisement: "
				    "pkt-line %u is not \"<oid> <ref>\"", line);
	st->hexlen = hexlen;
	name = pl + hexlen + 1;
	nlen = body - hexlen - 1;
	if (!name_ok(name, nlen))
		return st_error_set(err, ST_EINVAL, "ref advertisement: bad "
				    "ref name in pkt-line %u", line);
	if (nul) {
		size_t cl = len - body - 1;

		if (cl && pl[len - 1] == '\n')
			cl--;
		if (head_from_caps(nul + 1, cl, a, line, err))
			return err->code;
	}
	if (nlen == 15 && memcmp(name, "capabilities^{}", 15) == 0 &&
	    !st->first)
		return st_error_set(err, ST_EINVAL, "ref advertisement: "
				    "capabilities^{} in pkt-line %u", line);
	st->first = false;
	if (!counted((const char *)name, nlen) ||
	    (nlen > 3 && memcmp(name + nlen - 3, "^{}", 3) == 0))
		return ST_OK;
	if (++a->n_refs > GITREPO_ADVERT_REFS_MAX)
		return st_error_set(err, ST_EINVAL, "ref advertisement: more "
				    "than %d refs", GITREPO_ADVERT_REFS_MAX);
	add_pair(a, (const char *)name, nlen, (const char *)pl, hexlen);
	return ST_OK;
}

static int service_header(struct pkt_rd *r, struct st_error *err)
{
	const unsigned char *pl = NULL;
	size_t len = 0, n = sizeof(SERVICE_LINE) - 1;
	bool flush;
	int rc = next_pkt(r, &pl, &len, &flush, err);

	if (rc)
		return rc;
	if (flush || !(len == n || (len == n + 1 && pl[n] == '\n')) ||
	    memcmp(pl, SERVICE_LINE, n) != 0)
		return st_error_set(err, ST_EINVAL, "ref advertisement: no "
				    "\"" SERVICE_LINE "\" line");
	rc = next_pkt(r, &pl, &len, &flush, err);
	if (!rc && !flush)
		rc = st_error_set(err, ST_EINVAL, "ref advertisement: no "
				  "flush after the service line");
	return rc;
}

int gitrepo_advert_parse(const void *body, size_t len,
			 struct gitrepo_advert *out, struct st_error *err)
{
	struct pkt_rd r = { body, len, 0, 0 };
	struct ref_state st = { 0, true };
	struct gitrepo_advert a;
	int rc;

	memset(&a, 0, sizeof(a));
	if (len > GITREPO_ADVERT_BODY_MAX)
		return st_error_set(err, ST_EINVAL, "ref advertisement: "
				    "larger than %u bytes",
				    GITREPO_ADVERT_BODY_MAX);
	rc = service_header(&r, err);
	for (;;) {
		const unsigned char *pl = NULL;
		size_t n = 0;
		bool flush = false;

		if (!rc)
			rc = next_pkt(&r, &pl, &n, &flush, err);
		if (rc || flush)
			break;
		rc = ref_line(pl, n, &st, &a, r.line, err);
	}
	if (!rc && r.off != r.n)
		rc = st_error_set(err, ST_EINVAL, "ref advertisement: %zu "
				  "bytes after the last flush", r.n - r.off);
	if (rc)
		return rc;
	finish(&a);
	*out = a;
	return ST_OK;
}

/* ---- the mirror ----------------------------------------------------------- */

static void mirror_head(git_repository *repo, struct gitrepo_advert *a)
{
	git_reference *head = NULL;
	const char *t;

	if (git_reference_lookup(&head, repo, "HEAD") == 0 &&
	    (t = git_reference_symbolic_target(head)) &&
	    strlen(t) < sizeof(a->head))
		memcpy(a->head, t, strlen(t) + 1);
	git_reference_free(head);
	git_error_clear();
}

int gitrepo_advert_mirror(struct gitrepo *repo, struct gitrepo_advert *out,
			  struct st_error *err)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;
	struct gitrepo_advert a;
	char hex[72];
	int rc;

	memset(&a, 0, sizeof(a));
	mirror_head(repo->repo, &a);
	rc = git_reference_iterator_new(&it, repo->repo);
	while (rc == 0 && (rc = git_reference_next(&ref, it)) == 0) {
		const char *name = git_reference_name(ref);
		const git_oid *id = git_reference_target(ref);

		/* a symbolic ref under refs/heads (never fetched) counts with
		 * no id: it differs from any advertisement */
		if (counted(name, strlen(name))) {
			a.n_refs++;
			if (id)
				git_oid_tostr(hex, sizeof(hex), id);
			else
				hex[0] = '\0';
			add_pair(&a, name, strlen(name), hex, strlen(hex));
		}
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	if (rc != GIT_ITEROVER)
		return gitrepo__git_error(err, rc, "list refs of %s",
					  repo->path);
	git_error_clear();
	finish(&a);
	*out = a;
	return ST_OK;
}

/* ---- over HTTP ------------------------------------------------------------ */

int gitrepo_advert_fetch(struct http_client *c,
			 const struct gitrepo_advert_request *rq,
			 struct gitrepo_advert *out, struct st_error *err)
{
	struct http_response rs;
	char url[4200];
	struct http_request hr = { .method = "GET", .url = url,
				   .what = "GET info/refs" };
	int rc;

	if ((size_t)snprintf(url, sizeof(url), "%s/info/refs?service="
			     "git-upload-pack", rq->url) >= sizeof(url))
		return st_error_set(err, ST_EINVAL, "git URL too long");
	rc = http_client_set_basic_auth(c, rq->username && *rq->username
					? rq->username : "oauth2",
					rq->token, err);
	if (rc)
		return rc;
	http_response_init(&rs);
	rc = http_do(c, &hr, &rs, err);
	if (!rc && rs.status != 200)
		rc = st_error_set(err, ST_EINVAL, "info/refs: HTTP %ld",
				  rs.status);
	else if (!rc && strncmp(rs.content_type, ADVERT_TYPE,
				sizeof(ADVERT_TYPE) - 1) != 0)
		rc = st_error_set(err, ST_EINVAL, "info/refs: content type "
				  "\"%.64s\", not an advertisement",
				  rs.content_type);
	if (!rc)
		rc = gitrepo_advert_parse(rs.body.buf, rs.body.len, out, err);
	http_response_release(&rs);
	return rc;
}
