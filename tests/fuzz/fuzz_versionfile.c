/* SPDX-License-Identifier: MIT */
/*
 * Version files (src/adapters/versionfile*.c): VERSION and pom.xml
 * scanning and byte-exact rewriting. Byte 0 picks the mode:
 *   0  one VERSION file          1  one pom
 *   2  a Maven project           3  a version-file project
 * For 2 and 3 the rest is files separated by NUL bytes: the first is the
 * root file, each other one is "path\ncontent".
 * Properties:
 *  - rewriting to V then reading gives V; rewriting to the version the
 *    file already holds changes no byte;
 *  - a pom rewrite changes only the bytes of the project's own <version>
 *    (same prefix and suffix, same modules when scanned again);
 *  - module paths never leave the repository (no "..", not absolute);
 *  - a plan lists the root first, no path twice, each file holding V,
 *    `changed` exactly when the bytes differ.
 */
#include "fuzz.h"

#include "semver-tagger/versionfile.h"

#include <string.h>

#define NEW_VERSION "9.8.7-SNAPSHOT"
#define MAX_FILES 32

struct files {
	const char *path[MAX_FILES];
	size_t plen[MAX_FILES];
	const char *body[MAX_FILES];
	size_t blen[MAX_FILES];
	size_t n;
};

static void check_plain(const char *buf, size_t len)
{
	struct strbuf cur, out, again;
	struct st_error err;

	strbuf_init(&cur, VERSIONFILE_MAX_BYTES);
	strbuf_init(&out, VERSIONFILE_MAX_BYTES);
	strbuf_init(&again, VERSIONFILE_MAX_BYTES);
	st_error_clear(&err);
	if (versionfile_rewrite(VERSIONFILE_PLAIN, "VERSION", buf, len,
				NEW_VERSION, &out, &err) == 0) {
		FUZZ_ASSERT(versionfile_plain_get("VERSION", strbuf_str(&out),
						  out.len, &again, &err) == 0);
		FUZZ_ASSERT(strcmp(strbuf_str(&again), NEW_VERSION) == 0);
	}
	st_error_clear(&err);
	if (versionfile_plain_get("VERSION", buf, len, &cur, &err) == 0 &&
	    cur.len > 0 && !memchr(strbuf_str(&cur), '\0', cur.len)) {
		st_error_clear(&err);
		FUZZ_ASSERT(versionfile_rewrite(VERSIONFILE_PLAIN, "VERSION",
						buf, len, strbuf_str(&cur),
						&out, &err) == 0);
		FUZZ_ASSERT(out.len == len && memcmp(out.buf, buf, len) == 0);
	}
	strbuf_release(&cur);
	strbuf_release(&out);
	strbuf_release(&again);
}

static void check_module_path(const char *pom_path, const char *module)
{
	struct strbuf mp;

	strbuf_init(&mp, VERSIONFILE_PATH_MAX);
	if (versionfile_module_path(pom_path, module, &mp) == 0) {
		const char *p = strbuf_str(&mp);

		FUZZ_ASSERT(mp.len > 0 && p[0] != '/');
		FUZZ_ASSERT(strcmp(p, "..") != 0 && strncmp(p, "../", 3) != 0);
		FUZZ_ASSERT(!strstr(p, "/../") && !strstr(p, "//"));
		FUZZ_ASSERT(mp.len < 3 || strcmp(p + mp.len - 3, "/..") != 0);
	}
	strbuf_release(&mp);
}

static void check_pom(const char *path, const char *buf, size_t len)
{
	struct versionfile_pom pom, again;
	struct strbuf out, same;
	struct st_error err;
	size_t s, e;

	st_error_clear(&err);
	memset(&pom, 0, sizeof(pom));
	if (versionfile_pom_scan(path, buf, len, &pom, &err) != 0) {
		FUZZ_ASSERT(err.code < 0 && strncmp(err.msg, path,
						    strlen(path)) == 0);
		return;
	}
	s = pom.version_start;
	e = pom.version_end;
	FUZZ_ASSERT(s <= e && e <= len);
	for (size_t m = 0; m < pom.nmodules; m++)
		check_module_path(path, pom.modules[m]);
	strbuf_init(&out, VERSIONFILE_MAX_BYTES);
	strbuf_init(&same, VERSIONFILE_MAX_BYTES);
	FUZZ_ASSERT(versionfile_rewrite(VERSIONFILE_MAVEN, path, buf, len,
					NEW_VERSION, &out, &err) == 0);
	FUZZ_ASSERT(out.len == len - (e - s) + strlen(NEW_VERSION));
	FUZZ_ASSERT(memcmp(out.buf, buf, s) == 0);
	FUZZ_ASSERT(memcmp(out.buf + s, NEW_VERSION, strlen(NEW_VERSION)) == 0);
	FUZZ_ASSERT(memcmp(out.buf + s + strlen(NEW_VERSION), buf + e,
			   len - e) == 0);
	memset(&again, 0, sizeof(again));
	FUZZ_ASSERT(versionfile_pom_scan(path, strbuf_str(&out), out.len,
					 &again, &err) == 0);
	FUZZ_ASSERT(again.version_start == s);
	FUZZ_ASSERT(again.version_end == s + strlen(NEW_VERSION));
	FUZZ_ASSERT(again.nmodules == pom.nmodules);
	for (size_t m = 0; m < pom.nmodules; m++)
		FUZZ_ASSERT(strcmp(again.modules[m], pom.modules[m]) == 0);
	versionfile_pom_release(&again);
	if (e > s && !memchr(buf + s, '\0', e - s)) {
		char *cur = strndup(buf + s, e - s);

		if (cur) {
			FUZZ_ASSERT(versionfile_rewrite(VERSIONFILE_MAVEN, path,
							buf, len, cur, &same,
							&err) == 0);
			FUZZ_ASSERT(same.len == len &&
				    memcmp(same.buf, buf, len) == 0);
			free(cur);
		}
	}
	strbuf_release(&out);
	strbuf_release(&same);
	versionfile_pom_release(&pom);
}

