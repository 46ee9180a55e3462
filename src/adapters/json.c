/* SPDX-License-Identifier: MIT */
#include "semver-tagger/json.h"

#include <math.h>
#include <string.h>

/* Nesting of text: 0 past max, else 1 and *open = brackets left open at
 * the end (+1 when it ends inside a string). */
static int scan_depth(const char *text, size_t len, int max, int *open)
{
	int depth = 0;
	bool in_str = false;

	/* A linear pre-scan, so a hostile body is refused before cJSON
	 * recurses into it (its own limit is 1000 levels of C stack). */
	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				return 0;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	*open = depth + in_str;
	return 1;
}

int json_depth_ok(const char *text, size_t len, int max)
{
	int open;

	return scan_depth(text, len, max, &open);
}

static bool only_space(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return false;
	return true;
}

int json_parse(const char *text, size_t len, const char *what, cJSON **out,
	       struct st_error *err)
{
	const char *end = NULL;
	cJSON *root;
	int open = 0;

	if (len == 0 || only_space(text, text + len))
		return st_error_set(err, ST_EINVAL, "%s: empty body, JSON "
				    "expected", what);
	if (!scan_depth(text, len, JSON_MAX_DEPTH, &open))
		return st_error_set(err, ST_EINVAL, "%s: JSON nested deeper "
				    "than %d levels", what, JSON_MAX_DEPTH);
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		size_t at = end && end >= text ? (size_t)(end - text) : 0;

		return st_error_set(err, ST_EINVAL, "%s: body is not valid "
				    "JSON (error at byte %zu of %zu%s)", what,
				    at, len, open > 0 ? ", truncated" : "");
	}
	if (end && !only_space(end, text + len)) {
		cJSON_Delete(root);
		return st_error_set(err, ST_EINVAL, "%s: trailing bytes after "
				    "the JSON value (byte %zu)", what,
				    (size_t)(end - text));
	}
	*out = root;
	return ST_OK;
}

const char *json_type_name(const cJSON *item)
{
	if (!item)
		return "missing";
	if (cJSON_IsNull(item))
		return "null";
	if (cJSON_IsBool(item))
		return "boolean";
	if (cJSON_IsNumber(item))
		return "number";
	if (cJSON_IsString(item))
		return "string";
	if (cJSON_IsArray(item))
		return "array";
	if (cJSON_IsObject(item))
		return "object";
	return "invalid";
}

int json_int_value(const cJSON *item, int64_t min, int64_t max, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(item))
		return ST_EINVAL;
	d = item->valuedouble;
	/* cJSON keeps only a double: refuse fractions and anything at or
	 * past 2^53 instead of handing back a silently rounded id. */
	if (!isfinite(d) || d != floor(d) || d > (double)JSON_INT_MAX ||
	    d < -(double)JSON_INT_MAX)
		return ST_EINVAL;
	if ((int64_t)d < min || (int64_t)d > max)
		return ST_EINVAL;
	*out = (int64_t)d;
	return ST_OK;
}

/* Look key up and apply the presence flags. 1: value to convert, 0: absent
 * or null and allowed, <0: error recorded. */
static int lookup(const cJSON *obj, const char *key, unsigned flags,
		  const struct json_where *w, const cJSON **item,
		  struct st_error *err)
{
	const cJSON *it = cJSON_IsObject(obj) ?
		cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;

	if (!cJSON_IsObject(obj))
		return st_error_set(err, ST_EINVAL, "%s: %s: expected an "
				    "object, got %s", w->what,
				    *w->prefix ? w->prefix : "(top level)",
				    json_type_name(obj));
	if (!it && (flags & JSON_REQUIRED))
		return st_error_set(err, ST_EINVAL, "%s: %s%s%s: missing",
				    w->what, w->prefix, *w->prefix ? "." : "",
				    key);
	if (it && cJSON_IsNull(it) && (flags & JSON_NOT_NULL))
		return st_error_set(err, ST_EINVAL, "%s: %s%s%s: null, %s",
				    w->what, w->prefix, *w->prefix ? "." : "",
				    key, "a value is required");
	if (!it || cJSON_IsNull(it))
		return 0;
	*item = it;
	return 1;
}

static int wrong_type(const struct json_where *w, const char *key,
		      const char *want, const cJSON *it, struct st_error *err)
{
	return st_error_set(err, ST_EINVAL, "%s: %s%s%s: expected %s, got %s",
			    w->what, w->prefix, *w->prefix ? "." : "", key,
			    want, json_type_name(it));
}

int json_get_str(const cJSON *obj, const char *key, unsigned flags,
		 const struct json_where *w, const char **out,
		 struct st_error *err)
{
	const cJSON *it = NULL;
	int rc = lookup(obj, key, flags, w, &it, err);

	if (rc <= 0)
		return rc;
	if (!cJSON_IsString(it) || !it->valuestring)
		return wrong_type(w, key, "a string", it, err);
	*out = it->valuestring;
	return ST_OK;
}

int json_get_int(const cJSON *obj, const char *key, unsigned flags,
		 int64_t min, int64_t max, const struct json_where *w,
		 int64_t *out, struct st_error *err)
{
	const cJSON *it = NULL;
	int rc = lookup(obj, key, flags, w, &it, err);

	if (rc <= 0)
		return rc;
	if (!cJSON_IsNumber(it))
		return wrong_type(w, key, "an integer", it, err);
	if (json_int_value(it, min, max, out) != 0)
		return st_error_set(err, ST_EINVAL, "%s: %s%s%s: %.17g is not "
				    "an integer in [%lld, %lld]", w->what,
				    w->prefix, *w->prefix ? "." : "", key,
				    it->valuedouble, (long long)min,
				    (long long)max);
	return ST_OK;
}

int json_get_bool(const cJSON *obj, const char *key, unsigned flags,
		  const struct json_where *w, bool *out, struct st_error *err)
{
	const cJSON *it = NULL;
	int rc = lookup(obj, key, flags, w, &it, err);

	if (rc < 0)
		return rc;
	if (rc == 0) {
		*out = false;
		return ST_OK;
	}
	if (!cJSON_IsBool(it))
		return wrong_type(w, key, "a boolean", it, err);
	*out = cJSON_IsTrue(it);
	return ST_OK;
}

int json_get_object(const cJSON *obj, const char *key, unsigned flags,
		    const struct json_where *w, const cJSON **out,
		    struct st_error *err)
{
	const cJSON *it = NULL;
	int rc = lookup(obj, key, flags, w, &it, err);

	if (rc <= 0)
		return rc;
	if (!cJSON_IsObject(it))
		return wrong_type(w, key, "an object", it, err);
	*out = it;
	return ST_OK;
}

int json_get_array(const cJSON *obj, const char *key, unsigned flags,
		   const struct json_where *w, const cJSON **out,
		   struct st_error *err)
{
	const cJSON *it = NULL;
	int rc = lookup(obj, key, flags, w, &it, err);

	if (rc <= 0)
		return rc;
	if (!cJSON_IsArray(it))
		return wrong_type(w, key, "an array", it, err);
	*out = it;
	return ST_OK;
}
