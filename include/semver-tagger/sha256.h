/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), pure C: the seal on
 * the state directory's caches (issue 14: a hostile CI cache may cost a
 * full listing, never a wrong version).
 */
#ifndef SEMVER_TAGGER_SHA256_H
#define SEMVER_TAGGER_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
	uint32_t h[8];
	uint64_t bytes;
	unsigned char block[64];
	size_t fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
void sha256_final(struct sha256 *s, unsigned char out[SHA256_LEN]);

/* HMAC in pieces (a file read in blocks), and in one call. */
struct hmac_sha256 {
	struct sha256 inner;
	unsigned char okey[64]; /* key ^ opad */
};

void hmac_sha256_init(struct hmac_sha256 *h, const void *key,
		      size_t key_len);
void hmac_sha256_update(struct hmac_sha256 *h, const void *data, size_t n);
void hmac_sha256_final(struct hmac_sha256 *h, unsigned char out[SHA256_LEN]);

void hmac_sha256(const void *key, size_t key_len, const void *data,
		 size_t n, unsigned char out[SHA256_LEN]);

#endif
