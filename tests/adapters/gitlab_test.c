/* SPDX-License-Identifier: MIT */
/*
 * The GitLab forge against the stand-in over real HTTP: project facts,
 * pagination, the incremental MR cache (one request in steady state),
 * notes, releases and statuses (idempotent), token errors, every fault
 * mode of the stand-in, and no token in any message.
 */
#include "semver-tagger/sha256.h"
#include "gitlab_testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MRS_ROUTE "GET /api/v4/projects/:id/merge_requests"
#define SHA40(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	c c c c c c c c c c

static char cache_path[300];

static const char *cache(void)
{
	snprintf(cache_path, sizeof(cache_path), "%s/mrs.cache", tu_dir());
	return cache_path;
}

/* List merged MRs, recording every message and warning produced. */
static int merged(struct forge *f, const char *cache_file,
		  struct forge_mr_list *l, struct forge_list_result *res,
		  struct st_error *err)
{
	int rc;

	st_error_clear(err);
	rc = forge_merged_mrs(f, cache_file, l, res, err);
	if (rc)
		tu_msg(err->msg);
	if (res->warning)
		tu_msg(res->warning_msg);
	return rc;
}

static struct forge *default_forge(void)
{
	struct gitlab_options o;

	tu_options(&o);
	return tu_forge(&o);
}

static void set_clock(const char *when)
{
	char body[96];

	snprintf(body, sizeof(body), "{\"set\":\"%s\"}", when);
	cJSON_Delete(tu_ctl("POST", "/__control__/clock", body, 200));
}

static void advance_clock(long seconds)
{
	char body[64];

	snprintf(body, sizeof(body), "{\"advance_seconds\":%ld}", seconds);
	cJSON_Delete(tu_ctl("POST", "/__control__/clock", body, 200));
}

/* The raw request log, to check the query strings we sent. */
static char *requests_text(void)
{
	cJSON *r = tu_ctl("GET", "/__control__/requests", NULL, 200);
	char *s = cJSON_PrintUnformatted(r);

	cJSON_Delete(r);
	return s;
}

/* --- project ------------------------------------------------------------ */

START_TEST(test_project_by_id_and_path)
{
	struct gitlab_options o;
	struct forge *f;
	struct forge_project p;
	struct st_error err;
	char *log;

	tu_options(&o);
	f = tu_forge(&o);
	forge_project_init(&p);
	st_error_clear(&err);
	ck_assert_msg(forge_project(f, &p, &err) == 0, "%s", err.msg);
	ck_assert(p.id == 7);
	ck_assert_str_eq(p.path, "grp/app");
	ck_assert_str_eq(p.default_branch, "main");
	ck_assert_ptr_nonnull(strstr(p.http_url_to_repo, "/grp/app.git"));
	ck_assert_ptr_nonnull(strstr(p.web_url, "/grp/app"));
	forge_project_release(&p);
	forge_free(f);
	o.project = "grp/app";
	f = tu_forge(&o);
	ck_assert_int_eq(forge_project(f, &p, &err), 0);
	ck_assert(p.id == 7);
	log = requests_text();
	ck_assert_ptr_nonnull(strstr(log, "/api/v4/projects/grp%2Fapp"));
	free(log);
	forge_project_release(&p);
	forge_free(f);
	o.project = "grp/missing";
	f = tu_forge(&o);
	ck_assert_int_eq(forge_project(f, &p, &err), ST_ENOTFOUND);
	tu_msg(err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "GET /projects/grp%2Fmissing"));
	ck_assert_ptr_null(p.path); /* untouched on failure */
	forge_free(f);
}
END_TEST

/* The project cache: one GET, then none; keyed on server and project;
 * refresh asks again; a damaged file costs a GET, never a wrong answer. */
START_TEST(test_project_cached)
{
	struct gitlab_options o;
	struct forge *f;
	struct forge_project p;
	struct st_error err;
	char path[400];
	bool cached = true;
	FILE *fp;

	snprintf(path, sizeof(path), "%s.project", cache());
	unlink(path);
	tu_options(&o);
	f = tu_forge(&o);
	forge_project_init(&p);
	st_error_clear(&err);
	tu_clear_counts();
	ck_assert_msg(forge_project_cached(f, path, false, &p, &cached, &err) == 0,
		      "%s", err.msg);
	ck_assert(!cached);
	ck_assert_int_eq(tu_count_all(), 1);
	forge_project_release(&p);
	tu_clear_counts();
	ck_assert_int_eq(forge_project_cached(f, path, false, &p, &cached, &err), 0);
	ck_assert(cached);
	ck_assert_int_eq(tu_count_all(), 0);
	ck_assert(p.id == 7);
	ck_assert_str_eq(p.path, "grp/app");
	ck_assert_str_eq(p.default_branch, "main");
	ck_assert_ptr_nonnull(strstr(p.http_url_to_repo, "/grp/app.git"));
	forge_project_release(&p);
	ck_assert_int_eq(forge_project_cached(f, path, true, &p, &cached, &err), 0);
	ck_assert(!cached);
	ck_assert_int_eq(tu_count_all(), 1);
	forge_project_release(&p);
	forge_free(f);
	/* the same file for another project of the server: not used */
	o.project = "grp/app";
	f = tu_forge(&o);
	tu_clear_counts();
	ck_assert_int_eq(forge_project_cached(f, path, false, &p, &cached, &err), 0);
	ck_assert(!cached);
	ck_assert_int_eq(tu_count_all(), 1);
	forge_project_release(&p);
	/* damaged: asked again (and rewritten) */
	fp = fopen(path, "r+");
	ck_assert_ptr_nonnull(fp);
	fseek(fp, 30, SEEK_SET);
	fputs("{{{", fp);
	fclose(fp);
	tu_clear_counts();
	ck_assert_int_eq(forge_project_cached(f, path, false, &p, &cached, &err), 0);
	ck_assert(!cached && tu_count_all() == 1);
	forge_project_release(&p);
	ck_assert_int_eq(forge_project_cached(f, path, false, &p, &cached, &err), 0);
	ck_assert(cached);
	forge_project_release(&p);
	/* no cache path: a plain GET */
	tu_clear_counts();
	ck_assert_int_eq(forge_project_cached(f, NULL, false, &p, &cached, &err), 0);
	ck_assert(!cached && tu_count_all() == 1);
	forge_project_release(&p);
	forge_free(f);
	unlink(path);
}
END_TEST

