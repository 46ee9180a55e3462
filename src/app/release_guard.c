/* SPDX-License-Identifier: MIT */
/*
 * What stands between the engine and the remote (issue 15):
 *
 * - the signer: opened (and tried on a probe) before anything is made, so
 *   a missing, protected or expired key fails the run with nothing made
 *   or pushed; every commit and tag the mirror writes is then signed;
 * - the project's push rules: read once per run, before its first push,
 *   and checked against what the release will write (signatures, the
 *   messages of release, prep and merge commits, the identity), so a
 *   release GitLab would refuse half way (tag pushed, branch refused) is
 *   refused whole with the rule and the fix named (ST_ECONFIG, exit 78);
 * - a push refused anyway: the rule named from GitLab's message.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "release_internal.h"

#include "semver-tagger/signer.h"

#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define SIGNING_CREDENTIAL "signing-key"

/* ---- the signer -------------------------------------------------------- */

int engine_guard_open(struct engine *e, struct st_error *err)
{
	const struct config_project *c = e->o->cfg;
	struct signer_options so = { 0 };
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char cred[4096];
	int rc;

	if (!c->signing_format)
		return ST_OK;
	if (signer_format_parse(c->signing_format, &so.format) != 0)
		return st_error_set(err, ST_ECONFIG, "signing_format '%s' is "
				    "not one of openpgp, ssh",
				    c->signing_format);
	so.key_id = c->signing_key;
	so.gnupg_home = c->gnupg_home;
	so.key_file = c->signing_key;
	/* Like the token: systemd's credential first (LoadCredential=): the
	 * SSH key, or an armoured OpenPGP secret key to import. */
	if (dir && *dir &&
	    (size_t)snprintf(cred, sizeof(cred), "%s/" SIGNING_CREDENTIAL,
			     dir) < sizeof(cred) &&
	    access(cred, F_OK) == 0) {
		so.key_file = cred;
		if (so.format == SIGNER_OPENPGP)
			so.import_file = cred;
	}
	rc = signer_new(&so, &e->signer, err);
	if (rc) {
		st_error_prefix(err, "signing key");
		return rc;
	}
	gitrepo_set_signer(e->repo, e->signer);
	return ST_OK;
}

void engine_guard_close(struct engine *e)
{
	if (e->repo)
		gitrepo_set_signer(e->repo, NULL);
	signer_free(e->signer);
	e->signer = NULL;
}

/* ---- push rules before the first push ---------------------------------- */

/* 1 match, 0 none, -1 a pattern PCRE2 cannot compile (GitLab uses RE2;
 * the common subset is the same). Multiline, like GitLab's matcher. */
static int rx_match(const char *pattern, const char *text)
{
	int errc;
	PCRE2_SIZE erro;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern,
				       PCRE2_ZERO_TERMINATED,
				       PCRE2_MULTILINE | PCRE2_UTF, &errc,
				       &erro, NULL);
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	pcre2_match_data *md;
	int r = -1;

	if (!re || !mc) {
		pcre2_match_context_free(mc);
		pcre2_code_free(re);
		return -1;
	}
	/* The pattern comes from the API: bound its backtracking. */
	pcre2_set_match_limit(mc, 100000);
	pcre2_set_depth_limit(mc, 1000);
	md = pcre2_match_data_create_from_pattern(re, NULL);
	if (md)
		r = pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, md,
				mc);
	pcre2_match_data_free(md);
	pcre2_match_context_free(mc);
	pcre2_code_free(re);
	return r >= 0 ? 1 : r == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/* The messages of the commits a release of this project writes, with
 * sample versions (the templates are fixed: gitrepo_*.c, release_goals.c).
 * None for simple builds: they tag existing commits and merge only when
 * a release branch diverged; refusing every release of such a project
 * for a merge it rarely makes would be worse (the push names the rule). */
static size_t commit_messages(const struct engine *e, char msgs[3][160])
{
	const struct config_project *c = e->o->cfg;

	if (c->build == BUILD_SIMPLE)
		return 0; /* (changelog = true needs version-file or maven) */
	snprintf(msgs[0], 160, "Set version to 1.2.0\n");
	snprintf(msgs[1], 160, "Prepare next development version 1.3.0%s\n",
		 c->snapshot_suffix);
	snprintf(msgs[2], 160, "Merge commit '%040d' into %s1\n", 0,
		 c->release_prefix);
	return 3;
}

