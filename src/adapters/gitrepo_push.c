/* SPDX-License-Identifier: MIT */
/*
 * Publishing a release's refs with compare-and-swap semantics.
 *
 * libgit2 1.5 sends the *advertised* value as each command's old value
 * and git's receive-pack applies it under the ref lock, so the server
 * itself refuses an update whose ref moved since the advertisement. We
 * connect once, compare the advertisement with what the plan expected
 * (nothing is sent unless every ref matches), push over the same
 * connection (the same advertisement), and read each ref's outcome from
 * push_update_reference: git_remote_push()/upload() return 0 even when
 * the server rejects a ref. After any rejection a second connection reads
 * the remote again, to tell a concurrent runner (ST_ERACE: the ref now
 * holds something else) from a refusal (ST_EREFUSED: it still holds the
 * expected value, e.g. a protected branch). Refspecs are never forced.
 */
#include "gitrepo_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Local refs naming what to send (libgit2 1.5 push sources must be refs). */
#define PUSH_NS "refs/semver-tagger/push/"

/* net first: libgit2 gives every callback the same payload, and the
 * credential/sideband callbacks read it as a struct gitrepo_net. */
struct push_job {
	struct gitrepo_net net;
	const char *path, *url;
	const struct gitrepo_credentials *cred;
	const struct gitrepo_ref_update *u;
	size_t n;
	struct gitrepo_push_result res[GITREPO_PUSH_MAX];
	bool send[GITREPO_PUSH_MAX];
	int reports[GITREPO_PUSH_MAX];
	char src[GITREPO_PUSH_MAX][64];
	git_repository *repo;
	char transport_error[256];
};

static bool is_tag(const char *refname)
{
	return strncmp(refname, "refs/tags/", 10) == 0;
}