START_TEST(test_config_errors)
{
	struct gitlab_options o;
	struct forge *f = NULL;
	struct st_error err;

	tu_options(&o);
	o.api_url = "http://gitlab.example.com/api/v4";
	st_error_clear(&err);
	ck_assert_int_eq(gitlab_forge_new(&o, &f, &err), ST_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "must be https"));
	tu_msg(err.msg);
	tu_options(&o);
	o.api_url = "https://bot:" TU_TOKEN "@gitlab.example.com/api/v4";
	st_error_clear(&err);
	ck_assert_int_eq(gitlab_forge_new(&o, &f, &err), ST_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "must not carry credentials"));
	tu_msg(err.msg);
	tu_options(&o);
	o.token = "";
	st_error_clear(&err);
	ck_assert_int_eq(gitlab_forge_new(&o, &f, &err), ST_ECONFIG);
	tu_options(&o);
	o.token = TU_TOKEN "\n";
	st_error_clear(&err);
	ck_assert_int_eq(gitlab_forge_new(&o, &f, &err), ST_EINVAL);
	tu_msg(err.msg);
	ck_assert_ptr_null(f);
}
END_TEST

/* --- listing ------------------------------------------------------------ */

START_TEST(test_pagination_several_pages)
{
	struct forge *f = default_forge();
	struct forge_mr_list l;
	struct forge_list_result res;
	struct st_error err;
	char *log;

	tu_bulk(250, "\"labels\":[\"Impact::Patch\"]");
	forge_mr_list_init(&l);
	ck_assert_int_eq(merged(f, NULL, &l, &res, &err), 0);
	ck_assert_uint_eq(l.len, 250);
	for (size_t i = 0; i < l.len; i++)
		ck_assert(l.items[i].iid == (int64_t)i + 1);
	ck_assert_str_eq(l.items[249].labels[0], "Impact::Patch");
	ck_assert_uint_eq(res.pages, 3);
	ck_assert_uint_eq(res.requests, 3);
	ck_assert_int_eq(tu_count(MRS_ROUTE), 3);
	ck_assert(res.full);
	ck_assert_int_eq(res.cache, FORGE_CACHE_UNUSED);
	log = requests_text();
	ck_assert_ptr_nonnull(strstr(log, "state=merged"));
	ck_assert_ptr_nonnull(strstr(log, "order_by=updated_at"));
	ck_assert_ptr_nonnull(strstr(log, "sort=asc"));
	ck_assert_ptr_nonnull(strstr(log, "per_page=100"));
	ck_assert_ptr_nonnull(strstr(log, "page=3"));
	ck_assert_ptr_null(strstr(log, "updated_after"));
	free(log);
	forge_mr_list_release(&l);
	forge_free(f);
}
END_TEST

START_TEST(test_totals_omitted_past_10000)
{
	struct forge *f = default_forge();
	struct forge_mr_list l;
	struct forge_list_result res;
	struct st_error err;

	/* Past 10,000 rows GitLab (and the stand-in) drop X-Total and
	 * X-Total-Pages: the listing must still be complete. */
	tu_bulk(10050, "");
	forge_mr_list_init(&l);
	ck_assert_int_eq(merged(f, NULL, &l, &res, &err), 0);
	ck_assert_uint_eq(l.len, 10050);
	ck_assert(l.items[10049].iid == 10050);
	ck_assert_int_eq(tu_count(MRS_ROUTE), 101);
	forge_mr_list_release(&l);
	forge_free(f);
}
END_TEST

