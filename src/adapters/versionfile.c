/* SPDX-License-Identifier: MIT */
/*
 * Version files: VERSION (one line) and Maven poms reached through
 * <modules>. Pure text work over a read callback; see versionfile.h.
 */
#include "semver-tagger/versionfile.h"

#include <stdlib.h>
#include <string.h>

int versionfile_kind_parse(const char *name, enum versionfile_kind *out)
{
	if (strcmp(name, "simple") == 0)
		*out = VERSIONFILE_SIMPLE;
	else if (strcmp(name, "version-file") == 0)
		*out = VERSIONFILE_PLAIN;
	else if (strcmp(name, "maven") == 0)
		*out = VERSIONFILE_MAVEN;
	else
		return ST_ECONFIG;
	return 0;
}

const char *versionfile_root_path(const struct versionfile_spec *spec)
{
	switch (spec->kind) {
	case VERSIONFILE_PLAIN:
		return spec->path && *spec->path ? spec->path : "VERSION";
	case VERSIONFILE_MAVEN:
		return spec->path && *spec->path ? spec->path : "pom.xml";
	case VERSIONFILE_SIMPLE:
	default:
		return NULL;
	}
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	       c == '\v';
}

int versionfile_plain_get(const char *path, const char *buf, size_t len,
			  struct strbuf *out, struct st_error *err)
{
	size_t start = 0, end = len, line = 1;

	while (start < end && is_space(buf[start])) {
		if (buf[start] == '\n')
			line++;
		start++;
	}
	while (end > start && is_space(buf[end - 1]))
		end--;
	for (size_t i = start; i < end; i++) {
		if (buf[i] == '\n')
			return st_error_set(err, ST_EINVAL,
					    "%s:%zu: more than one line; a version file holds only the version",
					    path, line + 1);
		if (buf[i] == '\0')
			return st_error_set(err, ST_EINVAL, "%s:%zu: NUL byte",
					    path, line);
	}
	strbuf_reset(out);
	if (strbuf_add(out, buf + start, end - start))
		return st_error_set(err, ST_ETOOBIG, "%s: version too long",
				    path);
	return 0;
}

/* The bytes a VERSION file holding version has: the version and a newline. */
static int plain_rewrite(const char *path, const char *buf, size_t len,
			 const char *version, struct strbuf *out, bool *changed,
			 struct st_error *err)
{
	struct strbuf cur;
	int rc;

	strbuf_init(&cur, VERSIONFILE_MAX_BYTES);
	rc = buf ? versionfile_plain_get(path, buf, len, &cur, err) : 0;
	if (rc == 0) {
		/* already holds it: keep every byte, whitespace included */
		*changed = !buf || strcmp(strbuf_str(&cur), version) != 0;
		strbuf_reset(out);
		rc = *changed ? strbuf_addf(out, "%s\n", version)
			      : strbuf_add(out, buf, len);
		if (rc)
			rc = st_error_set(err, rc, "%s: too large", path);
	}
	strbuf_release(&cur);
	return rc;
}

static int pom_rewrite(const struct versionfile_pom *pom, const char *path,
		       const char *buf, size_t len, const char *version,
		       struct strbuf *out, bool *changed, struct st_error *err)
{
	size_t s = pom->version_start, e = pom->version_end;
	int rc;

	*changed = strlen(version) != e - s ||
		   memcmp(buf + s, version, e - s) != 0;
	strbuf_reset(out);
	rc = strbuf_add(out, buf, s);
	if (!rc)
		rc = strbuf_adds(out, *changed ? version : "");
	if (!rc && !*changed)
		rc = strbuf_add(out, buf + s, e - s);
	if (!rc)
		rc = strbuf_add(out, buf + e, len - e);
	if (rc)
		return st_error_set(err, rc, "%s: rewritten pom too large",
				    path);
	return 0;
}

int versionfile_rewrite(enum versionfile_kind kind, const char *path,
			const char *buf, size_t len, const char *version,
			struct strbuf *out, struct st_error *err)
{
	struct versionfile_pom pom;
	bool changed;
	int rc;

	if (kind == VERSIONFILE_PLAIN)
		return plain_rewrite(path, buf, len, version, out, &changed,
				     err);
	if (kind != VERSIONFILE_MAVEN)
		return st_error_set(err, ST_EINVAL,
				    "%s: not a managed version file", path);
	rc = versionfile_pom_scan(path, buf, len, &pom, err);
	if (rc)
		return rc;
	rc = pom_rewrite(&pom, path, buf, len, version, out, &changed, err);
	versionfile_pom_release(&pom);
	return rc;
}

/* Append a normalised "a/b" component list; ".." pops, "." and "" vanish. */
static int push_components(struct strbuf *acc, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && p[j] != '/' && p[j] != '\\')
			j++;
		if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
			char *slash;

			if (acc->len == 0)
				return ST_EINVAL; /* leaves the repository */
			slash = strrchr(acc->buf, '/');
			acc->len = slash ? (size_t)(slash - acc->buf) : 0;
			acc->buf[acc->len] = '\0';
		} else if (j > i && !(j - i == 1 && p[i] == '.')) {
			if ((acc->len && strbuf_add(acc, "/", 1)) ||
			    strbuf_add(acc, p + i, j - i))
				return ST_ETOOBIG;
		}
		i = j + 1;
	}
	return 0;
}

int versionfile_module_path(const char *pom_path, const char *module,
			    struct strbuf *out)
{
	const char *slash = strrchr(pom_path, '/');
	size_t mlen = strlen(module);
	int rc;

	strbuf_reset(out);
	if (module[0] == '/' || module[0] == '\\' || strchr(module, ':'))
		return ST_EINVAL; /* absolute paths point outside the repo */
	rc = slash ? push_components(out, pom_path,
				     (size_t)(slash - pom_path))
		   : 0;
	if (!rc)
		rc = push_components(out, module, mlen);
	if (rc)
		return rc;
	if (mlen >= 4 && strcmp(module + mlen - 4, ".xml") == 0)
		return out->len ? 0 : ST_EINVAL;
	if ((out->len && strbuf_add(out, "/", 1)) ||
	    strbuf_adds(out, "pom.xml"))
		return ST_ETOOBIG;
	return 0;
}
