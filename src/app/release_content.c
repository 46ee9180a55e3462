/* SPDX-License-Identifier: MIT */
/*
 * What a release says: its notes (categorised, notes.h), the changelog
 * section its release commit and prep commits carry (changelog.h), the
 * GitLab release object and the "Released in X.Y.Z" notes on its MRs.
 *
 * The notes of release V are made from facts that stay put: the MRs whose
 * commit is reachable from V's commit and not from the previous release
 * (the highest lower version that is an ancestor), their labels, titles,
 * authors and "Release notes" sections. Computed at most once per run per
 * version, and only when something is about to be written.
 *
 * Goal 4 (SPEC §10) for a release R: the "released in" notes first, the
 * release object last, so an existing release object means both are done;
 * <state>/release-content.state remembers finished releases so the steady
 * state costs no request (a lost state directory costs one GET per family).
 */
#include "release_internal.h"

#include "semver-tagger/changelog.h"
#include "semver-tagger/notes.h"
#include "semver-tagger/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Below GitLab's 1,000,000-character limit of a release description and
 * of a note (bytes >= characters), with room for the forge's marker. */
#define RELEASE_BODY_MAX 990000u
#define CONTENT_STATE "release-content.state"
#define CONTENT_STATE_MAX (64u * 1024u)

struct content {
	struct semver_ver v;
	char *notes;          /* final (maybe shortened) text */
	size_t *mrs;          /* indexes into e->mrs, ascending iid */
	size_t n_mrs;
};

struct content_cache {
	struct content *v;
	size_t n;
};

void engine_content_free(struct engine *e)
{
	struct content_cache *c = e->content;

	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].notes);
		free(c->v[i].mrs);
	}
	free(c->v);
	free(c);
	e->content = NULL;
}

bool engine_changelog_on(const struct engine *e)
{
	const struct config_project *c = e->o->cfg;

	return c->build != BUILD_SIMPLE &&
	       (c->changelog < 0 || c->changelog > 0);
}

/* ---- which release came before ------------------------------------------ */

/* Is release k on the line of head: its commit, or for a detached release
 * commit (version-file, maven) the commit it was made on, an ancestor? */
static bool on_line(struct engine *e, const struct known_release *k,
		    const struct gitrepo_oid *head)
{
	struct gitrepo_oid parent;
	struct st_error err;
	bool anc = false;

	st_error_clear(&err);
	if (gitrepo_is_ancestor(e->repo, &k->commit, head, &anc, &err) == 0 &&
	    anc)
		return true;
	return e->spec.kind != VERSIONFILE_SIMPLE &&
	       gitrepo_commit_parent(e->repo, &k->commit, &parent, &err) == 0 &&
	       gitrepo_is_ancestor(e->repo, &parent, head, &anc, &err) == 0 &&
	       anc;
}

/* The highest known release below v on the line of head: the release
 * V's notes start from (hiding its commit hides what it contained).
 * NULL: none (the virtual base). */
static int known_desc(const void *a, const void *b)
{
	const struct known_release *x = *(const struct known_release *const *)a;
	const struct known_release *y = *(const struct known_release *const *)b;

	return semver_ver_compare(&y->v, &x->v);
}

static const struct known_release *previous(struct engine *e,
					    const struct semver_ver *v,
					    const struct gitrepo_oid *head)
{
	const struct known_release **by = calloc(e->n_known + 1, sizeof(*by));
	const struct known_release *best = NULL;
	size_t n = 0;

	/* highest first, so the walk usually stops at the first candidate
	 * (an ancestor test can walk much history) */
	for (size_t i = 0; by && i < e->n_known; i++)
		if (semver_ver_compare(&e->known[i].v, v) < 0)
			by[n++] = &e->known[i];
	if (by)
		qsort(by, n, sizeof(*by), known_desc);
	for (size_t i = 0; by && i < n && !best; i++)
		if (on_line(e, by[i], head))
			best = by[i];
	free(by);
	return best;
}

/* ---- the MRs of a release ----------------------------------------------- */

static int idx_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

static int release_mrs(struct engine *e, const struct gitrepo_oid *head,
		       const struct known_release *prev, struct content *c,
		       struct st_error *err)
{
	struct gitrepo_commitset *set = NULL;
	int rc = gitrepo_new_commits(e->repo, head, prev ? &prev->commit : NULL,
				     &set, err);

