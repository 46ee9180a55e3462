/* SPDX-License-Identifier: MIT */
/* Shared by signer.c (OpenPGP) and signer_ssh.c only. */
#ifndef SEMVER_TAGGER_SIGNER_INTERNAL_H
#define SEMVER_TAGGER_SIGNER_INTERNAL_H

#include "semver-tagger/signer.h"

#include <gpgme.h>

struct signer {
	enum signer_format format;
	char desc[600];       /* "SSH key ..." / "OpenPGP key ..." */
	gpgme_ctx_t ctx;      /* OpenPGP */
	int key_fd;           /* SSH: sealed memfd holding the key, or -1 */
	char *keygen;         /* SSH: program to run */
	char tmp_home[256];   /* OpenPGP import_file: private GnuPG home */
};

/* A key file, at most SIGNER_KEY_FILE_MAX bytes, into *buf (malloc'd,
 * the caller wipes and frees it). Errors name desc. */
int signer__read_file(const char *path, char **buf, size_t *len,
		      struct st_error *err, const char *desc);

int signer__ssh_open(struct signer *s, const struct signer_options *o,
		     struct st_error *err);
int signer__ssh_sign(struct signer *s, const char *payload, size_t len,
		     struct strbuf *sig, struct st_error *err);
void signer__ssh_close(struct signer *s);

#endif
