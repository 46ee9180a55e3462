/* SPDX-License-Identifier: MIT */
/*
 * Reading the MR cache body: a strict JSON reader for the one shape the
 * cache has ({api_url, project, cursor_ms, full_at, mrs: [{...}]}),
 * straight into struct forge_mr, without building a cJSON tree. A cache of
 * 10,000 MRs is ~4 MB; cJSON spends ~25 ms building ~500,000 nodes for
 * it, this reader a few ms (docs/performance.md). Any JSON is accepted
 * where the writer could have put it (unknown keys are skipped, nesting
 * is bounded); anything that is not valid JSON or not the cache's schema
 * is ST_EINVAL with a message naming the place, like the json_get_*
 * helpers.
 */
#include "gitlab_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

struct rd {
	const char *p, *start, *end;
	const char *what;
	struct st_error *err;
	int depth;
};

static int fail(struct rd *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct rd *r, const char *fmt, ...)
{
	char msg[ST_ERROR_MSG_MAX];
	va_list ap;

	if (r->err && r->err->code)
		return r->err->code;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return st_error_set(r->err, ST_EINVAL, "%s: %s", r->what, msg);
}

static int bad_json(struct rd *r)
{
	return fail(r, "body is not valid JSON (error at byte %zu of %zu)",
		    (size_t)(r->p - r->start), (size_t)(r->end - r->start));
}

static void ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' ||
				 *r->p == '\r' || *r->p == '\t'))
		r->p++;
}

/* Skip whitespace, then consume c if it is next. */
static bool eat(struct rd *r, char c)
{
	ws(r);
	if (r->p < r->end && *r->p == c) {
		r->p++;
		return true;
	}
	return false;
}