	if (rc)
		return rc;
	c->mrs = calloc(e->n_mr_commits + 1, sizeof(*c->mrs));
	if (!c->mrs) {
		gitrepo_commitset_free(set);
		return st_error_set(err, ST_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < e->n_mr_commits; i++)
		if (gitrepo_commitset_has(set, &e->mr_commits[i].id))
			c->mrs[c->n_mrs++] = e->mr_commits[i].mr;
	gitrepo_commitset_free(set);
	qsort(c->mrs, c->n_mrs, sizeof(*c->mrs), idx_cmp);
	return ST_OK;
}

/* ---- the notes ---------------------------------------------------------- */

static void tag_name(const struct engine *e, const struct semver_ver *v,
		     char *buf, size_t size)
{
	char ver[SEMVER_VER_STR_MAX];

	semver_ver_format(v, ver, sizeof(ver));
	snprintf(buf, size, "%s%s", e->o->cfg->tag_prefix, ver);
}

/* GitLab's comparison page: <project>/-/compare/<from>...<to>. */
static void compare_url(const struct engine *e, const struct semver_ver *v,
			const struct known_release *prev, char *buf,
			size_t size)
{
	char from[POLICY_NAME_MAX], to[POLICY_NAME_MAX];

	buf[0] = '\0';
	if (!e->project.web_url)
		return;
	tag_name(e, v, to, sizeof(to));
	if (prev) {
		tag_name(e, &prev->v, from, sizeof(from));
		snprintf(buf, size, "%s/-/compare/%s...%s", e->project.web_url,
			 from, to);
	} else {
		snprintf(buf, size, "%s/-/commits/%s", e->project.web_url, to);
	}
}

static void notes_mrs_release(struct notes_mr *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++)
		free((char *)m[i].text);
	free(m);
}

/* The facts of each MR; its "Release notes" text read from the forge
 * (a failure fails the notes: nothing is written from partial data). */
static int notes_mrs(struct engine *e, const struct content *c,
		     struct notes_mr **out, struct st_error *err)
{
	struct notes_mr *m = calloc(c->n_mrs + 1, sizeof(*m));
	int rc = 0;

	if (!m)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < c->n_mrs; i++) {
		const struct forge_mr *mr = &e->mrs.items[c->mrs[i]];
		char *text = NULL;

		m[i] = (struct notes_mr){
			.iid = mr->iid, .title = mr->title,
			.web_url = mr->web_url, .author = mr->author_username,
			.labels = (const char *const *)mr->labels,
			.n_labels = mr->n_labels,
			.impact = labels_impact(e->o->labels,
						(const char *const *)mr->labels,
						mr->n_labels, NULL),
		};
		rc = forge_mr_release_text(e->forge, mr->iid, &text, err);
		if (rc == ST_ENOTFOUND) {
			/* deleted since it was merged: its title will do */
			engine_warn(e, "MR !%lld: %s (its title is used in the "
				    "release notes)", (long long)mr->iid,
				    err->msg);
			st_error_clear(err);
			rc = 0;
		}
		m[i].text = text;
		if (rc)
			st_error_prefix(err, "release notes of MR !%lld",
					(long long)mr->iid);
	}
	if (rc) {
		notes_mrs_release(m, c->n_mrs);
		return rc;
	}
	*out = m;
	return ST_OK;
}

static int render(struct engine *e, struct content *c,
		  const struct known_release *prev, struct st_error *err)
{
	const struct config_project *cfg = e->o->cfg;
	struct notes_config nc;
	struct notes_mr *m = NULL;
	struct strbuf full, cut;
	char url[2048];
	int rc;

	rc = notes_config_parse(cfg->release_sections,
				cfg->release_exclude_labels, &nc, err);
	if (rc == 0)
		rc = notes_mrs(e, c, &m, err);
	if (rc)
		return rc;
	strbuf_init(&full, 64u * 1024u * 1024u);
	strbuf_init(&cut, RELEASE_BODY_MAX);
	compare_url(e, &c->v, prev, url, sizeof(url));
	rc = notes_render(&nc, m, c->n_mrs, &full);
	/* past even this cap: what was rendered, shortened below (a release
	 * is never skipped for its notes) */
	if (rc == ST_ETOOBIG && full.len > RELEASE_BODY_MAX)
		rc = 0;
	if (rc == 0)
		rc = notes_shorten(strbuf_str(&full), RELEASE_BODY_MAX,
				   url[0] ? url : NULL, &cut);
	if (rc == 0 && !(c->notes = strbuf_detach(&cut)))
		c->notes = strdup("No changes.\n");
	if (rc == 0 && !c->notes)
		rc = ST_ENOMEM;
	if (rc)
		rc = st_error_set(err, rc, "release notes: %s",
				  rc == ST_ENOMEM ? "out of memory"
						  : "too long");
	strbuf_release(&full);
	strbuf_release(&cut);
	notes_mrs_release(m, c->n_mrs);
	return rc;
}

