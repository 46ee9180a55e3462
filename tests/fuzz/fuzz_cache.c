/* SPDX-License-Identifier: MIT */
/*
 * The MR cache file (src/adapters/gitlab_cache.c): gitlab_cache_load() on
 * a file in a private temporary directory ($TMPDIR; scripts/fuzz uses
 * /dev/shm). Byte 0, bit 0: 0 = the rest is the whole file, as found on
 * disk (header checks); 1 = the rest is the JSON body and the harness
 * writes a valid header (format 2: length, gitlab_cache_checksum) so the
 * fuzzer reaches the JSON reader (gitlab_cache_read.c).
 * Expected: api_url "http://127.0.0.1/api/v4", project "7".
 * Properties of a file that loads: MRs sorted by iid without duplicates,
 * required fields present; saving it and loading that gives the same
 * facts (save/load round trip).
 */
#include "fuzz.h"

#include "semver-tagger/gitlab.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define API "http://127.0.0.1/api/v4"
#define PROJECT "7"
#define MAGIC "semver-tagger-mr-cache 2 "
#define MAGIC_OLD "semver-tagger-mr-cache 1 " /* ST_ENOTFOUND: rebuilt */

static char dir[4096];

static void cleanup(void)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/cache", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/again", dir);
	unlink(p);
	rmdir(dir);
}

static int setup(void)
{
	const char *t = getenv("TMPDIR");

	if (dir[0])
		return 0;
	snprintf(dir, sizeof(dir), "%s/fuzz-cache-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir)) {
		perror("fuzz_cache: mkdtemp");
		abort();
	}
	atexit(cleanup);
	return 0;
}

static void write_input(const char *path, const uint8_t *data, size_t n,
			bool header)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char head[96];
	int hl = 0;

	if (fd < 0) {
		perror("fuzz_cache: open");
		abort();
	}
	if (header)
		hl = snprintf(head, sizeof(head), MAGIC "%zu %016llx\n", n,
			      (unsigned long long)gitlab_cache_checksum(data, n));
	if ((hl > 0 && write(fd, head, (size_t)hl) != hl) ||
	    (n > 0 && write(fd, data, n) != (ssize_t)n)) {
		perror("fuzz_cache: write");
		abort();
	}
	close(fd);
}

static void check_loaded(const struct gitlab_cache *c)
{
	FUZZ_ASSERT(strcmp(c->api_url, API) == 0);
	FUZZ_ASSERT(strcmp(c->project, PROJECT) == 0);
	FUZZ_ASSERT(c->cursor_ms >= -1 && c->full_at >= 0);
	for (size_t i = 0; i < c->mrs.len; i++) {
		const struct forge_mr *m = &c->mrs.items[i];

		FUZZ_ASSERT(m->iid >= 1);
		FUZZ_ASSERT(i == 0 || c->mrs.items[i - 1].iid < m->iid);
		FUZZ_ASSERT(m->title && m->target_branch && m->updated_at);
		for (size_t j = 0; j < m->n_labels; j++)
			FUZZ_ASSERT(m->labels[j]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[4200], again[4200];
	struct gitlab_cache c, d;
	struct st_error err;
	int rc;

	if (size < 1)
		return 0;
	setup();
	snprintf(path, sizeof(path), "%s/cache", dir);
	snprintf(again, sizeof(again), "%s/again", dir);
	write_input(path, data + 1, size - 1, data[0] & 1);
	gitlab_cache_init(&c);
	gitlab_cache_init(&d);
	st_error_clear(&err);
	rc = gitlab_cache_load(path, API, PROJECT, &c, &err);
	if (rc == 0) {
		check_loaded(&c);
		FUZZ_ASSERT(gitlab_cache_save(again, &c, &err) == 0);
		rc = gitlab_cache_load(again, API, PROJECT, &d, &err);
		if (rc != 0)
			fprintf(stderr, "reload: %s\n", err.msg);
		FUZZ_ASSERT(rc == 0);
		FUZZ_ASSERT(d.cursor_ms == c.cursor_ms);
		FUZZ_ASSERT(d.full_at == c.full_at);
		FUZZ_ASSERT(d.mrs.len == c.mrs.len);
		for (size_t i = 0; i < c.mrs.len; i++)
			FUZZ_ASSERT(forge_mr_equal(&c.mrs.items[i],
						   &d.mrs.items[i]));
	} else {
		FUZZ_ASSERT(rc < 0 && err.code == rc && err.msg[0]);
		FUZZ_ASSERT(rc != ST_ENOTFOUND ||
			    (!(data[0] & 1) && size - 1 >= strlen(MAGIC_OLD) &&
			     memcmp(data + 1, MAGIC_OLD, strlen(MAGIC_OLD)) == 0));
	}
	gitlab_cache_release(&c);
	gitlab_cache_release(&d);
	return 0;
}
