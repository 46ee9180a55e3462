/* SPDX-License-Identifier: MIT */
/*
 * Is a state directory ours alone? (issue 14, item 2)
 *
 * The state directory holds facts that decide where the token goes and
 * what is released (project.cache, merge-requests.cache, mirror.git). A
 * directory another local user can write lets that user plant them, so
 * before any of it is read:
 *
 *  - the directory and its top-level entries (and mirror.git/config)
 *    must be owned by the running user and not writable by group or
 *    others; symbolic links among them must be the user's own;
 *  - every ancestor must be owned by the running user or root, and be
 *    writable by group/others only with the sticky bit (as /tmp is), so
 *    that nobody else can rename the directory away and put another in
 *    its place.
 *
 * This guards against other users of the same machine. It cannot judge
 * content restored by a CI cache (the runner writes it as the job's
 * user); what that cache may be trusted for is in the README.
 */
#ifndef SEMVER_TAGGER_STATEDIR_H
#define SEMVER_TAGGER_STATEDIR_H

#include "semver-tagger/error.h"

/* 0, or ST_ECONFIG naming the offending path, its owner or mode, and the
 * fix (chmod go-w / chown / remove it); ST_EIO when it cannot be read. */
int statedir_check(const char *dir, struct st_error *err);

#endif