static bool eat_word(struct rd *r, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
		return false;
	r->p += n;
	return true;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* One escape after the backslash at *in; decoded bytes to o (may be NULL
 * when only skipping). Returns bytes written, or -1. */
static int unescape(const char **in, const char *end, char *o)
{
	const char *p = *in + 1;
	char tmp[4];
	unsigned cp, lo;
	size_t n;

	if (p >= end)
		return -1;
	switch (*p) {
	case '"': case '\\': case '/':
		tmp[0] = *p; n = 1; p++; break;
	case 'b': tmp[0] = '\b'; n = 1; p++; break;
	case 'f': tmp[0] = '\f'; n = 1; p++; break;
	case 'n': tmp[0] = '\n'; n = 1; p++; break;
	case 'r': tmp[0] = '\r'; n = 1; p++; break;
	case 't': tmp[0] = '\t'; n = 1; p++; break;
	case 'u':
		if (end - p < 5 || hex4(p + 1, &cp) != 0)
			return -1;
		p += 5;
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return -1; /* a low surrogate first */
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
			    hex4(p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
				return -1;
			p += 6;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		}
		if (cp == 0)
			return -1; /* no NUL inside a C string */
		n = put_utf8(tmp, cp);
		break;
	default:
		return -1;
	}
	if (o)
		memcpy(o, tmp, n);
	*in = p;
	return (int)n;
}

/* A string at r->p (after whitespace): *out = malloc'd copy, or just
 * skipped when out is NULL. */
static int string(struct rd *r, char **out)
{
	const char *s, *q;
	char *buf, *o;
	bool escaped = false;

	ws(r);
	if (r->p >= r->end || *r->p != '"')
		return bad_json(r);
	s = ++r->p;
	for (q = s; q < r->end && *q != '"'; q++) {
		if ((unsigned char)*q < 0x20)
			break;
		if (*q == '\\') {
			escaped = true;
			if (++q >= r->end)
				break;
		}
	}
	if (q >= r->end || *q != '"') {
		r->p = q;
		return bad_json(r);
	}
	r->p = q + 1;
	if (!escaped) {
		if (out) {
			if (!(*out = malloc((size_t)(q - s) + 1)))
				return st_error_set(r->err, ST_ENOMEM, "%s: out "
						    "of memory", r->what);
			memcpy(*out, s, (size_t)(q - s));
			(*out)[q - s] = '\0';
		}
		return ST_OK;
	}
	/* decoded text is never longer than its escaped form */
	buf = out ? malloc((size_t)(q - s) + 1) : NULL;
	if (out && !buf)
		return st_error_set(r->err, ST_ENOMEM, "%s: out of memory",
				    r->what);
	o = buf;
	for (const char *i = s; i < q;) {
		if (*i != '\\') {
			if (o)
				*o++ = *i;
			i++;
			continue;
		}
		{
			const char *at = i;
			int n = unescape(&i, q, o);

			if (n < 0) {
				free(buf);
				r->p = at;
				return bad_json(r);
			}
			if (o)
				o += n;
		}
	}
	if (out) {
		*o = '\0';
		*out = buf;
	}
	return ST_OK;
}

/* A JSON number token; *d its value. */
static int number(struct rd *r, double *d)
{
	const char *s = r->p, *q = r->p;
	char buf[64];

	if (q < r->end && *q == '-')
		q++;
	if (q >= r->end || *q < '0' || *q > '9')
		return bad_json(r);
	if (*q == '0')
		q++;
	else
		while (q < r->end && *q >= '0' && *q <= '9')
			q++;
	if (q < r->end && *q == '.') {
		if (++q >= r->end || *q < '0' || *q > '9') {
			r->p = q;
			return bad_json(r);
		}
		while (q < r->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < r->end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < r->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= r->end || *q < '0' || *q > '9') {
			r->p = q;
			return bad_json(r);
		}
		while (q < r->end && *q >= '0' && *q <= '9')
			q++;
	}
	if ((size_t)(q - s) >= sizeof(buf))
		return fail(r, "number too long at byte %zu",
			    (size_t)(s - r->start));
	memcpy(buf, s, (size_t)(q - s));
	buf[q - s] = '\0';
	*d = strtod(buf, NULL);
	r->p = q;
	return ST_OK;
}

static int skip_value(struct rd *r);

static int skip_container(struct rd *r, char close, bool object)
{
	if (++r->depth > MAX_DEPTH)
		return fail(r, "JSON nested deeper than %d levels", MAX_DEPTH);
	if (eat(r, close)) {
		r->depth--;
		return ST_OK;
	}
	for (;;) {
		int rc = 0;

		if (object) {
			rc = string(r, NULL);
			if (!rc && !eat(r, ':'))
				rc = bad_json(r);
		}
		if (!rc)
			rc = skip_value(r);
		if (rc)
			return rc;
		if (eat(r, close))
			break;
		if (!eat(r, ','))
			return bad_json(r);
	}
	r->depth--;
	return ST_OK;
}

static int skip_value(struct rd *r)
{
	double d;

	ws(r);
	if (r->p >= r->end)
		return bad_json(r);
	switch (*r->p) {
	case '"':
		return string(r, NULL);
	case '{':
		r->p++;
		return skip_container(r, '}', true);
	case '[':
		r->p++;
		return skip_container(r, ']', false);
	default:
		if (eat_word(r, "null") || eat_word(r, "true") ||
		    eat_word(r, "false"))
			return ST_OK;
		return number(r, &d);
	}
}

/* What the next value is, for "expected X, got Y" messages. */
static const char *kind_at(struct rd *r)
{
	ws(r);
	if (r->p >= r->end)
		return "missing";
	switch (*r->p) {
	case '"': return "string";
	case '{': return "object";
	case '[': return "array";
	case 'n': return "null";
	case 't': case 'f': return "boolean";
	default: return "number";
	}
}

/* A key into buf, decoded in place (no allocation: the reader meets one
 * per field); a key that does not fit is an unknown one: "". */
static int key(struct rd *r, char *buf, size_t size)
{
	const char *q;
	size_t n = 0;
	bool fits = true;

	ws(r);
	if (r->p >= r->end || *r->p != '"')
		return bad_json(r);
	q = ++r->p;
	/* the usual key: plain characters up to the quote */
	while (q < r->end && *q != '"' && *q != '\\' &&
	       (unsigned char)*q >= 0x20)
		q++;
	if (q < r->end && *q == '"') {
		n = (size_t)(q - r->p);
		if (n < size)
			memcpy(buf, r->p, n);
		buf[n < size ? n : 0] = '\0';
		r->p = q + 1;
		return eat(r, ':') ? ST_OK : bad_json(r);
	}
	q = r->p;
	while (q < r->end && *q != '"') {
		char tmp[4];
		int m = 1;

		if ((unsigned char)*q < 0x20) {
			r->p = q;
			return bad_json(r);
		}
		if (*q == '\\') {
			const char *at = q;

			m = unescape(&q, r->end, tmp);
			if (m < 0) {
				r->p = at;
				return bad_json(r);
			}
		} else {
			tmp[0] = *q++;
		}
		if (fits && n + (size_t)m < size) {
			memcpy(buf + n, tmp, (size_t)m);
			n += (size_t)m;
		} else {
			fits = false;
		}
	}
	if (q >= r->end) {
		r->p = q;
		return bad_json(r);
	}
	r->p = q + 1;
	buf[fits ? n : 0] = '\0';
	return eat(r, ':') ? ST_OK : bad_json(r);
}

static bool is_null(struct rd *r)
{
	ws(r);
	return eat_word(r, "null");
}

/* A string field: null allowed unless not_null. */
static int str_field(struct rd *r, const char *where, const char *k,
		     bool not_null, char **dst)
{
	const char *got;

	if (is_null(r)) {
		if (not_null)
			return fail(r, "%s%s%s: null, a value is required",
				    where, *where ? "." : "", k);
		return ST_OK;
	}
	got = kind_at(r);
	if (strcmp(got, "string") != 0)
		return fail(r, "%s%s%s: expected a string, got %s", where,
			    *where ? "." : "", k, got);
	return string(r, dst);
}

static int int_field(struct rd *r, const char *where, const char *k,
		     int64_t min, int64_t max, int64_t *out)
{
	const char *got = kind_at(r);
	double d;
	int rc;

	if (strcmp(got, "number") != 0)
		return fail(r, "%s%s%s: expected an integer, got %s", where,
			    *where ? "." : "", k, got);
	rc = number(r, &d);
	if (rc)
		return rc;
	if (!isfinite(d) || d != floor(d) || d > (double)JSON_INT_MAX ||
	    d < -(double)JSON_INT_MAX || (int64_t)d < min || (int64_t)d > max)
		return fail(r, "%s%s%s: %.17g is not an integer in [%lld, "
			    "%lld]", where, *where ? "." : "", k, d,
			    (long long)min, (long long)max);
	*out = (int64_t)d;
	return ST_OK;
}

static int labels_field(struct rd *r, const char *where, struct forge_mr *m)
{
	size_t cap = 0;
	const char *got = kind_at(r);

	if (strcmp(got, "array") != 0)
		return fail(r, "%s.labels: expected an array, got %s", where,
			    got);
	r->p++;
	if (eat(r, ']'))
		return ST_OK;
	for (;;) {
		int rc;

		if (strcmp(kind_at(r), "string") != 0)
			return fail(r, "%s.labels: expected strings", where);
		if (m->n_labels == cap) {
			size_t ncap = cap ? 2 * cap : 4;
			char **v = realloc(m->labels, ncap * sizeof(*v));

			if (!v)
				return st_error_set(r->err, ST_ENOMEM, "%s: out "
						    "of memory", r->what);
			m->labels = v;
			cap = ncap;
		}
		rc = string(r, &m->labels[m->n_labels]);
		if (rc)
			return rc;
		m->n_labels++;
		if (eat(r, ']'))
			return ST_OK;
		if (!eat(r, ','))
			return bad_json(r);
	}
}

enum {
	F_TITLE, F_WEB_URL, F_SOURCE, F_TARGET, F_AUTHOR, F_AUTHOR_NAME,
	F_MERGED_AT, F_UPDATED_AT, F_HEAD_SHA, F_COMMIT, F_NSTR,
	F_IID = F_NSTR, F_LABELS, F_ALL
};

static const struct {
	const char *key;
	bool not_null;
} str_fields[F_NSTR] = {
	[F_TITLE] = { "title", true },
	[F_WEB_URL] = { "web_url", false },
	[F_SOURCE] = { "source_branch", false },
	[F_TARGET] = { "target_branch", true },
	[F_AUTHOR] = { "author_username", false },
	[F_AUTHOR_NAME] = { "author_name", false },
	[F_MERGED_AT] = { "merged_at", false },
	[F_UPDATED_AT] = { "updated_at", true },
	[F_HEAD_SHA] = { "head_sha", false },
	[F_COMMIT] = { "commit", false },
};

static char **str_slot(struct forge_mr *m, int f)
{
	switch (f) {
	case F_TITLE: return &m->title;
	case F_WEB_URL: return &m->web_url;
	case F_SOURCE: return &m->source_branch;
	case F_TARGET: return &m->target_branch;
	case F_AUTHOR: return &m->author_username;
	case F_AUTHOR_NAME: return &m->author_name;
	case F_MERGED_AT: return &m->merged_at;
	case F_UPDATED_AT: return &m->updated_at;
	case F_HEAD_SHA: return &m->head_sha;
	default: return &m->commit;
	}
}

static int mr_member(struct rd *r, const char *where, const char *k,
		     struct forge_mr *m, unsigned *seen)
{
	for (int f = 0; f < F_NSTR; f++) {
		if (strcmp(k, str_fields[f].key) != 0)
			continue;
		if (*seen & 1u << f)
			return fail(r, "%s.%s: duplicate key", where, k);
		*seen |= 1u << f;
		return str_field(r, where, k, str_fields[f].not_null,
				 str_slot(m, f));
	}
	if (strcmp(k, "iid") == 0 || strcmp(k, "labels") == 0) {
		unsigned bit = 1u << (k[0] == 'i' ? F_IID : F_LABELS);

		if (*seen & bit)
			return fail(r, "%s.%s: duplicate key", where, k);
		*seen |= bit;
		if (is_null(r))
			return fail(r, "%s.%s: null, a value is required",
				    where, k);
		if (k[0] == 'i')
			return int_field(r, where, k, 1, JSON_INT_MAX, &m->iid);
		return labels_field(r, where, m);
	}
	return skip_value(r);
}

static int mr_object(struct rd *r, size_t index, struct forge_mr *m)
{
	char where[40], k[32];
	unsigned seen = 0;
	const char *got = kind_at(r);

	snprintf(where, sizeof(where), "mrs[%zu]", index);
	if (strcmp(got, "object") != 0)
		return fail(r, "%s: expected an object, got %s", where, got);
	r->p++;
	if (!eat(r, '}')) {
		for (;;) {
			int rc = key(r, k, sizeof(k));

			if (!rc)
				rc = mr_member(r, where, k, m, &seen);
			if (rc)
				return rc;
			if (eat(r, '}'))
				break;
			if (!eat(r, ','))
				return bad_json(r);
		}
	}
	if (!(seen & 1u << F_IID))
		return fail(r, "%s.iid: missing", where);
	for (int f = 0; f < F_NSTR; f++)
		if (!(seen & 1u << f))
			return fail(r, "%s.%s: missing", where,
				    str_fields[f].key);
	if (!(seen & 1u << F_LABELS))
		return fail(r, "%s.labels: missing", where);
	return ST_OK;
}

static int mrs_array(struct rd *r, struct forge_mr_list *l)
{
	const char *got = kind_at(r);

	if (strcmp(got, "array") != 0)
		return fail(r, "mrs: expected an array, got %s", got);
	r->p++;
	if (eat(r, ']'))
		return ST_OK;
	for (;;) {
		struct forge_mr *m = forge_mr_list_push(l);
		int rc;

		if (!m)
			return st_error_set(r->err, ST_ENOMEM, "%s: out of "
					    "memory", r->what);
		rc = mr_object(r, l->len - 1, m);
		/* Written sorted by iid; anything else is not our file. */
		if (!rc && l->len > 1 && m[-1].iid >= m->iid)
			rc = fail(r, "mrs[%zu]: iids out of order", l->len - 1);
		if (rc)
			return rc;
		if (eat(r, ']'))
			return ST_OK;
		if (!eat(r, ','))
			return bad_json(r);
	}
}

enum { R_API, R_PROJECT, R_CURSOR, R_FULL, R_MRS };

static int root_member(struct rd *r, const char *k, struct gitlab_cache *c,
		       unsigned *seen)
{
	static const char *const keys[] = { "api_url", "project", "cursor_ms",
					    "full_at", "mrs" };
	int f = -1;

	for (int i = 0; i < 5; i++)
		if (strcmp(k, keys[i]) == 0)
			f = i;
	if (f < 0)
		return skip_value(r);
	if (*seen & 1u << f)
		return fail(r, "%s: duplicate key", k);
	*seen |= 1u << f;
	if (is_null(r))
		return fail(r, "%s: null, a value is required", k);
	switch (f) {
	case R_API:
	case R_PROJECT:
		return str_field(r, "", k, true, f == R_API ? &c->api_url
							      : &c->project);
	case R_CURSOR:
		return int_field(r, "", k, -1, JSON_INT_MAX, &c->cursor_ms);
	case R_FULL:
		return int_field(r, "", k, 0, JSON_INT_MAX, &c->full_at);
	default:
		return mrs_array(r, &c->mrs);
	}
}

int gitlab_cache_parse(const char *body, size_t len, const char *what,
		       struct gitlab_cache *c, struct st_error *err)
{
	struct rd r = { body, body, body + len, what, err, 0 };
	static const char *const names[] = { "api_url", "project", "cursor_ms",
					     "full_at", "mrs" };
	unsigned seen = 0;
	char k[32];
	int rc = 0;

	ws(&r);
	if (r.p == r.end)
		return fail(&r, "empty body, JSON expected");
	if (!eat(&r, '{'))
		return fail(&r, "(top level): expected an object, got %s",
			    kind_at(&r));
	if (!eat(&r, '}')) {
		for (;;) {
			rc = key(&r, k, sizeof(k));
			if (!rc)
				rc = root_member(&r, k, c, &seen);
			if (rc)
				return rc;
			if (eat(&r, '}'))
				break;
			if (!eat(&r, ','))
				return bad_json(&r);
		}
	}
	ws(&r);
	if (r.p != r.end)
		return fail(&r, "trailing bytes after the JSON value (byte %zu)",
			    (size_t)(r.p - r.start));
	for (int f = 0; f < 5; f++)
		if (!(seen & 1u << f))
			return fail(&r, "%s: missing", names[f]);
	return ST_OK;
}
