/* SPDX-License-Identifier: MIT */
/*
 * Merged MRs, incrementally. The first cycle lists every merged MR; later
 * cycles ask only for MRs updated since the newest one seen (minus an
 * overlap), sorted ascending so an MR updated during the scan moves to the
 * tail instead of being skipped, and merge them into the cache by iid.
 * updated_after is used, not merged_after: older servers silently ignore
 * merged_after, and a label added after the merge changes only updated_at.
 * In steady state a cycle is one request.
 */
#include "gitlab_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct page_ctx {
	struct forge_mr_list *list;
	const char *state;
	size_t seen;
	size_t max;
};

static int on_page(void *ctx, const cJSON *items, const char *what,
		   bool *stop, struct st_error *err)
{
	struct page_ctx *c = ctx;
	int rc = gitlab_mrs_from_array(items, what, c->state, c->list,
				       &c->seen, err);

	if (!rc && c->list->len > c->max)
		rc = st_error_set(err, ST_ETOOBIG, "%s: more than %zu merge "
				  "requests (raise max_mrs?)", what, c->max);
	return rc;
}

static int fetch(struct gitlab *g, const char *query, const char *state,
		 struct forge_mr_list *out, struct forge_list_result *res,
		 struct st_error *err)
{
	struct page_ctx ctx = {out, state, 0, g->max_mrs};
	char path[512];
	int rc;

	snprintf(path, sizeof(path), "/projects/%s/merge_requests",
		 g->project_enc);
	rc = gitlab_list(g, GITLAB_LIST_MRS, path, query, on_page, &ctx, res,
			 err);
	res->received += ctx.seen;
	return rc;
}

/* Hand the whole list over: *dst's old contents are released. */
static void move_list(struct forge_mr_list *dst, struct forge_mr_list *src)
{
	forge_mr_list_release(dst);
	*dst = *src;
	forge_mr_list_init(src);
}

int gitlab_open_mrs(void *impl, struct forge_mr_list *out,
		    struct forge_list_result *res, struct st_error *err)
{
	struct gitlab *g = impl;
	struct forge_mr_list list;
	int rc;

	forge_mr_list_init(&list);
	res->full = true;
	rc = fetch(g, "state=opened", "opened", &list, res, err);
	if (rc) {
		forge_mr_list_release(&list);
		return rc;
	}
	forge_mr_list_sort(&list);
	move_list(out, &list);
	return ST_OK;
}

static void add_warning(struct forge_list_result *res, const char *fmt,
			...) __attribute__((format(printf, 2, 3)));

