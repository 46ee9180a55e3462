/* SPDX-License-Identifier: MIT */
/*
 * Network plumbing shared by fetch, push and ls-remote: URL policy, the
 * credential callback (token only for the configured host, at most once
 * per connection), redirects off, and capture of the server's sideband
 * text (GitLab's hook messages arrive as "remote: GitLab: ...").
 * Everything here runs inside the network child (gitrepo_child.c).
 */
#include "gitrepo_internal.h"

#include "semver-tagger/urlrule.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "scheme://authority/..." -> "scheme://authority" (lower case, default
 * port dropped) into out; "" for URLs without one. The scheme is part of
 * the key so a token meant for https:// is never sent over http://. */
static void url_host(const char *url, char *out, size_t size)
{
	const char *p = strstr(url, "://"), *end;
	size_t n, k;

	out[0] = '\0';
	if (!p || strncmp(url, "http", 4) != 0)
		return;
	end = p + 3 + strcspn(p + 3, "/?#");
	n = (size_t)(end - url);
	if (n >= size)
		n = size - 1;
	for (k = 0; k < n; k++)
		out[k] = (char)tolower((unsigned char)url[k]);
	out[n] = '\0';
	/* https://h:443 and https://h are the same server */
	if (strncmp(out, "https:", 6) == 0 && n > 4 &&
	    strcmp(out + n - 4, ":443") == 0)
		out[n - 4] = '\0';
	else if (strncmp(out, "http:", 5) == 0 && n > 3 &&
		 strcmp(out + n - 3, ":80") == 0)
		out[n - 3] = '\0';
}

int gitrepo__check_url(const char *url, struct st_error *err)
{
	const char *auth, *end;

	if (!url || !*url)
		return st_error_set(err, ST_ECONFIG, "no repository URL");
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return st_error_set(err, ST_ECONFIG,
					    "repository URL contains a space or control character");
	if (url[0] == '/' || strncmp(url, "file://", 7) == 0)
		return 0;
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		return st_error_set(err, ST_ECONFIG,
				    "repository URL must be http(s)://, file:// or an absolute path");
	auth = strstr(url, "://") + 3;
	end = auth + strcspn(auth, "/?#");
	/* never echo such a URL: the user info may be a token */
	if (memchr(auth, '@', (size_t)(end - auth)))
		return st_error_set(err, ST_ECONFIG,
				    "repository URL must not contain user info; the token goes through the credential callback");
	if (end == auth)
		return st_error_set(err, ST_ECONFIG, "repository URL has no host");
	/* the token would cross the network in clear text */
	if (strncmp(url, "http://", 7) == 0 && !urlrule_transport_safe(url))
		return st_error_set(err, ST_ECONFIG,
				    "repository URL %s: plain http only to a numeric loopback address (127.0.0.0/8, [::1])",
				    url);
	return 0;
}

void gitrepo__net_init(struct gitrepo_net *net, const char *url,
		       const struct gitrepo_credentials *cred)
{
	memset(net, 0, sizeof(*net));
	net->url = url;
	net->cred = cred;
	url_host(url, net->host, sizeof(net->host));
}

static int refuse(struct gitrepo_net *net, const char *why)
{
	net->gave_up = true;
	snprintf(net->why, sizeof(net->why), "%s", why);
	git_error_set_str(GIT_ERROR_CALLBACK, why);
	return GIT_EUSER;
}

