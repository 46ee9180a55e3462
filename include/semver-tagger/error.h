/* SPDX-License-Identifier: MIT */
/*
 * One error convention for the whole program: functions return an int
 * status (0 or a negative ST_E* class) and fill a caller-owned struct
 * st_error whose message names the object (MR !42, branch release/1.2,
 * endpoint, file:line). The first error set wins: a caller adding context
 * never overwrites what a lower layer said.
 */
#ifndef SEMVER_TAGGER_ERROR_H
#define SEMVER_TAGGER_ERROR_H

#include <stddef.h>

enum st_status {
	ST_OK = 0,
	ST_EINVAL = -1,    /* bad input data (API body, tag, label, file) */
	ST_ENOMEM = -2,    /* allocation failed */
	ST_EIO = -3,       /* local I/O (state dir, mirror) */
	ST_ETEMP = -4,     /* network or server trouble; safe to retry */
	ST_EAUTH = -5,     /* authentication or permission */
	ST_ECONFIG = -6,   /* configuration */
	ST_EREFUSED = -7,  /* a person must fix something (labels, branch) */
	ST_ECONFLICT = -8, /* a tag exists with another target */
	ST_ERACE = -9,     /* a concurrent runner moved a ref first */
	ST_ENOTFOUND = -10,
	ST_ETOOBIG = -11,  /* input over its size cap */
	ST_EINTERNAL = -12,
};

#define ST_ERROR_MSG_MAX 1024

struct st_error {
	int code;                   /* 0 while no error is recorded */
	char msg[ST_ERROR_MSG_MAX]; /* NUL-terminated, possibly truncated */
};

/* Clear err (code 0, empty message). err may be NULL. */
void st_error_clear(struct st_error *err);

/*
 * Record an error unless one is already recorded; return code either way,
 * so callers can write `return st_error_set(err, ST_EINVAL, "...")`.
 * err may be NULL (the status is still returned).
 */
int st_error_set(struct st_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Prefix the recorded message with context ("branch release/1: ...").
 * Keeps the recorded code. Does nothing when no error is recorded.
 */
void st_error_prefix(struct st_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A short stable name for a status ("invalid-input", "temporary", ...). */
const char *st_status_name(int code);

#endif
