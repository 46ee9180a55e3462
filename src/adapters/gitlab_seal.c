/* SPDX-License-Identifier: MIT */
/*
 * The caches' seal (see gitlab_internal.h). The key is HMAC-SHA-256 of a
 * fixed label under the token, so the token itself is never kept here
 * and a seal says nothing about it. "<path>.seal" is
 * "semver-tagger-seal 1 <64 hex>\n", written with a temporary file and a
 * rename after the sealed file is in place: a crash in between leaves a
 * stale seal, which costs a full listing.
 */
#include "gitlab_internal.h"

#include "semver-tagger/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SEAL_MAGIC "semver-tagger-seal 1 "
#define SEAL_TEXT_LEN (sizeof(SEAL_MAGIC) - 1 + 2 * SHA256_LEN + 1)
#define SEALED_MAX ((uint64_t)256 << 20) /* the MR cache's own cap */

void gitlab_seal_key(struct gitlab *g, const char *token)
{
	static const char label[] = "semver-tagger state seal 1";

	hmac_sha256(token, strlen(token), label, sizeof(label) - 1,
		    g->seal_key);
}

/* The seal text of the file at path, or ST_ENOTFOUND / ST_EIO. */
static int seal_of(const struct gitlab *g, const char *path,
		   char text[SEAL_TEXT_LEN + 1], struct st_error *err)
{
	unsigned char buf[65536], mac[SHA256_LEN];
	struct hmac_sha256 h;
	uint64_t total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;
	size_t k;

	if (fd < 0)
		return st_error_set(err, errno == ENOENT ? ST_ENOTFOUND : ST_EIO,
				    "%s: %s", path, strerror(errno));
	hmac_sha256_init(&h, g->seal_key, sizeof(g->seal_key));
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (total += (uint64_t)n) > SEALED_MAX) {
			close(fd);
			hmac_sha256_final(&h, mac);
			return st_error_set(err, ST_EIO, "%s: %s", path,
					    n < 0 ? "read error" : "too large");
		}
		hmac_sha256_update(&h, buf, (size_t)n);
	}
	close(fd);
	hmac_sha256_final(&h, mac);
	k = (size_t)snprintf(text, SEAL_TEXT_LEN + 1, "%s", SEAL_MAGIC);
	for (size_t i = 0; i < SHA256_LEN; i++)
		k += (size_t)snprintf(text + k, SEAL_TEXT_LEN + 1 - k, "%02x",
				      mac[i]);
	snprintf(text + k, SEAL_TEXT_LEN + 1 - k, "\n");
	return ST_OK;
}

int gitlab_seal_check(const struct gitlab *g, const char *path,
		      struct st_error *err)
{
	char want[SEAL_TEXT_LEN + 1], got[SEAL_TEXT_LEN + 2], seal[4200];
	unsigned char diff = 0;
	ssize_t n = -1;
	int fd, rc = seal_of(g, path, want, err);

	if (rc)
		return rc;
	if ((size_t)snprintf(seal, sizeof(seal), "%s.seal", path) >=
	    sizeof(seal))
		return st_error_set(err, ST_EINVAL, "%s: path too long", path);
	fd = open(seal, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		n = read(fd, got, sizeof(got));
		close(fd);
	}
	if (n != (ssize_t)SEAL_TEXT_LEN)
		return st_error_set(err, ST_EINVAL, "%s: no valid seal (%s)",
				    path, fd < 0 ? "missing" : "malformed");
	for (size_t i = 0; i < SEAL_TEXT_LEN; i++)
		diff |= (unsigned char)(want[i] ^ got[i]);
	if (diff)
		return st_error_set(err, ST_EINVAL, "%s: seal does not match "
				    "(altered, or written with another token)",
				    path);
	return ST_OK;
}

int gitlab_seal_write(const struct gitlab *g, const char *path,
		      struct st_error *err)
{
	char text[SEAL_TEXT_LEN + 1], seal[4200], tmp[4300];
	int fd, rc = seal_of(g, path, text, err);
	bool ok;

	if (rc)
		return rc;
	if ((size_t)snprintf(seal, sizeof(seal), "%s.seal", path) >=
		    sizeof(seal) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", seal,
			     (long)getpid()) >= sizeof(tmp))
		return st_error_set(err, ST_EINVAL, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	ok = fd >= 0 && write(fd, text, SEAL_TEXT_LEN) ==
				(ssize_t)SEAL_TEXT_LEN;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (!ok || rename(tmp, seal) != 0) {
		unlink(tmp);
		return st_error_set(err, ST_EIO, "%s: cannot write", seal);
	}
	return ST_OK;
}