START_TEST(test_release_commit_precedence)
{
	struct forge *f = default_forge();
	struct forge_mr_list l, open;
	struct forge_list_result res;
	struct st_error err;

	tu_bulk(1, "\"sha\":\"" SHA40("a") "\",\"merge_commit_sha\":\""
		SHA40("b") "\",\"squash_commit_sha\":\"" SHA40("c") "\"");
	tu_bulk(1, "\"sha\":\"" SHA40("a") "\",\"merge_commit_sha\":null,"
		"\"squash_commit_sha\":\"" SHA40("c") "\"");
	tu_bulk(1, "\"sha\":\"" SHA40("a") "\",\"merge_commit_sha\":null,"
		"\"squash_commit_sha\":null,\"merged_at\":null");
	tu_bulk(2, "\"state\":\"opened\",\"target_branch\":\"release/1\","
		"\"sha\":\"" SHA40("d") "\",\"labels\":[\"x\",\"y\"]");
	forge_mr_list_init(&l);
	forge_mr_list_init(&open);
	ck_assert_int_eq(merged(f, NULL, &l, &res, &err), 0);
	ck_assert_uint_eq(l.len, 3); /* the open ones are not merged */
	ck_assert_str_eq(l.items[0].commit, SHA40("b"));
	ck_assert_str_eq(l.items[1].commit, SHA40("c"));
	ck_assert_str_eq(l.items[2].commit, SHA40("a"));
	ck_assert_ptr_null(l.items[2].merged_at);
	ck_assert_int_eq(forge_open_mrs(f, &open, &res, &err), 0);
	ck_assert_uint_eq(open.len, 2);
	ck_assert(open.items[0].iid == 4);
	ck_assert_str_eq(open.items[0].head_sha, SHA40("d"));
	ck_assert_str_eq(open.items[1].target_branch, "release/1");
	ck_assert_uint_eq(open.items[1].n_labels, 2);
	forge_mr_list_release(&l);
	forge_mr_list_release(&open);
	forge_free(f);
}
END_TEST

START_TEST(test_max_mrs_cap)
{
	struct gitlab_options o;
	struct forge *f;
	struct forge_mr_list l;
	struct forge_list_result res;
	struct st_error err;

	tu_options(&o);
	o.max_mrs = 120;
	f = tu_forge(&o);
	tu_bulk(250, "");
	forge_mr_list_init(&l);
	ck_assert_int_eq(merged(f, NULL, &l, &res, &err), ST_ETOOBIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "max_mrs"));
	ck_assert_uint_eq(l.len, 0);
	forge_free(f);
}
END_TEST

/* --- incremental listing ------------------------------------------------ */

/* Five MRs merged on five days in January 2025. */
static void five_old_mrs(void)
{
	for (int d = 1; d <= 5; d++) {
		char extra[160];

		snprintf(extra, sizeof(extra), "\"updated_at\":\"2025-01-0%dT00:"
			 "00:00.000Z\",\"merged_at\":\"2025-01-0%dT00:00:00.000Z"
			 "\",\"labels\":[\"Impact::Patch\"]", d, d);
		tu_bulk(1, extra);
	}
}

/* One cycle; asserts it cost exactly `requests` requests in all. */
static void cycle(struct forge *f, struct forge_mr_list *l,
		  struct forge_list_result *res, long requests)
{
	struct st_error err;

	tu_clear_counts();
	ck_assert_int_eq(merged(f, cache(), l, res, &err), 0);
	ck_assert_int_eq(tu_count_all(), requests);
	ck_assert_uint_eq(res->requests, (unsigned)requests);
}

START_TEST(test_incremental_label_after_merge)
{
	struct forge *f = default_forge();
	struct forge_mr_list l;
	struct forge_list_result res;
	const struct forge_mr *m;
	char *log;

	five_old_mrs();
	forge_mr_list_init(&l);
	cycle(f, &l, &res, 1);
	ck_assert_int_eq(res.cache, FORGE_CACHE_NONE);
	ck_assert(res.full && res.cache_saved && !res.warning);
	ck_assert_uint_eq(l.len, 5);
	/* Steady state: one request, nothing changed; only the newest MR
	 * is inside the overlap window. */
	cycle(f, &l, &res, 1);
	ck_assert_int_eq(res.cache, FORGE_CACHE_HIT);
	ck_assert(!res.full);
	ck_assert_uint_eq(res.received, 1);
	ck_assert_uint_eq(res.changed, 0);
	ck_assert_uint_eq(l.len, 5);
	ck_assert(!res.cache_saved); /* nothing new: the file is not rewritten */
	/* the project's current address, from the MR received */
	ck_assert_ptr_nonnull(strstr(res.newest_web_url, "/grp/app/-/merge_requests/5"));
	log = requests_text();
	/* newest updated_at (2025-01-05T00:00) minus the 300 s overlap */
	ck_assert_ptr_nonnull(strstr(log, "updated_after=2025-01-04T23%3A55%3A"
				     "00.000Z"));
	free(log);
	/* A label added long after the merge arrives with the next cycle. */
	cJSON_Delete(tu_ctl("PUT", "/__control__/projects/7/merge_requests/2/"
			    "labels", "{\"add\":[\"Impact::Major\"]}", 200));
	cycle(f, &l, &res, 1);
	ck_assert_uint_eq(res.changed, 1);
	ck_assert(res.cache_saved);
	ck_assert_uint_eq(l.len, 5);
	m = forge_mr_list_find(&l, 2);
	ck_assert_uint_eq(m->n_labels, 2);
	ck_assert_str_eq(m->labels[0], "Impact::Major");
	ck_assert_str_eq(m->merged_at, "2025-01-02T00:00:00.000Z");
	/* And the new cursor makes the next cycle small again; the label
	 * stays without the file being rewritten. */
	cycle(f, &l, &res, 1);
	ck_assert_uint_eq(res.received, 1);
	ck_assert_uint_eq(res.changed, 0);
	ck_assert(!res.cache_saved);
	ck_assert_uint_eq(forge_mr_list_find(&l, 2)->n_labels, 2);
	cycle(f, &l, &res, 1);
	ck_assert_uint_eq(forge_mr_list_find(&l, 2)->n_labels, 2);
	forge_mr_list_release(&l);
	forge_free(f);
}
END_TEST

