/* SPDX-License-Identifier: MIT */
/*
 * Fuzz targets: each file defines LLVMFuzzerTestOneInput(). Built twice:
 * with clang's libFuzzer in build-fuzz (scripts/fuzz), and with the normal
 * compiler plus replay.c, a main() that runs every file of a corpus
 * directory through the target (scripts/test: suite 'fuzz').
 *
 * libFuzzer's contract: return 0, no exit(), no state kept between calls,
 * deterministic. A broken property calls abort() (a crash to libFuzzer,
 * a failed test to the replay driver).
 */
#ifndef SEMVER_TAGGER_FUZZ_H
#define SEMVER_TAGGER_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                   \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: property failed: %s\n",     \
				__FILE__, __LINE__, #cond);                  \
			abort();                                            \
		}                                                           \
	} while (0)

#endif