static int cred_cb(git_credential **out, const char *url,
		   const char *username_from_url, unsigned int allowed,
		   void *payload)
{
	struct gitrepo_net *net = payload;
	char host[sizeof(net->host)];
	const char *user;

	(void)username_from_url;
	if (++net->cred_calls > 1)
		return refuse(net, "the server rejected the token (not retried: GitLab bans addresses after repeated failures)");
	if (!net->cred || !net->cred->token || !*net->cred->token)
		return refuse(net, "the server asks for credentials and no token is configured");
	url_host(url, host, sizeof(host));
	if (!*net->host || strcmp(host, net->host) != 0)
		return refuse(net, "credentials requested for another host than the configured one; not sent");
	if (!(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
		return refuse(net, "the server wants an authentication method other than a token");
	user = net->cred->username && *net->cred->username ? net->cred->username
							    : "oauth2";
	return git_credential_userpass_plaintext_new(out, user, net->cred->token);
}

/* Keep hook output ("GitLab: ..."); drop progress lines ("...%"). */
static int sideband_cb(const char *str, int len, void *payload)
{
	struct gitrepo_net *net = payload;

	for (int i = 0; i < len; i++) {
		char c = str[i] == '\r' ? '\n' : str[i];

		if (net->sideband_len + 1 >= sizeof(net->sideband))
			break;
		if (c != '\n' && !isprint((unsigned char)c))
			c = '?';
		net->sideband[net->sideband_len++] = c;
	}
	net->sideband[net->sideband_len] = '\0';
	return 0;
}

void gitrepo__net_callbacks(struct gitrepo_net *net, git_remote_callbacks *cb)
{
	cb->credentials = cred_cb;
	cb->sideband_progress = sideband_cb;
	cb->payload = net;
}

int gitrepo__net_error(struct gitrepo_net *net, struct st_error *err,
		       int gitrc, const char *what)
{
	const git_error *e;

	if (net->gave_up)
		return st_error_set(err, ST_EAUTH, "%s: %s", what, net->why);
	e = git_error_last();
	/* libgit2 says 401/403 as text; count them as auth trouble */
	if (e && e->message &&
	    (strstr(e->message, "status code: 401") ||
	     strstr(e->message, "status code: 403")))
		return st_error_set(err, ST_EAUTH, "%s: %s", what, e->message);
	return gitrepo__git_error(err, gitrc, "%s", what);
}

/* An anonymous remote for url, without the repository's url.*.insteadOf
 * rewriting: a planted mirror config (a shared CI cache) could otherwise
 * fetch from another server than the one checked by urlrule.h. */
static int anon_remote(git_remote **out, git_repository *repo,
		       const char *url)
{
	git_remote_create_options o;

	git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	o.repository = repo;
	o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
	return git_remote_create_with_opts(out, url, &o);
}

int gitrepo__net_connect(git_repository *repo, struct gitrepo_net *net,
			 int direction, git_remote **out, struct st_error *err)
{
	git_remote_connect_options o;
	git_remote *r = NULL;
	int rc;

	git_remote_connect_options_init(&o, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	rc = anon_remote(&r, repo, net->url);
	if (rc < 0)
		return gitrepo__git_error(err, rc, "remote %s", net->url);
	gitrepo__net_callbacks(net, &o.callbacks);
	o.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	net->cred_calls = 0;
	net->gave_up = false;
	rc = git_remote_connect_ext(r, (git_direction)direction, &o);
	if (rc < 0) {
		gitrepo__net_error(net, err, rc, net->url);
		git_remote_free(r);
		return err && err->code ? err->code : ST_ETEMP;
	}
	*out = r;
	return 0;
}

static int count_tip(const char *refname, const git_oid *a, const git_oid *b,
		     void *payload)
{
	(void)refname;
	(void)a;
	(void)b;
	((struct gitrepo_net *)payload)->tips_updated++;
	return 0;
}

/* The remote's default branch becomes the mirror's HEAD (written only
 * when it changed). */
static int set_head(git_repository *repo, git_remote *remote,
		    struct st_error *err)
{
	git_reference *ref = NULL, *cur = NULL;
	git_buf b = { 0 };
	int rc = git_remote_default_branch(&b, remote);

	if (rc == GIT_ENOTFOUND) {
		git_error_clear(); /* an empty remote has no HEAD */
		return 0;
	}
	if (rc == 0 && git_reference_lookup(&cur, repo, "HEAD") == 0 &&
	    git_reference_symbolic_target(cur) &&
	    strcmp(git_reference_symbolic_target(cur), b.ptr) == 0) {
		git_reference_free(cur);
		git_buf_dispose(&b);
		return 0;
	}
	git_reference_free(cur);
	git_error_clear();
	if (rc == 0)
		rc = git_reference_symbolic_create(&ref, repo, "HEAD", b.ptr, 1,
						   NULL);
	git_buf_dispose(&b);
	git_reference_free(ref);
	return rc < 0 ? gitrepo__git_error(err, rc, "set HEAD") : 0;
}

/* Packed refs keep tag listing fast; only rewritten when refs changed. */
static int pack_refs(git_repository *repo, struct st_error *err)
{
	git_refdb *db = NULL;
	int rc = git_repository_refdb(&db, repo);

	if (rc == 0)
		rc = git_refdb_compress(db);
	git_refdb_free(db);
	return rc < 0 ? gitrepo__git_error(err, rc, "pack refs") : 0;
}

struct named_oid {
	char *name;
	git_oid id;
};

struct named_oids {
	struct named_oid *v;
	size_t n, cap;
};

static bool mirrored(const char *name)
{
	size_t n = strlen(name);

	return (strncmp(name, "refs/heads/", 11) == 0 ||
		strncmp(name, "refs/tags/", 10) == 0) &&
	       !(n > 3 && strcmp(name + n - 3, "^{}") == 0);
}

static int named_add(struct named_oids *l, const char *name, const git_oid *id)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct named_oid *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n].name = strdup(name)))
		return -1;
	git_oid_cpy(&l->v[l->n++].id, id);
	return 0;
}

static int named_cmp(const void *a, const void *b)
{
	return strcmp(((const struct named_oid *)a)->name,
		      ((const struct named_oid *)b)->name);
}

static void named_free(struct named_oids *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
}

/* Every loose ref file under <gitdir>/refs parses: libgit2's ref
 * iterator skips one that does not (and may yield a packed value from
 * behind it), while the fetch's ref updates fail on it, which is what
 * replaces such a mirror. Loose refs are few: fetch packs them. */
