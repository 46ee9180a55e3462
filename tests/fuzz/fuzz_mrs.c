/* SPDX-License-Identifier: MIT */
/*
 * GitLab MR list JSON (gitlab_mrs_parse: json.c, json_time.c,
 * gitlab_mrs.c, forge_mr.c). Byte 0 picks the state filter (bit 0:
 * "merged", else none); the rest is the body of one page. On success:
 *  - every MR has iid in [1, 2^53-1], a title, a target branch and an
 *    updated_at that parses as a time, and that time formats and parses
 *    back to the same millisecond;
 *  - commit is a full hex id or NULL, and is one of the three SHA fields;
 *  - labels are non-NULL strings;
 *  - a deep copy is equal, and the sorted list finds every iid.
 */
#include "fuzz.h"

#include "semver-tagger/gitlab.h"
#include "semver-tagger/json.h"

#include <string.h>

static bool hex_id(const char *s)
{
	size_t n = strlen(s);

	if (n != 40 && n != 64)
		return false;
	return strspn(s, "0123456789abcdef") == n;
}

static void check_time(const char *s)
{
	int64_t ms, again;
	char buf[32];

	FUZZ_ASSERT(json_time_parse(s, &ms) == 0);
	if (json_time_format(ms, buf) != 0)
		return; /* before year 1: refused, fine */
	FUZZ_ASSERT(json_time_parse(buf, &again) == 0);
	FUZZ_ASSERT(again == ms);
}

static void check_mr(const struct forge_mr *m)
{
	struct forge_mr copy;

	FUZZ_ASSERT(m->iid >= 1 && m->iid <= JSON_INT_MAX);
	FUZZ_ASSERT(m->title && m->target_branch && m->updated_at);
	check_time(m->updated_at);
	if (m->merged_at)
		check_time(m->merged_at);
	if (m->commit)
		FUZZ_ASSERT(hex_id(m->commit));
	if (m->head_sha)
		FUZZ_ASSERT(hex_id(m->head_sha));
	for (size_t i = 0; i < m->n_labels; i++)
		FUZZ_ASSERT(m->labels && m->labels[i]);
	memset(&copy, 0, sizeof(copy));
	if (forge_mr_copy(&copy, m) == 0) {
		FUZZ_ASSERT(forge_mr_equal(&copy, m));
		forge_mr_release(&copy);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct forge_mr_list l;
	struct st_error err;
	const char *want;
	int rc;

	if (size < 1)
		return 0;
	want = (data[0] & 1) ? "merged" : NULL;
	forge_mr_list_init(&l);
	st_error_clear(&err);
	rc = gitlab_mrs_parse((const char *)data + 1, size - 1,
			      "GET /projects/7/merge_requests", want, &l,
			      &err);
	if (rc == 0) {
		FUZZ_ASSERT(err.code == 0);
		for (size_t i = 0; i < l.len; i++)
			check_mr(&l.items[i]);
		forge_mr_list_sort(&l);
		for (size_t i = 0; i < l.len; i++) {
			const struct forge_mr *f =
				forge_mr_list_find(&l, l.items[i].iid);

			FUZZ_ASSERT(f && f->iid == l.items[i].iid);
			if (i > 0)
				FUZZ_ASSERT(l.items[i - 1].iid < l.items[i].iid);
		}
	} else {
		FUZZ_ASSERT(rc < 0 && err.code == rc && err.msg[0]);
	}
	forge_mr_list_release(&l);
	return 0;
}
