/* SPDX-License-Identifier: MIT */
/*
 * The MR cache file: a header line with the body's length and an FNV-1a
 * checksum, then JSON. The checksum catches the damage JSON parsing cannot
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

#define CACHE_MAGIC "semver-tagger-mr-cache 1 "
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

static uint64_t fnv1a64(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
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
		 (unsigned long long)fnv1a64(body, strlen(body)));
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

static int read_file(const char *path, struct strbuf *sb, struct st_error *err)
{
	/* O_NOFOLLOW: a symlink planted in the state directory is refused. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char buf[65536];
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
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || strbuf_add(sb, buf, (size_t)n) != 0) {
			close(fd);
			return st_error_set(err, n < 0 ? ST_EIO : ST_ETOOBIG,
					    "MR cache %s: %s", path, n < 0 ?
					    "read error" : "too large");
		}
	}
	close(fd);
	return ST_OK;
}

/* The header: magic, body length, checksum. *body set on success. */
static int check_header(const struct strbuf *sb, const char *path,
			const char **body, struct st_error *err)
{
	const char *p = strbuf_str(sb), *nl = memchr(p, '\n', sb->len);
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
	if (fnv1a64(nl + 1, len) != sum)
		return st_error_set(err, ST_EINVAL, "MR cache %s: checksum "
				    "mismatch", path);
	*body = nl + 1;
	return ST_OK;
}

static int cache_labels(const cJSON *o, const struct json_where *w,
			struct forge_mr *m, struct st_error *err)
{
	const cJSON *arr = NULL, *it;
	int n, rc = json_get_array(o, "labels", JSON_REQUIRED | JSON_NOT_NULL,
				   w, &arr, err);

	if (rc || (n = cJSON_GetArraySize(arr)) == 0)
		return rc;
	if (!(m->labels = calloc((size_t)n, sizeof(char *))))
		return st_error_set(err, ST_ENOMEM, "%s: out of memory",
				    w->what);
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it))
			return st_error_set(err, ST_EINVAL, "%s: %s.labels: "
					    "expected strings", w->what,
					    w->prefix);
		if (!(m->labels[m->n_labels] = strdup(it->valuestring)))
			return st_error_set(err, ST_ENOMEM, "%s: out of "
					    "memory", w->what);
		m->n_labels++;
	}
	return ST_OK;
}

static int cache_mr(const cJSON *o, const struct json_where *w,
		    struct forge_mr *m, struct st_error *err)
{
	struct { const char *k; char **dst; unsigned flags; } f[] = {
		{"title", &m->title, JSON_NOT_NULL},
		{"web_url", &m->web_url, 0},
		{"source_branch", &m->source_branch, 0},
		{"target_branch", &m->target_branch, JSON_NOT_NULL},
		{"author_username", &m->author_username, 0},
		{"author_name", &m->author_name, 0},
		{"merged_at", &m->merged_at, 0},
		{"updated_at", &m->updated_at, JSON_NOT_NULL},
		{"head_sha", &m->head_sha, 0},
		{"commit", &m->commit, 0},
	};
	int rc = json_get_int(o, "iid", JSON_REQUIRED | JSON_NOT_NULL, 1,
			      JSON_INT_MAX, w, &m->iid, err);

	for (size_t i = 0; !rc && i < sizeof(f) / sizeof(f[0]); i++) {
		const char *s = NULL;

		rc = json_get_str(o, f[i].k, JSON_REQUIRED | f[i].flags, w, &s,
				  err);
		if (!rc && gitlab_dup(f[i].dst, s))
			rc = st_error_set(err, ST_ENOMEM, "%s: out of memory",
					  w->what);
	}
	if (!rc)
		rc = cache_labels(o, w, m, err);
	return rc;
}

static int cache_mrs(const cJSON *arr, const char *what,
		     struct forge_mr_list *l, struct st_error *err)
{
	const cJSON *it;
	int rc = 0;

	cJSON_ArrayForEach(it, arr) {
		char prefix[40];
		struct json_where w = {what, prefix};
		struct forge_mr *m = forge_mr_list_push(l);

		snprintf(prefix, sizeof(prefix), "mrs[%zu]", l->len - 1);
		if (!m)
			return st_error_set(err, ST_ENOMEM, "%s: out of memory",
					    what);
		rc = cache_mr(it, &w, m, err);
		/* Written sorted by iid; anything else is not our file. */
		if (!rc && l->len > 1 && m[-1].iid >= m->iid)
			rc = st_error_set(err, ST_EINVAL, "%s: %s: iids out of "
					  "order", what, prefix);
		if (rc)
			return rc;
	}
	return ST_OK;
}

static int cache_from_json(const cJSON *root, const char *what,
			   const char *api_url, const char *project,
			   struct gitlab_cache *c, struct st_error *err)
{
	struct json_where w = {what, ""};
	const unsigned req = JSON_REQUIRED | JSON_NOT_NULL;
	const char *url = NULL, *proj = NULL;
	const cJSON *mrs = NULL;
	int rc = json_get_str(root, "api_url", req, &w, &url, err);

	if (!rc)
		rc = json_get_str(root, "project", req, &w, &proj, err);
	if (!rc && (strcmp(url, api_url) != 0 || strcmp(proj, project) != 0))
		rc = st_error_set(err, ST_EINVAL, "%s: written for project %s "
				  "at %s, not this one", what, proj, url);
	if (!rc)
		rc = json_get_int(root, "cursor_ms", req, -1, JSON_INT_MAX, &w,
				  &c->cursor_ms, err);
	if (!rc)
		rc = json_get_int(root, "full_at", req, 0, JSON_INT_MAX, &w,
				  &c->full_at, err);
	if (!rc)
		rc = json_get_array(root, "mrs", req, &w, &mrs, err);
	if (!rc)
		rc = cache_mrs(mrs, what, &c->mrs, err);
	if (!rc && (gitlab_dup(&c->api_url, url) ||
		    gitlab_dup(&c->project, proj)))
		rc = st_error_set(err, ST_ENOMEM, "%s: out of memory", what);
	return rc;
}

int gitlab_cache_load(const char *path, const char *api_url,
		      const char *project, struct gitlab_cache *out,
		      struct st_error *err)
{
	struct strbuf sb;
	struct gitlab_cache c;
	const char *body = NULL;
	cJSON *root = NULL;
	char what[4200];
	int rc;

	snprintf(what, sizeof(what), "MR cache %s", path);
	strbuf_init(&sb, CACHE_MAX);
	gitlab_cache_init(&c);
	rc = read_file(path, &sb, err);
	if (!rc)
		rc = check_header(&sb, path, &body, err);
	if (!rc)
		rc = json_parse(body, sb.len - (size_t)(body - sb.buf), what,
				&root, err);
	if (!rc)
		rc = cache_from_json(root, what, api_url, project, &c, err);
	cJSON_Delete(root);
	strbuf_release(&sb);
	if (rc) {
		gitlab_cache_release(&c);
		return rc;
	}
	gitlab_cache_release(out);
	*out = c;
	return ST_OK;
}