static bool loose_refs_ok(git_repository *repo, const char *dir, int depth)
{
	char path[4096];
	struct dirent *d;
	bool ok = true;
	DIR *dh;

	if (depth > 16)
		return false;
	if (!(dh = opendir(dir)))
		return errno == ENOENT;
	while (ok && (d = readdir(dh))) {
		struct stat st;
		const char *rel;
		git_reference *ref = NULL;

		if (d->d_name[0] == '.' ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     d->d_name) >= sizeof(path)) {
			ok = d->d_name[0] == '.';
			continue;
		}
		if (lstat(path, &st) != 0)
			ok = false;
		else if (S_ISDIR(st.st_mode))
			ok = loose_refs_ok(repo, path, depth + 1);
		else if ((rel = strstr(path, "/refs/")) &&
			 !(strlen(path) > 5 &&
			   strcmp(path + strlen(path) - 5, ".lock") == 0)) {
			/* the last "/refs/" is the gitdir's (names cannot
			 * hold "/refs/" twice here: they start there) */
			while (strstr(rel + 1, "/refs/"))
				rel = strstr(rel + 1, "/refs/");
			ok = git_reference_lookup(&ref, repo, rel + 1) == 0;
			git_reference_free(ref);
		}
	}
	closedir(dh);
	return ok;
}

/*
 * Would this fetch change anything? The advertisement (branches and tags,
 * peeled entries aside) against the mirror's branches and tags: the same
 * names with the same ids means nothing to download, no tip to update and
 * nothing to prune, so the steady state costs the ref advertisement only
 * (libgit2's update_tips and prune look at every ref: ~8 ms for 1,300).
 * Any doubt (an error, a symbolic ref among them) answers "changed".
 */
static bool refs_current(git_repository *repo, git_remote *remote)
{
	struct named_oids adv = { 0 }, mine = { 0 };
	const git_remote_head **heads = NULL;
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	char refs_dir[4096];
	size_t n = 0;
	bool same = false, ok = git_remote_ls(&heads, &n, remote) == 0;
	int rc = 0;

	ok = ok && (size_t)snprintf(refs_dir, sizeof(refs_dir), "%srefs",
				    git_repository_path(repo)) <
			   sizeof(refs_dir) &&
	     loose_refs_ok(repo, refs_dir, 0);

	for (size_t i = 0; ok && i < n; i++)
		if (mirrored(heads[i]->name))
			ok = named_add(&adv, heads[i]->name, &heads[i]->oid) == 0;
	ok = ok && git_reference_iterator_new(&it, repo) == 0;
	while (ok && (rc = git_reference_next(&ref, it)) == 0) {
		const char *name = git_reference_name(ref);

		if (mirrored(name))
			ok = git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
			     named_add(&mine, name, git_reference_target(ref)) == 0;
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	if (ok && rc == GIT_ITEROVER && adv.n == mine.n) {
		qsort(adv.v, adv.n, sizeof(*adv.v), named_cmp);
		qsort(mine.v, mine.n, sizeof(*mine.v), named_cmp);
		same = true;
		for (size_t i = 0; same && i < adv.n; i++)
			same = strcmp(adv.v[i].name, mine.v[i].name) == 0 &&
			       git_oid_equal(&adv.v[i].id, &mine.v[i].id);
	}
	git_error_clear();
	named_free(&adv);
	named_free(&mine);
	return same;
}

int gitrepo__fetch_here(const char *path, const char *url,
			const struct gitrepo_credentials *cred,
			struct st_error *err)
{
	/* forced: the mirror follows the remote, even a moved tag (the
	 * remote is the truth); pushes never force (gitrepo_push.c) */
	char *specs[] = { "+refs/heads/*:refs/heads/*",
			  "+refs/tags/*:refs/tags/*" };
	git_strarray sa = { specs, 2 };
	git_fetch_options o;
	git_remote_connect_options co;
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	struct gitrepo_net net;
	int rc;

	git_fetch_options_init(&o, GIT_FETCH_OPTIONS_VERSION);
	rc = gitrepo__open_git(path, &repo, err);
	if (rc)
		return rc;
	gitrepo__net_init(&net, url, cred);
	gitrepo__net_callbacks(&net, &o.callbacks);
	o.callbacks.update_tips = count_tip;
	o.prune = GIT_FETCH_PRUNE;
	o.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	o.update_fetchhead = 0;
	o.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	git_remote_connect_options_init(&co, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	co.callbacks = o.callbacks;
	co.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	rc = anon_remote(&remote, repo, url);
	if (rc < 0)
		rc = gitrepo__git_error(err, rc, "remote %s", url);
	/* connect first: when the advertisement matches the mirror, that
	 * was the whole fetch; else the fetch goes on on this connection */
	else if ((rc = git_remote_connect_ext(remote, GIT_DIRECTION_FETCH,
					      &co)) < 0)
		rc = gitrepo__net_error(&net, err, rc, url);
	else if (!refs_current(repo, remote) &&
		 (rc = git_remote_fetch(remote, &sa, &o, NULL)) < 0)
		rc = gitrepo__net_error(&net, err, rc, url);
	if (!rc)
		rc = set_head(repo, remote, err);
	if (!rc && net.tips_updated)
		rc = pack_refs(repo, err);
	git_remote_free(remote);
	git_repository_free(repo);
	if (rc)
		st_error_prefix(err, "fetch");
	return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int gitrepo__remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
