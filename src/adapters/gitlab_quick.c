/* SPDX-License-Identifier: MIT */
/* One page of merged MRs on a caller's client (gitlab_quick.h). */
#include "semver-tagger/gitlab_quick.h"

#include "semver-tagger/json.h"
#include "semver-tagger/strbuf.h"

#include <stdio.h>
#include <string.h>

static int build_url(const struct gitlab_quick_request *rq, char *url,
		     size_t size, struct st_error *err)
{
	struct strbuf proj, when;
	size_t n = strlen(rq->api_url);
	char t[32];
	int rc;

	while (n && rq->api_url[n - 1] == '/')
		n--; /* as gitlab.c: "https://host/api/v4/" works too */

	strbuf_init(&proj, 1024);
	strbuf_init(&when, 128);
	rc = http_escape(&proj, rq->project);
	if (!rc && rq->after_ms >= 0)
		rc = json_time_format(rq->after_ms, t) ? ST_EINVAL
						       : http_escape(&when, t);
	if (!rc && (size_t)snprintf(url, size, "%.*s/projects/%s/merge_"
				    "requests?state=merged&order_by=updated_at"
				    "&sort=asc&per_page=%d%s%s", (int)n,
				    rq->api_url,
				    strbuf_str(&proj), GITLAB_QUICK_PER_PAGE,
				    rq->after_ms >= 0 ? "&updated_after=" : "",
				    rq->after_ms >= 0 ? strbuf_str(&when) : "")
		   >= size)
		rc = ST_EINVAL;
	strbuf_release(&proj);
	strbuf_release(&when);
	return rc ? st_error_set(err, rc, "merged MRs of %s: bad URL or "
				 "cursor", rq->project)
		  : ST_OK;
}

int gitlab_quick_merged(struct http_client *c,
			const struct gitlab_quick_request *rq,
			struct forge_mr_list *out, bool *more,
			struct st_error *err)
{
	struct http_response rs;
	struct http_request hr = { .method = "GET",
				   .what = "GET merge_requests (quick)" };
	char url[4096];
	int rc = build_url(rq, url, sizeof(url), err);

	*more = false;
	if (rc)
		return rc;
	hr.url = url;
	rc = http_client_set_secret_header(c, rq->token_kind == GITLAB_TOKEN_JOB
					   ? "JOB-TOKEN" : "PRIVATE-TOKEN",
					   rq->token, err);
	if (rc)
		return rc;
	http_response_init(&rs);
	rc = http_do(c, &hr, &rs, err);
	if (!rc && rs.status != 200)
		rc = st_error_set(err, ST_EINVAL, "merged MRs of %s: HTTP %ld",
				  rq->project, rs.status);
	if (!rc)
		rc = gitlab_mrs_parse(rs.body.buf ? rs.body.buf : "",
				      rs.body.len, "merged MRs (quick)",
				      "merged", out, err);
	if (!rc) {
		*more = rs.has_next_page ? rs.next_page[0] != '\0'
					 : out->len >= GITLAB_QUICK_PER_PAGE;
		forge_mr_list_sort(out);
	}
	http_response_release(&rs);
	return rc;
}
