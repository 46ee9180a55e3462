/* SPDX-License-Identifier: MIT */
/*
 * GitLab client pieces that need no server: MR JSON (literal payloads in
 * GitLab's shape) to facts, the MR cache file, text escaping against quick
 * actions, MR lists, and the secret loader.
 */
#include "semver-tagger/forge.h"
#include "semver-tagger/gitlab.h"
#include "semver-tagger/secret.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHA_A "1111111111111111111111111111111111111111"
#define SHA_B "2222222222222222222222222222222222222222"
#define SHA_C "3333333333333333333333333333333333333333"

/* Trimmed from a real GET /projects/:id/merge_requests answer. */
static const char page[] = "["
	"{\"id\":1001,\"iid\":3,\"project_id\":7,\"title\":\"Merge commit\","
	"\"description\":null,\"state\":\"merged\","
	"\"created_at\":\"2026-03-01T10:00:00.000Z\","
	"\"updated_at\":\"2026-03-14T09:21:07.481Z\","
	"\"merged_by\":null,\"merge_user\":{\"id\":1,\"username\":\"root\"},"
	"\"merged_at\":\"2026-03-02T11:00:00.000Z\",\"closed_by\":null,"
	"\"target_branch\":\"main\",\"source_branch\":\"feature/a\","
	"\"author\":{\"id\":5,\"username\":\"alice\",\"name\":\"Alice A.\","
	"\"state\":\"active\",\"locked\":false,\"avatar_url\":null},"
	"\"labels\":[\"Impact::Minor\",\"backend\"],\"draft\":false,"
	"\"sha\":\"" SHA_A "\",\"merge_commit_sha\":\"" SHA_B "\","
	"\"squash_commit_sha\":null,\"discussion_locked\":null,"
	"\"should_remove_source_branch\":null,\"squash\":false,"
	"\"references\":{\"short\":\"!3\",\"full\":\"g/app!3\"},"
	"\"web_url\":\"https://gl.example/g/app/-/merge_requests/3\","
	"\"time_stats\":{\"time_estimate\":0},\"milestone\":null,"
	"\"task_completion_status\":{\"count\":0,\"completed_count\":0}},"
	"{\"id\":1002,\"iid\":4,\"title\":\"FF squash\",\"state\":\"merged\","
	"\"updated_at\":\"2026-03-15T00:00:00.000Z\","
	"\"merged_at\":\"2026-03-15T00:00:00.000Z\",\"target_branch\":"
	"\"release/1\",\"source_branch\":\"fix\",\"author\":{\"username\":"
	"\"bob\",\"name\":\"Bob\"},\"labels\":[],\"sha\":\"" SHA_A "\","
	"\"merge_commit_sha\":null,\"squash_commit_sha\":\"" SHA_C "\"},"
	"{\"id\":1003,\"iid\":5,\"title\":\"Imported FF\",\"state\":\"merged\","
	"\"updated_at\":\"2026-03-16T00:00:00.000Z\",\"merged_at\":null,"
	"\"target_branch\":\"main\",\"author\":null,\"labels\":null,"
	"\"sha\":\"" SHA_C "\",\"merge_commit_sha\":null,"
	"\"squash_commit_sha\":null,\"imported\":true,"
	"\"imported_from\":\"github\"},"
	"{\"id\":1004,\"iid\":6,\"title\":\"still open\",\"state\":\"opened\","
	"\"updated_at\":\"2026-03-16T00:00:00.000Z\",\"target_branch\":\"main\"}"
	"]";

