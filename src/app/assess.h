/* SPDX-License-Identifier: MIT */
/*
 * --assess: the preflight of every configured and discovered project
 * (issue 13): token, scopes and expiry; the role against protected tags
 * and branches; push rules; impact labels; a webhook. Reads only: it
 * posts nothing.
 */
#ifndef SEMVER_TAGGER_APP_ASSESS_H
#define SEMVER_TAGGER_APP_ASSESS_H

#include "semver-tagger/config.h"
#include "semver-tagger/forge.h"

#include <stdbool.h>
#include <stdint.h>

enum assess_severity {
	ASSESS_ERROR,   /* the project cannot be released until fixed */
	ASSESS_WARNING, /* works, but worse (or could not be checked) */
};

struct assess_problem {
	enum assess_severity severity;
	char check[16];     /* "token", "role", "push-rule", "labels", ... */
	char problem[512];
	char fix[512];
};

struct assess_result {
	char project[512];
	int64_t id;
	struct assess_problem *items;
	size_t len;
	size_t errors;
	int status;          /* 0, or ST_E* when a check could not run */
};

void assess_result_release(struct assess_result *r);

/* Record a problem (the problem text is redacted of secrets). */
void assess_add(struct assess_result *r, enum assess_severity sev,
		const char *check, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Push rules that would reject what a release writes (assess_pushrule.c):
 * unsigned commits, commit message patterns, committer and author
 * checks, branch names, DCO. */
int assess_push_rules(struct forge *f, const struct config_project *cfg,
		      struct assess_result *r, struct st_error *err);

/* Assess one project through f (a forge for it). group: the [group] it
 * was discovered in, or NULL. Problems go into out; the return value is
 * 0 unless the assessment itself failed (transport, memory). */
int assess_project(const struct config_project *cfg, const char *group,
		   struct forge *f, struct assess_result *out,
		   struct st_error *err);

struct engine_assess;

/* The daemon's preflight (assess_job.c), on an engine worker: the
 * problems of assess_project() into out (bounded; out->items owned by
 * the caller's engine_result). 0, or ST_E* when it could not run. */
int assess_job(const struct config_project *cfg, struct forge *f,
	       struct engine_assess *out, struct st_error *err);

struct assess_args {
	const char *config_path;
	const char *project;  /* --project: only this one */
	bool json;
};

/* Run --assess; returns the exit status: 0 when every project can be
 * released, 65 when one cannot, 75 when GitLab could not be asked, 78
 * for a configuration error. */
int assess_main(const struct assess_args *a);

#endif
