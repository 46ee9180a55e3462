/* SPDX-License-Identifier: MIT */
/*
 * A smart-HTTP ref advertisement (gitrepo_advert_parse: the daemon's
 * quick check parses what a server sends). Any input: refused with
 * ST_EINVAL and a message that names it, or parsed; on success HEAD's
 * target is a short string without controls and parsing is
 * deterministic (the same hash twice).
 */
#include "fuzz.h"

#include "semver-tagger/gitrepo_advert.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gitrepo_advert a, b;
	struct st_error err;
	int rc;

	st_error_clear(&err);
	rc = gitrepo_advert_parse(data, size, &a, &err);
	if (rc) {
		FUZZ_ASSERT(rc == ST_EINVAL);
		FUZZ_ASSERT(strstr(err.msg, "ref advertisement") != NULL);
		return 0;
	}
	FUZZ_ASSERT(strlen(a.head) < GITREPO_ADVERT_REFNAME_MAX);
	for (const char *p = a.head; *p; p++)
		FUZZ_ASSERT((unsigned char)*p > 0x20 && *p != 0x7f);
	FUZZ_ASSERT(a.n_refs <= GITREPO_ADVERT_REFS_MAX);
	st_error_clear(&err);
	FUZZ_ASSERT(gitrepo_advert_parse(data, size, &b, &err) == 0);
	FUZZ_ASSERT(a.hash == b.hash && a.n_refs == b.n_refs);
	return 0;
}
