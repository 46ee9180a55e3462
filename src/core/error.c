/* SPDX-License-Identifier: MIT */
#include "semver-tagger/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void st_error_clear(struct st_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

int st_error_set(struct st_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->code != 0)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void st_error_prefix(struct st_error *err, const char *fmt, ...)
{
	char prefix[ST_ERROR_MSG_MAX];
	char old[ST_ERROR_MSG_MAX];
	va_list ap;

	if (!err || err->code == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
}

const char *st_status_name(int code)
{
	switch (code) {
	case ST_OK: return "ok";
	case ST_EINVAL: return "invalid-input";
	case ST_ENOMEM: return "out-of-memory";
	case ST_EIO: return "io";
	case ST_ETEMP: return "temporary";
	case ST_EAUTH: return "auth";
	case ST_ECONFIG: return "config";
	case ST_EREFUSED: return "refused";
	case ST_ECONFLICT: return "conflict";
	case ST_ERACE: return "race";
	case ST_ENOTFOUND: return "not-found";
	case ST_ETOOBIG: return "too-big";
	case ST_EINTERNAL: return "internal";
	default: return "unknown";
	}
}
