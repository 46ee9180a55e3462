/* SPDX-License-Identifier: MIT */
/*
 * The signer (issue 15) with real ssh-keygen and gpg: SSH and OpenPGP
 * signatures that git accepts on commits and tags written by gitrepo,
 * signature-blind commit comparison, and every bad key as data: missing,
 * not a file, empty, garbage, truncated, oversized, passphrase-protected,
 * expired, unknown; messages name the key and never hold its content.
 */
#include "gitrepo_testutil.h"
#include "semver-tagger/signer.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[512], key[600], gnupg[600];

static void setup(void)
{
	tu_env();
	tu_tmpdir(dir, sizeof(dir));
	snprintf(key, sizeof(key), "%s/k", dir);
	ck_assert_int_eq(tu_sh("ssh-keygen -q -t ed25519 -N '' -C bot "
			       "-f '%s'", key), 0);
}

static void teardown(void)
{
	if (gnupg[0])
		tu_sh("GNUPGHOME='%s' gpgconf --kill gpg-agent", gnupg);
	gnupg[0] = '\0';
	tu_rmrf(dir);
}

static int ssh_signer(const char *path, struct signer **s,
		      struct st_error *err)
{
	struct signer_options o = { .format = SIGNER_SSH, .key_file = path };

	st_error_clear(err);
	return signer_new(&o, s, err);
}

/* The key's private part must never be in a message. */
static void no_key_in(const char *msg)
{
	ck_assert_ptr_null(strstr(msg, "PRIVATE KEY"));
	ck_assert_ptr_null(strstr(msg, "b3BlbnNzaC1rZXktdjE")); /* base64 magic */
}

START_TEST(test_ssh_signature_verifies)
{
	struct signer *s = NULL;
	struct st_error err;
	struct strbuf sig;
	char path[700];
	FILE *f;

	ck_assert_msg(ssh_signer(key, &s, &err) == 0, "%s", err.msg);
	ck_assert_ptr_nonnull(strstr(signer_describe(s), key));
	strbuf_init(&sig, SIGNER_SIG_MAX);
	ck_assert_int_eq(signer_sign(s, "payload\n", 8, &sig, &err), 0);
	ck_assert_ptr_nonnull(strstr(strbuf_str(&sig),
				     "-----BEGIN SSH SIGNATURE-----\n"));
	ck_assert(sig.buf[sig.len - 1] == '\n');
	snprintf(path, sizeof(path), "%s/sig", dir);
	f = fopen(path, "w");
	fputs(strbuf_str(&sig), f);
	fclose(f);
	ck_assert_int_eq(tu_sh("printf 'payload\\n' | ssh-keygen -Y "
			       "check-novalidate -n git -s '%s' >/dev/null "
			       "2>&1", path), 0);
	ck_assert_int_ne(tu_sh("printf 'other\\n' | ssh-keygen -Y "
			       "check-novalidate -n git -s '%s' >/dev/null "
			       "2>&1", path), 0);
	strbuf_release(&sig);
	signer_free(s);
	signer_free(NULL);
}
END_TEST

START_TEST(test_ssh_key_data)
{
	struct signer_options o = { .format = SIGNER_SSH,
				    .key_name = "$CREDENTIALS_DIRECTORY/signing-key" };
	struct signer *s = NULL;
	struct st_error err;
	char *buf = malloc(70000);
	size_t n;
	FILE *f = fopen(key, "r");

	n = fread(buf, 1, 70000, f);
	fclose(f);
	o.key_data = buf;
	o.key_len = n;
	st_error_clear(&err);
	ck_assert_msg(signer_new(&o, &s, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(signer_describe(s),
			 "SSH key $CREDENTIALS_DIRECTORY/signing-key");
	signer_free(s);
	free(buf);
}
END_TEST

static const struct {
	const char *content; /* NULL: no such file; "" empty */
	const char *want;
} bad_keys[] = {
	{ NULL, "No such file or directory" },
	{ "", "not an OpenSSH private key" },
	{ "hello\n", "not an OpenSSH private key" },
	{ "-----BEGIN OPENSSH PRIVATE KEY-----\n!!!!\n"
	  "-----END OPENSSH PRIVATE KEY-----\n", "not an OpenSSH private key" },
	{ "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABmFlczI1Ng==\n",
	  "passphrase" }, /* magic, then the cipher name "aes256" */
	{ "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA/////w==\n",
	  "passphrase" }, /* a cipher name 4 GiB long: not "none" */
	{ "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r\n",
	  "not an OpenSSH private key" }, /* truncated magic */
	{ "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n",
	  "not an OpenSSH private key" },
};

START_TEST(test_bad_ssh_keys)
{
	struct signer *s = NULL;
	struct st_error err;
	char path[700];

	snprintf(path, sizeof(path), "%s/bad", dir);
	if (bad_keys[_i].content)
		tu_write(dir, "bad", bad_keys[_i].content);
	ck_assert_int_eq(ssh_signer(path, &s, &err), ST_ECONFIG);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err.msg, bad_keys[_i].want), "%s", err.msg);
	ck_assert_msg(strstr(err.msg, path), "%s", err.msg);
	no_key_in(err.msg);
}
END_TEST

