/* SPDX-License-Identifier: MIT */
/*
 * The signer: OpenPGP through GPGME here, SSH in signer_ssh.c. GPGME runs
 * gpg with the key id and the GnuPG home on its command line (a name and
 * a directory, not secrets); the key stays in the GnuPG home or agent.
 */
#include "signer_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char probe[] = "semver-tagger signing probe\n";

static pthread_once_t gpgme_once = PTHREAD_ONCE_INIT;

static void gpgme_boot(void)
{
	/* Must run once before any other GPGME call (thread setup). */
	gpgme_check_version(NULL);
}

int signer_format_parse(const char *s, enum signer_format *out)
{
	if (s && strcmp(s, "openpgp") == 0)
		*out = SIGNER_OPENPGP;
	else if (s && strcmp(s, "ssh") == 0)
		*out = SIGNER_SSH;
	else
		return -1;
	return 0;
}

const char *signer_describe(const struct signer *s)
{
	return s->desc;
}

static int pgp_fail(struct signer *s, gpgme_error_t ge, const char *doing,
		     struct st_error *err)
{
	char why[256];

	gpgme_strerror_r(ge, why, sizeof(why));
	switch (gpgme_err_code(ge)) {
	case GPG_ERR_NO_PIN_ENTRY:
	case GPG_ERR_NO_PASSPHRASE:
	case GPG_ERR_BAD_PASSPHRASE:
	case GPG_ERR_CANCELED:
	case GPG_ERR_FULLY_CANCELED:
		return st_error_set(err, ST_ECONFIG, "%s: %s: the key needs a "
				    "passphrase (%s); semver-tagger never asks "
				    "for one: give the bot a key without a "
				    "passphrase, or preset it in that GnuPG "
				    "home's gpg-agent", s->desc, doing, why);
	default:
		return st_error_set(err, ST_ECONFIG, "%s: %s: %s", s->desc,
				    doing, why);
	}
}

/* The key's state as a reason it cannot sign, or NULL when a signing
 * subkey is usable. */
static const char *key_unusable(gpgme_key_t k, char *buf, size_t n)
{
	time_t newest = 0;

	if (k->revoked)
		return "revoked";
	if (k->disabled)
		return "disabled";
	if (k->invalid)
		return "invalid";
	for (gpgme_subkey_t sk = k->subkeys; sk; sk = sk->next) {
		if (sk->can_sign && sk->secret && !sk->expired &&
		    !sk->revoked && !sk->disabled && !sk->invalid)
			return NULL;
		if (sk->can_sign && sk->expired && sk->expires > newest)
			newest = sk->expires;
	}
	if (k->expired || newest) {
		struct tm tm;

		if (newest && gmtime_r(&newest, &tm))
			strftime(buf, n, "expired on %Y-%m-%d", &tm);
		else
			snprintf(buf, n, "expired");
		return buf;
	}
	return "without a usable signing (sub)key with its secret part";
}

static int pgp_key(struct signer *s, const char *id, struct st_error *err)
{
	gpgme_key_t k = NULL;
	gpgme_error_t ge;
	const char *why;
	char buf[64];
	int rc = ST_OK;

	ge = gpgme_get_key(s->ctx, id, &k, 1);
	if (gpgme_err_code(ge) == GPG_ERR_EOF)
		return st_error_set(err, ST_ECONFIG, "%s: no such secret key "
				    "(gpg --list-secret-keys shows what the "
				    "GnuPG home holds)", s->desc);
	if (gpgme_err_code(ge) == GPG_ERR_AMBIGUOUS_NAME)
		return st_error_set(err, ST_ECONFIG, "%s: matches several "
				    "keys; give the full fingerprint",
				    s->desc);
	if (ge)
		return pgp_fail(s, ge, "looking up the key", err);
	why = key_unusable(k, buf, sizeof(buf));
	if (why)
		rc = st_error_set(err, ST_ECONFIG, "%s: the key is %s; give "
				  "the bot a valid signing key (and register "
				  "its public key with the bot user in GitLab)",
				  s->desc, why);
	else if ((ge = gpgme_signers_add(s->ctx, k)) != 0)
		rc = pgp_fail(s, ge, "selecting the key", err);
	gpgme_key_unref(k);
	return rc;
}

