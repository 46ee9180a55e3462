/* SPDX-License-Identifier: MIT */
/*
 * GitLab webhook deliveries (webhook_decode, webhook_decide: webhook.c,
 * json.c, json_time.c). Byte 0 picks the X-Gitlab-Event header and the
 * project's branch settings; the rest is the body. Properties:
 *  - decode either succeeds or fails with a message, never both;
 *  - on success an MR event has an iid >= 1 (or is not an MR at all),
 *    labels are non-NULL strings, at most WEBHOOK_LABELS_MAX of them, a
 *    head sha is a full hex id, a branch is the ref without refs/heads/;
 *  - webhook_decide returns a known decision with a NUL-terminated reason,
 *    CHECK_MR only for open MRs with a head commit, RECONCILE never for a
 *    test delivery;
 *  - the body is never taken for the secret.
 */
#include "fuzz.h"

#include "semver-tagger/webhook.h"

#include <string.h>

static const char *const events[] = {
	"Merge Request Hook", "Push Hook", "Tag Push Hook", "System Hook",
	NULL, "Note Hook",
};

static bool hex_id(const char *s)
{
	size_t n = strlen(s);

	return (n == 40 || n == 64) && strspn(s, "0123456789abcdef") == n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct webhook_event ev;
	struct st_error err;
	struct webhook_branches b = { "release/", NULL };
	char reason[128];
	enum webhook_decision dec;
	const char *event;
	int rc;

	if (size < 1)
		return 0;
	event = events[data[0] % 6];
	if (data[0] & 0x40)
		b.release_prefix = "rel-";
	if (data[0] & 0x80)
		b.default_branch = "trunk";
	st_error_clear(&err);
	rc = webhook_decode(event, (const char *)data + 1, size - 1, &ev, &err);
	if (rc) {
		FUZZ_ASSERT(err.code == rc && err.msg[0]);
		return 0;
	}
	FUZZ_ASSERT(err.code == 0);
	if (ev.kind == WEBHOOK_KIND_MR)
		FUZZ_ASSERT(ev.iid >= 1);
	FUZZ_ASSERT(ev.n_labels <= WEBHOOK_LABELS_MAX);
	for (size_t i = 0; i < ev.n_labels; i++)
		FUZZ_ASSERT(ev.labels[i] != NULL);
	if (ev.head_sha)
		FUZZ_ASSERT(hex_id(ev.head_sha));
	if (ev.branch)
		FUZZ_ASSERT(ev.ref && strncmp(ev.ref, "refs/heads/", 11) == 0 &&
			    strcmp(ev.ref + 11, ev.branch) == 0);
	memset(reason, 'x', sizeof(reason));
	dec = webhook_decide(&ev, &b, reason, sizeof(reason));
	FUZZ_ASSERT(dec == WEBHOOK_IGNORE || dec == WEBHOOK_RECONCILE ||
		    dec == WEBHOOK_CHECK_MR);
	FUZZ_ASSERT(memchr(reason, '\0', sizeof(reason)) != NULL);
	if (dec == WEBHOOK_CHECK_MR)
		FUZZ_ASSERT(ev.kind == WEBHOOK_KIND_MR &&
			    strcmp(ev.state, "opened") == 0 && ev.head_sha &&
			    ev.target_branch);
	if (ev.test)
		FUZZ_ASSERT(dec == WEBHOOK_IGNORE);
	if (size > 1)
		FUZZ_ASSERT(!webhook_token_equal("fuzz-secret", 11,
						 ev.project_path
						 ? ev.project_path : "x"));
	webhook_event_release(&ev);
	return 0;
}
