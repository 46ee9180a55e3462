/* SPDX-License-Identifier: MIT */
/*
 * ReDoS (reliability.md §2 E3): the slowest labels_match() over label
 * names up to 1 MiB, with the default impact patterns and with patterns a
 * configuration could hold that backtrack catastrophically. PCRE2's match
 * and depth limits (labels.c) must turn those into "no match" quickly.
 * Names over 1 KiB are refused before matching (GitLab's label titles
 * are at most 255 characters). Prints the worst time per pattern (best
 * of 5 runs of each case); exit 1 when one exceeds 10 ms.
 *
 *   redos
 */
#include "semver-tagger/labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	static const char *const patterns[] = {
		NULL, /* the defaults */
		"(a+)+$", "(a|a)*b", "(a|aa)+c", "(.*a){20}", "^(\\w+\\s?)*$",
		"(x+x+)+y",
	};
	static const size_t sizes[] = { 16, 256, 4096, 65536, 1 << 20 };
	static const char fill[] = { 'a', 'x', ' ', ':' };
	char *name = malloc((1 << 20) + 2);
	double worst_all = 0;
	struct st_error err;

	if (!name)
		return 2;
	for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
		struct labels *l;
		double worst = 0;

		st_error_clear(&err);
		l = labels_new(patterns[p], NULL, NULL, &err);
		if (!l) {
			fprintf(stderr, "%s: %s\n", patterns[p], err.msg);
			return 2;
		}
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			for (size_t f = 0; f < sizeof(fill); f++) {
				double t = 1e9;

				memset(name, fill[f], sizes[s]);
				name[sizes[s]] = '!'; /* no pattern ends here */
				name[sizes[s] + 1] = '\0';
				/* best of 5: the cost, not the machine's load */
				for (int r = 0; r < 5; r++) {
					double t0 = now_s(), d;

					(void)labels_match(l, name);
					d = now_s() - t0;
					if (d < t)
						t = d;
				}
				if (t > worst)
					worst = t;
			}
		labels_free(l);
		printf("%-16s worst %.3f ms over names of 16 B .. 1 MiB\n",
		       patterns[p] ? patterns[p] : "(defaults)", worst * 1e3);
		if (worst > worst_all)
			worst_all = worst;
	}
	printf("redos: worst %.3f ms\n", worst_all * 1e3);
	free(name);
	return worst_all > 0.010;
}