/* Remove the private GnuPG home (its agent exits once its socket is
 * gone). */
static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Stop the private home's gpg-agent (it could still write there), then
 * remove the home; a file the agent wrote meanwhile gets another pass. */
static void remove_home(const char *home)
{
	char *argv[] = { "gpgconf", "--homedir", (char *)home, "--kill",
			 "gpg-agent", NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "gpgconf", &fa, NULL, argv, environ) == 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 3 && access(home, F_OK) == 0; i++)
		nftw(home, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int pgp_import(struct signer *s, const char *file, char *fpr,
		      size_t n, struct st_error *err)
{
	gpgme_import_result_t res;
	gpgme_data_t d = NULL;
	gpgme_error_t ge;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = signer__read_file(file, &buf, &len, err, s->desc);
	if (rc)
		return rc;
	ge = gpgme_data_new_from_mem(&d, buf, len, 0);
	if (!ge)
		ge = gpgme_op_import(s->ctx, d);
	gpgme_data_release(d);
	explicit_bzero(buf, len);
	free(buf);
	if (ge)
		return pgp_fail(s, ge, "importing the key", err);
	res = gpgme_op_import_result(s->ctx);
	for (gpgme_import_status_t i = res ? res->imports : NULL; i;
	     i = i->next)
		if (!i->result && (i->status & GPGME_IMPORT_SECRET) && i->fpr) {
			snprintf(fpr, n, "%s", i->fpr);
			return ST_OK;
		}
	return st_error_set(err, ST_ECONFIG, "%s: no OpenPGP secret key in "
			    "the file (expected gpg --export-secret-keys "
			    "--armor)", s->desc);
}

static int pgp_home(struct signer *s, const struct signer_options *o,
		    struct st_error *err)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	if (o->import_file) {
		snprintf(s->tmp_home, sizeof(s->tmp_home),
			 "%.200s/semver-tagger-gnupg-XXXXXX",
			 tmp && *tmp && strlen(tmp) < 100 ? tmp : "/tmp");
		if (!mkdtemp(s->tmp_home)) {
			s->tmp_home[0] = '\0';
			return st_error_set(err, ST_EIO, "%s: temporary GnuPG "
					    "home: %s", s->desc,
					    strerror(errno));
		}
		return ST_OK;
	}
	if (o->gnupg_home && stat(o->gnupg_home, &st) != 0)
		return st_error_set(err, ST_ECONFIG, "%s: GnuPG home: %s",
				    s->desc, strerror(errno));
	if (o->gnupg_home && !S_ISDIR(st.st_mode))
		return st_error_set(err, ST_ECONFIG, "%s: GnuPG home: not a "
				    "directory", s->desc);
	return ST_OK;
}

static int pgp_open(struct signer *s, const struct signer_options *o,
		    struct st_error *err)
{
	char fpr[128] = "";
	gpgme_error_t ge;
	int rc;