static void result_set(struct gitrepo_push_result *r,
		       enum gitrepo_push_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void result_set(struct gitrepo_push_result *r,
		       enum gitrepo_push_status st, const char *fmt, ...)
{
	va_list ap;

	r->status = st;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

/*
 * The advertised value of refname (zero when absent) and its peeled
 * commit. upload-pack advertises "<tag>^{}" lines; receive-pack does not,
 * so for a tag seen only through a push advertisement peeled stays zero
 * (unknown) until a fetch-side re-read fills it in.
 */
static void advertised(const git_remote_head **heads, size_t n,
		       const char *refname, bool fetch_side,
		       struct gitrepo_oid *oid, struct gitrepo_oid *peeled)
{
	size_t len = strlen(refname);

	memset(oid, 0, sizeof(*oid));
	memset(peeled, 0, sizeof(*peeled));
	for (size_t i = 0; i < n; i++) {
		const char *name = heads[i]->name;

		if (strcmp(name, refname) == 0)
			gitrepo__from_git(&heads[i]->oid, oid);
		else if (strncmp(name, refname, len) == 0 &&
			 strcmp(name + len, "^{}") == 0)
			gitrepo__from_git(&heads[i]->oid, peeled);
	}
	if (gitrepo_oid_is_zero(peeled) && (fetch_side || !is_tag(refname)))
		*peeled = *oid; /* a branch or lightweight tag: the commit itself */
}

static bool descends(git_repository *repo, const struct gitrepo_oid *newer,
		     const struct gitrepo_oid *older)
{
	git_oid a, b;

	gitrepo__to_git(newer, &a);
	gitrepo__to_git(older, &b);
	if (git_oid_equal(&a, &b))
		return true;
	if (git_graph_descendant_of(repo, &a, &b) == 1)
		return true;
	git_error_clear();
	return false;
}

/* One ref against the advertisement: done, raced, refused or to send. */
static void check_one(struct push_job *j, size_t i)
{
	const struct gitrepo_ref_update *u = &j->u[i];
	struct gitrepo_push_result *r = &j->res[i];
	char want[GITREPO_OID_HEXSZ + 1], have[GITREPO_OID_HEXSZ + 1];

	gitrepo_oid_tohex(&u->expected_old, want);
	gitrepo_oid_tohex(&r->remote_oid, have);
	if (gitrepo_oid_equal(&r->remote_oid, &u->new_oid))
		result_set(r, GITREPO_PUSH_OK, "already up to date");
	else if (!gitrepo_oid_equal(&r->remote_oid, &u->expected_old))
		result_set(r, GITREPO_PUSH_RACE, "%s: the remote has %s, expected %s",
			   u->refname,
			   gitrepo_oid_is_zero(&r->remote_oid) ? "nothing" : have,
			   gitrepo_oid_is_zero(&u->expected_old) ? "none" : want);
	else if (!gitrepo_oid_is_zero(&u->expected_old) &&
		 !descends(j->repo, &u->new_oid, &u->expected_old))
		result_set(r, GITREPO_PUSH_REJECTED,
			   "%s: not a fast-forward of %s; refusing to force",
			   u->refname, want);
	else
		j->send[i] = true;
}

/* Mark the refs to send (j->send). When any check fails nothing is sent:
 * the caller re-plans from a fresh read. */
static int plan_sends(struct push_job *j, git_remote *remote,
		      struct st_error *err)
{
	const git_remote_head **heads;
	size_t nheads;
	bool failed = false;
	int rc = git_remote_ls(&heads, &nheads, remote);

	if (rc < 0)
		return gitrepo__git_error(err, rc, "push to %s: read refs", j->url);
	for (size_t i = 0; i < j->n; i++) {
		struct gitrepo_push_result *r = &j->res[i];

		advertised(heads, nheads, j->u[i].refname, false, &r->remote_oid,
			   &r->remote_peeled);
		r->remote_known = true;
		check_one(j, i);
		failed = failed || r->status == GITREPO_PUSH_RACE ||
			 r->status == GITREPO_PUSH_REJECTED;
	}
	for (size_t i = 0; failed && i < j->n; i++) {
		if (j->send[i])
			result_set(&j->res[i], GITREPO_PUSH_NOT_SENT,
				   "%s: not sent: another ref of this push failed its check",
				   j->u[i].refname);
		j->send[i] = false;
	}
	return 0;
}

static int report_cb(const char *refname, const char *status, void *data)
{
	struct push_job *j = data;

	for (size_t i = 0; i < j->n; i++) {
		if (!j->send[i] || strcmp(j->u[i].refname, refname) != 0)
			continue;
		j->reports[i]++;
		if (status)
			result_set(&j->res[i], GITREPO_PUSH_REJECTED, "%s: %s",
				   refname, status);
		else
			result_set(&j->res[i], GITREPO_PUSH_OK, "updated");
	}
	return 0;
}

/* Second guard: libgit2 hands us the old values it is about to send. */
static int negotiation_cb(const git_push_update **updates, size_t len,
			  void *data)
{
	struct push_job *j = data;

	for (size_t k = 0; k < len; k++) {
		for (size_t i = 0; i < j->n; i++) {
			struct gitrepo_oid src;

			if (!j->send[i] ||
			    strcmp(j->u[i].refname, updates[k]->dst_refname) != 0)
				continue;
			gitrepo__from_git(&updates[k]->src, &src);
			if (!gitrepo_oid_equal(&src, &j->u[i].expected_old)) {
				git_error_set_str(GIT_ERROR_CALLBACK,
						  "advertisement changed under the push");
				return GIT_EUSER;
			}
		}
	}
	return 0;
}

static int make_sources(struct push_job *j, char specs[][2 * GITREPO_REFNAME_MAX],
			char **ptrs, size_t *count, struct st_error *err)
{
	*count = 0;
	for (size_t i = 0; i < j->n; i++) {
		git_reference *ref = NULL;
		git_oid id;
		int rc;

		if (!j->send[i])
			continue;
		snprintf(j->src[i], sizeof(j->src[i]), PUSH_NS "%ld/%zu",
			 (long)getpid(), i);
		gitrepo__to_git(&j->u[i].new_oid, &id);
		rc = git_reference_create(&ref, j->repo, j->src[i], &id, 1, NULL);
		git_reference_free(ref);
		if (rc < 0)
			return gitrepo__git_error(err, rc, "push: ref %s", j->src[i]);
		/* no leading '+': never a forced update */
		snprintf(specs[*count], sizeof(specs[*count]), "%s:%s", j->src[i],
			 j->u[i].refname);
		ptrs[*count] = specs[*count];
		(*count)++;
	}
	return 0;
}

static void drop_sources(struct push_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		if (j->src[i][0])
			git_reference_remove(j->repo, j->src[i]);
	git_error_clear();
}

/* Refs sent but not reported exactly once: outcome unknown. */
static void mark_unreported(struct push_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		if (!j->send[i] || j->reports[i] == 1)
			continue;
		result_set(&j->res[i], GITREPO_PUSH_UNKNOWN,
			   "%s: sent, but %s", j->u[i].refname,
			   j->reports[i] ? "reported more than once"
			   : *j->transport_error ? j->transport_error
						  : "no report from the server");
	}
}

static int send_refs(struct push_job *j, git_remote *remote,
		     struct st_error *err)
{
	char (*specs)[2 * GITREPO_REFNAME_MAX] = calloc(GITREPO_PUSH_MAX,
						       sizeof(*specs));
	char *ptrs[GITREPO_PUSH_MAX];
	git_push_options o;
	git_strarray sa;
	size_t count;
	int rc;

	git_push_options_init(&o, GIT_PUSH_OPTIONS_VERSION);
	if (!specs)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	rc = make_sources(j, specs, ptrs, &count, err);
	if (rc || count == 0) {
		drop_sources(j);
		free(specs);
		return rc;
	}
	sa.strings = ptrs;
	sa.count = count;
	gitrepo__net_callbacks(&j->net, &o.callbacks);
	o.callbacks.push_update_reference = report_cb;
	o.callbacks.push_negotiation = negotiation_cb;
	o.callbacks.payload = j;
	o.pb_parallelism = 1;
	o.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	rc = git_remote_upload(remote, &sa, &o);
	if (rc < 0)
		snprintf(j->transport_error, sizeof(j->transport_error), "%s",
			 git_error_last() ? git_error_last()->message
					  : "push failed");
	drop_sources(j);
	mark_unreported(j);
	free(specs);
	return 0;
}

/* Append the server's hook text to a rejection ("remote: GitLab: ..."). */
static void add_sideband(struct push_job *j, struct gitrepo_push_result *r)
{
	char text[sizeof(j->net.sideband)];
	size_t n = 0, used = strlen(r->message);

	for (size_t i = 0; i < j->net.sideband_len && n + 2 < sizeof(text); i++) {
		char c = j->net.sideband[i];

		if (c == '\n') {
			if (n && text[n - 1] != ' ')
				text[n++] = ';', text[n++] = ' ';
			continue;
		}
		text[n++] = c;
	}
	while (n && (text[n - 1] == ' ' || text[n - 1] == ';'))
		n--;
	text[n] = '\0';
	if (n && used < sizeof(r->message))
		snprintf(r->message + used, sizeof(r->message) - used,
			 " (remote: %s)", text);
}

/* Classify one unsettled ref from the remote's current value. */
static void settle(struct push_job *j, size_t i, const struct gitrepo_oid *cur,
		   const struct gitrepo_oid *peeled)
{
	const struct gitrepo_ref_update *u = &j->u[i];
	struct gitrepo_push_result *r = &j->res[i];
	char have[GITREPO_OID_HEXSZ + 1];

	r->remote_known = true;
	r->remote_oid = *cur;
	r->remote_peeled = *peeled;
	gitrepo_oid_tohex(cur, have);
	if (gitrepo_oid_equal(cur, &u->new_oid))
		result_set(r, GITREPO_PUSH_OK, "%s: the remote holds the new value",
			   u->refname);
	else if (!gitrepo_oid_equal(cur, &u->expected_old) || !j->send[i])
		result_set(r, GITREPO_PUSH_RACE,
			   "%s: changed by someone else meanwhile (now %s)",
			   u->refname,
			   gitrepo_oid_is_zero(cur) ? "deleted" : have);
	else if (r->status == GITREPO_PUSH_REJECTED)
		add_sideband(j, r);
	else
		result_set(r, GITREPO_PUSH_NOT_SENT, "%s: not applied (%s)",
			   u->refname,
			   *j->transport_error ? j->transport_error : "no report");
}

/* Refs whose outcome a second look at the remote settles: sent but not
 * reported OK, or found moved in the advertisement. */
static bool unsettled(const struct push_job *j, size_t i)
{
	return (j->send[i] && j->res[i].status != GITREPO_PUSH_OK) ||
	       j->res[i].status == GITREPO_PUSH_RACE;
}

/* After a rejection, a race or a lost report, look at the remote again
 * (fetch side: it also tells what a tag peels to). */
static void reread(struct push_job *j)
{
	const git_remote_head **heads;
	git_remote *remote = NULL;
	struct st_error ignore;
	size_t nheads;
	bool need = false;

	for (size_t i = 0; i < j->n; i++)
		need = need || unsettled(j, i);
	if (!need)
		return;
	st_error_clear(&ignore);
	if (gitrepo__net_connect(j->repo, &j->net, GIT_DIRECTION_FETCH, &remote,
				 &ignore) != 0 ||
	    git_remote_ls(&heads, &nheads, remote) < 0) {
		for (size_t i = 0; i < j->n; i++)
			if (j->send[i] && j->res[i].status != GITREPO_PUSH_OK)
				j->res[i].remote_known = false;
		git_error_clear();
		git_remote_free(remote);
		return;
	}
	for (size_t i = 0; i < j->n; i++) {
		struct gitrepo_oid cur, peeled;

		if (!unsettled(j, i))
			continue;
		advertised(heads, nheads, j->u[i].refname, true, &cur, &peeled);
		settle(j, i, &cur, &peeled);
	}
	git_remote_disconnect(remote);
	git_remote_free(remote);
}

static int push_status(struct push_job *j, struct st_error *err)
{
	bool race = false, refused = false, other = false;
	struct strbuf msg;
	int code;

	strbuf_init(&msg, ST_ERROR_MSG_MAX);
	for (size_t i = 0; i < j->n; i++) {
		enum gitrepo_push_status st = j->res[i].status;

		if (st == GITREPO_PUSH_OK)
			continue;
		race = race || st == GITREPO_PUSH_RACE;
		refused = refused || st == GITREPO_PUSH_REJECTED;
		other = other || (st != GITREPO_PUSH_RACE &&
				  st != GITREPO_PUSH_REJECTED);
		strbuf_addf(&msg, "%s%s", msg.len ? "; " : "", j->res[i].message);
	}
	if (!race && !refused && !other) {
		strbuf_release(&msg);
		return 0;
	}
	code = race ? ST_ERACE : refused ? ST_EREFUSED : ST_ETEMP;
	st_error_set(err, code, "push to %s: %s", j->url, strbuf_str(&msg));
	strbuf_release(&msg);
	return code;
}

static int encode_results(const struct push_job *j, struct strbuf *reply)
{
	int rc = gitrepo__put_u32(reply, (uint32_t)j->n);

	for (size_t i = 0; i < j->n && !rc; i++) {
		const struct gitrepo_push_result *r = &j->res[i];

		rc = gitrepo__put_u32(reply, (uint32_t)r->status) ||
		     gitrepo__put_u32(reply, r->remote_known) ||
		     gitrepo__put_bytes(reply, r->remote_oid.id, GITREPO_OID_RAWSZ) ||
		     gitrepo__put_bytes(reply, r->remote_peeled.id,
					GITREPO_OID_RAWSZ) ||
		     gitrepo__put_str(reply, r->message);
	}
	return rc ? ST_ETOOBIG : 0;
}

static int push_child(void *ctx, struct strbuf *reply, struct st_error *err)
{
	struct push_job *j = ctx;
	git_remote *remote = NULL;
	int rc;

	rc = gitrepo__open_git(j->path, &j->repo, err);
	if (!rc)
		rc = gitrepo__net_connect(j->repo, &j->net, GIT_DIRECTION_PUSH,
					  &remote, err);
	if (!rc)
		rc = plan_sends(j, remote, err);
	if (!rc)
		rc = send_refs(j, remote, err);
	if (!rc) {
		git_remote_disconnect(remote);
		reread(j);
		rc = push_status(j, err);
	}
	git_remote_free(remote);
	git_repository_free(j->repo);
	if (encode_results(j, reply))
		return st_error_set(err, ST_ETOOBIG, "push results too large");
	return rc;
}

static int check_update(struct gitrepo *repo, const struct gitrepo_ref_update *u,
			struct st_error *err)
{
	git_object *obj = NULL;
	int valid = 0;
	git_oid id;
	bool head;

	if (!u->refname || strlen(u->refname) >= GITREPO_REFNAME_MAX ||
	    git_reference_name_is_valid(&valid, u->refname) < 0 || !valid)
		return st_error_set(err, ST_EINVAL, "push: invalid ref name");
	head = strncmp(u->refname, "refs/heads/", 11) == 0;
	if (!head && !is_tag(u->refname))
		return st_error_set(err, ST_EINVAL,
				    "push: %s is neither a branch nor a tag",
				    u->refname);
	if (is_tag(u->refname) && !gitrepo_oid_is_zero(&u->expected_old))
		return st_error_set(err, ST_EINVAL,
				    "push: %s: tags are only created, never moved",
				    u->refname);
	gitrepo__to_git(&u->new_oid, &id);
	if (gitrepo_oid_is_zero(&u->new_oid) ||
	    git_object_lookup(&obj, repo->repo, &id, GIT_OBJECT_ANY) < 0) {
		git_error_clear();
		return st_error_set(err, ST_EINVAL,
				    "push: %s: the new value is not in the mirror (deleting refs is not supported)",
				    u->refname);
	}
	valid = !head || git_object_type(obj) == GIT_OBJECT_COMMIT;
	git_object_free(obj);
	if (!valid)
		return st_error_set(err, ST_EINVAL,
				    "push: %s: a branch must point at a commit",
				    u->refname);
	return 0;
}

static int check_updates(struct gitrepo *repo,
			 const struct gitrepo_ref_update *u, size_t n,
			 struct st_error *err)
{
	if (n == 0 || n > GITREPO_PUSH_MAX)
		return st_error_set(err, ST_EINVAL, "push: 1 to %d refs at a time",
				    GITREPO_PUSH_MAX);
	for (size_t i = 0; i < n; i++) {
		int rc = check_update(repo, &u[i], err);

		if (rc)
			return rc;
		for (size_t k = 0; k < i; k++)
			if (strcmp(u[k].refname, u[i].refname) == 0)
				return st_error_set(err, ST_EINVAL,
						    "push: %s listed twice",
						    u[i].refname);
	}
	return 0;
}

/* Leftovers of a child killed mid-push (one user per mirror). */
static void remove_push_refs(struct gitrepo *repo)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;

	if (git_reference_iterator_glob_new(&it, repo->repo, PUSH_NS "*") < 0) {
		git_error_clear();
		return;
	}
	while (git_reference_next(&ref, it) == 0) {
		git_reference_delete(ref);
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	git_error_clear();
}

static bool decode_results(const struct strbuf *reply, size_t n,
			   struct gitrepo_push_result *results)
{
	struct gitrepo_wire w = { reply->buf, reply->len, 0, false };
	bool was_null;

	if (gitrepo__get_u32(&w) != n || w.bad)
		return false;
	for (size_t i = 0; i < n && !w.bad; i++) {
		struct gitrepo_push_result *r = &results[i];
		uint32_t st = gitrepo__get_u32(&w);
		char *msg;

		r->status = st <= GITREPO_PUSH_UNKNOWN ? (enum gitrepo_push_status)st
						       : GITREPO_PUSH_UNKNOWN;
		r->remote_known = gitrepo__get_u32(&w) != 0;
		gitrepo__get_bytes(&w, r->remote_oid.id, GITREPO_OID_RAWSZ);
		gitrepo__get_bytes(&w, r->remote_peeled.id, GITREPO_OID_RAWSZ);
		msg = gitrepo__get_str(&w, &was_null);
		snprintf(r->message, sizeof(r->message), "%s", msg ? msg : "");
		free(msg);
	}
	return !w.bad;
}

int gitrepo_push(struct gitrepo *repo, const char *url,
		 const struct gitrepo_credentials *cred,
		 const struct gitrepo_ref_update *updates, size_t n,
		 struct gitrepo_push_result *results, int64_t deadline_ms,
		 struct st_error *err)
{
	char what[ST_ERROR_MSG_MAX / 2];
	struct push_job *j;
	struct strbuf reply;
	int rc;

	rc = gitrepo__check_url(url, err);
	if (!rc)
		rc = check_updates(repo, updates, n, err);
	if (rc)
		return rc;
	j = calloc(1, sizeof(*j));
	if (!j)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	gitrepo__net_init(&j->net, url, cred);
	j->path = repo->path;
	j->url = url;
	j->u = updates;
	j->n = n;
	for (size_t i = 0; i < n; i++) {
		memset(&results[i], 0, sizeof(results[i]));
		result_set(&results[i], GITREPO_PUSH_UNKNOWN,
			   "%s: outcome unknown (the push did not finish)",
			   updates[i].refname);
		j->res[i] = results[i];
		result_set(&j->res[i], GITREPO_PUSH_NOT_SENT, "%s: not sent",
			   updates[i].refname);
	}
	remove_push_refs(repo);
	snprintf(what, sizeof(what), "push to %s", url);
	strbuf_init(&reply, 1024 * 1024);
	rc = gitrepo__run_child(what, deadline_ms, push_child, j, &reply, err);
	if (reply.len && !decode_results(&reply, n, results) && !rc)
		rc = st_error_set(err, ST_EINTERNAL, "%s: garbled results", what);
	strbuf_release(&reply);
	remove_push_refs(repo);
	free(j);
	return rc;
}
