/* SPDX-License-Identifier: MIT */
/*
 * Release notes from MR facts (see notes.h). Everything here works on
 * bounded buffers: outside text is copied through notes_escape() into a
 * capped strbuf, and a description is scanned, never copied whole.
 */
#include "semver-tagger/notes.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- configuration ------------------------------------------------------ */

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

static bool label_ok(const char *s, size_t n)
{
	if (n == 0 || n > NOTES_LABEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == ',')
			return false;
	return true;
}

static int parse_section(struct notes_config *c, const char *s, size_t n,
			 struct st_error *err)
{
	const char *sep = NULL;
	struct notes_section *sec;
	const char *lab;
	size_t tn, ln;

	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] == ':' && s[i + 1] == '~') {
			sep = s + i;
			break;
		}
	tn = sep ? (size_t)(sep - s) : 0;
	trim(&s, &tn);
	lab = sep ? sep + 2 : NULL;
	ln = sep ? n - (size_t)(lab - s) : 0;
	if (lab)
		trim(&lab, &ln);
	if (!sep || tn == 0 || tn >= NOTES_TITLE_MAX || !label_ok(lab, ln))
		return st_error_set(err, ST_ECONFIG,
				    "release_sections: '%.*s' is not "
				    "\"Heading:~label\" (heading 1-%d bytes, "
				    "label 1-%d bytes)", (int)(n > 200 ? 200 : n),
				    s, NOTES_TITLE_MAX - 1, NOTES_LABEL_MAX);
	if (c->n_sections >= NOTES_SECTIONS_MAX)
		return st_error_set(err, ST_ECONFIG, "release_sections: more "
				    "than %d sections", NOTES_SECTIONS_MAX);
	for (size_t i = 0; i < tn; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return st_error_set(err, ST_ECONFIG, "release_sections: "
					    "control character in a heading");
	sec = &c->sections[c->n_sections++];
	memcpy(sec->title, s, tn);
	sec->title[tn] = '\0';
	memcpy(sec->label, lab, ln);
	sec->label[ln] = '\0';
	return ST_OK;
}

static int parse_exclude(struct notes_config *c, const char *s, size_t n,
			 struct st_error *err)
{
	trim(&s, &n);
	if (n && *s == '~') {
		s++;
		n--;
	}
	if (!label_ok(s, n))
		return st_error_set(err, ST_ECONFIG, "release_exclude_labels: "
				    "'%.*s' is not a label name (1-%d bytes)",
				    (int)(n > 200 ? 200 : n), s,
				    NOTES_LABEL_MAX);
	if (c->n_exclude >= NOTES_EXCLUDE_MAX)
		return st_error_set(err, ST_ECONFIG, "release_exclude_labels: "
				    "more than %d labels", NOTES_EXCLUDE_MAX);
	memcpy(c->exclude[c->n_exclude], s, n);
	c->exclude[c->n_exclude++][n] = '\0';
	return ST_OK;
}

typedef int (*item_fn)(struct notes_config *, const char *, size_t,
		       struct st_error *);

/* Comma separated items; blanks around them and empty lists are fine. */
static int each_item(struct notes_config *c, const char *list, item_fn fn,
		     struct st_error *err)
{
	const char *p = list;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *s = p;
		size_t tn = n;
		int rc;

		trim(&s, &tn);
		if (tn) {
			rc = fn(c, s, tn, err);
			if (rc)
				return rc;
		}
		p = comma ? comma + 1 : NULL;
	}
	return ST_OK;
}

int notes_config_parse(const char *sections, const char *exclude,
		       struct notes_config *out, struct st_error *err)
{
	struct notes_config c;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = each_item(&c, sections, parse_section, err);
	if (rc == 0)
		rc = each_item(&c, exclude, parse_exclude, err);
	if (rc == 0)
		*out = c;
	return rc;
}

/* ---- escaping ----------------------------------------------------------- */

