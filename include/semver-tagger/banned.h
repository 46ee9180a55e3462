/* SPDX-License-Identifier: MIT */
/*
 * Functions this project never calls: unbounded copies, unchecked number
 * parsing and stateful tokenising. Included first by every translation unit
 * (through meson's -include), so a use is a compile error, not a review note.
 * Modelled on git's banned.h.
 */
#ifndef SEMVER_TAGGER_BANNED_H
#define SEMVER_TAGGER_BANNED_H

/* Pull in the declarations before poisoning their names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC poison strcpy strcat sprintf vsprintf strtok atoi atol atoll gets

#endif
