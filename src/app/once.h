/* SPDX-License-Identifier: MIT */
/* --once: one reconciliation for a pipeline job (SPEC §8). */
#ifndef SEMVER_TAGGER_ONCE_H
#define SEMVER_TAGGER_ONCE_H

#include <stdbool.h>

struct once_args {
	const char *config_path;  /* --config */
	const char *state_dir;    /* --state-dir */
	const char *token_file;   /* --token-file */
	const char *branch;       /* --branch */
	const char *dotenv;       /* --dotenv FILE (dotenv.h) */
	bool dry_run;
	bool json;
	bool stable_release;
};

/* Run; returns the process exit status. env is the process environment. */
int once_main(const struct once_args *a, char **env);

#endif