START_TEST(test_mr_page_to_facts)
{
	struct forge_mr_list l;
	struct st_error err;
	const struct forge_mr *m;

	forge_mr_list_init(&l);
	st_error_clear(&err);
	ck_assert_msg(gitlab_mrs_parse(page, strlen(page), "GET /x", "merged",
				       &l, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(l.len, 3); /* the opened one is skipped */
	m = &l.items[0];
	ck_assert(m->iid == 3);
	ck_assert_str_eq(m->title, "Merge commit");
	ck_assert_str_eq(m->target_branch, "main");
	ck_assert_str_eq(m->source_branch, "feature/a");
	ck_assert_str_eq(m->author_username, "alice");
	ck_assert_str_eq(m->author_name, "Alice A.");
	ck_assert_uint_eq(m->n_labels, 2);
	ck_assert_str_eq(m->labels[0], "Impact::Minor");
	ck_assert_str_eq(m->merged_at, "2026-03-02T11:00:00.000Z");
	ck_assert_str_eq(m->updated_at, "2026-03-14T09:21:07.481Z");
	ck_assert_str_eq(m->head_sha, SHA_A);
	ck_assert_str_eq(m->commit, SHA_B); /* merge_commit_sha first */
	ck_assert_str_eq(m->web_url,
			 "https://gl.example/g/app/-/merge_requests/3");
	ck_assert_str_eq(l.items[1].commit, SHA_C); /* then squash */
	ck_assert_str_eq(l.items[1].target_branch, "release/1");
	m = &l.items[2];
	ck_assert_str_eq(m->commit, SHA_C); /* then sha (fast-forward) */
	ck_assert_ptr_null(m->merged_at);   /* imported: unknown */
	ck_assert_ptr_null(m->author_username);
	ck_assert_uint_eq(m->n_labels, 0);
	forge_mr_list_release(&l);
}
END_TEST

/* Each bad payload must fail, naming the endpoint and the field. */
START_TEST(test_mr_wrong_types_name_the_field)
{
	static const struct {
		const char *json, *field;
	} bad[] = {
		{"[{\"iid\":\"3\",\"title\":\"t\",\"target_branch\":\"m\","
		 "\"updated_at\":\"2026-01-01T00:00:00Z\"}]", "[0].iid"},
		{"[{\"iid\":3.5,\"title\":\"t\",\"target_branch\":\"m\","
		 "\"updated_at\":\"2026-01-01T00:00:00Z\"}]", "[0].iid"},
		{"[{\"iid\":3,\"title\":null,\"target_branch\":\"m\","
		 "\"updated_at\":\"2026-01-01T00:00:00Z\"}]", "[0].title"},
		{"[{\"iid\":3,\"title\":\"t\",\"target_branch\":\"m\","
		 "\"updated_at\":\"2026-01-01T00:00:00Z\",\"labels\":[7]}]",
		 "[0].labels[0]"},
		{"[{\"iid\":3,\"title\":\"t\",\"target_branch\":\"m\","
		 "\"updated_at\":\"2026-01-01T00:00:00Z\","
		 "\"merge_commit_sha\":\"xyz\"}]", "[0].merge_commit_sha"},
		{"[{\"iid\":3,\"title\":\"t\",\"target_branch\":\"m\","
		 "\"updated_at\":\"soon\"}]", "[0].updated_at"},
		{"[{\"iid\":3,\"title\":\"t\",\"target_branch\":\"m\","
		 "\"updated_at\":\"2026-01-01T00:00:00Z\",\"author\":"
		 "{\"username\":5}}]", "[0].author.username"},
		{"{\"message\":\"x\"}", "expected a JSON array"},
		{"[1]", "[0]: expected an object, got number"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct forge_mr_list l;
		struct st_error err;

		forge_mr_list_init(&l);
		st_error_clear(&err);
		ck_assert_int_eq(gitlab_mrs_parse(bad[i].json,
						  strlen(bad[i].json),
						  "GET /projects/7/mrs page 1",
						  NULL, &l, &err), ST_EINVAL);
		ck_assert_msg(strstr(err.msg, "GET /projects/7/mrs page 1") &&
			      strstr(err.msg, bad[i].field), "case %zu: %s", i,
			      err.msg);
		ck_assert_uint_eq(l.len, 0);
		forge_mr_list_release(&l);
	}
}
END_TEST

START_TEST(test_list_sort_last_wins)
{
	struct forge_mr_list l;
	static const int64_t iids[] = {5, 2, 9, 2, 5};

	forge_mr_list_init(&l);
	for (size_t i = 0; i < 5; i++) {
		struct forge_mr *m = forge_mr_list_push(&l);
		char t[8];

		snprintf(t, sizeof(t), "v%zu", i);
		m->iid = iids[i];
		m->title = strdup(t);
	}
	forge_mr_list_sort(&l);
	ck_assert_uint_eq(l.len, 3);
	ck_assert(l.items[0].iid == 2);
	ck_assert_str_eq(l.items[0].title, "v3");
	ck_assert_str_eq(l.items[1].title, "v4");
	ck_assert_str_eq(forge_mr_list_find(&l, 9)->title, "v2");
	ck_assert_ptr_null(forge_mr_list_find(&l, 3));
	forge_mr_list_release(&l);
}
END_TEST

/* --- text escaping ------------------------------------------------------ */

static char *escaped(const char *in, int full)
{
	struct strbuf sb;

	strbuf_init(&sb, 1 << 20);
	ck_assert_int_eq(full ? forge_text_escape(&sb, in) :
			 forge_text_defuse(&sb, in), 0);
	return strbuf_detach(&sb);
}

START_TEST(test_escape_quick_actions)
{
	static const char *const cases[][2] = {
		{"/close", "\\/close"},
		{"Fix /etc paths", "Fix /etc paths"},
		{"a\n/label ~x\n  /merge", "a\n\\/label ~x\n  \\/merge"},
		{"\t/approve", "\t\\/approve"},
		{"<!-- semver-tagger:1.0.0 -->", "&lt;!-- semver-tagger:1.0.0 -->"},
		{"bell\a\rx", "bell  x"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *e = escaped(cases[i][0], 1);

		ck_assert_str_eq(e, cases[i][1]);
		ck_assert(forge_text_is_inert(e));
		free(e);
	}
	ck_assert(!forge_text_is_inert("ok\n /close"));
	ck_assert(!forge_text_is_inert("x\r/close"));
}
END_TEST

START_TEST(test_escape_random_text_is_inert)
{
	static const char alphabet[] = "/ \t\n\r<a~";
	unsigned seed = 12345;

	/* Whatever the text, escaping leaves no line that starts with '/'. */
	for (int n = 0; n < 5000; n++) {
		char in[24], *e, *d;

		for (size_t i = 0; i < sizeof(in) - 1; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		in[sizeof(in) - 1] = '\0';
		e = escaped(in, 1);
		d = escaped(in, 0);
		ck_assert_msg(forge_text_is_inert(e), "escape: [%s]", in);
		ck_assert_msg(forge_text_is_inert(d), "defuse: [%s]", in);
		free(e);
		free(d);
	}
}
END_TEST

START_TEST(test_marker_syntax)
{
	ck_assert(forge_marker_valid("semver-tagger:release:1.4.0"));
	ck_assert(forge_marker_valid("semver-tagger/v1+build"));
	ck_assert(!forge_marker_valid(""));
	ck_assert(!forge_marker_valid("a -->"));
	ck_assert(!forge_marker_valid("a--b"));
	ck_assert(!forge_marker_valid("a<b"));
}
END_TEST

/* --- MR cache file -------------------------------------------------------- */

static char tmpdir[256];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gitlab_parse_test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void sample_cache(struct gitlab_cache *c)
{
	struct forge_mr_list l;
	struct st_error err;

	gitlab_cache_init(c);
	forge_mr_list_init(&l);
	st_error_clear(&err);
	ck_assert_int_eq(gitlab_mrs_parse(page, strlen(page), "t", "merged",
					  &l, &err), 0);
	forge_mr_list_sort(&l);
	c->mrs = l;
	c->api_url = strdup("https://gl.example/api/v4");
	c->project = strdup("g/app");
	c->cursor_ms = 1773619200000LL;
	c->full_at = 1773619200;
}

static void write_bytes(const char *path, const char *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

static char *read_bytes(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p = malloc(1 << 20);

	ck_assert_ptr_nonnull(f);
	*n = fread(p, 1, 1 << 20, f);
	fclose(f);
	return p;
}

static int load(const char *path, struct gitlab_cache *out,
		struct st_error *err)
{
	st_error_clear(err);
	return gitlab_cache_load(path, "https://gl.example/api/v4", "g/app",
				 out, err);
}

START_TEST(test_cache_round_trip)
{
	struct gitlab_cache c, back;
	struct st_error err;
	char path[300];

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/mrs.cache", tmpdir);
	sample_cache(&c);
	gitlab_cache_init(&back);
	st_error_clear(&err);
	ck_assert_msg(gitlab_cache_save(path, &c, &err) == 0, "%s", err.msg);
	ck_assert_msg(load(path, &back, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(back.mrs.len, c.mrs.len);
	for (size_t i = 0; i < c.mrs.len; i++)
		ck_assert(forge_mr_equal(&back.mrs.items[i], &c.mrs.items[i]));
	ck_assert(back.cursor_ms == c.cursor_ms);
	ck_assert(back.full_at == c.full_at);
	/* Another project's cache is not ours. */
	gitlab_cache_release(&back);
	st_error_clear(&err);
	ck_assert_int_eq(gitlab_cache_load(path, "https://gl.example/api/v4",
					   "g/other", &back, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not this one"));
	gitlab_cache_release(&c);
	remove_tmpdir();
}
END_TEST

START_TEST(test_cache_corruption_matrix)
{
	struct gitlab_cache c, back;
	struct st_error err;
	char path[300], bad[300];
	size_t n, loaded = 0;
	char *good;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/mrs.cache", tmpdir);
	snprintf(bad, sizeof(bad), "%s/bad.cache", tmpdir);
	sample_cache(&c);
	ck_assert_int_eq(gitlab_cache_save(path, &c, &err), 0);
	good = read_bytes(path, &n);
	gitlab_cache_init(&back);
	/* Every truncation and every single-byte change is refused. */
	for (size_t cut = 0; cut < n; cut++) {
		write_bytes(bad, good, cut);
		ck_assert_msg(load(bad, &back, &err) == ST_EINVAL,
			      "cut at %zu loaded", cut);
	}
	for (size_t i = 0; i < n; i++) {
		good[i] ^= 0x04;
		write_bytes(bad, good, n);
		good[i] ^= 0x04;
		if (load(bad, &back, &err) == 0)
			loaded++;
	}
	ck_assert_uint_eq(loaded, 0);
	ck_assert_ptr_null(back.mrs.items); /* never set on failure */
	ck_assert_int_eq(load("/nonexistent/x.cache", &back, &err),
			 ST_ENOTFOUND);
	/* A symlink planted where the cache should be is refused. */
	unlink(bad);
	ck_assert_int_eq(symlink(path, bad), 0);
	ck_assert_int_ne(load(bad, &back, &err), 0);
	free(good);
	gitlab_cache_release(&c);
	remove_tmpdir();
}
END_TEST

/* A cache file around body, with a valid header of format 2. */
static void write_cache_body(const char *path, const char *body)
{
	char *text = malloc(strlen(body) + 128);
	int n;

	ck_assert_ptr_nonnull(text);
	n = snprintf(text, strlen(body) + 128,
		     "semver-tagger-mr-cache 2 %zu %016llx\n%s", strlen(body),
		     (unsigned long long)gitlab_cache_checksum(body,
							       strlen(body)),
		     body);
	write_bytes(path, text, (size_t)n);
	free(text);
}

START_TEST(test_cache_valid_checksum_wrong_schema)
{
	static const char body[] = "{\"api_url\":\"https://gl.example/api/v4\","
		"\"project\":\"g/app\",\"cursor_ms\":1,\"full_at\":1,"
		"\"mrs\":[{\"iid\":1}]}";
	struct gitlab_cache back;
	struct st_error err;
	char path[300];

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/mrs.cache", tmpdir);
	write_cache_body(path, body);
	gitlab_cache_init(&back);
	ck_assert_int_eq(load(path, &back, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "mrs[0]"));
	remove_tmpdir();
}
END_TEST

#define HEAD_IN "\"api_url\":\"https://gl.example/api/v4\",\"project\":" \
	"\"g/app\",\"cursor_ms\":-1,\"full_at\":0,\"mrs\":"
#define HEAD_OK "{" HEAD_IN
#define MR_FIELDS "\"title\":\"t\",\"web_url\":null,\"source_branch\":null," \
	"\"target_branch\":\"main\",\"author_username\":null,"            \
	"\"author_name\":null,\"merged_at\":null,"                        \
	"\"updated_at\":\"2026-01-01T00:00:00.000Z\",\"head_sha\":null,"  \
	"\"commit\":null,\"labels\":[]"

/* The cache reader (gitlab_cache_read.c): JSON the writer could have
 * produced loads; JSON that is invalid or off-schema is ST_EINVAL naming
 * the place, even under a valid checksum. */
START_TEST(test_cache_reader)
{
	static const struct {
		const char *body;
		int rc;
		const char *msg; /* expected in err.msg (rc != 0) */
	} cases[] = {
		{ HEAD_OK "[]}", 0, NULL },
		{ " \n" HEAD_OK " [ ] } \t", 0, NULL },
		{ HEAD_OK "[{\"iid\":1," MR_FIELDS "}]}", 0, NULL },
		/* unknown keys (any value) are skipped, key order is free */
		{ "{\"x\":{\"a\":[1,2.5e3,true,null,\"\\u00e9\"]}," HEAD_IN
		  "[{\"zz\":[[{}]]," MR_FIELDS ",\"iid\":7}],\"y\":-0.5}", 0,
		  NULL },
		{ HEAD_OK "[{\"iid\":1e0," MR_FIELDS "}]}", 0, NULL },
		{ "", ST_EINVAL, "empty body" },
		{ "[]", ST_EINVAL, "expected an object" },
		{ HEAD_OK "[]", ST_EINVAL, "not valid JSON" },
		{ HEAD_OK "[]} x", ST_EINVAL, "trailing bytes" },
		{ HEAD_OK "[]}}", ST_EINVAL, "trailing bytes" },
		{ "{\"api_url\":\"https://gl.example/api/v4\",\"project\":"
		  "\"g/app\",\"cursor_ms\":-1,\"mrs\":[]}", ST_EINVAL,
		  "full_at: missing" },
		{ HEAD_OK "[],\"mrs\":[]}", ST_EINVAL, "duplicate" },
		{ HEAD_OK "[{\"iid\":1.5," MR_FIELDS "}]}", ST_EINVAL,
		  "mrs[0].iid: 1.5 is not an integer" },
		{ HEAD_OK "[{\"iid\":0," MR_FIELDS "}]}", ST_EINVAL,
		  "mrs[0].iid" },
		{ HEAD_OK "[{\"iid\":\"1\"," MR_FIELDS "}]}", ST_EINVAL,
		  "mrs[0].iid: expected an integer, got string" },
		{ HEAD_OK "[{\"iid\":1," MR_FIELDS ",\"x\":01}]}", ST_EINVAL,
		  "not valid JSON" },
		{ HEAD_OK "[{\"iid\":1," MR_FIELDS ",\"title\":\"u\"}]}",
		  ST_EINVAL, "mrs[0].title: duplicate" },
		{ HEAD_OK "[{\"iid\":2," MR_FIELDS "},{\"iid\":1," MR_FIELDS
		  "}]}", ST_EINVAL, "mrs[1]: iids out of order" },
		{ HEAD_OK "[{\"iid\":1,\"title\":null}]}", ST_EINVAL,
		  "mrs[0].title: null" },
		{ HEAD_OK "[{\"iid\":1,\"labels\":[1]}]}", ST_EINVAL,
		  "mrs[0].labels: expected strings" },
		{ HEAD_OK "[{\"iid\":1,\"web_url\":5}]}", ST_EINVAL,
		  "mrs[0].web_url: expected a string, got number" },
		{ HEAD_OK "[{\"iid\":1}]}", ST_EINVAL, "mrs[0].title: missing" },
		{ HEAD_OK "[7]}", ST_EINVAL, "mrs[0]: expected an object" },
		{ HEAD_OK "{}}", ST_EINVAL, "mrs: expected an array" },
		{ HEAD_OK "[{\"iid\":1," MR_FIELDS ",\"zz\":\"a\nb\"}]}",
		  ST_EINVAL, "not valid JSON" },
		{ HEAD_OK "[{\"iid\":1,\"title\":\"\\u0000\"}]}", ST_EINVAL,
		  "not valid JSON" },
		{ HEAD_OK "[{\"iid\":1,\"title\":\"\\ud800\"}]}", ST_EINVAL,
		  "not valid JSON" },
		{ HEAD_OK "[{\"iid\":1,\"title\":\"\\x\"}]}", ST_EINVAL,
		  "not valid JSON" },
		{ HEAD_OK "[{\"iid\":1,\"title\":\"abc", ST_EINVAL,
		  "not valid JSON" },
		{ "{\"a\":" "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		  "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
		  "]]]]]]]]]]]]]]]]]]]]]]]}", ST_EINVAL, "nested deeper" },
	};
	struct gitlab_cache back;
	struct st_error err;
	char path[300];

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/mrs.cache", tmpdir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		write_cache_body(path, cases[i].body);
		gitlab_cache_init(&back);
		rc = load(path, &back, &err);
		ck_assert_msg(rc == cases[i].rc, "case %zu: rc %d (%s)", i, rc,
			      err.msg);
		if (cases[i].msg)
			ck_assert_msg(strstr(err.msg, cases[i].msg),
				      "case %zu: message \"%s\"", i, err.msg);
		else
			ck_assert_ptr_null(rc ? NULL : strstr(err.msg, "x"));
		gitlab_cache_release(&back);
	}
	remove_tmpdir();
}
END_TEST

/* Strings survive save and load byte for byte: escapes, control
 * characters, non-ASCII and astral characters, quick-action slashes. */
START_TEST(test_cache_strings_round_trip)
{
	static const char *const titles[] = {
		"quote \" backslash \\ slash /", "tab\tnew\nline\rcr\x01\x1f",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80", "/label ~x",
		"", "\x7f del",
	};
	struct gitlab_cache c, back;
	struct st_error err;
	char path[300];

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/mrs.cache", tmpdir);
	sample_cache(&c);
	for (size_t i = 0; i < c.mrs.len && i < 6; i++) {
		free(c.mrs.items[i].title);
		c.mrs.items[i].title = strdup(titles[i]);
	}
	gitlab_cache_init(&back);
	st_error_clear(&err);
	ck_assert_int_eq(gitlab_cache_save(path, &c, &err), 0);
	ck_assert_msg(load(path, &back, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(back.mrs.len, c.mrs.len);
	for (size_t i = 0; i < c.mrs.len; i++)
		ck_assert(forge_mr_equal(&back.mrs.items[i], &c.mrs.items[i]));
	gitlab_cache_release(&back);
	gitlab_cache_release(&c);
	/* An escaped astral character (a surrogate pair) decodes to UTF-8. */
	write_cache_body(path, HEAD_OK "[{\"iid\":1," MR_FIELDS
			 ",\"zz\":0}]}");
	ck_assert_int_eq(load(path, &back, &err), 0);
	gitlab_cache_release(&back);
	write_cache_body(path, "{\"api_url\":\"https://gl.example/api/v4\","
			 "\"project\":\"g/app\",\"cursor_ms\":-1,\"full_at\":0,"
			 "\"mrs\":[{\"iid\":1,\"title\":\"\\ud83d\\ude80\\u00e9"
			 "\\/\",\"web_url\":null,\"source_branch\":null,"
			 "\"target_branch\":\"main\",\"author_username\":null,"
			 "\"author_name\":null,\"merged_at\":null,\"updated_at\":"
			 "\"x\",\"head_sha\":null,\"commit\":null,\"labels\":"
			 "[\"a\\\"b\"]}]}");
	ck_assert_msg(load(path, &back, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(back.mrs.items[0].title,
			 "\xf0\x9f\x9a\x80\xc3\xa9/");
	ck_assert_str_eq(back.mrs.items[0].labels[0], "a\"b");
	gitlab_cache_release(&back);
	remove_tmpdir();
}
END_TEST

/* A cache of format 1 is not read: rebuilt like a missing one (no
 * warning, no .corrupt file). Checksums catch every single-word change. */
START_TEST(test_cache_old_format_and_checksum)
{
	struct gitlab_cache back;
	struct st_error err;
	char path[300], buf[64];
	uint64_t base;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/mrs.cache", tmpdir);
	write_bytes(path, "semver-tagger-mr-cache 1 2 0000000000000000\n{}",
		    47);
	gitlab_cache_init(&back);
	ck_assert_int_eq(load(path, &back, &err), ST_ENOTFOUND);
	remove_tmpdir();
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('a' + i % 26);
	for (size_t n = 0; n <= sizeof(buf); n++) {
		base = gitlab_cache_checksum(buf, n);
		ck_assert(n == 0 || gitlab_cache_checksum(buf, n - 1) != base);
		for (size_t i = 0; i < n; i++)
			for (int bit = 0; bit < 8; bit++) {
				buf[i] ^= (char)(1 << bit);
				ck_assert(gitlab_cache_checksum(buf, n) != base);
				buf[i] ^= (char)(1 << bit);
			}
	}
}
END_TEST

/* --- secrets -------------------------------------------------------------- */

#define CANARY "glpat-CANARY-0123456789abcdef"

START_TEST(test_secret_file)
{
	struct secret s;
	struct st_error err;
	char path[300], big[SECRET_MAX + 10];

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/token", tmpdir);
	secret_init(&s);
	write_bytes(path, CANARY "\n", strlen(CANARY) + 1);
	st_error_clear(&err);
	ck_assert_int_eq(secret_read_file(&s, path, &err), 0);
	ck_assert_str_eq(s.value, CANARY);
	write_bytes(path, CANARY "\r\n", strlen(CANARY) + 2);
	ck_assert_int_eq(secret_read_file(&s, path, &err), 0);
	ck_assert_str_eq(s.value, CANARY);
	/* Only one newline is trimmed; a second one is refused. */
	write_bytes(path, CANARY "\n\n", strlen(CANARY) + 2);
	ck_assert_int_eq(secret_read_file(&s, path, &err), ST_EINVAL);
	ck_assert_ptr_null(strstr(err.msg, CANARY));
	st_error_clear(&err);
	write_bytes(path, CANARY " x", strlen(CANARY) + 2);
	ck_assert_int_eq(secret_read_file(&s, path, &err), ST_EINVAL);
	ck_assert_ptr_null(strstr(err.msg, "glpat"));
	st_error_clear(&err);
	write_bytes(path, "", 0);
	ck_assert_int_eq(secret_read_file(&s, path, &err), ST_EINVAL);
	st_error_clear(&err);
	memset(big, 'a', sizeof(big));
	write_bytes(path, big, sizeof(big));
	ck_assert_int_eq(secret_read_file(&s, path, &err), ST_ETOOBIG);
	st_error_clear(&err);
	ck_assert_int_eq(secret_read_file(&s, "/nonexistent/t", &err),
			 ST_ENOTFOUND);
	ck_assert_str_eq(s.value, CANARY); /* failures kept the old one */
	secret_release(&s);
	ck_assert_ptr_null(s.value);
	remove_tmpdir();
}
END_TEST

START_TEST(test_secret_env_and_credentials)
{
	struct secret s;
	struct st_error err;
	enum gitlab_token_kind kind = GITLAB_TOKEN_PRIVATE;
	char path[300], from[300];

	make_tmpdir();
	secret_init(&s);
	st_error_clear(&err);
	unsetenv("CREDENTIALS_DIRECTORY");
	unsetenv("GITLAB_TOKEN");
	setenv("CI_JOB_TOKEN", "job-" CANARY, 1);
	ck_assert_int_eq(gitlab_token_find(NULL, &s, &kind, from,
					   sizeof(from), &err), 0);
	ck_assert_int_eq(kind, GITLAB_TOKEN_JOB);
	ck_assert_str_eq(from, "$CI_JOB_TOKEN");
	setenv("GITLAB_TOKEN", CANARY, 1);
	ck_assert_int_eq(gitlab_token_find(NULL, &s, &kind, from,
					   sizeof(from), &err), 0);
	ck_assert_int_eq(kind, GITLAB_TOKEN_PRIVATE);
	ck_assert_str_eq(s.value, CANARY);
	snprintf(path, sizeof(path), "%s/gitlab-token", tmpdir);
	write_bytes(path, "cred-token\n", 11);
	setenv("CREDENTIALS_DIRECTORY", tmpdir, 1);
	ck_assert_int_eq(gitlab_token_find(NULL, &s, &kind, from,
					   sizeof(from), &err), 0);
	ck_assert_str_eq(s.value, "cred-token");
	/* Scrubbing removes the variable once it is read. */
	ck_assert_int_eq(secret_from_env(&s, "GITLAB_TOKEN", true, &err), 0);
	ck_assert_ptr_null(getenv("GITLAB_TOKEN"));
	secret_release(&s);
	remove_tmpdir();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gitlab-parse");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_mr_page_to_facts);
	tcase_add_test(tc, test_mr_wrong_types_name_the_field);
	tcase_add_test(tc, test_list_sort_last_wins);
	tcase_add_test(tc, test_escape_quick_actions);
	tcase_add_test(tc, test_escape_random_text_is_inert);
	tcase_add_test(tc, test_marker_syntax);
	tcase_add_test(tc, test_cache_round_trip);
	tcase_add_test(tc, test_cache_corruption_matrix);
	tcase_add_test(tc, test_cache_valid_checksum_wrong_schema);
	tcase_add_test(tc, test_cache_reader);
	tcase_add_test(tc, test_cache_strings_round_trip);
	tcase_add_test(tc, test_cache_old_format_and_checksum);
	tcase_add_test(tc, test_secret_file);
	tcase_add_test(tc, test_secret_env_and_credentials);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