static int read_file(void *ctx, const char *path, struct strbuf *content,
		     struct st_error *err)
{
	const struct files *f = ctx;

	for (size_t i = 0; i < f->n; i++) {
		if (strlen(path) != f->plen[i] ||
		    memcmp(path, f->path[i], f->plen[i]) != 0)
			continue;
		strbuf_reset(content);
		if (strbuf_add(content, f->body[i], f->blen[i]))
			return st_error_set(err, ST_ETOOBIG, "%s: too big",
					    path);
		return 0;
	}
	return ST_ENOTFOUND;
}

static void split_files(const char *s, size_t n, const char *root,
			struct files *f)
{
	size_t start = 0;

	f->n = 0;
	for (size_t i = 0; i <= n && f->n < MAX_FILES; i++) {
		const char *seg, *nl;
		size_t len;

		if (i < n && s[i] != '\0')
			continue;
		seg = s + start;
		len = i - start;
		start = i + 1;
		if (f->n == 0) {
			f->path[0] = root;
			f->plen[0] = strlen(root);
			f->body[0] = seg;
			f->blen[0] = len;
			f->n = 1;
			continue;
		}
		nl = memchr(seg, '\n', len);
		if (!nl)
			continue;
		f->path[f->n] = seg;
		f->plen[f->n] = (size_t)(nl - seg);
		f->body[f->n] = nl + 1;
		f->blen[f->n] = len - (size_t)(nl + 1 - seg);
		f->n++;
	}
}

static void check_project(enum versionfile_kind kind, const char *s, size_t n)
{
	struct versionfile_spec spec = { kind, NULL };
	struct versionfile_changes c;
	struct strbuf cur, got, orig;
	struct st_error err;
	struct files f;

	split_files(s, n, versionfile_root_path(&spec), &f);
	st_error_clear(&err);
	strbuf_init(&cur, VERSIONFILE_MAX_BYTES);
	strbuf_init(&got, VERSIONFILE_MAX_BYTES);
	strbuf_init(&orig, VERSIONFILE_MAX_BYTES);
	(void)versionfile_current(&spec, read_file, &f, &cur, &err);
	st_error_clear(&err);
	versionfile_changes_init(&c);
	if (versionfile_plan(&spec, NEW_VERSION, read_file, &f, &c, &err) == 0) {
		FUZZ_ASSERT(c.n >= 1 && c.n <= VERSIONFILE_MAX_POMS);
		FUZZ_ASSERT(strcmp(c.v[0].path,
				   versionfile_root_path(&spec)) == 0);
		for (size_t i = 0; i < c.n; i++) {
			const struct versionfile_change *v = &c.v[i];
			int rr;

			for (size_t j = 0; j < i; j++)
				FUZZ_ASSERT(strcmp(c.v[j].path, v->path) != 0);
			rr = read_file(&f, v->path, &orig, &err);
			FUZZ_ASSERT(rr == 0 || (rr == ST_ENOTFOUND && v->created));
			if (rr == 0)
				FUZZ_ASSERT(v->changed !=
					    (orig.len == v->content.len &&
					     memcmp(orig.buf, v->content.buf,
						    orig.len) == 0));
			if (kind == VERSIONFILE_PLAIN) {
				FUZZ_ASSERT(versionfile_plain_get(
					v->path, strbuf_str(&v->content),
					v->content.len, &got, &err) == 0);
			} else {
				struct versionfile_pom pom;

				FUZZ_ASSERT(versionfile_pom_scan(
					v->path, strbuf_str(&v->content),
					v->content.len, &pom, &err) == 0);
				strbuf_reset(&got);
				strbuf_add(&got, v->content.buf +
					   pom.version_start,
					   pom.version_end - pom.version_start);
				versionfile_pom_release(&pom);
			}
			FUZZ_ASSERT(strcmp(strbuf_str(&got), NEW_VERSION) == 0);
		}
		versionfile_changes_release(&c);
	} else {
		FUZZ_ASSERT(err.code < 0 && err.msg[0]);
	}
	strbuf_release(&cur);
	strbuf_release(&got);
	strbuf_release(&orig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;

	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		check_plain(s, n);
		break;
	case 1:
		check_pom("pom.xml", s, n);
		break;
	case 2:
		check_project(VERSIONFILE_MAVEN, s, n);
		break;
	default:
		check_project(VERSIONFILE_PLAIN, s, n);
		break;
	}
	return 0;
}
