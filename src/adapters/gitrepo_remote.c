/* SPDX-License-Identifier: MIT */
/*
 * The remote's refs as advertised (ls-remote), for re-reading after a
 * rejected push without a full fetch. Runs in the network child.
 */
#include "gitrepo_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ls_job {
	struct gitrepo_net net; /* first: it is the callbacks' payload */
	const char *path;
};

static int encode_heads(const git_remote_head **heads, size_t n,
			struct strbuf *reply)
{
	int rc = gitrepo__put_u32(reply, (uint32_t)n);

	for (size_t i = 0; i < n && !rc; i++)
		rc = gitrepo__put_str(reply, heads[i]->name) ||
		     gitrepo__put_bytes(reply, heads[i]->oid.id,
					GITREPO_OID_RAWSZ) ||
		     gitrepo__put_str(reply, heads[i]->symref_target);
	return rc ? ST_ETOOBIG : 0;
}

static int ls_child(void *ctx, struct strbuf *reply, struct st_error *err)
{
	struct ls_job *j = ctx;
	const git_remote_head **heads;
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	size_t n;
	int rc;

	rc = gitrepo__open_git(j->path, &repo, err);
	if (!rc)
		rc = gitrepo__net_connect(repo, &j->net, GIT_DIRECTION_FETCH,
					  &remote, err);
	if (!rc && (rc = git_remote_ls(&heads, &n, remote)) < 0)
		rc = gitrepo__git_error(err, rc, "list %s", j->net.url);
	if (!rc && encode_heads(heads, n, reply))
		rc = st_error_set(err, ST_ETOOBIG, "list %s: too many refs",
				  j->net.url);
	git_remote_free(remote);
	git_repository_free(repo);
	return rc;
}

static int ref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct gitrepo_remote_ref *)a)->name,
		      ((const struct gitrepo_remote_ref *)b)->name);
}

/* "refs/tags/x^{}" lines give the peeled commit of "refs/tags/x". */
static void fold_peeled(struct gitrepo_remote_refs *out)
{
	size_t w = 0;

	for (size_t i = 0; i < out->n; i++) {
		struct gitrepo_remote_ref *r = &out->v[i];
		size_t len = strlen(r->name);

		if (len > 3 && strcmp(r->name + len - 3, "^{}") == 0) {
			r->name[len - 3] = '\0';
			for (size_t k = 0; k < w; k++)
				if (strcmp(out->v[k].name, r->name) == 0)
					out->v[k].peeled = r->oid;
			free(r->name);
			free(r->symref_target);
			continue;
		}
		out->v[w++] = *r;
	}
	out->n = w;
	qsort(out->v, out->n, sizeof(*out->v), ref_cmp);
}

static int decode_heads(const struct strbuf *reply,
			struct gitrepo_remote_refs *out)
{
	struct gitrepo_wire w = { reply->buf, reply->len, 0, false };
	uint32_t n = gitrepo__get_u32(&w);
	bool was_null;

	if (w.bad || n > reply->len / 8)
		return ST_EINTERNAL;
	out->v = calloc(n ? n : 1, sizeof(*out->v));
	if (!out->v)
		return ST_ENOMEM;
	for (uint32_t i = 0; i < n && !w.bad; i++) {
		struct gitrepo_remote_ref *r = &out->v[i];

		r->name = gitrepo__get_str(&w, &was_null);
		gitrepo__get_bytes(&w, r->oid.id, GITREPO_OID_RAWSZ);
		r->symref_target = gitrepo__get_str(&w, &was_null);
		w.bad = w.bad || !r->name;
		out->n = i + 1;
	}
	if (w.bad)
		return ST_EINTERNAL;
	fold_peeled(out);
	return 0;
}

int gitrepo_remote_refs(struct gitrepo *repo, const char *url,
			const struct gitrepo_credentials *cred,
			int64_t deadline_ms, struct gitrepo_remote_refs *out,
			struct st_error *err)
{
	struct gitrepo_remote_refs refs = { NULL, 0 };
	char what[ST_ERROR_MSG_MAX / 2];
	struct ls_job j;
	struct strbuf reply;
	int rc;

	rc = gitrepo__check_url(url, err);
	if (rc)
		return rc;
	gitrepo__net_init(&j.net, url, cred);
	j.path = repo->path;
	snprintf(what, sizeof(what), "list refs of %s", url);
	strbuf_init(&reply, GITREPO_CHILD_REPLY_MAX);
	rc = gitrepo__run_child(what, deadline_ms, ls_child, &j, &reply, err);
	if (!rc && (rc = decode_heads(&reply, &refs)) != 0)
		rc = st_error_set(err, rc, "%s: garbled answer", what);
	strbuf_release(&reply);
	if (rc) {
		gitrepo_remote_refs_release(&refs);
		return rc;
	}
	*out = refs;
	return 0;
}

void gitrepo_remote_refs_release(struct gitrepo_remote_refs *refs)
{
	if (!refs)
		return;
	for (size_t i = 0; i < refs->n; i++) {
		free(refs->v[i].name);
		free(refs->v[i].symref_target);
	}
	free(refs->v);
	refs->v = NULL;
	refs->n = 0;
}

const struct gitrepo_remote_ref *
gitrepo_remote_refs_find(const struct gitrepo_remote_refs *refs,
			 const char *name)
{
	struct gitrepo_remote_ref key;

	if (!refs->n)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.name = (char *)name;
	return bsearch(&key, refs->v, refs->n, sizeof(key), ref_cmp);
}