/* The notes of release v whose history ends at head (its release commit
 * or the commit it is made on); prev NULL: found from the known releases. */
static int content_get(struct engine *e, const struct semver_ver *v,
		       const struct gitrepo_oid *head,
		       const struct known_release *prev, bool find_prev,
		       const struct content **out, struct st_error *err)
{
	struct content_cache *cc = e->content;
	struct content c = { .v = *v }, *grown;
	int rc;

	if (!cc && !(cc = e->content = calloc(1, sizeof(*cc))))
		return st_error_set(err, ST_ENOMEM, "out of memory");
	for (size_t i = 0; i < cc->n; i++)
		if (semver_ver_compare(&cc->v[i].v, v) == 0) {
			*out = &cc->v[i];
			return ST_OK;
		}
	if (find_prev)
		prev = previous(e, v, head);
	rc = release_mrs(e, head, prev, &c, err);
	if (rc == 0)
		rc = render(e, &c, prev, err);
	if (rc == 0 && !(grown = realloc(cc->v, (cc->n + 1) * sizeof(*grown))))
		rc = st_error_set(err, ST_ENOMEM, "out of memory");
	if (rc) {
		free(c.mrs);
		free(c.notes);
		return rc;
	}
	cc->v = grown;
	cc->v[cc->n] = c;
	*out = &cc->v[cc->n++];
	return ST_OK;
}

/* ---- the changelog ------------------------------------------------------ */

/* The changelog at base with release v's section (date: the committer
 * time of release, the release commit or, before it exists, its parent,
 * whose time it takes: every runner writes the same bytes).
 * *file stays unset (path NULL) when base already has the section. */
static int changelog_file(struct engine *e, const struct gitrepo_oid *base,
			  const struct gitrepo_oid *release,
			  const struct semver_ver *v, const char *notes,
			  struct strbuf *text, struct gitrepo_file *file,
			  struct st_error *err)
{
	const char *path = e->o->cfg->changelog_file;
	struct strbuf cur;
	char date[16];
	int64_t t = 0;
	bool changed = false;
	int rc;

	memset(file, 0, sizeof(*file));
	strbuf_init(&cur, CHANGELOG_MAX_BYTES);
	rc = gitrepo_file_at(e->repo, base, path, &cur, err);
	if (rc == ST_ENOTFOUND) {
		st_error_clear(err);
		rc = 0;
	}
	if (rc == 0)
		rc = gitrepo_commit_time(e->repo, release, &t, err);
	if (rc == 0) {
		changelog_date(t, date, sizeof(date));
		rc = changelog_insert(strbuf_str(&cur), cur.len, v, date, notes,
				      text, &changed);
		if (rc)
			rc = st_error_set(err, rc, "%s: %s", path,
					  rc == ST_ETOOBIG ? "larger than 16 MiB"
							   : "out of memory");
	}
	if (rc == 0 && changed)
		*file = (struct gitrepo_file){ path, strbuf_str(text),
					       text->len };
	strbuf_release(&cur);
	return rc;
}

static void report_notes(struct release_branch_report *br, const char *notes)
{
	if (br && !br->notes)
		br->notes = strdup(notes);
}

int engine_release_commit(struct engine *e, struct release_branch_report *br,
			  const struct gitrepo_oid *head, const char *version,
			  struct gitrepo_oid *out, bool *made,
			  struct st_error *err)
{
	const struct policy_branch *pb = &br->plan.branch;
	const struct known_release *prev = NULL;
	const struct content *c = NULL;
	struct gitrepo_file file = { 0 };
	struct strbuf text;
	int rc = 0;

