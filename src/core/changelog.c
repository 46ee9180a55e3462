/* SPDX-License-Identifier: MIT */
/* CHANGELOG.md sections (see changelog.h). */
#include "semver-tagger/changelog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct section {
	size_t start, end;   /* [start, end): heading line to next heading */
	struct semver_ver v;
};

struct parsed {
	struct section *v;
	size_t n, cap;
	size_t first;        /* start of the first section (len if none) */
};

/* "## X.Y.Z" followed by a blank, '(' or the line end. */
static bool version_heading(const char *s, size_t n, struct semver_ver *out)
{
	char tok[SEMVER_VER_STR_MAX];
	size_t i = 3, j = 0;

	if (n < 4 || s[0] != '#' || s[1] != '#' || s[2] != ' ')
		return false;
	while (i < n && s[i] == ' ')
		i++;
	while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '(' &&
	       s[i] != '\r' && j + 1 < sizeof(tok))
		tok[j++] = s[i++];
	tok[j] = '\0';
	if (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '(' && s[i] != '\r')
		return false;
	return semver_release_from_tag(tok, "", out);
}

static int push(struct parsed *p, size_t start, const struct semver_ver *v)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		struct section *g = realloc(p->v, cap * sizeof(*g));

		if (!g)
			return ST_ENOMEM;
		p->v = g;
		p->cap = cap;
	}
	p->v[p->n++] = (struct section){ start, 0, *v };
	return ST_OK;
}

static int parse(const char *t, size_t len, struct parsed *p)
{
	size_t pos = 0;

	memset(p, 0, sizeof(*p));
	p->first = len;
	if (len > CHANGELOG_MAX_BYTES)
		return ST_ETOOBIG;
	while (pos < len) {
		const char *nl = memchr(t + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (t + pos)) : len - pos;
		struct semver_ver v;

		if (version_heading(t + pos, n, &v)) {
			if (p->n)
				p->v[p->n - 1].end = pos;
			else
				p->first = pos;
			if (push(p, pos, &v) != 0) {
				free(p->v);
				p->v = NULL;
				p->n = 0;
				return ST_ENOMEM;
			}
		}
		pos += n + (nl ? 1 : 0);
	}
	if (p->n)
		p->v[p->n - 1].end = len;
	return ST_OK;
}

static bool parsed_has(const struct parsed *p, const struct semver_ver *v)
{
	for (size_t i = 0; i < p->n; i++)
		if (semver_ver_compare(&p->v[i].v, v) == 0)
			return true;
	return false;
}

bool changelog_has(const char *text, size_t len, const struct semver_ver *v)
{
	struct parsed p;
	bool has;

	if (parse(text, len, &p) != 0)
		return false;
	has = parsed_has(&p, v);
	free(p.v);
	return has;
}

/* Where a section for v goes: before the first lower version. */
static size_t insert_at(const struct parsed *p, const struct semver_ver *v,
			size_t len)
{
	for (size_t i = 0; i < p->n; i++)
		if (semver_ver_compare(&p->v[i].v, v) < 0)
			return p->v[i].start;
	return len;
}

/* text[0..at) + (blank line) + raw (ending in a blank line) + text[at..) */
static int splice(const char *t, size_t len, size_t at, const char *raw,
		  size_t rlen, struct strbuf *out)
{
	int rc = strbuf_add(out, t, at);

	if (!rc && at > 0 && t[at - 1] != '\n')
		rc = strbuf_add(out, "\n", 1);
	if (!rc && at > 0 && at == len && !(at >= 2 && t[at - 2] == '\n'))
		rc = strbuf_add(out, "\n", 1); /* a blank line above */
	while (rlen > 0 && (raw[rlen - 1] == '\n' || raw[rlen - 1] == ' '))
		rlen--;
	if (!rc)
		rc = strbuf_add(out, raw, rlen);
	if (!rc)
		rc = strbuf_add(out, at < len ? "\n\n" : "\n", at < len ? 2 : 1);
	if (!rc)
		rc = strbuf_add(out, t + at, len - at);
	return rc;
}

int changelog_insert(const char *text, size_t len, const struct semver_ver *v,
		     const char *date, const char *body, struct strbuf *out,
		     bool *changed)
{
	static const char title[] = "# Changelog\n\n";
	char ver[SEMVER_VER_STR_MAX];
	struct strbuf sec;
	struct parsed p;
	int rc;

	if (!text)
		len = 0;
	rc = parse(text, len, &p);
	if (rc)
		return rc;
	strbuf_reset(out);
	*changed = !parsed_has(&p, v);
	if (!*changed) {
		free(p.v);
		return strbuf_add(out, text, len);
	}
	semver_ver_format(v, ver, sizeof(ver));
	strbuf_init(&sec, out->max);
	rc = strbuf_addf(&sec, "## %s (%s)\n\n%s", ver, date, body ? body : "");
	if (!rc && len == 0)
		rc = strbuf_add(out, title, sizeof(title) - 1);
	if (!rc)
		rc = splice(text ? text : "", len, insert_at(&p, v, len),
			    strbuf_str(&sec), sec.len, out);
	strbuf_release(&sec);
	free(p.v);
	return rc;
}

static int ver_cmp(const void *a, const void *b)
{
	return semver_ver_compare(a, b);
}

/* The versions of p, sorted: "has it?" in O(log n) (a file with many
 * thousands of sections must not cost n^2 comparisons). */
static struct semver_ver *sorted_versions(const struct parsed *p)
{
	struct semver_ver *v = malloc((p->n + 1) * sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		v[i] = p->v[i].v;
	qsort(v, p->n, sizeof(*v), ver_cmp);
	return v;
}

int changelog_merge(const char *ours, size_t olen, const char *theirs,
		    size_t tlen, struct strbuf *out)
{
	struct strbuf cur, next;
	struct semver_ver *have = NULL;
	struct parsed t, o = { 0 };
	int rc = parse(theirs, tlen, &t);
	size_t n_have = 0;

	if (rc)
		return rc;
	strbuf_init(&cur, out->max);
	strbuf_init(&next, out->max);
	rc = strbuf_add(&cur, ours, olen);
	if (rc == 0)
		rc = parse(strbuf_str(&cur), cur.len, &o);
	if (rc == 0 && !(have = sorted_versions(&o)))
		rc = ST_ENOMEM;
	n_have = o.n;
	for (size_t i = 0; rc == 0 && i < t.n; i++) {
		if (bsearch(&t.v[i].v, have, n_have, sizeof(*have), ver_cmp))
			continue;
		strbuf_reset(&next);
		rc = splice(strbuf_str(&cur), cur.len,
			    insert_at(&o, &t.v[i].v, cur.len),
			    theirs + t.v[i].start, t.v[i].end - t.v[i].start,
			    &next);
		if (rc == 0) {
			struct strbuf swap = cur;

			cur = next;
			next = swap;
			free(o.v);
			free(have);
			have = NULL;
			rc = parse(strbuf_str(&cur), cur.len, &o);
		}
		if (rc == 0 && !(have = sorted_versions(&o)))
			rc = ST_ENOMEM;
		n_have = o.n;
	}
	strbuf_reset(out);
	if (rc == 0)
		rc = strbuf_add(out, strbuf_str(&cur), cur.len);
	strbuf_release(&cur);
	strbuf_release(&next);
	free(have);
	free(o.v);
	free(t.v);
	return rc;
}

void changelog_date(int64_t unix_seconds, char *buf, size_t size)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, size, "1970-01-01");
}
