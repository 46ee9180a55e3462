/* SPDX-License-Identifier: MIT */
/*
 * Signing what semver-tagger writes (commits and tags), the way git does:
 * a detached ASCII-armoured signature over the object's bytes, made with
 * an OpenPGP key through GPGME or with an SSH key through ssh-keygen
 * ("ssh-keygen -Y sign -n git", what git runs with gpg.format = ssh).
 *
 * Never a passphrase prompt: an OpenPGP key must be usable without one
 * (unprotected, or its passphrase cached in the gpg-agent of the GnuPG
 * home); gpg runs with pinentry-mode "error". A protected SSH key is
 * refused before ssh-keygen runs, and ssh-keygen runs without a terminal.
 *
 * Secrets: the SSH private key is read into memory and handed to
 * ssh-keygen as /dev/fd/3 (a sealed in-memory file), so neither its
 * content nor its path is in any argv; key material is wiped on free and
 * never appears in a message. Messages name the key by its configured
 * name ("SSH key /etc/semver-tagger/bot_ed25519", "OpenPGP key
 * 0x1234ABCD in /var/lib/semver-tagger/gnupg").
 *
 * signer_new() signs a probe buffer, so a missing, unreadable,
 * passphrase-protected, expired or revoked key fails there, before the
 * caller makes or pushes anything. A struct signer is used by one thread
 * at a time.
 */
#ifndef SEMVER_TAGGER_SIGNER_H
#define SEMVER_TAGGER_SIGNER_H

#include "semver-tagger/error.h"
#include "semver-tagger/strbuf.h"

#include <stddef.h>

/* Largest signature accepted from gpg or ssh-keygen. */
#define SIGNER_SIG_MAX (64 * 1024)
/* Largest key file read (an SSH private key or an armoured OpenPGP key). */
#define SIGNER_KEY_FILE_MAX (64 * 1024)

enum signer_format {
	SIGNER_OPENPGP,
	SIGNER_SSH,
};

struct signer_options {
	enum signer_format format;
	/* OpenPGP: key id or fingerprint (required unless import_file). */
	const char *key_id;
	/* OpenPGP: the GnuPG home (NULL: $GNUPGHOME or ~/.gnupg). */
	const char *gnupg_home;
	/* OpenPGP: an armoured secret key (gpg --export-secret-keys -a), e.g.
	 * the systemd credential, imported into a private temporary GnuPG
	 * home removed by signer_free(); gnupg_home is then not used. */
	const char *import_file;
	/* SSH: the private key file (OpenSSH format), or NULL with key_data. */
	const char *key_file;
	/* SSH: the private key itself (from $CREDENTIALS_DIRECTORY); copied. */
	const char *key_data;
	size_t key_len;
	/* How messages name the key when key_data is given. */
	const char *key_name;
	/* ssh-keygen to run (NULL: "ssh-keygen" from $PATH). */
	const char *ssh_keygen;
};

struct signer;

/* Parse "openpgp" / "ssh"; -1 for anything else. */
int signer_format_parse(const char *s, enum signer_format *out);

/* Check the key and sign a probe. *out is the caller's (signer_free). */
int signer_new(const struct signer_options *o, struct signer **out,
	       struct st_error *err);

/*
 * Detached ASCII-armoured signature over payload[0..len) appended to sig
 * (created by the caller with strbuf_init(sig, SIGNER_SIG_MAX)), ending in
 * one newline, exactly as git stores it.
 */
int signer_sign(struct signer *s, const char *payload, size_t len,
		struct strbuf *sig, struct st_error *err);

/* "SSH key <name>" / "OpenPGP key <id>": for messages. */
const char *signer_describe(const struct signer *s);

/* Wipes key material. NULL is a no-op. */
void signer_free(struct signer *s);

#endif