	for (size_t i = 0; pb->has_latest && i < e->n_known; i++)
		if (semver_ver_compare(&e->known[i].v, &pb->latest) == 0)
			prev = &e->known[i];
	/* always: the notes also go to the report (--dotenv, --json) */
	rc = content_get(e, &br->plan.next, head, prev, false, &c, err);
	if (rc == 0)
		report_notes(br, c->notes);
	/* SPEC §6: a head whose files already hold the version is tagged
	 * itself; its changelog section then comes with the prep commit. */
	if (rc == 0)
		rc = gitrepo_version_commit(e->repo, head, &e->spec, version,
					    &e->who, NULL, out, made, err);
	if (rc || !*made || !engine_changelog_on(e))
		return rc;
	strbuf_init(&text, 2 * CHANGELOG_MAX_BYTES);
	rc = changelog_file(e, head, head, &br->plan.next, c->notes, &text,
			    &file, err);
	if (rc == 0)
		rc = gitrepo_release_commit(e->repo, head, &e->spec, version,
					    &e->who, NULL, &file,
					    file.path ? 1 : 0, out, made, err);
	strbuf_release(&text);
	return rc;
}

/* Release k's tag is one this tool made (or k was tagged this run). */
static bool made_by_tool(struct engine *e, const struct known_release *k)
{
	char tag[POLICY_NAME_MAX];
	const struct gitrepo_tag *t;
	struct st_error err;
	bool ours = false;

	if (k->fresh)
		return true;
	tag_name(e, &k->v, tag, sizeof(tag));
	t = gitrepo_tags_find(&e->tags, tag);
	st_error_clear(&err);
	return !t || (gitrepo_tag_made_by(e->repo, &t->object, &e->who, &ours,
					  &err) == 0 && ours);
}

bool engine_changelog_missing(struct engine *e, const struct gitrepo_oid *head,
			      const struct known_release *k)
{
	struct strbuf cur;
	struct st_error err;
	bool missing;
	int rc;

	if (!engine_changelog_on(e) || !made_by_tool(e, k))
		return false;
	strbuf_init(&cur, CHANGELOG_MAX_BYTES);
	st_error_clear(&err);
	rc = gitrepo_file_at(e->repo, head, e->o->cfg->changelog_file, &cur,
			     &err);
	/* unreadable (too big): the commit would fail the same way; let
	 * the version alone decide */
	missing = (rc == 0 || rc == ST_ENOTFOUND) &&
		  !changelog_has(strbuf_str(&cur), rc ? 0 : cur.len, &k->v);
	strbuf_release(&cur);
	return missing;
}

int engine_prep_commit(struct engine *e, const struct gitrepo_oid *head,
		       const struct known_release *k, const char *version,
		       const char *msg, struct gitrepo_oid *out, bool *made,
		       struct st_error *err)
{
	static const struct versionfile_spec none = { VERSIONFILE_SIMPLE, NULL };
	struct gitrepo_file file = { 0 };
	const struct content *c = NULL;
	struct strbuf text;
	int rc = 0;

	strbuf_init(&text, 2 * CHANGELOG_MAX_BYTES);
	/* read first: a branch that has the section costs no notes */
	if (engine_changelog_missing(e, head, k))
		rc = content_get(e, &k->v, &k->commit, NULL, true, &c, err);
	if (rc == 0 && c)
		rc = changelog_file(e, head, &k->commit, &k->v, c->notes, &text,
				    &file, err);
	if (rc == 0)
		rc = gitrepo_release_commit(e->repo, head,
					    version ? &e->spec : &none,
					    version ? version : "", &e->who,
					    msg, &file, file.path ? 1 : 0, out,
					    made, err);
	strbuf_release(&text);
	return rc;
}

/* ---- goal 4: "released in" notes, then the release object --------------- */