int notes_escape(struct strbuf *out, const char *text, unsigned indent)
{
	bool line_start = true;
	int rc = 0;

	for (const char *p = text ? text : ""; *p && !rc; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\r')
			continue;
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ||
		    (c == '\n' && indent == 0))
			c = ' ';
		if (c == '/' && line_start)
			rc = strbuf_add(out, "\\/", 2);
		else if (c == '<')
			rc = strbuf_add(out, "&lt;", 4);
		else
			rc = strbuf_add(out, &c, 1);
		if (!rc && c == '\n')
			for (unsigned i = 0; !rc && i < indent; i++)
				rc = strbuf_add(out, " ", 1);
		if (c == '\n')
			line_start = true;
		else if (c != ' ' && c != '\t')
			line_start = false;
	}
	return rc;
}

/* ---- the "Release notes" section of a description ----------------------- */

/* Heading level of the line [s, s+n) (0: not an ATX heading); *text and
 * *tn get the heading's text without the #s and blanks. */
static int heading(const char *s, size_t n, const char **text, size_t *tn)
{
	size_t i = 0, level;

	while (i < n && i < 3 && s[i] == ' ')
		i++;
	level = 0;
	while (i < n && s[i] == '#' && level < 7) {
		i++;
		level++;
	}
	if (level == 0 || level > 6 || (i < n && s[i] != ' ' && s[i] != '\t'))
		return 0;
	*text = s + i;
	*tn = n - i;
	trim(text, tn);
	while (*tn && ((*text)[*tn - 1] == '#' || (*text)[*tn - 1] == ':'))
		(*tn)--;
	trim(text, tn);
	return (int)level;
}

static bool is_notes_heading(const char *t, size_t n)
{
	return n == 13 && strncasecmp(t, "release notes", 13) == 0;
}

/* The byte length of s[0..max) cut back to a UTF-8 boundary. */
static size_t utf8_cut(const char *s, size_t max)
{
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

static int section_copy(const char *s, size_t n, size_t max, char **out)
{
	bool cut = n > max;
	size_t keep = cut ? utf8_cut(s, max) : n;
	char *r = malloc(keep + 8);

	if (!r)
		return ST_ENOMEM;
	memcpy(r, s, keep);
	if (cut)
		memcpy(r + keep, " \xe2\x80\xa6", 4); /* " …" */
	r[keep + (cut ? 4 : 0)] = '\0';
	*out = r;
	return ST_OK;
}

int notes_description_section(const char *desc, size_t len, size_t max,
			      char **out)
{
	const char *p = desc, *end = desc + len, *start = NULL, *stop = end;
	int level = 0;

	*out = NULL;
	while (desc && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *t;
		size_t tn;
		int h = heading(p, n, &t, &tn);

		if (start && h && h <= level) {
			stop = p;
			break;
		}
		if (!start && h && is_notes_heading(t, tn)) {
			start = nl ? nl + 1 : end;
			level = h;
		}
		p = nl ? nl + 1 : end;
	}
	if (!start)
		return ST_OK;
	while (start < stop && isspace((unsigned char)*start))
		start++;
	while (stop > start && isspace((unsigned char)stop[-1]))
		stop--;
	if (start == stop)
		return ST_OK;
	return section_copy(start, (size_t)(stop - start), max, out);
}

/* ---- rendering ---------------------------------------------------------- */

static bool has_label(const struct notes_mr *m, const char *label)
{
	for (size_t i = 0; i < m->n_labels; i++)
		if (m->labels[i] && strcmp(m->labels[i], label) == 0)
			return true;
	return false;
}

static bool excluded(const struct notes_config *c, const struct notes_mr *m)
{
	for (size_t i = 0; i < c->n_exclude; i++)
		if (has_label(m, c->exclude[i]))
			return true;
	return false;
}

/* The section index an MR goes to: a configured one (first match), else
 * NOTES_SECTIONS_MAX + the impact's rank. */
static size_t section_of(const struct notes_config *c,
			 const struct notes_mr *m)
{
	for (size_t i = 0; i < c->n_sections; i++) {
		if (!has_label(m, c->sections[i].label))
			continue;
		/* a heading given twice (two labels) is one section */
		for (size_t t = 0; t < i; t++)
			if (strcmp(c->sections[t].title,
				   c->sections[i].title) == 0)
				return t;
		return i;
	}
	switch (m->impact) {
	case IMPACT_MAJOR: return NOTES_SECTIONS_MAX;
	case IMPACT_MINOR: return NOTES_SECTIONS_MAX + 1;
	case IMPACT_PATCH: return NOTES_SECTIONS_MAX + 2;
	default: return NOTES_SECTIONS_MAX + 3;
	}
}

static const char *const default_heading[] = { "Breaking changes",
					       "Features", "Fixes",
					       "Other changes" };

/* A link target we can put in "(...)" unchanged: http(s), no blanks,
 * brackets, quotes or angle brackets. */
static bool url_ok(const char *u)
{
	if (!u || (strncmp(u, "https://", 8) != 0 &&
		   strncmp(u, "http://", 7) != 0) || strlen(u) > 2048)
		return false;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f ||
		    strchr("()[]<>\"'`\\", *p))
			return false;
	return true;
}

