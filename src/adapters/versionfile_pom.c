/* SPDX-License-Identifier: MIT */
/*
 * A small XML scanner for Maven poms: just enough structure (element
 * nesting, comments, CDATA, processing instructions, DOCTYPE, quoted
 * attributes) to find the project's own <version> and its <modules>, and
 * to report byte offsets so a rewrite changes those bytes and no other.
 * A full XML parser would re-serialise the document; this never does.
 */
#include "semver-tagger/versionfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define POM_MAX_DEPTH 256

struct pom_scan {
	const char *path;
	const char *buf;
	size_t len;
	size_t pos;
	struct st_error *err;
	/* element stack: names point into buf */
	const char *name[POM_MAX_DEPTH];
	size_t name_len[POM_MAX_DEPTH];
	size_t depth;
	/* the element whose text we are collecting (version or module) */
	int capture;          /* 0 none, 1 project version, 2 module */
	size_t capture_start; /* offset after its start tag */
	size_t capture_depth;
	bool capture_markup;  /* a tag, comment or CDATA inside it */
	bool have_version;
	struct versionfile_pom *out;
	size_t modules_cap;   /* allocated entries of out->modules */
	/* line numbers: a cursor that only moves forward as the scan does
	 * (counting from the start for each <module> was quadratic: a
	 * hostile pom with 40k modules cost 19 s) */
	size_t line_off, line_no;
};

static size_t line_at(struct pom_scan *s, size_t off)
{
	const char *nl;

	if (off < s->line_off) { /* an error pointing back: rare */
		s->line_off = 0;
		s->line_no = 1;
	}
	while ((nl = memchr(s->buf + s->line_off, '\n', off - s->line_off))) {
		s->line_no++;
		s->line_off = (size_t)(nl - s->buf) + 1;
	}
	s->line_off = off;
	return s->line_no;
}

static int scan_fail(struct pom_scan *s, size_t off, const char *what)
{
	return st_error_set(s->err, ST_EINVAL, "%s:%zu: %s", s->path,
			    line_at(s, off), what);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool name_is(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

/* Find needle at or after from; the offset just past it, or 0. */
static size_t skip_past(const struct pom_scan *s, size_t from,
			const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = from; i + n <= s->len; i++)
		if (memcmp(s->buf + i, needle, n) == 0)
			return i + n;
	return 0;
}

/* <!DOCTYPE ...> may hold an internal subset in [...] and quoted text. */
static int skip_decl(struct pom_scan *s)
{
	size_t start = s->pos, i = s->pos + 2;
	int bracket = 0;
	char quote = 0;

	for (; i < s->len; i++) {
		char c = s->buf[i];

		if (quote) {
			if (c == quote)
				quote = 0;
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == '[') {
			bracket++;
		} else if (c == ']') {
			bracket--;
		} else if (c == '>' && bracket <= 0) {
			s->pos = i + 1;
			return 0;
		}
	}
	return scan_fail(s, start, "unterminated <! declaration");
}

static int skip_special(struct pom_scan *s)
{
	static const struct {
		const char *open, *close, *what;
	} kinds[] = {
		{ "<!--", "-->", "unterminated comment" },
		{ "<![CDATA[", "]]>", "unterminated CDATA section" },
		{ "<?", "?>", "unterminated processing instruction" },
	};

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t n = strlen(kinds[k].open), end;

		if (s->len - s->pos < n ||
		    memcmp(s->buf + s->pos, kinds[k].open, n) != 0)
			continue;
		end = skip_past(s, s->pos + n, kinds[k].close);
		if (!end)
			return scan_fail(s, s->pos, kinds[k].what);
		s->capture_markup = s->capture_markup || s->capture != 0;
		s->pos = end;
		return 1;
	}
	if (s->len - s->pos >= 2 && s->buf[s->pos + 1] == '!') {
		int rc = skip_decl(s);

		/* "<!x...>" inside <version> is markup too (found by the pom
		 * fuzz target: it became part of the version text) */
		s->capture_markup = s->capture_markup || s->capture != 0;
		return rc < 0 ? rc : 1;
	}
	return 0;
}

/* Read an element name at s->pos; returns its length (0 if none). */
static size_t read_name(const struct pom_scan *s, size_t at)
{
	size_t i = at;

	while (i < s->len && !is_space(s->buf[i]) && s->buf[i] != '>' &&
	       s->buf[i] != '/' && s->buf[i] != '<')
		i++;
	return i - at;
}

