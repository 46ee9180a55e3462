/* SPDX-License-Identifier: MIT */
/*
 * The pom scanner (versionfile_pom_scan, src/adapters/versionfile_pom.c)
 * on any bytes (issue 14). Properties: on success the project <version>
 * is a non-empty range inside the input with no markup or '$', its line
 * and the <project> line and every <module>'s line agree with a plain
 * count of newlines (the scanner keeps a forward cursor instead, which
 * made it linear; each module's text starts on its line), modules are non-empty and carry no surrounding
 * whitespace; on failure the message names the path and a line
 * ("pom.xml:N: ..." or "pom.xml: ...").
 */
#include "fuzz.h"

#include "semver-tagger/versionfile.h"

#include <string.h>

static size_t line_of(const uint8_t *d, size_t off)
{
	size_t line = 1;

	for (size_t i = 0; i < off; i++)
		line += d[i] == '\n';
	return line;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Does a copy of text start on line `line` of d? */
static int starts_on_line(const uint8_t *d, size_t size, size_t line,
			  const char *text, size_t n)
{
	size_t off = 0, l = 1;

	while (l < line && off < size)
		l += d[off++] == '\n';
	for (; off < size && d[off] != '\n'; off++)
		if (size - off >= n && memcmp(d + off, text, n) == 0)
			return 1;
	return 0;
}

static void check_ok(const uint8_t *d, size_t size,
		     const struct versionfile_pom *p)
{
	const char *v = (const char *)d + p->version_start;
	size_t vn = p->version_end - p->version_start, last_line = 0;

	FUZZ_ASSERT(p->version_start < p->version_end);
	FUZZ_ASSERT(p->version_end <= size);
	FUZZ_ASSERT(!memchr(v, '$', vn) && !memchr(v, '<', vn));
	FUZZ_ASSERT(!is_ws(v[0]) && !is_ws(v[vn - 1]));
	FUZZ_ASSERT(p->version_line == line_of(d, p->version_start));
	FUZZ_ASSERT(p->project_line >= 1 &&
		    p->project_line <= p->version_line);
	for (size_t i = 0; i < p->nmodules; i++) {
		size_t n = strlen(p->modules[i]);

		FUZZ_ASSERT(n > 0 && !is_ws(p->modules[i][0]) &&
			    !is_ws(p->modules[i][n - 1]));
		/* in document order, within the file */
		FUZZ_ASSERT(p->module_lines[i] >= last_line);
		FUZZ_ASSERT(p->module_lines[i] <= line_of(d, size));
		FUZZ_ASSERT(p->module_lines[i] >= p->project_line);
		last_line = p->module_lines[i];
		/* the text starts on the line the scanner names (a plain
		 * newline count; the scanner keeps a cursor) */
		FUZZ_ASSERT(starts_on_line(d, size, p->module_lines[i],
					   p->modules[i], n));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct versionfile_pom p;
	struct st_error err;
	int rc;

	if (size > (64u << 10)) /* the line check is quadratic */
		return 0;
	st_error_clear(&err);
	memset(&p, 0, sizeof(p));
	rc = versionfile_pom_scan("pom.xml", (const char *)data, size, &p,
				  &err);
	if (rc == 0) {
		check_ok(data, size, &p);
		versionfile_pom_release(&p);
	} else {
		FUZZ_ASSERT(rc == ST_EINVAL || rc == ST_ENOMEM);
		FUZZ_ASSERT(strncmp(err.msg, "pom.xml:", 8) == 0 ||
			    strncmp(err.msg, "pom.xml: ", 9) == 0);
	}
	return 0;
}
