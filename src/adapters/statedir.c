/* SPDX-License-Identifier: MIT */
/*
 * State-directory ownership and permission checks (statedir.h). lstat
 * only: a check that followed links would vouch for the link's target
 * and not for the link.
 */
#include "semver-tagger/statedir.h"

#include <dirent.h>
#include <stdlib.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int refuse_owner(const char *path, const struct stat *st,
			struct st_error *err)
{
	return st_error_set(err, ST_ECONFIG, "state directory: %s is owned by "
			    "uid %lu, not by the running user (uid %lu): "
			    "another user could plant what it holds; remove "
			    "it or chown it to uid %lu", path,
			    (unsigned long)st->st_uid,
			    (unsigned long)geteuid(),
			    (unsigned long)geteuid());
}

static int refuse_mode(const char *path, const struct stat *st,
		       struct st_error *err)
{
	return st_error_set(err, ST_ECONFIG, "state directory: %s is writable "
			    "by group or others (mode %04o): another user "
			    "could plant what it holds; fix with "
			    "'chmod go-w %s' (or remove it)", path,
			    (unsigned)(st->st_mode & 07777), path);
}

/* An entry of the state directory (or the directory): ours, private. */
static int check_own(const char *path, bool missing_ok, struct st_error *err)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT && missing_ok)
			return ST_OK;
		return st_error_set(err, ST_EIO, "state directory: %s: %s",
				    path, strerror(errno));
	}
	if (st.st_uid != geteuid())
		return refuse_owner(path, &st, err);
	if (!S_ISLNK(st.st_mode) && (st.st_mode & 022))
		return refuse_mode(path, &st, err);
	return ST_OK;
}

/* An ancestor: ours or root's; shared-writable only when sticky. */
static int check_ancestor(const char *path, struct st_error *err)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return st_error_set(err, ST_EIO, "state directory: %s: %s",
				    path, strerror(errno));
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return refuse_owner(path, &st, err);
	if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))
		return refuse_mode(path, &st, err);
	return ST_OK;
}

static int check_ancestors(const char *dir, struct st_error *err)
{
	char buf[PATH_MAX];
	int rc = ST_OK;

	snprintf(buf, sizeof(buf), "%s", dir); /* dir: a realpath() */
	for (char *slash = strrchr(buf, '/'); rc == 0 && slash;
	     slash = strrchr(buf, '/')) {
		if (slash == buf) {
			rc = check_ancestor("/", err);
			break;
		}
		*slash = '\0';
		rc = check_ancestor(buf, err);
	}
	return rc;
}

static int check_entries(const char *dir, struct st_error *err)
{
	char path[PATH_MAX];
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = ST_OK;

	if (!d)
		return st_error_set(err, ST_EIO, "state directory: %s: %s",
				    dir, strerror(errno));
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     de->d_name) >= sizeof(path))
			rc = st_error_set(err, ST_ECONFIG, "state directory: "
					  "path too long in %s", dir);
		else
			rc = check_own(path, true, err);
	}
	closedir(d);
	return rc;
}

int statedir_check(const char *dir, struct st_error *err)
{
	char cfg[PATH_MAX], real[PATH_MAX];
	int rc = check_own(dir, false, err);

	/* a link to the directory: the link is ours, and so is its target */
	if (rc == 0 && !realpath(dir, real))
		rc = st_error_set(err, ST_EIO, "state directory: %s: %s", dir,
				  strerror(errno));
	if (rc == 0 && strcmp(real, dir) != 0)
		rc = check_own(real, false, err);
	if (rc == 0)
		rc = check_ancestors(real, err);
	if (rc == 0)
		rc = check_entries(dir, err);
	/* the mirror's config names remotes and proxies */
	if (rc == 0 && (size_t)snprintf(cfg, sizeof(cfg), "%s/mirror.git/config",
					dir) < sizeof(cfg))
		rc = check_own(cfg, true, err);
	return rc;
}