static int entry(const struct notes_mr *m, struct strbuf *out)
{
	int rc = strbuf_adds(out, "- ");

	if (!rc && m->text)
		rc = notes_escape(out, m->text, 2);
	else if (!rc)
		rc = notes_escape(out, m->title && *m->title ? m->title
							      : "(untitled)", 0);
	if (!rc && url_ok(m->web_url))
		rc = strbuf_addf(out, " ([!%lld](%s)", (long long)m->iid,
				 m->web_url);
	else if (!rc)
		rc = strbuf_addf(out, " (!%lld", (long long)m->iid);
	if (!rc && m->author && *m->author) {
		rc = strbuf_adds(out, " by @");
		if (!rc)
			rc = notes_escape(out, m->author, 0);
	}
	return rc ? rc : strbuf_adds(out, ")\n");
}

static int render_section(const char *title, size_t which,
			  const struct notes_config *c,
			  const struct notes_mr *mrs, size_t n,
			  struct strbuf *out)
{
	bool any = false;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (excluded(c, &mrs[i]) || section_of(c, &mrs[i]) != which)
			continue;
		if (!any) {
			rc = strbuf_adds(out, out->len ? "\n### " : "### ");
			if (!rc)
				rc = notes_escape(out, title, 0);
			if (!rc)
				rc = strbuf_adds(out, "\n\n");
		}
		any = true;
		if (!rc)
			rc = entry(&mrs[i], out);
	}
	return rc;
}

int notes_render(const struct notes_config *c, const struct notes_mr *mrs,
		 size_t n, struct strbuf *out)
{
	int rc = 0;

	for (size_t s = 0; rc == 0 && s < c->n_sections; s++) {
		bool dup = false;

		for (size_t t = 0; t < s; t++)
			dup = dup || strcmp(c->sections[t].title,
					    c->sections[s].title) == 0;
		if (!dup)
			rc = render_section(c->sections[s].title, s, c, mrs, n,
					    out);
	}
	for (size_t k = 0; rc == 0 && k < 4; k++)
		rc = render_section(default_heading[k], NOTES_SECTIONS_MAX + k,
				    c, mrs, n, out);
	if (rc == 0 && out->len == 0)
		rc = strbuf_adds(out, "No changes.\n");
	return rc;
}

int notes_shorten(const char *notes, size_t max, const char *compare_url,
		  struct strbuf *out)
{
	char tail[2300];
	size_t n = strlen(notes), keep;

	if (n <= max)
		return strbuf_adds(out, notes);
	if (url_ok(compare_url))
		snprintf(tail, sizeof(tail), "\n…and more: see [the full list "
			 "of changes](%s).\n", compare_url);
	else
		snprintf(tail, sizeof(tail), "\n…and more (shortened).\n");
	keep = max > strlen(tail) ? max - strlen(tail) : 0;
	while (keep > 0 && notes[keep - 1] != '\n')
		keep--;
	if (strbuf_add(out, notes, keep))
		return ST_ETOOBIG;
	return strbuf_adds(out, tail);
}
