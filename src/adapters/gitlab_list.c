/* SPDX-License-Identifier: MIT */
/*
 * Offset pagination: follow X-Next-Page until it is empty. X-Total and
 * X-Total-Pages are never read: GitLab omits them past 10,000 rows.
 */
#include "gitlab_internal.h"

#include "semver-tagger/num.h"

#include <string.h>

/* 0 and *next = 0 on the last page, *next > page otherwise. */
static int next_page(const struct http_response *rs, uint64_t page,
		     size_t items, unsigned per_page, const char *what,
		     uint64_t *next, struct st_error *err)
{
	uint64_t n;

	*next = 0;
	if (!rs->has_next_page) {
		/* Without the header a full page is ambiguous: stopping
		 * could drop MRs, and partial data must not plan a release */
		if (items >= per_page)
			return st_error_set(err, ST_EINVAL, "%s: full page but "
					    "no X-Next-Page header (a proxy "
					    "stripping headers?)", what);
		return ST_OK;
	}
	if (!rs->next_page[0])
		return ST_OK;
	if (num_parse_u64_max(rs->next_page, UINT32_MAX, &n) != 0 || n <= page)
		return st_error_set(err, ST_EINVAL, "%s: X-Next-Page \"%s\" is "
				    "not a page after %llu", what,
				    rs->next_page, (unsigned long long)page);
	*next = n;
	return ST_OK;
}

static int one_page(struct gitlab *g, enum gitlab_action a, const char *path,
		    const char *what, const char *query,
		    struct http_response *rs, cJSON **root,
		    struct st_error *err)
{
	int rc = gitlab_get_json(g, path, query, what, rs, root, err);

	if (!rc)
		rc = gitlab_check(g, a, what, rs, err);
	if (!rc && !cJSON_IsArray(*root))
		rc = st_error_set(err, ST_EINVAL, "%s: expected a JSON array, "
				  "got %s", what, json_type_name(*root));
	return rc;
}

static int list_pages(struct gitlab *g, enum gitlab_action a,
		      const char *path, const char *query, gitlab_page_fn fn,
		      void *ctx, struct forge_list_result *res,
		      struct st_error *err)
{
	uint64_t page = 1, max_pages = g->max_mrs / g->per_page + 10;
	struct http_response rs;
	int rc = 0;

	http_response_init(&rs);
	while (page && !rc) {
		char what[512], q[2048];
		cJSON *root = NULL;
		bool stop = false;

		snprintf(what, sizeof(what), "GET %s page %llu", path,
			 (unsigned long long)page);
		if ((size_t)snprintf(q, sizeof(q), "%s%sper_page=%u&page=%llu",
				     query, *query ? "&" : "", g->per_page,
				     (unsigned long long)page) >= sizeof(q))
			rc = st_error_set(err, ST_EINVAL, "%s: query too long",
					  what);
		if (!rc)
			rc = one_page(g, a, path, what, q, &rs, &root, err);
		if (!rc)
			rc = fn(ctx, root, what, &stop, err);
		if (!rc)
			res->pages++;
		if (!rc && !stop)
			rc = next_page(&rs, page, (size_t)cJSON_GetArraySize(
					       root), g->per_page, what,
				       &page, err);
		if (stop)
			page = 0;
		if (!rc && res->pages >= max_pages)
			rc = st_error_set(err, ST_ETOOBIG, "%s: more than %llu "
					  "pages", what,
					  (unsigned long long)max_pages);
		cJSON_Delete(root);
	}
	http_response_release(&rs);
	return rc;
}

int gitlab_list(struct gitlab *g, enum gitlab_action a, const char *path,
		const char *query, gitlab_page_fn fn, void *ctx,
		struct forge_list_result *res, struct st_error *err)
{
	struct http_counters before, after;
	int rc;

	http_client_counters(g->http, &before);
	rc = list_pages(g, a, path, query, fn, ctx, res, err);
	http_client_counters(g->http, &after);
	res->requests += (unsigned)(after.requests - before.requests);
	res->retries += (unsigned)(after.retries - before.retries);
	return rc;
}
