/* SPDX-License-Identifier: MIT */
/*
 * The MR cache file: a header line with the body's length and a 64-bit
 * checksum (gitlab_cache_checksum), then JSON (read by
 * gitlab_cache_read.c). The checksum catches the damage JSON parsing cannot
 * (a flipped byte inside a title still parses); any mismatch makes the
 * caller list everything again instead of planning from bad facts.
 */
#include "gitlab_internal.h"

#include "semver-tagger/num.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC "semver-tagger-mr-cache 2 "
/* Format 1 (FNV-1a checksum): not read any more, rebuilt without a
 * warning, like a missing file. */
#define CACHE_MAGIC_OLD "semver-tagger-mr-cache 1 "
#define CACHE_MAX ((size_t)256 << 20)

void gitlab_cache_init(struct gitlab_cache *c)
{
	memset(c, 0, sizeof(*c));
	c->cursor_ms = -1;
	forge_mr_list_init(&c->mrs);
}

void gitlab_cache_release(struct gitlab_cache *c)
{
	if (!c)
		return;
	free(c->api_url);
	free(c->project);
	forge_mr_list_release(&c->mrs);
	gitlab_cache_init(c);
}

#define K1 0x9E3779B97F4A7C15ULL
#define K2 0xC2B2AE3D27D4EB4FULL
#define K3 0x165667B19E3779F9ULL

static uint64_t rotl64(uint64_t x, unsigned r)
{
	return x << r | x >> (64 - r);
}

/* For a fixed lane value a bijection of w, and for a fixed w a bijection
 * of the lane value: one word changed, the lane's value changed. */
static uint64_t lane(uint64_t v, uint64_t w)
{
	return rotl64(v ^ (w * K1), 31) * K2;
}

static uint64_t word_le(const unsigned char *b, size_t n)
{
	uint64_t w = 0;

	for (size_t i = n; i-- > 0;)
		w = w << 8 | b[i];
	return w;
}

uint64_t gitlab_cache_checksum(const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t v[4] = { K3, 2 * K3, 3 * K3, 4 * K3 }, h = (uint64_t)n;
	size_t i = 0, k = 0;

	for (; n - i >= 32; i += 32)
		for (int j = 0; j < 4; j++)
			v[j] = lane(v[j], word_le(p + i + 8 * j, 8));
	for (; i < n; i += 8, k++)
		v[k % 4] = lane(v[k % 4], word_le(p + i, n - i < 8 ? n - i : 8));
	/* each step a bijection of h: one lane changed, h changed */
	for (int j = 0; j < 4; j++)
		h = rotl64(h ^ v[j], 27) * K1 + K3;
	h ^= h >> 33;
	h *= K2;
	h ^= h >> 29;
	return h;
}

/* --- writing ---------------------------------------------------------- */

static cJSON *mr_to_json(const struct forge_mr *m)
{
	cJSON *o = cJSON_CreateObject(), *labels = cJSON_CreateArray();
	bool ok = o && labels && cJSON_AddItemToObject(o, "labels", labels);
	const struct { const char *k, *v; } s[] = {
		{"title", m->title}, {"web_url", m->web_url},
		{"source_branch", m->source_branch},
		{"target_branch", m->target_branch},
		{"author_username", m->author_username},
		{"author_name", m->author_name}, {"merged_at", m->merged_at},
		{"updated_at", m->updated_at}, {"head_sha", m->head_sha},
		{"commit", m->commit},
	};

	if (!ok)
		cJSON_Delete(labels);
	ok = ok && cJSON_AddNumberToObject(o, "iid", (double)m->iid);
	for (size_t i = 0; ok && i < sizeof(s) / sizeof(s[0]); i++)
		ok = s[i].v ? cJSON_AddStringToObject(o, s[i].k, s[i].v) != NULL
			    : cJSON_AddNullToObject(o, s[i].k) != NULL;
	for (size_t i = 0; ok && i < m->n_labels; i++)
		ok = cJSON_AddItemToArray(labels,
					  cJSON_CreateString(m->labels[i]));
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static char *cache_to_text(const struct gitlab_cache *c)
{
	cJSON *root = cJSON_CreateObject(), *mrs = cJSON_CreateArray();
	bool ok = root && mrs && cJSON_AddItemToObject(root, "mrs", mrs);
	char *text = NULL;

	if (!ok)
		cJSON_Delete(mrs);
	ok = ok && cJSON_AddStringToObject(root, "api_url", c->api_url) &&
	     cJSON_AddStringToObject(root, "project", c->project) &&
	     cJSON_AddNumberToObject(root, "cursor_ms", (double)c->cursor_ms) &&
	     cJSON_AddNumberToObject(root, "full_at", (double)c->full_at);
	for (size_t i = 0; ok && i < c->mrs.len; i++) {
		cJSON *m = mr_to_json(&c->mrs.items[i]);

		ok = m && cJSON_AddItemToArray(mrs, m);
		if (!ok)
			cJSON_Delete(m);
	}
	if (ok)
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path, so the rename itself is durable. */
static int sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 :
				    (size_t)(slash - path)) : strdup(".");
	int fd, rc = -1;

	if (!dir)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(dir);
	return rc;
}

static int write_file(const char *tmp, const char *head, const char *body)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		      O_NOFOLLOW, 0600);
	int rc;

	if (fd < 0)
		return -1;
	rc = write_all(fd, head, strlen(head));
	if (!rc)
		rc = write_all(fd, body, strlen(body));
	/* A failed fsync is final for this write: the page cache may have
	 * dropped the data, so never rename what might not be on disk. */
	if (!rc)
		rc = fsync(fd);
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

