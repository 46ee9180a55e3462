/* SPDX-License-Identifier: MIT */
/*
 * Project level: which files a project's version lives in (VERSION, or the
 * root pom and every module pom reached through <modules>), and what each
 * looks like after writing a version.
 */
#include "semver-tagger/versionfile.h"

#include <stdlib.h>
#include <string.h>

void versionfile_changes_init(struct versionfile_changes *c)
{
	c->v = NULL;
	c->n = 0;
}

void versionfile_changes_release(struct versionfile_changes *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].path);
		strbuf_release(&c->v[i].content);
	}
	free(c->v);
	versionfile_changes_init(c);
}

bool versionfile_changes_any(const struct versionfile_changes *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].changed)
			return true;
	return false;
}

/* Where a module pom was named, for "module has no pom" errors. */
struct origin {
	size_t from;   /* index of the naming pom in the change list */
	size_t line;
	const char *module;
};

static int add_change(struct versionfile_changes *c, struct origin **orig,
		      const char *path, struct origin o, struct st_error *err)
{
	struct versionfile_change *v;
	struct origin *no;

	v = realloc(c->v, (c->n + 1) * sizeof(*v));
	if (!v)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	c->v = v;
	no = realloc(*orig, (c->n + 1) * sizeof(*no));
	if (!no)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	*orig = no;
	memset(&v[c->n], 0, sizeof(v[c->n]));
	v[c->n].path = strdup(path);
	if (!v[c->n].path)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	strbuf_init(&v[c->n].content, VERSIONFILE_MAX_BYTES);
	no[c->n] = o;
	c->n++;
	return 0;
}

static bool same_bytes(const struct strbuf *a, const struct strbuf *b)
{
	return a->len == b->len &&
	       memcmp(strbuf_str(a), strbuf_str(b), a->len) == 0;
}

static bool has_path(const struct versionfile_changes *c, const char *path)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].path, path) == 0)
			return true;
	return false;
}

/* Queue every module of the pom at index i not seen yet. */
static int queue_modules(struct versionfile_changes *c, struct origin **orig,
			 size_t i, const struct versionfile_pom *pom,
			 struct st_error *err)
{
	struct strbuf mp;
	int rc = 0;

	strbuf_init(&mp, VERSIONFILE_PATH_MAX);
	for (size_t m = 0; m < pom->nmodules && !rc; m++) {
		struct origin o = { i, pom->module_lines[m], NULL };

		if (versionfile_module_path(c->v[i].path, pom->modules[m],
					    &mp)) {
			rc = st_error_set(err, ST_EINVAL,
					  "%s:%zu: <module>%s</module> points outside the repository",
					  c->v[i].path, o.line, pom->modules[m]);
		} else if (!has_path(c, strbuf_str(&mp))) {
			if (c->n >= VERSIONFILE_MAX_POMS)
				rc = st_error_set(err, ST_ETOOBIG,
						  "%s: more than %u module poms",
						  c->v[0].path, VERSIONFILE_MAX_POMS);
			else
				rc = add_change(c, orig, strbuf_str(&mp), o, err);
		}
	}
	strbuf_release(&mp);
	return rc;
}

static int missing_pom(const struct versionfile_changes *c,
		       const struct origin *orig, size_t i,
		       struct st_error *err)
{
	if (i == 0)
		return st_error_set(err, ST_ENOTFOUND, "%s: not found",
				    c->v[0].path);
	return st_error_set(err, ST_EINVAL,
			    "%s:%zu: module pom %s does not exist",
			    c->v[orig[i].from].path, orig[i].line, c->v[i].path);
}

/* Rewrite the pom at index i; queue its modules. */
static int plan_pom(struct versionfile_changes *c, struct origin **orig,
		    size_t i, const char *version, versionfile_read_fn read,
		    void *ctx, struct st_error *err)
{
	struct versionfile_pom pom;
	struct strbuf cur;
	int rc;

	strbuf_init(&cur, VERSIONFILE_MAX_BYTES);
	rc = read(ctx, c->v[i].path, &cur, err);
	if (rc == ST_ENOTFOUND)
		rc = missing_pom(c, *orig, i, err);
	if (!rc)
		rc = versionfile_pom_scan(c->v[i].path, strbuf_str(&cur),
					  cur.len, &pom, err);
	if (rc) {
		strbuf_release(&cur);
		return rc;
	}
	rc = versionfile_rewrite(VERSIONFILE_MAVEN, c->v[i].path,
				 strbuf_str(&cur), cur.len, version,
				 &c->v[i].content, err);
	c->v[i].changed = !rc && !same_bytes(&c->v[i].content, &cur);
	if (!rc)
		rc = queue_modules(c, orig, i, &pom, err);
	versionfile_pom_release(&pom);
	strbuf_release(&cur);
	return rc;
}