/* Skip attributes up to '>' ; *self_closing set for "/>". */
static int skip_attrs(struct pom_scan *s, size_t from, size_t *end,
		      bool *self_closing)
{
	char quote = 0;

	for (size_t i = from; i < s->len; i++) {
		char c = s->buf[i];

		if (quote) {
			if (c == quote)
				quote = 0;
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == '>') {
			*self_closing = i > from && s->buf[i - 1] == '/';
			*end = i + 1;
			return 0;
		} else if (c == '<') {
			break;
		}
	}
	return scan_fail(s, s->pos, "unterminated start tag");
}

static bool parent_is(const struct pom_scan *s, const char *a, const char *b)
{
	/* stack [0] is the root; a is at depth-2 (0-based depth-1) */
	if (b)
		return s->depth == 2 && name_is(s->name[0], s->name_len[0], a) &&
		       name_is(s->name[1], s->name_len[1], b);
	return s->depth == 1 && name_is(s->name[0], s->name_len[0], a);
}

static int open_element(struct pom_scan *s, const char *nm, size_t n,
			size_t content_start)
{
	if (s->depth == 0 && !name_is(nm, n, "project"))
		return scan_fail(s, s->pos,
				 "not a Maven pom: root element is not <project>");
	if (s->depth == 0)
		s->out->project_line = line_at(s, s->pos);
	if (s->depth >= POM_MAX_DEPTH)
		return scan_fail(s, s->pos, "elements nested too deeply");
	s->capture_markup = s->capture_markup || s->capture != 0;
	if (!s->capture && name_is(nm, n, "version") &&
	    parent_is(s, "project", NULL)) {
		if (s->have_version)
			return scan_fail(s, s->pos,
					 "second <version> in <project>");
		s->capture = 1;
	} else if (!s->capture && name_is(nm, n, "module") &&
		   parent_is(s, "project", "modules")) {
		s->capture = 2;
	}
	if (s->capture && !s->capture_depth) {
		s->capture_start = content_start;
		s->capture_depth = s->depth + 1;
		s->capture_markup = false;
	}
	s->name[s->depth] = nm;
	s->name_len[s->depth] = n;
	s->depth++;
	return 0;
}

static int start_tag(struct pom_scan *s)
{
	size_t n = read_name(s, s->pos + 1), end = 0;
	const char *nm = s->buf + s->pos + 1;
	bool self_closing = false;
	int rc;

	if (n == 0)
		return scan_fail(s, s->pos, "'<' not followed by a name");
	rc = skip_attrs(s, s->pos + 1 + n, &end, &self_closing);
	if (rc < 0)
		return rc;
	if (self_closing) {
		/* <version/> is an empty project version: unusable */
		if (name_is(nm, n, "version") && parent_is(s, "project", NULL))
			return scan_fail(s, s->pos, "empty project <version/>");
		s->capture_markup = s->capture_markup || s->capture != 0;
		s->pos = end;
		return 0;
	}
	rc = open_element(s, nm, n, end);
	if (rc < 0)
		return rc;
	s->pos = end;
	return 0;
}

static void trim(const char *buf, size_t *start, size_t *end)
{
	while (*start < *end && is_space(buf[*start]))
		(*start)++;
	while (*end > *start && is_space(buf[*end - 1]))
		(*end)--;
}

static int add_module(struct pom_scan *s, size_t start, size_t end)
{
	struct versionfile_pom *p = s->out;
	char **mods;
	size_t *lines;
	char *text;

	if (p->nmodules == s->modules_cap) { /* doubling: linear in all */
		size_t cap = s->modules_cap ? 2 * s->modules_cap : 16;

		mods = realloc(p->modules, cap * sizeof(*mods));
		if (!mods)
			return st_error_set(s->err, ST_ENOMEM, "out of memory");
		p->modules = mods;
		lines = realloc(p->module_lines, cap * sizeof(*lines));
		if (!lines)
			return st_error_set(s->err, ST_ENOMEM, "out of memory");
		p->module_lines = lines;
		s->modules_cap = cap;
	}
	text = strndup(s->buf + start, end - start);
	if (!text)
		return st_error_set(s->err, ST_ENOMEM, "out of memory");
	p->modules[p->nmodules] = text;
	p->module_lines[p->nmodules] = line_at(s, start);
	p->nmodules++;
	return 0;
}