/* The MR cache read ahead gives what reading it in forge_merged_mrs()
 * gives, warnings included; a preload for another path is not used. */
START_TEST(test_preloaded_cache)
{
	struct forge *f = default_forge();
	struct forge_mr_list l, again;
	struct forge_list_result res;
	struct st_error err;
	FILE *fp;

	five_old_mrs();
	forge_mr_list_init(&l);
	forge_mr_list_init(&again);
	cycle(f, &l, &res, 1);
	forge_preload_mrs(f, cache());
	cycle(f, &again, &res, 1);
	ck_assert_int_eq(res.cache, FORGE_CACHE_HIT);
	ck_assert_uint_eq(again.len, l.len);
	for (size_t i = 0; i < l.len; i++)
		ck_assert(forge_mr_equal(&l.items[i], &again.items[i]));
	/* read ahead, then damaged on disk: the copy read ahead is used */
	forge_preload_mrs(f, cache());
	fp = fopen(cache(), "r+");
	ck_assert_ptr_nonnull(fp);
	fseek(fp, 60, SEEK_SET);
	fputs("garbage", fp);
	fclose(fp);
	cycle(f, &again, &res, 1);
	ck_assert_int_eq(res.cache, FORGE_CACHE_HIT);
	/* damaged, then read ahead: the same warning and full listing as
	 * without the read-ahead */
	fp = fopen(cache(), "r+");
	ck_assert_ptr_nonnull(fp);
	fseek(fp, 60, SEEK_SET);
	fputs("garbage", fp);
	fclose(fp);
	forge_preload_mrs(f, cache());
	cycle(f, &again, &res, 1);
	ck_assert_int_eq(res.cache, FORGE_CACHE_CORRUPT);
	ck_assert(res.warning && res.full);
	ck_assert_ptr_nonnull(strstr(res.warning_msg, "seal does not match"));
	ck_assert_uint_eq(again.len, 5);
	/* a read-ahead of another file is ignored */
	forge_preload_mrs(f, "/nonexistent/other.cache");
	cycle(f, &again, &res, 1);
	ck_assert_int_eq(res.cache, FORGE_CACHE_HIT);
	st_error_clear(&err);
	forge_mr_list_release(&l);
	forge_mr_list_release(&again);
	forge_free(f);
}
END_TEST

START_TEST(test_new_merge_is_added)
{
	struct forge *f = default_forge();
	struct forge_mr_list l;
	struct forge_list_result res;

	five_old_mrs();
	forge_mr_list_init(&l);
	cycle(f, &l, &res, 1);
	tu_bulk(1, "\"title\":\"late\"");
	cycle(f, &l, &res, 1);
	ck_assert_uint_eq(l.len, 6);
	ck_assert_uint_eq(res.changed, 1);
	ck_assert_str_eq(forge_mr_list_find(&l, 6)->title, "late");
	forge_mr_list_release(&l);
	forge_free(f);
}
END_TEST

START_TEST(test_cache_corrupt_rebuilt_with_warning)
{
	struct forge *f = default_forge();
	struct forge_mr_list l;
	struct forge_list_result res;
	char aside[400];
	FILE *fp;
	char *log;

	five_old_mrs();
	forge_mr_list_init(&l);
	cycle(f, &l, &res, 1);
	fp = fopen(cache(), "r+");
	ck_assert_ptr_nonnull(fp);
	fseek(fp, 60, SEEK_SET);
	fputs("garbage", fp);
	fclose(fp);
	tu_clear_counts();
	cycle(f, &l, &res, 1);
	ck_assert_int_eq(res.cache, FORGE_CACHE_CORRUPT);
	ck_assert(res.warning && res.full && res.cache_saved);
	ck_assert_ptr_nonnull(strstr(res.warning_msg, "seal does not match"));
	ck_assert_ptr_nonnull(strstr(res.warning_msg, cache()));
	ck_assert_uint_eq(l.len, 5);
	log = requests_text();
	ck_assert_ptr_null(strstr(log, "updated_after")); /* full listing */
	free(log);
	snprintf(aside, sizeof(aside), "%s.corrupt", cache());
	ck_assert_int_eq(access(aside, F_OK), 0);
	/* Rebuilt: the next cycle uses it again. */
	cycle(f, &l, &res, 1);
	ck_assert_int_eq(res.cache, FORGE_CACHE_HIT);
	ck_assert(!res.warning);
	forge_mr_list_release(&l);
	forge_free(f);
}
END_TEST

/* What gitlab_seal.c writes for path under the test token (the format
 * is "semver-tagger-seal 1 <hex HMAC>\n", the key HMAC(token, label)):
 * a test that rewrites a cache must seal it as the program would. */
