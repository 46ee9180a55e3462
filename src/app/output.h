/* SPDX-License-Identifier: MIT */
/* What a run prints: one line per goal for people, or one JSON object. */
#ifndef SEMVER_TAGGER_OUTPUT_H
#define SEMVER_TAGGER_OUTPUT_H

#include "semver-tagger/release.h"

#include <stdbool.h>
#include <stdio.h>

/* sysexits-style status for a release status (0, ST_E*). */
int output_exit_code(int status);

/* Log the report's errors and warnings (stderr). */
void output_log(const struct release_report *r);

/* Log the report's errors and warnings and print the goal lines. */
void output_human(const struct release_report *r, bool dry_run, FILE *out);

/* One JSON object on out (the --json contract). */
int output_json(const struct release_report *r, bool dry_run, FILE *out);

#endif