START_TEST(test_directory_and_oversized)
{
	struct signer *s = NULL;
	struct st_error err;
	char path[700];

	ck_assert_int_eq(ssh_signer(dir, &s, &err), ST_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
	snprintf(path, sizeof(path), "%s/huge", dir);
	ck_assert_int_eq(tu_sh("head -c 70000 /dev/zero | tr '\\0' a > '%s'",
			       path), 0);
	st_error_clear(&err);
	ck_assert_int_eq(ssh_signer(path, &s, &err), ST_ECONFIG);
	ck_assert_msg(strstr(err.msg, "larger than 65536 bytes"), "%s",
		      err.msg);
}
END_TEST

START_TEST(test_protected_ssh_key)
{
	struct signer *s = NULL;
	struct st_error err;
	char path[700];

	snprintf(path, sizeof(path), "%s/prot", dir);
	ck_assert_int_eq(tu_sh("ssh-keygen -q -t ed25519 -N secretpw -f '%s'",
			       path), 0);
	ck_assert_int_eq(ssh_signer(path, &s, &err), ST_ECONFIG);
	ck_assert_msg(strstr(err.msg, "protected by a passphrase"), "%s",
		      err.msg);
	ck_assert_ptr_null(strstr(err.msg, "secretpw"));
	no_key_in(err.msg);
}
END_TEST

START_TEST(test_missing_ssh_keygen)
{
	struct signer_options o = { .format = SIGNER_SSH, .key_file = key,
				    .ssh_keygen = "/nonexistent/ssh-keygen" };
	struct signer *s = NULL;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(signer_new(&o, &s, &err), ST_ECONFIG);
	ck_assert_msg(strstr(err.msg, "cannot run /nonexistent/ssh-keygen"),
		      "%s", err.msg);
}
END_TEST

static void make_gnupg(void)
{
	snprintf(gnupg, sizeof(gnupg), "%s/g", dir);
	ck_assert_int_eq(tu_sh("mkdir -m 700 '%s' && GNUPGHOME='%s' gpg "
			       "--batch --pinentry-mode loopback --passphrase '' "
			       "--quick-gen-key 'Bot <bot@example.com>' ed25519 "
			       "sign 1y >/dev/null 2>&1", gnupg, gnupg), 0);
}

START_TEST(test_openpgp_signs_and_refuses)
{
	struct signer_options o = { .format = SIGNER_OPENPGP,
				    .key_id = "bot@example.com" };
	struct signer *s = NULL;
	struct st_error err;
	struct strbuf sig;

	make_gnupg();
	o.gnupg_home = gnupg;
	st_error_clear(&err);
	ck_assert_msg(signer_new(&o, &s, &err) == 0, "%s", err.msg);
	strbuf_init(&sig, SIGNER_SIG_MAX);
	ck_assert_int_eq(signer_sign(s, "x", 1, &sig, &err), 0);
	ck_assert_ptr_nonnull(strstr(strbuf_str(&sig),
				     "-----BEGIN PGP SIGNATURE-----"));
	strbuf_release(&sig);
	signer_free(s);
	o.key_id = "nobody@example.com";
	st_error_clear(&err);
	ck_assert_int_eq(signer_new(&o, &s, &err), ST_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "OpenPGP key nobody@example.com"));
	ck_assert_ptr_nonnull(strstr(err.msg, "no such secret key"));
	o.key_id = NULL;
	st_error_clear(&err);
	ck_assert_int_eq(signer_new(&o, &s, &err), ST_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "needs signing_key"));
	ck_assert_int_eq(signer_format_parse("ssh", &o.format), 0);
	ck_assert_int_eq(o.format, SIGNER_SSH);
	ck_assert_int_eq(signer_format_parse("x509", &o.format), -1);
}
END_TEST