static void reseal(const char *path)
{
	static const char label[] = "semver-tagger state seal 1";
	unsigned char key[SHA256_LEN], mac[SHA256_LEN];
	char *body = calloc(1, 1 << 20), seal[4200];
	FILE *fp = fopen(path, "rb");
	size_t n;

	ck_assert_ptr_nonnull(fp);
	n = fread(body, 1, 1 << 20, fp);
	fclose(fp);
	hmac_sha256(TU_TOKEN, strlen(TU_TOKEN), label, sizeof(label) - 1, key);
	hmac_sha256(key, sizeof(key), body, n, mac);
	free(body);
	snprintf(seal, sizeof(seal), "%s.seal", path);
	fp = fopen(seal, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("semver-tagger-seal 1 ", fp);
	for (size_t i = 0; i < SHA256_LEN; i++)
		fprintf(fp, "%02x", mac[i]);
	fputs("\n", fp);
	fclose(fp);
}

static void age_cache(void)
{
	struct gitlab_cache c;
	struct st_error err;

	gitlab_cache_init(&c);
	st_error_clear(&err);
	ck_assert_int_eq(gitlab_cache_load(cache(), tu_standin.api_url, "7",
					   &c, &err), 0);
	c.full_at = 1000;
	ck_assert_int_eq(gitlab_cache_save(cache(), &c, &err), 0);
	reseal(cache());
	gitlab_cache_release(&c);
}

START_TEST(test_periodic_full_listing)
{
	struct forge *f = default_forge();
	struct forge_mr_list l;
	struct forge_list_result res;

	five_old_mrs();
	forge_mr_list_init(&l);
	cycle(f, &l, &res, 1);
	age_cache();
	cycle(f, &l, &res, 1);
	ck_assert_int_eq(res.cache, FORGE_CACHE_EXPIRED);
	ck_assert(res.full && !res.warning);
	ck_assert_uint_eq(res.received, 5);
	ck_assert_uint_eq(l.len, 5);
	forge_mr_list_release(&l);
	forge_free(f);
}
END_TEST

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf = calloc(1, 1 << 20);

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_gt(fread(buf, 1, (1 << 20) - 1, fp), 0);
	fclose(fp);
	return buf;
}

START_TEST(test_failed_listing_changes_nothing)
{
	struct forge *f = default_forge();
	struct forge_mr_list l;
	struct forge_list_result res;
	struct st_error err;
	char *before, *after;

	tu_bulk(250, "");
	forge_mr_list_init(&l);
	cycle(f, &l, &res, 3);
	forge_mr_list_release(&l);
	age_cache();
	before = slurp(cache());
	/* Page 1 answers normally (a 1 ms delay), page 2 is garbage. */
	tu_fault("{\"endpoint\":\"" MRS_ROUTE "\",\"mode\":\"delay\","
		 "\"delay_ms\":1}");
	tu_fault("{\"endpoint\":\"" MRS_ROUTE "\",\"mode\":\"malformed_json\","
		 "\"count\":99}");
	ck_assert_int_eq(merged(f, cache(), &l, &res, &err), ST_ETEMP);
	ck_assert_ptr_nonnull(strstr(err.msg, "GET /projects/7/merge_requests "
				     "page 2"));
	ck_assert_uint_eq(l.len, 0); /* no partial list */
	after = slurp(cache());
	ck_assert_str_eq(before, after); /* cache untouched */
	free(before);
	free(after);
	forge_free(f);
}
END_TEST

START_TEST(test_no_cache_path_lists_everything)
{
	struct forge *f = default_forge();
	struct forge_mr_list l;
	struct forge_list_result res;
	struct st_error err;

	five_old_mrs();
	forge_mr_list_init(&l);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(merged(f, NULL, &l, &res, &err), 0);
		ck_assert(res.full);
		ck_assert_uint_eq(res.received, 5);
		ck_assert_uint_eq(l.len, 5);
	}
	forge_mr_list_release(&l);
	forge_free(f);
}
END_TEST

/* --- faults through the forge -------------------------------------------- */

/* List with one fault in place; returns the status, records messages. */
static int list_with_fault(const char *fault, struct forge_list_result *res,
			   struct st_error *err)
{
	struct gitlab_options o;
	struct forge *f;
	struct forge_mr_list l;
	int rc;

	tu_options(&o);
	o.http.timeout_ms = 400;
	o.http.max_attempts = 3;
	f = tu_forge(&o);
	tu_bulk(3, "");
	if (fault)
		tu_fault(fault);
	tu_clear_counts();
	forge_mr_list_init(&l);
	rc = merged(f, NULL, &l, res, err);
	ck_assert_uint_eq(l.len, rc ? 0 : 3);
	forge_mr_list_release(&l);
	forge_free(f);
	return rc;
}