static void add_warning(struct forge_list_result *res, const char *fmt, ...)
{
	size_t n = strlen(res->warning_msg);
	va_list ap;

	res->warning = true;
	if (n && n + 2 < sizeof(res->warning_msg)) {
		memcpy(res->warning_msg + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(res->warning_msg + n, sizeof(res->warning_msg) - n, fmt, ap);
	va_end(ap);
}

void gitlab_preload_drop(struct gitlab *g)
{
	if (!g->pre_path)
		return;
	free(g->pre_path);
	g->pre_path = NULL;
	gitlab_cache_release(&g->pre);
}

void gitlab_preload_mrs(void *impl, const char *cache_path)
{
	struct gitlab *g = impl;

	gitlab_preload_drop(g);
	gitlab_cache_init(&g->pre);
	st_error_clear(&g->pre_err);
	if (!(g->pre_path = strdup(cache_path)))
		return;
	g->pre_rc = gitlab_seal_check(g, cache_path, &g->pre_err);
	if (g->pre_rc == 0)
		g->pre_rc = gitlab_cache_load(cache_path, g->api_url,
					      g->project, &g->pre, &g->pre_err);
}

/* The cache as gitlab_cache_load() gives it: read ahead for this path by
 * gitlab_preload_mrs(), else read now. */
static int read_cache(struct gitlab *g, const char *path,
		      struct gitlab_cache *c, struct st_error *e)
{
	int rc;

	if (!g->pre_path || strcmp(g->pre_path, path) != 0) {
		gitlab_preload_drop(g);
		rc = gitlab_seal_check(g, path, e);
		return rc ? rc
			  : gitlab_cache_load(path, g->api_url, g->project, c,
					      e);
	}
	rc = g->pre_rc;
	if (rc)
		*e = g->pre_err;
	else {
		gitlab_cache_release(c);
		*c = g->pre;
		gitlab_cache_init(&g->pre);
	}
	gitlab_preload_drop(g);
	return rc;
}

static void load_cache(struct gitlab *g, const char *path,
		       struct gitlab_cache *c, struct forge_list_result *res)
{
	struct st_error e;
	char aside[4200];
	int rc;

	res->cache = FORGE_CACHE_UNUSED;
	if (!path)
		return;
	st_error_clear(&e);
	rc = read_cache(g, path, c, &e);
	if (rc == ST_ENOTFOUND) {
		res->cache = FORGE_CACHE_NONE;
	} else if (rc) {
		/* Keep a damaged file for a post-mortem (only the last one);
		 * an unreadable one (EIO, no memory) stays where it is. */
		snprintf(aside, sizeof(aside), "%s.corrupt", path);
		if (rc == ST_EINVAL || rc == ST_ETOOBIG)
			rename(path, aside);
		res->cache = FORGE_CACHE_CORRUPT;
		add_warning(res, "MR cache unusable, listing every merged MR "
			    "again (%s)", e.msg);
	} else if (g->full_every_s > 0 &&
		   (int64_t)time(NULL) - c->full_at >= g->full_every_s) {
		res->cache = FORGE_CACHE_EXPIRED;
	} else {
		res->cache = FORGE_CACHE_HIT;
	}
}

static int build_query(const struct gitlab *g, const struct gitlab_cache *c,
		       bool full, char *q, size_t n)
{
	struct strbuf enc;
	char when[32];
	int rc;

	snprintf(q, n, "state=merged&order_by=updated_at&sort=asc");
	if (full || c->cursor_ms < 0)
		return ST_OK;
	if (json_time_format(c->cursor_ms - (int64_t)g->overlap_s * 1000,
			     when) != 0)
		return ST_EINVAL;
	strbuf_init(&enc, 128);
	rc = http_escape(&enc, when);
	if (!rc)
		snprintf(q + strlen(q), n - strlen(q), "&updated_after=%s",
			 strbuf_str(&enc));
	strbuf_release(&enc);
	return rc;
}

/* Count incoming MRs that are new or differ from the cached copy. */
static size_t count_changed(const struct forge_mr_list *cached,
			    const struct forge_mr_list *incoming)
{
	size_t n = 0;

	for (size_t i = 0; i < incoming->len; i++) {
		const struct forge_mr *old =
			forge_mr_list_find(cached, incoming->items[i].iid);

		if (!old || !forge_mr_equal(old, &incoming->items[i]))
			n++;
	}
	return n;
}

static int merge(struct gitlab_cache *c, struct forge_mr_list *incoming,
		 bool full, struct forge_list_result *res)
{
	forge_mr_list_sort(incoming);
	res->changed = count_changed(&c->mrs, incoming);
	if (full) {
		move_list(&c->mrs, incoming);
		return ST_OK;
	}
	/* Append, then sort: of two entries with one iid the appended
	 * (fresher) one wins. */
	for (size_t i = 0; i < incoming->len; i++) {
		struct forge_mr *m = forge_mr_list_push(&c->mrs);

		if (!m)
			return ST_ENOMEM;
		*m = incoming->items[i];
		memset(&incoming->items[i], 0, sizeof(*m));
	}
	forge_mr_list_sort(&c->mrs);
	return ST_OK;
}

/* The web_url of the received MR updated last (forge_list_result). */
static void note_newest(const struct forge_mr_list *in,
			struct forge_list_result *res)
{
	const struct forge_mr *best = NULL;
	int64_t t, bt = -1;

	for (size_t i = 0; i < in->len; i++)
		if (in->items[i].updated_at &&
		    json_time_parse(in->items[i].updated_at, &t) == 0 &&
		    t > bt) {
			bt = t;
			best = &in->items[i];
		}
	if (best && best->web_url &&
	    strlen(best->web_url) < sizeof(res->newest_web_url))
		snprintf(res->newest_web_url, sizeof(res->newest_web_url), "%s",
			 best->web_url);
}

static int64_t newest_update(const struct forge_mr_list *l)
{
	int64_t best = -1, t;

	for (size_t i = 0; i < l->len; i++)
		if (l->items[i].updated_at &&
		    json_time_parse(l->items[i].updated_at, &t) == 0 &&
		    t > best)
			best = t;
	return best;
}

static void save_cache(struct gitlab *g, const char *path,
		       struct gitlab_cache *c, bool full,
		       struct forge_list_result *res)
{
	struct st_error e;

	if (!path)
		return;
	st_error_clear(&e);
	free(c->api_url);
	free(c->project);
	c->api_url = strdup(g->api_url);
	c->project = strdup(g->project);
	c->cursor_ms = newest_update(&c->mrs);
	if (full)
		c->full_at = (int64_t)time(NULL);
	if (!c->api_url || !c->project)
		st_error_set(&e, ST_ENOMEM, "out of memory");
	else if (gitlab_cache_save(path, c, &e) == 0)
		gitlab_seal_write(g, path, &e);
	if (e.code)
		add_warning(res, "MR cache not saved, the next cycle lists "
			    "every merged MR again (%s)", e.msg);
	else
		res->cache_saved = true;
}

int gitlab_merged_mrs(void *impl, const char *cache_path,
		      struct forge_mr_list *out, struct forge_list_result *res,
		      struct st_error *err)
{
	struct gitlab *g = impl;
	struct gitlab_cache cache;
	struct forge_mr_list incoming;
	char query[256];
	int rc;

	gitlab_cache_init(&cache);
	forge_mr_list_init(&incoming);
	load_cache(g, cache_path, &cache, res);
	res->full = res->cache != FORGE_CACHE_HIT;
	rc = build_query(g, &cache, res->full, query, sizeof(query));
	if (rc)
		rc = st_error_set(err, rc, "MR cache %s: bad cursor",
				  cache_path);
	if (!rc)
		rc = fetch(g, query, "merged", &incoming, res, err);
	if (!rc)
		note_newest(&incoming, res);
	if (!rc && merge(&cache, &incoming, res->full, res) != 0)
		rc = st_error_set(err, ST_ENOMEM, "merged MRs: out of memory");
	if (!rc && cache.mrs.len > g->max_mrs)
		rc = st_error_set(err, ST_ETOOBIG, "more than %zu merged MRs "
				  "(raise max_mrs?)", g->max_mrs);
	if (!rc) {
		/* Nothing new and no full listing: the file already says
		 * exactly this (same MRs, so the same cursor); not writing
		 * it keeps the steady state free of a 4 MB fsync'd write. */
		if (res->full || res->changed > 0)
			save_cache(g, cache_path, &cache, res->full, res);
		move_list(out, &cache.mrs);
	}
	forge_mr_list_release(&incoming);
	gitlab_cache_release(&cache);
	return rc;
}
