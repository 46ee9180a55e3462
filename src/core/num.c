/* SPDX-License-Identifier: MIT */
#include "semver-tagger/num.h"

#include "semver-tagger/error.h"

#include <string.h>

int num_parse_u64(const char *s, size_t n, bool strict, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || n == 0)
		return ST_EINVAL;
	if (strict && n > 1 && s[0] == '0')
		return ST_EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return ST_EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return ST_EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return ST_OK;
}

int num_parse_u64_max(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (!s || num_parse_u64(s, strlen(s), false, &v) != 0 || v > max)
		return ST_EINVAL;
	*out = v;
	return ST_OK;
}

int num_parse_i64(const char *s, int64_t *out)
{
	bool neg = false;
	uint64_t v;

	if (!s)
		return ST_EINVAL;
	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (num_parse_u64(s, strlen(s), false, &v) != 0)
		return ST_EINVAL;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return ST_EINVAL;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return ST_EINVAL;
		*out = (int64_t)v;
	}
	return ST_OK;
}