START_TEST(test_fault_modes)
{
	static const struct {
		const char *fault;
		int rc;
		long requests;
		const char *msg;
	} cases[] = {
		{"\"mode\":\"status\",\"status\":429,\"retry_after\":\"1\"", 0, 2,
		 NULL},
		{"\"mode\":\"status\",\"status\":429", 0, 2, NULL},
		{"\"mode\":\"status\",\"status\":500,\"count\":9", ST_ETEMP, 3,
		 "gave up after 3 attempts"},
		{"\"mode\":\"status\",\"status\":502,\"count\":2", 0, 3, NULL},
		{"\"mode\":\"drop\"", 0, 2, NULL},
		{"\"mode\":\"delay\",\"delay_ms\":1500,\"count\":3", ST_ETEMP, 3,
		 "Timeout"},
		/* a garbled 2xx body is retried like a 5xx (issue 14) */
		{"\"mode\":\"malformed_json\"", 0, 2, NULL},
		{"\"mode\":\"malformed_json\",\"count\":9", ST_ETEMP, 3,
		 "GET /projects/7/merge_requests page 1: body is not valid JSON"},
		{"\"mode\":\"truncated_json\"", 0, 2, NULL},
		{"\"mode\":\"truncated_json\",\"count\":9", ST_ETEMP, 3,
		 "gave up after 3 attempts"},
		{"\"mode\":\"html\"", 0, 2, NULL},
		{"\"mode\":\"html\",\"count\":9", ST_ETEMP, 3, "text/html"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct forge_list_result res;
		struct st_error err;
		char fault[256];
		int rc;

		tu_setup();
		snprintf(fault, sizeof(fault), "{\"endpoint\":\"" MRS_ROUTE
			 "\",%s}", cases[i].fault);
		rc = list_with_fault(fault, &res, &err);
		ck_assert_msg(rc == cases[i].rc, "case %zu: %d %s", i, rc,
			      err.msg);
		ck_assert_msg(tu_count(MRS_ROUTE) == cases[i].requests,
			      "case %zu: %ld requests", i, tu_count(MRS_ROUTE));
		if (cases[i].msg)
			ck_assert_msg(strstr(err.msg, cases[i].msg), "case %zu: "
				      "%s", i, err.msg);
	}
}
END_TEST

/* --- tokens ------------------------------------------------------------- */

START_TEST(test_401_fails_at_once_naming_the_token)
{
	struct forge *f = default_forge();
	struct forge_project p;
	struct forge_mr_list l;
	struct forge_list_result res;
	struct st_error err;

	cJSON_Delete(tu_ctl("DELETE", "/__control__/tokens/" TU_TOKEN, NULL,
			    204));
	forge_project_init(&p);
	st_error_clear(&err);
	ck_assert_int_eq(forge_project(f, &p, &err), ST_EAUTH);
	tu_msg(err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "HTTP 401"));
	ck_assert_ptr_nonnull(strstr(err.msg, "PRIVATE-TOKEN"));
	ck_assert_ptr_nonnull(strstr(err.msg, "read_api"));
	ck_assert_int_eq(tu_count_all(), 1); /* never retried */
	forge_mr_list_init(&l);
	ck_assert_int_eq(merged(f, cache(), &l, &res, &err), ST_EAUTH);
	ck_assert_int_eq(tu_count_all(), 2);
	forge_free(f);
}
END_TEST

START_TEST(test_server_echoing_the_token_is_redacted)
{
	struct forge *f = default_forge();
	struct forge_project p;
	struct st_error err;

	/* A proxy that quotes our request headers back in its error. */
	tu_fault("{\"endpoint\":\"GET /api/v4/projects/:id\",\"mode\":"
		 "\"status\",\"status\":400,\"body\":\"{\\\"message\\\":"
		 "\\\"bad header PRIVATE-TOKEN: " TU_TOKEN "\\\"}\"}");
	forge_project_init(&p);
	st_error_clear(&err);
	ck_assert_int_eq(forge_project(f, &p, &err), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "PRIVATE-TOKEN: ***"));
	tu_msg(err.msg);
	forge_free(f);
}
END_TEST

START_TEST(test_403_read_only_token)
{
	struct gitlab_options o;
	struct forge *f;
	struct forge_note n = {1, "semver-tagger:release:1.0.0", "hello"};
	enum forge_outcome out;
	struct st_error err;

	tu_bulk(1, "");
	tu_options(&o);
	o.token = TU_RO_TOKEN;
	f = tu_forge(&o);
	st_error_clear(&err);
	ck_assert_int_eq(forge_post_note(f, &n, &out, &err), ST_EAUTH);
	tu_msg(err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "HTTP 403"));
	ck_assert_ptr_nonnull(strstr(err.msg, "lacks permission"));
	ck_assert_ptr_nonnull(strstr(err.msg, "api scope"));
	forge_free(f);
}
END_TEST