	if ((!o->key_id || !*o->key_id) && !o->import_file)
		return st_error_set(err, ST_ECONFIG, "signing_format openpgp "
				    "needs signing_key (a key id or "
				    "fingerprint)");
	snprintf(s->desc, sizeof(s->desc), "OpenPGP key%s%.80s%s%.400s",
		 o->key_id && *o->key_id ? " " : "",
		 o->key_id ? o->key_id : "", o->import_file ? " from " :
		 o->gnupg_home ? " in " : "", o->import_file ? o->import_file
		 : o->gnupg_home ? o->gnupg_home : "");
	rc = pgp_home(s, o, err);
	if (rc)
		return rc;
	pthread_once(&gpgme_once, gpgme_boot);
	ge = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP);
	if (!ge)
		ge = gpgme_new(&s->ctx);
	if (!ge)
		ge = gpgme_ctx_set_engine_info(s->ctx, GPGME_PROTOCOL_OpenPGP,
					       NULL, s->tmp_home[0] ? s->tmp_home
					       : o->gnupg_home);
	if (!ge)
		ge = gpgme_set_pinentry_mode(s->ctx, GPGME_PINENTRY_MODE_ERROR);
	if (ge)
		return pgp_fail(s, ge, "starting gpg (is gnupg installed?)",
				 err);
	gpgme_set_armor(s->ctx, 1);
	gpgme_set_textmode(s->ctx, 0);
	gpgme_set_offline(s->ctx, 1);
	if (o->import_file &&
	    (rc = pgp_import(s, o->import_file, fpr, sizeof(fpr), err)) != 0)
		return rc;
	return pgp_key(s, o->key_id && *o->key_id ? o->key_id : fpr, err);
}

static int pgp_sign(struct signer *s, const char *payload, size_t len,
		    struct strbuf *sig, struct st_error *err)
{
	gpgme_data_t in = NULL, out = NULL;
	gpgme_sign_result_t res;
	gpgme_error_t ge;
	char *mem = NULL;
	size_t n = 0;
	int rc = ST_OK;

	ge = gpgme_data_new_from_mem(&in, payload, len, 0);
	if (!ge)
		ge = gpgme_data_new(&out);
	if (!ge)
		ge = gpgme_op_sign(s->ctx, in, out, GPGME_SIG_MODE_DETACH);
	res = ge ? NULL : gpgme_op_sign_result(s->ctx);
	if (!ge && res && res->invalid_signers)
		ge = res->invalid_signers->reason ? res->invalid_signers->reason
						  : GPG_ERR_UNUSABLE_SECKEY;
	if (!ge && (!res || !res->signatures))
		ge = gpgme_error(GPG_ERR_GENERAL);
	gpgme_data_release(in);
	if (!ge)
		mem = gpgme_data_release_and_get_mem(out, &n);
	else
		gpgme_data_release(out);
	if (ge)
		rc = pgp_fail(s, ge, "signing", err);
	else if (!mem || n == 0 || n > SIGNER_SIG_MAX || strbuf_add(sig, mem, n))
		rc = st_error_set(err, ST_EIO, "%s: gpg gave no usable "
				  "signature", s->desc);
	else if (n && mem[n - 1] != '\n' && strbuf_add(sig, "\n", 1))
		rc = st_error_set(err, ST_ETOOBIG, "%s: signature too long",
				  s->desc);
	gpgme_free(mem);
	return rc;
}

int signer_sign(struct signer *s, const char *payload, size_t len,
		struct strbuf *sig, struct st_error *err)
{
	if (s->format == SIGNER_SSH)
		return signer__ssh_sign(s, payload, len, sig, err);
	return pgp_sign(s, payload, len, sig, err);
}

int signer_new(const struct signer_options *o, struct signer **out,
	       struct st_error *err)
{
	struct signer *s = calloc(1, sizeof(*s));
	struct strbuf sig;
	int rc;

	if (!s)
		return st_error_set(err, ST_ENOMEM, "signer: out of memory");
	s->format = o->format;
	s->key_fd = -1;
	rc = o->format == SIGNER_SSH ? signer__ssh_open(s, o, err)
				     : pgp_open(s, o, err);
	/* A key that cannot sign fails here, before anything is made. */
	strbuf_init(&sig, SIGNER_SIG_MAX);
	if (!rc)
		rc = signer_sign(s, probe, sizeof(probe) - 1, &sig, err);
	strbuf_release(&sig);
	if (rc) {
		signer_free(s);
		return rc;
	}
	*out = s;
	return ST_OK;
}

void signer_free(struct signer *s)
{
	if (!s)
		return;
	if (s->ctx)
		gpgme_release(s->ctx);
	if (s->tmp_home[0])
		remove_home(s->tmp_home);
	signer__ssh_close(s);
	free(s);
}
