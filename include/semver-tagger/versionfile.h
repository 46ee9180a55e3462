/* SPDX-License-Identifier: MIT */
/*
 * Version files (SPEC §6): which files of a project carry its version, and
 * how to read and rewrite them byte-exactly.
 *
 * This module knows nothing about git: files are read through a callback
 * (gitrepo supplies one that reads blobs from a commit's tree), and
 * rewrites come back as (path, new content) pairs that the caller turns
 * into a tree. That keeps the text rules testable on plain buffers.
 *
 *   simple        no file; the tag points at the branch head
 *   version-file  one file (default "VERSION") holding the version on one
 *                 line; surrounding whitespace is ignored when reading
 *   maven         the project's own <version> (a direct child of <project>)
 *                 in the root pom and in every module pom reached through
 *                 <modules>; parent, dependency and plugin versions and
 *                 every other byte stay as they are
 */
#ifndef SEMVER_TAGGER_VERSIONFILE_H
#define SEMVER_TAGGER_VERSIONFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "semver-tagger/error.h"
#include "semver-tagger/strbuf.h"

enum versionfile_kind {
	VERSIONFILE_SIMPLE = 0, /* "simple": nothing to write */
	VERSIONFILE_PLAIN,      /* "version-file" */
	VERSIONFILE_MAVEN,      /* "maven" */
};

/* Largest version file read (a pom is rarely above a few hundred KiB). */
#define VERSIONFILE_MAX_BYTES (16u * 1024u * 1024u)
/* Most poms followed through <modules> (guards against module loops). */
#define VERSIONFILE_MAX_POMS 1000u
/* Longest repository path handled. */
#define VERSIONFILE_PATH_MAX 4096u

/* Which files carry the version. path NULL means the kind's default
 * ("VERSION", "pom.xml"); it is relative to the repository root. */
struct versionfile_spec {
	enum versionfile_kind kind;
	const char *path;
};

/* "simple", "version-file", "maven" -> kind; ST_ECONFIG otherwise. */
int versionfile_kind_parse(const char *name, enum versionfile_kind *out);

/* The root file's path for spec (its path, or the kind's default);
 * NULL for simple. */
const char *versionfile_root_path(const struct versionfile_spec *spec);

/*
 * Read a file of the project. Return 0 and fill content (capped at
 * VERSIONFILE_MAX_BYTES), ST_ENOTFOUND when the path does not exist, or
 * another ST_E* with err set.
 */
typedef int (*versionfile_read_fn)(void *ctx, const char *path,
				   struct strbuf *content,
				   struct st_error *err);

/* One managed file: its path and the content it would have. */
struct versionfile_change {
	char *path;          /* repository path, owned */
	struct strbuf content; /* new content (== old when !changed) */
	bool changed;        /* content differs from the file's current bytes */
	bool created;        /* the file did not exist (version-file only) */
};

struct versionfile_changes {
	struct versionfile_change *v; /* root file first, then modules */
	size_t n;
};

void versionfile_changes_init(struct versionfile_changes *c);
void versionfile_changes_release(struct versionfile_changes *c);

/* Does any file change? */
bool versionfile_changes_any(const struct versionfile_changes *c);

/*
 * Compute what writing version into the project means: every managed file
 * with its new content. A file that already holds version (ignoring
 * surrounding whitespace) is listed with changed = false. For simple, out
 * stays empty. Errors name the file and line (ST_EINVAL), ST_ENOTFOUND
 * when the root pom is missing; out is set only on success.
 */
int versionfile_plan(const struct versionfile_spec *spec, const char *version,
		     versionfile_read_fn read, void *ctx,
		     struct versionfile_changes *out, struct st_error *err);

/*
 * The project's current version (the root file's): trimmed VERSION
 * content, or the root pom's own <version>. ST_ENOTFOUND when the file is
 * missing; ST_EINVAL for simple.
 */
int versionfile_current(const struct versionfile_spec *spec,
			versionfile_read_fn read, void *ctx, struct strbuf *out,
			struct st_error *err);

/*
 * Rewrite one managed file's bytes (a VERSION file or a pom) to hold
 * version; path names the file in errors and picks nothing else. Used to
 * normalise the sides of a merge conflict. out is replaced on success.
 */
int versionfile_rewrite(enum versionfile_kind kind, const char *path,
			const char *buf, size_t len, const char *version,
			struct strbuf *out, struct st_error *err);

/* ---- text level (exposed for tests and for reading a single file) ---- */

/*
 * A VERSION file's version: the content without surrounding whitespace,
 * which must be a single line. ST_EINVAL naming path:line otherwise.
 */
int versionfile_plain_get(const char *path, const char *buf, size_t len,
			  struct strbuf *out, struct st_error *err);

/* What one scan of a pom found. Offsets index the scanned buffer. */
struct versionfile_pom {
	size_t version_start, version_end; /* trimmed text of project <version> */
	size_t version_line;               /* 1-based */
	size_t project_line;               /* line of the <project> start tag */
	char **modules;                    /* <modules>/<module> texts, trimmed */
	size_t *module_lines;
	size_t nmodules;
};

void versionfile_pom_release(struct versionfile_pom *pom);

/*
 * Scan a pom: the root element must be <project>; its own <version> (a
 * direct child) must exist and hold plain text (no markup, no ${...}
 * property). Comments, CDATA, processing instructions and DOCTYPE are
 * skipped. Errors name path:line.
 */
int versionfile_pom_scan(const char *path, const char *buf, size_t len,
			 struct versionfile_pom *out, struct st_error *err);

/*
 * Resolve a <module> entry of the pom at pom_path to the module's pom path
 * ("a/pom.xml" + "../b" -> "b/pom.xml"; a module naming a .xml file is
 * that file). ST_EINVAL when it leaves the repository.
 */
int versionfile_module_path(const char *pom_path, const char *module,
			    struct strbuf *out);

#endif