static int finish_capture(struct pom_scan *s, size_t lt)
{
	size_t start = s->capture_start, end = lt;
	int what = s->capture;

	s->capture = 0;
	s->capture_depth = 0;
	if (s->capture_markup)
		return scan_fail(s, start, what == 1
				 ? "project <version> contains markup; cannot rewrite it"
				 : "<module> contains markup");
	trim(s->buf, &start, &end);
	if (what == 2)
		return start == end ? scan_fail(s, start, "empty <module>")
				    : add_module(s, start, end);
	if (start == end)
		return scan_fail(s, start, "empty project <version>");
	if (memchr(s->buf + start, '$', end - start))
		return scan_fail(s, start,
				 "project <version> is a ${property}; only a literal version can be rewritten");
	s->have_version = true;
	s->out->version_start = start;
	s->out->version_end = end;
	s->out->version_line = line_at(s, start);
	return 0;
}

static int end_tag(struct pom_scan *s)
{
	size_t lt = s->pos, n = read_name(s, s->pos + 2), i;
	const char *nm = s->buf + s->pos + 2;
	int rc;

	if (s->depth == 0 || s->name_len[s->depth - 1] != n ||
	    memcmp(s->name[s->depth - 1], nm, n) != 0)
		return scan_fail(s, lt, "end tag does not match its start tag");
	for (i = s->pos + 2 + n; i < s->len && is_space(s->buf[i]); i++)
		;
	if (i >= s->len || s->buf[i] != '>')
		return scan_fail(s, lt, "malformed end tag");
	s->pos = i + 1;
	if (s->capture && s->capture_depth == s->depth) {
		rc = finish_capture(s, lt);
		if (rc < 0)
			return rc;
	}
	s->depth--;
	return 0;
}

static int scan_markup(struct pom_scan *s)
{
	int rc = skip_special(s);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (s->pos + 1 < s->len && s->buf[s->pos + 1] == '/')
		return end_tag(s);
	if (s->depth == 0 && s->out->project_line)
		return scan_fail(s, s->pos, "content after the root element");
	return start_tag(s);
}

static int scan_all(struct pom_scan *s)
{
	/* a UTF-8 byte order mark is not text before the root */
	if (s->len >= 3 && memcmp(s->buf, "\xEF\xBB\xBF", 3) == 0)
		s->pos = 3;
	while (s->pos < s->len) {
		const char *lt = memchr(s->buf + s->pos, '<', s->len - s->pos);

		if (!lt)
			break;
		int rc;

		s->pos = (size_t)(lt - s->buf);
		rc = scan_markup(s);
		if (rc < 0)
			return rc;
	}
	if (!s->out->project_line)
		return st_error_set(s->err, ST_EINVAL,
				    "%s:1: not a Maven pom: no <project> element",
				    s->path);
	if (s->depth != 0)
		return scan_fail(s, s->len, "unclosed element at end of file");
	if (!s->have_version)
		return st_error_set(s->err, ST_EINVAL,
				    "%s:%zu: <project> has no <version> of its own (an inherited parent version cannot be rewritten)",
				    s->path, s->out->project_line);
	return 0;
}

void versionfile_pom_release(struct versionfile_pom *pom)
{
	if (!pom)
		return;
	for (size_t i = 0; i < pom->nmodules; i++)
		free(pom->modules[i]);
	free(pom->modules);
	free(pom->module_lines);
	memset(pom, 0, sizeof(*pom));
}

int versionfile_pom_scan(const char *path, const char *buf, size_t len,
			 struct versionfile_pom *out, struct st_error *err)
{
	struct versionfile_pom pom;
	struct pom_scan *s;
	int rc;

	if (memchr(buf, '\0', len))
		return st_error_set(err, ST_EINVAL, "%s: NUL byte in pom", path);
	s = calloc(1, sizeof(*s));
	if (!s)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	memset(&pom, 0, sizeof(pom));
	s->path = path;
	s->buf = buf;
	s->len = len;
	s->err = err;
	s->out = &pom;
	s->line_no = 1;
	rc = scan_all(s);
	free(s);
	if (rc) {
		versionfile_pom_release(&pom);
		return rc;
	}
	*out = pom;
	return 0;
}
