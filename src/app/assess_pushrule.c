/* SPDX-License-Identifier: MIT */
/*
 * --assess: the project's push rules against what a release writes (the
 * commits semver-tagger makes: "Release X.Y.Z", "Prepare next development
 * version ...", "Merge <commit> into release/N"; branches release/N and
 * release/N.M; the configured git_name/git_email). GitLab stores RE2
 * patterns and matches them unanchored; PCRE2 reads the common subset the
 * same way, and a pattern it cannot read is reported as unknown.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "assess.h"

#include "semver-tagger/forge.h"

#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#define MATCH_LIMIT 100000

/* 1 match, 0 no match, -1 the pattern cannot be used here. */
static int re_search(const char *pattern, const char *subject)
{
	int errcode, rc;
	PCRE2_SIZE erroff;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
				       PCRE2_UTF, &errcode, &erroff, NULL);
	pcre2_match_data *md;
	pcre2_match_context *mc;

	if (!re)
		return -1;
	md = pcre2_match_data_create_from_pattern(re, NULL);
	mc = pcre2_match_context_create(NULL);
	if (!md || !mc) {
		pcre2_match_data_free(md);
		pcre2_match_context_free(mc);
		pcre2_code_free(re);
		return -1;
	}
	pcre2_set_match_limit(mc, MATCH_LIMIT);
	rc = pcre2_match(re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, mc);
	pcre2_match_data_free(md);
	pcre2_match_context_free(mc);
	pcre2_code_free(re);
	return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

static const char *const messages[] = {
	"Release 1.2.0",
	"Prepare next development version 1.3.0-SNAPSHOT",
	"Merge 0123456789abcdef0123456789abcdef01234567 into release/1",
};

static void check_messages(const struct forge_push_rule *pr,
			   struct assess_result *r)
{
	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
		int m = pr->commit_message_regex
			? re_search(pr->commit_message_regex, messages[i]) : 1;
		int n = pr->commit_message_negative_regex
			? re_search(pr->commit_message_negative_regex,
				    messages[i]) : 0;

		if (m == 0 || n == 1) {
			assess_add(r, ASSESS_ERROR, "push-rule",
				   "widen the push rule's commit message "
				   "pattern to accept semver-tagger's commits "
				   "(Release, Prepare next development version, "
				   "Merge ... into ...)",
				   "the push rule's commit message %s '%s' "
				   "rejects semver-tagger's commit \"%s\"",
				   m == 0 ? "pattern" : "negative pattern",
				   m == 0 ? pr->commit_message_regex
					  : pr->commit_message_negative_regex,
				   messages[i]);
			return;
		}
		if (m < 0 || n < 0) {
			assess_add(r, ASSESS_WARNING, "push-rule",
				   "check the pattern by hand",
				   "the push rule's commit message pattern "
				   "cannot be tested here");
			return;
		}
	}
}

static void check_branches(const struct forge_push_rule *pr,
			   const struct config_project *c,
			   struct assess_result *r)
{
	char name[2][256];

	if (!pr->branch_name_regex)
		return;
	snprintf(name[0], sizeof(name[0]), "%s1", c->release_prefix);
	snprintf(name[1], sizeof(name[1]), "%s1.0", c->release_prefix);
	for (size_t i = 0; i < 2; i++)
		if (re_search(pr->branch_name_regex, name[i]) == 0) {
			assess_add(r, ASSESS_ERROR, "push-rule",
				   "let the push rule's branch name pattern "
				   "accept the release branches (or change "
				   "release_prefix)",
				   "the push rule's branch name pattern '%s' "
				   "rejects branch %s", pr->branch_name_regex,
				   name[i]);
			return;
		}
}

static void check_identity(const struct forge_push_rule *pr,
			   const struct config_project *c,
			   struct assess_result *r)
{
	if (pr->commit_committer_check || pr->commit_committer_name_check)
		assess_add(r, ASSESS_ERROR, "push-rule",
			   "set git_name and git_email to the token user's "
			   "name and a verified email of that user",
			   "the push rule checks the committer (%s%s%s): "
			   "commits by %s <%s> are rejected unless that is "
			   "the token's user",
			   pr->commit_committer_check ? "email" : "",
			   pr->commit_committer_check &&
			   pr->commit_committer_name_check ? ", " : "",
			   pr->commit_committer_name_check ? "name" : "",
			   c->git_name, c->git_email);
	if (pr->member_check)
		assess_add(r, ASSESS_ERROR, "push-rule",
			   "set git_email to the email of a GitLab user",
			   "the push rule only accepts authors who are GitLab "
			   "users; git_email is %s", c->git_email);
	if (pr->author_email_regex &&
	    re_search(pr->author_email_regex, c->git_email) == 0)
		assess_add(r, ASSESS_ERROR, "push-rule",
			   "set git_email to an address the pattern accepts",
			   "the push rule's author email pattern '%s' rejects "
			   "git_email %s", pr->author_email_regex,
			   c->git_email);
}

int assess_push_rules(struct forge *f, const struct config_project *cfg,
		      struct assess_result *r, struct st_error *err)
{
	struct forge_push_rule pr;
	int rc;

	forge_push_rule_init(&pr);
	rc = forge_push_rule(f, &pr, err);
	if (rc) {
		forge_push_rule_release(&pr);
		return rc;
	}
	if (pr.state == FORGE_PUSH_RULES_FORBIDDEN)
		assess_add(r, ASSESS_WARNING, "push-rule",
			   "assess with a Maintainer token",
			   "cannot read the push rules: %s", pr.detail);
	if (pr.state != FORGE_PUSH_RULES_SET) {
		forge_push_rule_release(&pr);
		return ST_OK;
	}
	/* with a signing key (issue 15) every commit and tag is signed */
	if (pr.reject_unsigned_commits && !cfg->signing_format)
		assess_add(r, ASSESS_ERROR, "push-rule",
			   "give semver-tagger a signing key, or turn off "
			   "\"Reject unsigned commits\"",
			   "the push rule rejects unsigned commits, and the "
			   "release, preparation and merge commits "
			   "semver-tagger makes are not signed");
	if (pr.reject_non_dco_commits)
		assess_add(r, ASSESS_ERROR, "push-rule",
			   "turn off \"Reject non-DCO commits\" for the "
			   "release user",
			   "the push rule rejects commits without "
			   "Signed-off-by, which semver-tagger's commits lack");
	check_messages(&pr, r);
	check_branches(&pr, cfg, r);
	check_identity(&pr, cfg, r);
	forge_push_rule_release(&pr);
	return ST_OK;
}