static int state_file(const struct engine *e, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", e->o->state_dir, CONTENT_STATE);

	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Is "<version>\n" a line of the state file? Unreadable: no (one more
 * GET, never a skipped goal that was not done). */
static bool state_done(const struct engine *e, const char *version)
{
	char path[4096], buf[CONTENT_STATE_MAX + 2], line[SEMVER_VER_STR_MAX + 2];
	size_t n;
	FILE *f;

	if (state_file(e, path, sizeof(path)) != 0 || !(f = fopen(path, "r")))
		return false;
	buf[0] = '\n';
	n = fread(buf + 1, 1, CONTENT_STATE_MAX, f);
	fclose(f);
	buf[n + 1] = '\0';
	snprintf(line, sizeof(line), "\n%s\n", version);
	return strstr(buf, line) != NULL;
}

/* Append a finished version; a file grown past its cap starts over (it
 * is only a saving: a version missing from it costs one request). */
static void state_record(struct engine *e, const char *version)
{
	char path[4096];
	struct stat st;
	FILE *f;

	if (state_file(e, path, sizeof(path)) != 0)
		return;
	f = fopen(path, stat(path, &st) == 0 && st.st_size > (off_t)
		  (CONTENT_STATE_MAX - 128) ? "w" : "a");
	if (!f || fprintf(f, "%s\n", version) < 0 || fclose(f) != 0)
		engine_warn(e, "%s: %s (release %s will be checked again)",
			    path, strerror(errno), version);
}

/* Post "Released in V" on each MR of the release: one note each, found
 * again by its marker after a crash. A note that cannot go out for good
 * (MR gone, locked) is a warning; a temporary failure stops here and
 * leaves the release object for the next run. */
static int released_notes(struct engine *e, const struct content *c,
			  const char *version, const char *tag)
{
	char marker[96], body[2600];
	bool first = true;

	snprintf(marker, sizeof(marker), "semver-tagger:released:%s", version);
	if (e->project.web_url && strlen(e->project.web_url) < 2000)
		snprintf(body, sizeof(body), "This merge request was released "
			 "in [%s](%s/-/releases/%s).", version,
			 e->project.web_url, tag);
	else
		snprintf(body, sizeof(body), "This merge request was released "
			 "in %s.", version);
	for (size_t i = 0; i < c->n_mrs; i++) {
		const struct forge_mr *mr = &e->mrs.items[c->mrs[i]];
		struct forge_note note = { mr->iid, marker, body };
		enum forge_outcome out;
		struct st_error err;
		int rc;

		st_error_clear(&err);
		rc = forge_post_note(e->forge, &note, &out, &err);
		if (rc == ST_ETEMP || rc == ST_EAUTH) {
			engine_warn(e, "release %s: \"released in\" note on MR "
				    "!%lld not posted: %s", version,
				    (long long)mr->iid, err.msg);
			return rc;
		}
		if (rc)
			engine_warn(e, "release %s: no \"released in\" note on "
				    "MR !%lld: %s", version, (long long)mr->iid,
				    err.msg);
		else if (out == FORGE_CREATED)
			e->rep->released_notes++;
		if (first)
			engine_failpoint(e, "after-first-released-note");
		first = false;
	}
	return ST_OK;
}

static int release_object(struct engine *e, const struct content *c,
			  const char *tag)
{
	struct forge_release rel = { .tag = tag, .description = c->notes };
	enum forge_outcome out;
	struct st_error err;

	st_error_clear(&err);
	if (forge_create_release(e->forge, &rel, &out, &err) != 0) {
		engine_warn(e, "release object for %s not created: %s", tag,
			    err.msg);
		return err.code ? err.code : ST_ETEMP;
	}
	if (out == FORGE_CREATED)
		e->rep->release_objects++;
	return ST_OK;
}

/* Are the notes this release's to post? Only on tags the tool made: a
 * project adopting the tool does not get notes on every MR of its old
 * releases. */
static bool notes_wanted(struct engine *e, const char *tag)
{
	const struct gitrepo_tag *t = gitrepo_tags_find(&e->tags, tag);
	struct st_error err;
	bool ours = false;

	if (!e->o->cfg->released_notes)
		return false;
	if (!t)
		return true; /* tagged by this run: not in the listing yet */
	st_error_clear(&err);
	return gitrepo_tag_made_by(e->repo, &t->object, &e->who, &ours,
				   &err) == 0 && ours;
}

void engine_content_goal(struct engine *e, const struct semver_ver *v,
			 const struct gitrepo_oid *commit)
{
	const struct config_project *cfg = e->o->cfg;
	char version[SEMVER_VER_STR_MAX], tag[POLICY_NAME_MAX];
	const struct content *c = NULL;
	struct st_error err;
	bool exists = false, notes;
	int rc = 0;

	semver_ver_format(v, version, sizeof(version));
	tag_name(e, v, tag, sizeof(tag));
	notes = notes_wanted(e, tag);
	if (e->o->dry_run || (!cfg->releases && !notes) ||
	    state_done(e, version))
		return;
	st_error_clear(&err);
	if (cfg->releases)
		rc = forge_release_exists(e->forge, tag, &exists, &err);
	if (rc == 0 && !exists)
		rc = content_get(e, v, commit, NULL, true, &c, &err);
	if (rc) {
		engine_warn(e, "release %s: %s", tag, err.msg);
		return;
	}
	if (!exists && notes)
		rc = released_notes(e, c, version, tag);
	if (rc == 0 && !exists && cfg->releases)
		rc = release_object(e, c, tag);
	if (rc == 0)
		state_record(e, version);
}
