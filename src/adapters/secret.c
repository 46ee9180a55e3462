/* SPDX-License-Identifier: MIT */
#include "semver-tagger/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void secret_init(struct secret *s)
{
	s->value = NULL;
	s->len = 0;
}

void secret_release(struct secret *s)
{
	if (!s || !s->value)
		return;
	explicit_bzero(s->value, s->len);
	free(s->value);
	secret_init(s);
}

int secret_set(struct secret *s, const char *value, size_t len,
	       const char *from, struct st_error *err)
{
	char *copy;

	if (len && value[len - 1] == '\n')
		len--;
	if (len && value[len - 1] == '\r')
		len--;
	if (len == 0)
		return st_error_set(err, ST_EINVAL, "secret from %s is empty",
				    from);
	if (len > SECRET_MAX)
		return st_error_set(err, ST_ETOOBIG, "secret from %s is longer "
				    "than %d bytes", from, SECRET_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)value[i] <= 0x20 ||
		    (unsigned char)value[i] >= 0x7f)
			return st_error_set(err, ST_EINVAL, "secret from %s "
					    "contains a space, a control or a "
					    "non-ASCII character at byte %zu "
					    "(only one trailing newline is "
					    "trimmed)", from, i);
	copy = malloc(len + 1);
	if (!copy)
		return st_error_set(err, ST_ENOMEM, "secret: out of memory");
	memcpy(copy, value, len);
	copy[len] = '\0';
	secret_release(s);
	s->value = copy;
	s->len = len;
	return ST_OK;
}

static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;

	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return 0;
}

int secret_read_file(struct secret *s, const char *path,
		     struct st_error *err)
{
	char buf[SECRET_MAX + 3]; /* value, CR LF, one byte to see excess */
	struct stat st;
	size_t len = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return st_error_set(err, errno == ENOENT ? ST_ENOTFOUND :
				    ST_EIO, "secret file %s: %s", path,
				    strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return st_error_set(err, ST_EIO, "secret file %s: not a "
				    "regular file", path);
	}
	rc = read_all(fd, buf, sizeof(buf), &len);
	close(fd);
	if (rc != 0) {
		explicit_bzero(buf, sizeof(buf));
		return st_error_set(err, ST_EIO, "secret file %s: read "
				    "failed", path);
	}
	if (len == sizeof(buf))
		rc = st_error_set(err, ST_ETOOBIG, "secret file %s: longer "
				  "than %d bytes", path, SECRET_MAX);
	else
		rc = secret_set(s, buf, len, path, err);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

int secret_from_env(struct secret *s, const char *var, bool scrub,
		    struct st_error *err)
{
	char *v = getenv(var);
	char from[128];
	int rc;

	if (!v || !*v)
		return st_error_set(err, ST_ENOTFOUND, "environment variable "
				    "%s is not set", var);
	snprintf(from, sizeof(from), "environment variable %s", var);
	rc = secret_set(s, v, strlen(v), from, err);
	if (rc == 0 && scrub) {
		explicit_bzero(v, strlen(v));
		unsetenv(var);
	}
	return rc;
}

int secret_from_credentials(struct secret *s, const char *name,
			    struct st_error *err)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[4096];

	if (!dir || !*dir)
		return st_error_set(err, ST_ENOTFOUND, "CREDENTIALS_DIRECTORY "
				    "is not set (no systemd credentials)");
	if (!*name || strchr(name, '/') || strcmp(name, "..") == 0)
		return st_error_set(err, ST_ECONFIG, "bad credential name");
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return st_error_set(err, ST_ECONFIG, "credential path too "
				    "long");
	return secret_read_file(s, path, err);
}
