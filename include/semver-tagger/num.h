/* SPDX-License-Identifier: MIT */
/* Checked number parsing for text from outside: no atoi, no silent wrap. */
#ifndef SEMVER_TAGGER_NUM_H
#define SEMVER_TAGGER_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parse exactly n bytes of s as an unsigned decimal (digits only: no sign,
 * no space, no "0x"). Leading zeros are accepted unless strict is set, in
 * which case "0" alone is the only number that may start with '0'.
 * Returns 0 and sets *out, or ST_EINVAL (empty, non-digit, leading zero
 * under strict, or over UINT64_MAX). *out is untouched on failure.
 */
int num_parse_u64(const char *s, size_t n, bool strict, uint64_t *out);

/* Same for a NUL-terminated string, with an upper bound (inclusive). */
int num_parse_u64_max(const char *s, uint64_t max, uint64_t *out);

/* Signed decimal with an optional leading '-' or '+', whole string. */
int num_parse_i64(const char *s, int64_t *out);

#endif
