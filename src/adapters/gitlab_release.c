/* SPDX-License-Identifier: MIT */
/*
 * Reads for what a release says: whether a release object exists
 * (GET /projects/:id/releases/:tag_name: 200 or 404), and the "Release
 * notes" section of one MR's description (GET
 * /projects/:id/merge_requests/:iid). Descriptions are read one MR at a
 * time, only for a release being written, and never cached: the merged
 * MR listing and its cache stay small.
 */
#include "gitlab_internal.h"

#include "semver-tagger/notes.h"

#include <stdio.h>
#include <string.h>

int gitlab_release_exists(void *impl, const char *tag, bool *exists,
			  struct st_error *err)
{
	struct gitlab *g = impl;
	struct http_response rs;
	char path[1024], what[1100];
	struct strbuf enc;
	int rc;

	strbuf_init(&enc, 768);
	if (!tag || !*tag || http_escape(&enc, tag) != 0) {
		strbuf_release(&enc);
		return st_error_set(err, ST_EINVAL, "release: bad tag name");
	}
	snprintf(path, sizeof(path), "/projects/%s/releases/%s",
		 g->project_enc, strbuf_str(&enc));
	snprintf(what, sizeof(what), "GET %s", path);
	strbuf_release(&enc);
	http_response_init(&rs);
	rc = gitlab_call(g, "GET", path, NULL, NULL, false, what, &rs, err);
	if (!rc && rs.status == 404) {
		*exists = false;
	} else if (!rc) {
		rc = gitlab_check(g, GITLAB_RELEASE, what, &rs, err);
		if (!rc)
			*exists = true;
	}
	http_response_release(&rs);
	return rc;
}

int gitlab_mr_release_text(void *impl, int64_t iid, char **text,
			   struct st_error *err)
{
	struct gitlab *g = impl;
	struct http_response rs;
	char path[512], what[600];
	const char *desc = NULL;
	cJSON *root = NULL;
	int rc;

	*text = NULL;
	if (iid < 1)
		return st_error_set(err, ST_EINVAL, "MR !%lld: bad iid",
				    (long long)iid);
	snprintf(path, sizeof(path), "/projects/%s/merge_requests/%lld",
		 g->project_enc, (long long)iid);
	snprintf(what, sizeof(what), "GET %s", path);
	http_response_init(&rs);
	rc = gitlab_call(g, "GET", path, NULL, NULL, false, what, &rs, err);
	if (!rc)
		rc = gitlab_check(g, GITLAB_LIST_MRS, what, &rs, err);
	if (!rc)
		rc = json_parse(rs.body.buf, rs.body.len, what, &root, err);
	if (!rc) {
		struct json_where w = { what, "" };

		rc = json_get_str(root, "description", JSON_OPTIONAL, &w,
				  &desc, err);
	}
	if (!rc && desc &&
	    notes_description_section(desc, strlen(desc), NOTES_MR_TEXT_MAX,
				      text) != 0)
		rc = st_error_set(err, ST_ENOMEM, "out of memory");
	cJSON_Delete(root);
	http_response_release(&rs);
	return rc;
}