/* gitrepo writes signed commits and tags git verifies; a signed and an
 * unsigned commit with one content compare equal, others do not. */
START_TEST(test_gitrepo_signed_objects)
{
	struct gitrepo_identity who = { "Bot", "bot@example.com" };
	struct versionfile_spec spec = { .kind = VERSIONFILE_PLAIN,
					 .path = "VERSION" };
	struct gitrepo_oid head, plain, signed1, other, tag;
	struct signer *s = NULL;
	struct gitrepo *r;
	struct st_error err;
	char repo[700], hex[41], allowed[800];
	bool made, same;

	snprintf(repo, sizeof(repo), "%s/r", dir);
	ck_assert_int_eq(tu_sh("git init -q '%s'", repo), 0);
	tu_write(repo, "VERSION", "1.0.0-SNAPSHOT\n");
	ck_assert_int_eq(tu_sh("git -C '%s' add VERSION && git -C '%s' "
			       "commit -qm init", repo, repo), 0);
	head = tu_rev(repo, "HEAD");
	r = tu_open(repo);
	st_error_clear(&err);
	ck_assert_int_eq(gitrepo_version_commit(r, &head, &spec, "1.0.0", &who,
						NULL, &plain, &made, &err), 0);
	ck_assert_msg(ssh_signer(key, &s, &err) == 0, "%s", err.msg);
	gitrepo_set_signer(r, s);
	ck_assert_int_eq(gitrepo_version_commit(r, &head, &spec, "1.0.0", &who,
						NULL, &signed1, &made, &err), 0);
	ck_assert(!gitrepo_oid_equal(&plain, &signed1));
	ck_assert_int_eq(gitrepo_commit_same_content(r, &plain, &signed1,
						     &same, &err), 0);
	ck_assert(same);
	ck_assert_int_eq(gitrepo_version_commit(r, &head, &spec, "1.0.1", &who,
						NULL, &other, &made, &err), 0);
	ck_assert_int_eq(gitrepo_commit_same_content(r, &signed1, &other,
						     &same, &err), 0);
	ck_assert(!same);
	ck_assert_int_eq(gitrepo_tag_object(r, "1.0.0", &signed1, &who,
					    "Release 1.0.0\n", &tag, &err), 0);
	gitrepo_free(r);
	signer_free(s);
	snprintf(allowed, sizeof(allowed), "%s/allowed", dir);
	ck_assert_int_eq(tu_sh("printf 'bot@example.com %%s\\n' \"$(cut -d' ' "
			       "-f1,2 '%s.pub')\" > '%s'", key, allowed), 0);
	gitrepo_oid_tohex(&signed1, hex);
	ck_assert_int_eq(tu_sh("git -C '%s' -c gpg.ssh.allowedSignersFile='%s' "
			       "verify-commit %s 2>/dev/null", repo, allowed,
			       hex), 0);
	gitrepo_oid_tohex(&tag, hex);
	ck_assert_int_eq(tu_sh("git -C '%s' update-ref refs/tags/1.0.0 %s && "
			       "git -C '%s' -c gpg.ssh.allowedSignersFile='%s' "
			       "verify-tag 1.0.0 2>/dev/null", repo, hex, repo,
			       allowed), 0);
	gitrepo_oid_tohex(&plain, hex);
	ck_assert_int_ne(tu_sh("git -C '%s' -c gpg.ssh.allowedSignersFile='%s' "
			       "verify-commit %s 2>/dev/null", repo, allowed,
			       hex), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("signer");
	TCase *tc = tcase_create("signer");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ssh_signature_verifies);
	tcase_add_test(tc, test_ssh_key_data);
	tcase_add_loop_test(tc, test_bad_ssh_keys, 0,
			    sizeof(bad_keys) / sizeof(bad_keys[0]));
	tcase_add_test(tc, test_directory_and_oversized);
	tcase_add_test(tc, test_protected_ssh_key);
	tcase_add_test(tc, test_missing_ssh_keygen);
	tcase_add_test(tc, test_openpgp_signs_and_refuses);
	tcase_add_test(tc, test_gitrepo_signed_objects);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