int gitlab_cache_save(const char *path, const struct gitlab_cache *c,
		      struct st_error *err)
{
	char *body = cache_to_text(c);
	char head[96], tmp[4200];
	int rc = 0, e;

	if (!body)
		return st_error_set(err, ST_ENOMEM, "MR cache %s: out of "
				    "memory", path);
	snprintf(head, sizeof(head), CACHE_MAGIC "%zu %016llx\n",
		 strlen(body),
		 (unsigned long long)gitlab_cache_checksum(body,
							    strlen(body)));
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (write_file(tmp, head, body) != 0 || rename(tmp, path) != 0 ||
	    sync_dir(path) != 0) {
		e = errno;
		unlink(tmp);
		rc = st_error_set(err, ST_EIO, "MR cache %s: cannot write: %s",
				  path, strerror(e));
	}
	cJSON_free(body);
	return rc;
}

/* --- reading ---------------------------------------------------------- */

/* The whole file into one buffer sized from fstat (a 4 MB cache is read
 * with one allocation and no copies); at most CACHE_MAX bytes. */
struct file_buf {
	char *buf;
	size_t len;
};

static int read_file(const char *path, struct file_buf *fb,
		     struct st_error *err)
{
	/* O_NOFOLLOW: a symlink planted in the state directory is refused. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t cap;
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return st_error_set(err, errno == ENOENT ? ST_ENOTFOUND :
				    ST_EIO, "MR cache %s: %s", path,
				    strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return st_error_set(err, ST_EIO, "MR cache %s: not a regular "
				    "file", path);
	}
	if ((uint64_t)st.st_size > CACHE_MAX) {
		close(fd);
		return st_error_set(err, ST_ETOOBIG, "MR cache %s: too large",
				    path);
	}
	/* one byte more than the size: a file that grew is noticed */
	cap = (size_t)st.st_size + 1;
	fb->buf = malloc(cap + 1);
	fb->len = 0;
	if (!fb->buf) {
		close(fd);
		return st_error_set(err, ST_ENOMEM, "MR cache %s: out of "
				    "memory", path);
	}
	while (fb->len < cap &&
	       (n = read(fd, fb->buf + fb->len, cap - fb->len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return st_error_set(err, ST_EIO, "MR cache %s: read "
					    "error", path);
		}
		fb->len += (size_t)n;
	}
	close(fd);
	if (fb->len == cap)
		return st_error_set(err, ST_EIO, "MR cache %s: changed while "
				    "read", path);
	fb->buf[fb->len] = '\0';
	return ST_OK;
}

/* The header: magic, body length, checksum. *body set on success. */
static int check_header(const struct file_buf *sb, const char *path,
			const char **body, struct st_error *err)
{
	const char *p = sb->buf, *nl = memchr(p, '\n', sb->len);
	const char *sp;
	uint64_t len, sum;
	size_t ml = strlen(CACHE_MAGIC);

	if (!nl || sb->len < ml || memcmp(p, CACHE_MAGIC, ml) != 0)
		return st_error_set(err, ST_EINVAL, "MR cache %s: not a cache "
				    "file of this version", path);
	p += ml;
	sp = memchr(p, ' ', (size_t)(nl - p));
	if (!sp || num_parse_u64(p, (size_t)(sp - p), true, &len) != 0 ||
	    nl - sp - 1 != 16)
		return st_error_set(err, ST_EINVAL, "MR cache %s: bad header",
				    path);
	sum = 0;
	for (const char *h = sp + 1; h < nl; h++) {
		int d = *h >= '0' && *h <= '9' ? *h - '0' :
			*h >= 'a' && *h <= 'f' ? *h - 'a' + 10 : -1;

		if (d < 0)
			return st_error_set(err, ST_EINVAL, "MR cache %s: bad "
					    "header", path);
		sum = sum << 4 | (uint64_t)d;
	}
	if (len != sb->len - (size_t)(nl + 1 - sb->buf))
		return st_error_set(err, ST_EINVAL, "MR cache %s: truncated or "
				    "extended (length mismatch)", path);
	if (gitlab_cache_checksum(nl + 1, len) != sum)
		return st_error_set(err, ST_EINVAL, "MR cache %s: checksum "
				    "mismatch", path);
	*body = nl + 1;
	return ST_OK;
}

int gitlab_cache_load(const char *path, const char *api_url,
		      const char *project, struct gitlab_cache *out,
		      struct st_error *err)
{
	struct file_buf sb = { NULL, 0 };
	struct gitlab_cache c;
	const char *body = NULL;
	char what[4200];
	int rc;

	snprintf(what, sizeof(what), "MR cache %s", path);
	gitlab_cache_init(&c);
	rc = read_file(path, &sb, err);
	if (!rc && sb.len >= strlen(CACHE_MAGIC_OLD) &&
	    memcmp(sb.buf, CACHE_MAGIC_OLD, strlen(CACHE_MAGIC_OLD)) == 0)
		rc = st_error_set(err, ST_ENOTFOUND, "MR cache %s: older "
				  "format, rebuilt", path);
	if (!rc)
		rc = check_header(&sb, path, &body, err);
	if (!rc)
		rc = gitlab_cache_parse(body, sb.len - (size_t)(body - sb.buf),
					what, &c, err);
	if (!rc && (strcmp(c.api_url, api_url) != 0 ||
		    strcmp(c.project, project) != 0))
		rc = st_error_set(err, ST_EINVAL, "%s: written for project %s "
				  "at %s, not this one", what, c.project,
				  c.api_url);
	free(sb.buf);
	if (rc) {
		gitlab_cache_release(&c);
		return rc;
	}
	gitlab_cache_release(out);
	*out = c;
	return ST_OK;
}