struct violations {
	struct strbuf text;
	unsigned n;
};

static void violation(struct violations *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void violation(struct violations *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (v->n++)
		strbuf_adds(&v->text, "; ");
	strbuf_vaddf(&v->text, fmt, ap);
	va_end(ap);
}

static void check_messages(struct engine *e, const struct forge_push_rule *r,
			   struct violations *v)
{
	char msgs[3][160];
	size_t n = commit_messages(e, msgs);

	for (size_t i = 0; i < n; i++) {
		char subject[160];

		snprintf(subject, sizeof(subject), "%.*s",
			 (int)strcspn(msgs[i], "\n"), msgs[i]);
		if (r->commit_message_regex &&
		    rx_match(r->commit_message_regex, msgs[i]) == 0)
			violation(v, "push rule 'Require expression in commit "
				  "messages' (%s) does not match the commit "
				  "message '%s' semver-tagger writes: widen "
				  "the expression to accept it",
				  r->commit_message_regex, subject);
		if (r->commit_message_negative_regex &&
		    rx_match(r->commit_message_negative_regex, msgs[i]) == 1)
			violation(v, "push rule 'Reject expression in commit "
				  "messages' (%s) matches the commit message "
				  "'%s' semver-tagger writes: narrow the "
				  "expression", r->commit_message_negative_regex,
				  subject);
	}
	if (n && r->reject_non_dco_commits)
		violation(v, "push rule 'Reject commits that aren't DCO "
			  "certified' refuses semver-tagger's commits (no "
			  "Signed-off-by): turn the rule off for this project");
}

/* GitLab's private commit email <id>-<username>@users.noreply.<host>
 * counts as verified too. */
static bool noreply_email(const struct forge_user *u, const char *email)
{
	char want[300];
	int n = snprintf(want, sizeof(want), "%lld-%s@users.noreply.",
			 (long long)u->id, u->username);

	return n > 0 && (size_t)n < sizeof(want) &&
	       strncasecmp(email, want, (size_t)n) == 0;
}

/* The committer rules compare commits with the pushing user: the token's
 * (GET /user, /user/emails). */
static void check_user(struct engine *e, const struct forge_push_rule *r,
		       struct violations *v)
{
	const struct config_project *c = e->o->cfg;
	struct forge_user u;
	struct st_error err;
	bool known = false;

	forge_user_init(&u);
	st_error_clear(&err);
	if (forge_user(e->forge, &u, &err) != 0) {
		engine_warn(e, "push rules: cannot check git_email and git_name "
			    "against the token's user: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < u.n_emails; i++)
		known = known || strcasecmp(u.emails[i], c->git_email) == 0;
	if (r->commit_committer_check && !known &&
	    !noreply_email(&u, c->git_email))
		violation(v, "push rule 'Reject unverified users': git_email "
			  "'%s' is not a verified email of %s, the token's "
			  "user: set git_email to one of its verified emails "
			  "(%s)", c->git_email, u.username,
			  u.n_emails ? u.emails[0] : "none known");
	if (r->commit_committer_name_check && u.name &&
	    strcmp(u.name, c->git_name) != 0)
		violation(v, "push rule 'Reject inconsistent user name': "
			  "git_name '%s' is not the full name of %s, the "
			  "token's user: set git_name to '%s'", c->git_name,
			  u.username, u.name);
	forge_user_release(&u);
}

static void check_identity(struct engine *e, const struct forge_push_rule *r,
			   struct violations *v)
{
	const struct config_project *c = e->o->cfg;
	bool fallback = strcmp(c->git_email, "semver-tagger@localhost") == 0;

	if (r->reject_unsigned_commits && !e->signer)
		violation(v, "push rule 'Reject unsigned commits' is on and no "
			  "signing key is configured: set signing_format and "
			  "signing_key (semver-tagger(5)) and add the public "
			  "key to the bot user in GitLab");
	if (r->author_email_regex &&
	    rx_match(r->author_email_regex, c->git_email) == 0)
		violation(v, "push rule 'Commit author's email' (%s) does not "
			  "match git_email '%s': set git_email to an address "
			  "it accepts", r->author_email_regex, c->git_email);
	if (r->member_check && fallback)
		violation(v, "push rule 'Check whether the commit author is a "
			  "GitLab user' needs a GitLab user's email, and "
			  "git_email is the built-in semver-tagger@localhost: "
			  "set git_email (and git_name) to the bot user's");
	if (r->commit_committer_check || r->commit_committer_name_check)
		check_user(e, r, v);
	if (r->branch_name_regex && e->o->cfg->build != BUILD_SIMPLE) {
		char b[POLICY_NAME_MAX];

		snprintf(b, sizeof(b), "%s1", c->release_prefix);
		if (rx_match(r->branch_name_regex, b) == 0)
			violation(v, "push rule 'Branch name' (%s) refuses "
				  "release branches like %s: widen it",
				  r->branch_name_regex, b);
	}
}

static int check_rules(struct engine *e, struct st_error *err)
{
	struct forge_push_rule r;
	struct violations v = { .n = 0 };
	int rc;

	forge_push_rule_init(&r);
	rc = forge_push_rule(e->forge, &r, err);
	if (rc) {
		st_error_prefix(err, "reading the push rules before pushing");
		return rc;
	}
	if (r.state == FORGE_PUSH_RULES_FORBIDDEN)
		engine_warn(e, "push rules of %s not readable (%s: the token "
			    "needs the Maintainer role to read them); a push "
			    "they refuse is reported with the rule",
			    e->project.path, r.detail);
	strbuf_init(&v.text, ST_ERROR_MSG_MAX);
	if (r.state == FORGE_PUSH_RULES_SET) {
		check_identity(e, &r, &v);
		check_messages(e, &r, &v);
	}
	if (v.n)
		rc = st_error_set(err, ST_ECONFIG, "nothing pushed: the push "
				  "rules of %s would refuse this release: %s",
				  e->project.path, strbuf_str(&v.text));
	strbuf_release(&v.text);
	forge_push_rule_release(&r);
	return rc;
}

/* ---- naming the rule of a refused push --------------------------------- */

static const struct {
	const char *gitlab; /* a piece of GitLab's message */
	const char *rule;   /* the push rule's name in GitLab's settings */
	const char *fix;
} refusals[] = {
	{ "must be signed", "Reject unsigned commits",
	  "configure signing_format and signing_key" },
	{ "Commit message does not follow the pattern",
	  "Require expression in commit messages",
	  "widen the expression to accept semver-tagger's messages" },
	{ "Commit message contains the forbidden pattern",
	  "Reject expression in commit messages", "narrow the expression" },
	{ "only push commits that were committed with one of your own",
	  "Reject unverified users",
	  "set git_email to the bot user's verified email" },
	{ "is not verified", "Reject unverified users",
	  "verify git_email on the bot user" },
	{ "inconsistent with GitLab account name",
	  "Reject inconsistent user name",
	  "set git_name to the bot user's full name" },
	{ "is not a member of team",
	  "Check whether the commit author is a GitLab user",
	  "set git_email to the bot user's email" },
	{ "email '", "Commit author's email", "set git_email to match it" },
	{ "Branch name does not follow the pattern", "Branch name",
	  "widen the expression" },
	{ "DCO signoff", "Reject commits that aren't DCO certified",
	  "turn the rule off for this project" },
};

/* Rewrite the remote's reason in place: "push rule 'R' refused the push
 * (fix: F): <GitLab's message>". */
static void name_rule(char *msg, size_t size)
{
	char copy[GITREPO_PUSH_MSG_MAX];

	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		if (!strstr(msg, refusals[i].gitlab))
			continue;
		snprintf(copy, sizeof(copy), "%s", msg);
		snprintf(msg, size, "push rule '%s' refused the push (fix: "
			 "%s): %s", refusals[i].rule, refusals[i].fix, copy);
		return;
	}
}

int engine_push(struct engine *e, const struct gitrepo_ref_update *up,
		size_t n, struct gitrepo_push_result *res,
		struct st_error *err)
{
	int rc;

	/* Once per run: a refusal stands for every later push too. */
	if (!e->rules_checked) {
		st_error_clear(&e->rules_err);
		e->rules_rc = check_rules(e, &e->rules_err);
		e->rules_checked = true;
	}
	if (e->rules_rc)
		return st_error_set(err, e->rules_rc, "%s", e->rules_err.msg);
	rc = gitrepo_push(e->repo, e->git_url, &e->cred, up, n, res,
			  engine_deadline(e), err);
	if (rc == ST_EREFUSED) {
		for (size_t i = 0; i < n; i++)
			name_rule(res[i].message, sizeof(res[i].message));
		name_rule(err->msg, sizeof(err->msg));
	}
	return rc;
}