static int plan_plain(struct versionfile_changes *c, const char *version,
		      versionfile_read_fn read, void *ctx,
		      struct st_error *err)
{
	struct versionfile_change *v = &c->v[0];
	struct strbuf cur;
	int rc;

	strbuf_init(&cur, VERSIONFILE_MAX_BYTES);
	rc = read(ctx, v->path, &cur, err);
	if (rc == ST_ENOTFOUND) {
		/* the first release of a version-file project writes it */
		v->created = true;
		v->changed = true;
		rc = strbuf_addf(&v->content, "%s\n", version);
	} else if (rc == 0) {
		rc = versionfile_rewrite(VERSIONFILE_PLAIN, v->path,
					 strbuf_str(&cur), cur.len, version,
					 &v->content, err);
		v->changed = !rc && !same_bytes(&v->content, &cur);
	}
	strbuf_release(&cur);
	return rc;
}

static int check_version_text(const char *version, struct st_error *err)
{
	for (const char *p = version; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '&' ||
		    *p == '>')
			return st_error_set(err, ST_EINVAL,
					    "version '%s' contains a character that cannot go into a version file",
					    version);
	return *version ? 0 : st_error_set(err, ST_EINVAL, "empty version");
}

int versionfile_plan(const struct versionfile_spec *spec, const char *version,
		     versionfile_read_fn read, void *ctx,
		     struct versionfile_changes *out, struct st_error *err)
{
	struct versionfile_changes c;
	struct origin *orig = NULL, none = { 0, 0, NULL };
	const char *root = versionfile_root_path(spec);
	int rc;

	versionfile_changes_init(&c);
	if (!root) {
		*out = c;
		return 0;
	}
	rc = check_version_text(version, err);
	if (!rc)
		rc = add_change(&c, &orig, root, none, err);
	if (!rc && spec->kind == VERSIONFILE_PLAIN)
		rc = plan_plain(&c, version, read, ctx, err);
	for (size_t i = 0; !rc && spec->kind == VERSIONFILE_MAVEN && i < c.n;
	     i++)
		rc = plan_pom(&c, &orig, i, version, read, ctx, err);
	free(orig);
	if (rc) {
		versionfile_changes_release(&c);
		return rc;
	}
	*out = c;
	return 0;
}

static int pom_version(const char *path, const struct strbuf *cur,
		       struct strbuf *out, struct st_error *err)
{
	struct versionfile_pom pom;
	int rc;

	rc = versionfile_pom_scan(path, strbuf_str(cur), cur->len, &pom, err);
	if (rc)
		return rc;
	strbuf_reset(out);
	if (strbuf_add(out, cur->buf + pom.version_start,
		       pom.version_end - pom.version_start))
		rc = st_error_set(err, ST_ETOOBIG, "%s: version too long", path);
	versionfile_pom_release(&pom);
	return rc;
}

int versionfile_current(const struct versionfile_spec *spec,
			versionfile_read_fn read, void *ctx, struct strbuf *out,
			struct st_error *err)
{
	const char *root = versionfile_root_path(spec);
	struct strbuf cur;
	int rc;

	if (!root)
		return st_error_set(err, ST_EINVAL,
				    "a simple project has no version file");
	strbuf_init(&cur, VERSIONFILE_MAX_BYTES);
	rc = read(ctx, root, &cur, err);
	if (rc == ST_ENOTFOUND)
		rc = st_error_set(err, ST_ENOTFOUND, "%s: not found", root);
	if (!rc && spec->kind == VERSIONFILE_PLAIN)
		rc = versionfile_plain_get(root, strbuf_str(&cur), cur.len, out,
					   err);
	else if (!rc)
		rc = pom_version(root, &cur, out, err);
	strbuf_release(&cur);
	return rc;
}
