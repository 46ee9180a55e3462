/* SPDX-License-Identifier: MIT */
/*
 * Loading a secret (the API token) from a file, an environment variable or
 * systemd's credential directory; never from argv, where every user of the
 * machine can read it. One trailing newline is trimmed (editors add one);
 * anything else that is not a visible ASCII character is refused, since
 * the value goes into an HTTP header. Error messages name where the secret
 * came from, never its value. Memory is wiped on release.
 */
#ifndef SEMVER_TAGGER_SECRET_H
#define SEMVER_TAGGER_SECRET_H

#include "semver-tagger/error.h"

#include <stdbool.h>
#include <stddef.h>

#define SECRET_MAX 4096

struct secret {
	char *value; /* NUL-terminated, NULL until loaded */
	size_t len;
};

void secret_init(struct secret *s);
/* Wipe and free. s may be NULL. */
void secret_release(struct secret *s);

/* From a regular file of at most SECRET_MAX bytes (plus the newline).
 * ST_ENOTFOUND when it does not exist, ST_EIO, ST_ETOOBIG, ST_EINVAL. */
int secret_read_file(struct secret *s, const char *path,
		     struct st_error *err);

/* From $var. ST_ENOTFOUND when unset or empty. With scrub, the variable is
 * overwritten in place and unset, so /proc/<pid>/environ no longer shows
 * it (the application decides; it changes the process environment). */
int secret_from_env(struct secret *s, const char *var, bool scrub,
		    struct st_error *err);

/* From $CREDENTIALS_DIRECTORY/name (systemd LoadCredential=).
 * ST_ENOTFOUND when the variable is unset or the file missing. */
int secret_from_credentials(struct secret *s, const char *name,
			    struct st_error *err);

/* Check and take a candidate value (trims one trailing newline). `from`
 * names the source in errors. On success s owns a copy. */
int secret_set(struct secret *s, const char *value, size_t len,
	       const char *from, struct st_error *err);

#endif