START_TEST(test_job_token_limits)
{
	struct gitlab_options o;
	struct forge *f;
	struct forge_mr_list l;
	struct forge_list_result res;
	struct forge_release r = {"1.0.0", NULL, "First"};
	enum forge_outcome out;
	struct st_error err;
	cJSON *rels;

	cJSON_Delete(tu_ctl("POST", "/__control__/projects/7/tags",
			    "{\"tag\":\"1.0.0\",\"ref\":\"main\"}", 201));
	tu_options(&o);
	o.token = TU_JOB_TOKEN;
	o.token_kind = GITLAB_TOKEN_JOB;
	f = tu_forge(&o);
	forge_mr_list_init(&l);
	ck_assert_int_eq(merged(f, NULL, &l, &res, &err), ST_EAUTH);
	ck_assert_ptr_nonnull(strstr(err.msg, "CI job token cannot read "
				     "merge requests"));
	ck_assert_ptr_nonnull(strstr(err.msg, "write_repository"));
	/* What a job token may do, it does (JOB-TOKEN header). */
	st_error_clear(&err);
	ck_assert_msg(forge_create_release(f, &r, &out, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(out, FORGE_CREATED);
	rels = tu_ctl("GET", "/__control__/projects/7/releases", NULL, 200);
	ck_assert_int_eq(cJSON_GetArraySize(rels), 1);
	cJSON_Delete(rels);
	forge_free(f);
}
END_TEST

/* --- notes, releases, statuses ------------------------------------------ */

static int count_user_notes(const char *needle)
{
	cJSON *notes = tu_ctl("GET", "/__control__/projects/7/notes", NULL,
			      200);
	const cJSON *it;
	int n = 0;

	cJSON_ArrayForEach(it, notes) {
		const cJSON *b = cJSON_GetObjectItem(it, "body");

		if (!cJSON_IsTrue(cJSON_GetObjectItem(it, "system")) &&
		    cJSON_IsString(b) && strstr(b->valuestring, needle))
			n++;
	}
	cJSON_Delete(notes);
	return n;
}

START_TEST(test_note_idempotent_and_inert)
{
	struct forge *f = default_forge();
	struct forge_mr_list l;
	struct forge_list_result res;
	struct st_error err;
	enum forge_outcome out = 0;
	struct strbuf body;
	struct forge_note n = {1, "semver-tagger:release:1.0.0", NULL};

	tu_bulk(1, "\"labels\":[\"Impact::Minor\"]");
	/* Outside text (an MR title) with quick actions, and a raw line of
	 * ours that starts with '/': neither may run. */
	strbuf_init(&body, 1 << 16);
	strbuf_adds(&body, "Released in 1.0.0:\n- ");
	forge_text_escape(&body, "x\n/close\n/label ~Evil");
	strbuf_adds(&body, "\n/unlabel ~Impact::Minor\n");
	n.body = strbuf_str(&body);
	st_error_clear(&err);
	ck_assert_msg(forge_post_note(f, &n, &out, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(out, FORGE_CREATED);
	ck_assert_int_eq(count_user_notes("<!-- semver-tagger:release:1.0.0 "
					  "-->"), 1);
	ck_assert_int_eq(count_user_notes("\\/close"), 1);
	ck_assert_int_eq(count_user_notes("\\/unlabel"), 1);
	/* Again: found by its marker, not posted twice. */
	tu_clear_counts();
	ck_assert_int_eq(forge_post_note(f, &n, &out, &err), 0);
	ck_assert_int_eq(out, FORGE_EXISTED);
	ck_assert_int_eq(tu_count("POST /api/v4/projects/:id/merge_requests/"
				  ":iid/notes"), 0);
	ck_assert_int_eq(count_user_notes("semver-tagger:release:1.0.0"), 1);
	/* The MR kept its state and labels. */
	forge_mr_list_init(&l);
	ck_assert_int_eq(merged(f, NULL, &l, &res, &err), 0);
	ck_assert_uint_eq(l.len, 1);
	ck_assert_uint_eq(l.items[0].n_labels, 1);
	ck_assert_str_eq(l.items[0].labels[0], "Impact::Minor");
	n.marker = "bad marker -->";
	ck_assert_int_eq(forge_post_note(f, &n, &out, &err), ST_EINVAL);
	forge_mr_list_release(&l);
	strbuf_release(&body);
	forge_free(f);
}
END_TEST

START_TEST(test_release_idempotent)
{
	struct forge *f = default_forge();
	struct forge_release r = {"1.0.0", "1.0.0", "Changes:\n/close\n- x"};
	enum forge_outcome out = 0;
	struct st_error err;
	cJSON *rels;
	char *text;

	cJSON_Delete(tu_ctl("POST", "/__control__/projects/7/tags",
			    "{\"tag\":\"1.0.0\",\"ref\":\"main\"}", 201));
	st_error_clear(&err);
	ck_assert_msg(forge_create_release(f, &r, &out, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(out, FORGE_CREATED);
	ck_assert_int_eq(forge_create_release(f, &r, &out, &err), 0);
	ck_assert_int_eq(out, FORGE_EXISTED);
	/* A 500 whose request was in fact stored: the retry gets 409, the
	 * release is compared and found to be ours. */
	tu_fault("{\"endpoint\":\"POST /api/v4/projects/:id/releases\","
		 "\"mode\":\"status\",\"status\":500}");
	ck_assert_int_eq(forge_create_release(f, &r, &out, &err), 0);
	ck_assert_int_eq(out, FORGE_EXISTED);
	r.description = "other text";
	ck_assert_int_eq(forge_create_release(f, &r, &out, &err), 0);
	ck_assert_int_eq(out, FORGE_EXISTED_DIFFERENT);
	rels = tu_ctl("GET", "/__control__/projects/7/releases", NULL, 200);
	ck_assert_int_eq(cJSON_GetArraySize(rels), 1);
	text = cJSON_PrintUnformatted(rels);
	ck_assert_ptr_nonnull(strstr(text, "\\\\/close")); /* defused */
	free(text);
	cJSON_Delete(rels);
	r.tag = "9.9.9";
	ck_assert_int_eq(forge_create_release(f, &r, &out, &err),
			 ST_ENOTFOUND);
	tu_msg(err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "tag 9.9.9 does not exist"));
	forge_free(f);
}
END_TEST

START_TEST(test_commit_status)
{
	struct forge *f = default_forge();
	cJSON *proj = tu_ctl("GET", "/__control__/projects/7", NULL, 200);
	const char *head = cJSON_GetObjectItem(proj, "head")->valuestring;
	struct forge_commit_status s = {head, "semver-tagger",
					FORGE_STATUS_SUCCESS, "released 1.0.0",
					"https://example.invalid/r", "main", 0};
	enum forge_outcome out = 0;
	struct st_error err;
	cJSON *list;

	st_error_clear(&err);
	ck_assert_msg(forge_set_commit_status(f, &s, &out, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(out, FORGE_CREATED);
	ck_assert_int_eq(forge_set_commit_status(f, &s, &out, &err), 0);
	list = tu_ctl("GET", "/__control__/projects/7/statuses", NULL, 200);
	ck_assert_int_eq(cJSON_GetArraySize(list), 1);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0),
					     "status")->valuestring, "success");
	cJSON_Delete(list);
	s.sha = SHA40("0");
	ck_assert_int_eq(forge_set_commit_status(f, &s, &out, &err),
			 ST_ENOTFOUND);
	tu_msg(err.msg);
	s.sha = "not-a-sha";
	st_error_clear(&err);
	ck_assert_int_eq(forge_set_commit_status(f, &s, &out, &err), ST_EINVAL);
	cJSON_Delete(proj);
	forge_free(f);
}
END_TEST

/* --- scale ---------------------------------------------------------------- */

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_5000_mrs_is_50_requests)
{
	struct forge *f = default_forge();
	struct forge_mr_list l;
	struct forge_list_result res;
	double t0, cpu;

	/* 4,999 MRs a day before the newest, so the steady-state window
	 * (newest update minus the overlap) holds only the newest. */
	set_clock("2025-06-01T00:00:00.000Z");
	tu_bulk(4999, "\"labels\":[\"Impact::Minor\",\"backend\"]");
	advance_clock(86400);
	tu_bulk(1, "");
	forge_mr_list_init(&l);
	t0 = cpu_seconds();
	cycle(f, &l, &res, 50);
	cpu = cpu_seconds() - t0;
	ck_assert_uint_eq(l.len, 5000);
	ck_assert_uint_eq(res.pages, 50);
	/* Reported, not asserted: timing depends on the machine. */
	fprintf(stderr, "bench: full listing of 5000 MRs: %u requests, "
		"client CPU %.3f s (incl. cache write)\n", res.requests, cpu);
	t0 = cpu_seconds();
	cycle(f, &l, &res, 1);
	fprintf(stderr, "bench: steady-state cycle: %u request, client CPU "
		"%.3f s (cache read + write)\n", res.requests,
		cpu_seconds() - t0);
	ck_assert_uint_eq(res.received, 1);
	ck_assert_uint_eq(l.len, 5000);
	forge_mr_list_release(&l);
	forge_free(f);
}
END_TEST

START_TEST(test_no_message_holds_the_token)
{
	/* Runs last: every error and warning of the suite, checked again in
	 * raw, URL-encoded and base64 form. */
	ck_assert_uint_ge(tu_msg_count(), 15);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gitlab");
	TCase *tc = tcase_create("gitlab");
	SRunner *sr;
	int failed;

	tu_setup_once();
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_project_by_id_and_path);
	tcase_add_test(tc, test_config_errors);
	tcase_add_test(tc, test_project_cached);
	tcase_add_test(tc, test_preloaded_cache);
	tcase_add_test(tc, test_pagination_several_pages);
	tcase_add_test(tc, test_totals_omitted_past_10000);
	tcase_add_test(tc, test_release_commit_precedence);
	tcase_add_test(tc, test_max_mrs_cap);
	tcase_add_test(tc, test_incremental_label_after_merge);
	tcase_add_test(tc, test_new_merge_is_added);
	tcase_add_test(tc, test_cache_corrupt_rebuilt_with_warning);
	tcase_add_test(tc, test_periodic_full_listing);
	tcase_add_test(tc, test_failed_listing_changes_nothing);
	tcase_add_test(tc, test_no_cache_path_lists_everything);
	tcase_add_test(tc, test_fault_modes);
	tcase_add_test(tc, test_401_fails_at_once_naming_the_token);
	tcase_add_test(tc, test_server_echoing_the_token_is_redacted);
	tcase_add_test(tc, test_403_read_only_token);
	tcase_add_test(tc, test_job_token_limits);
	tcase_add_test(tc, test_note_idempotent_and_inert);
	tcase_add_test(tc, test_release_idempotent);
	tcase_add_test(tc, test_commit_status);
	tcase_add_test(tc, test_5000_mrs_is_50_requests);
	tcase_add_test(tc, test_no_message_holds_the_token);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_teardown_once();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
