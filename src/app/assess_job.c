/* SPDX-License-Identifier: MIT */
/*
 * The daemon's preflight (issue 13): the same assess_project() as
 * --assess, run as an engine job on a worker (the daemon holds no
 * forge), its problems copied into the bounded engine_assess that goes
 * back over the wire.
 */
#include "assess.h"
#include "engine.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Cut s to fit size bytes without splitting a UTF-8 sequence. */
static void copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* A missing impact label stops no release (the daemon creates the
 * labels itself, daemon_fleet.c): in the daemon it is a warning. Every
 * other error would make a cycle fail, or refuse every MR. */
static bool blocks(const struct assess_problem *p)
{
	return p->severity == ASSESS_ERROR && strcmp(p->check, "labels") != 0;
}

static void copy_result(const struct assess_result *a, struct engine_assess *out)
{
	size_t n = a->len < ENGINE_ASSESS_MAX ? a->len : ENGINE_ASSESS_MAX;

	out->ran = true;
	for (size_t i = 0; i < a->len; i++)
		out->errors += blocks(&a->items[i]);
	out->warnings = a->len - out->errors;
	out->items = n ? calloc(n, sizeof(*out->items)) : NULL;
	out->n = out->items ? n : 0;
	out->n_more = a->len - out->n;
	for (size_t i = 0; i < out->n; i++) {
		const struct assess_problem *p = &a->items[i];
		struct engine_assess_problem *q = &out->items[i];

		q->severity = blocks(p) ? ENGINE_ASSESS_ERROR
					: ENGINE_ASSESS_WARNING;
		copy_cut(q->check, sizeof(q->check), p->check);
		copy_cut(q->problem, sizeof(q->problem), p->problem);
		copy_cut(q->fix, sizeof(q->fix), p->fix);
	}
}

int assess_job(const struct config_project *cfg, struct forge *f,
	       struct engine_assess *out, struct st_error *err)
{
	struct assess_result a;
	int rc;

	memset(&a, 0, sizeof(a));
	rc = assess_project(cfg, NULL, f, &a, err);
	if (rc == 0)
		copy_result(&a, out);
	else if (!err->code)
		st_error_set(err, rc, "the assessment failed");
	assess_result_release(&a);
	return rc;
}
