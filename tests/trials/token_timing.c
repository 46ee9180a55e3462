/* SPDX-License-Identifier: MIT */
/*
 * Is webhook_token_equal() constant-time? A dudect-style test
 * (reliability.md §2 D2): two classes of answers to a 32-byte secret,
 * interleaved at random,
 *   class 0: the secret with only its last byte wrong (longest prefix)
 *   class 1: a random string of the same length (first byte wrong)
 * timed with the cycle counter; Welch's t statistic over all samples and
 * over samples cropped at several percentiles (dudect's post-processing).
 * |t| > 10 means the classes are distinguishable.
 *
 *   token_timing [SAMPLES]      default 10,000,000
 */
#include "semver-tagger/webhook.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEN 32
#define BATCH 100000
#define CROPS 6

static const double crop_pct[CROPS] = { 1.0, 0.99, 0.95, 0.9, 0.75, 0.5 };

struct welch {
	double n[2], mean[2], m2[2];
};

static void push(struct welch *w, int cls, double x)
{
	double d;

	w->n[cls]++;
	d = x - w->mean[cls];
	w->mean[cls] += d / w->n[cls];
	w->m2[cls] += d * (x - w->mean[cls]);
}

static double t_value(const struct welch *w)
{
	double v0, v1;

	if (w->n[0] < 2 || w->n[1] < 2)
		return 0;
	v0 = w->m2[0] / (w->n[0] - 1);
	v1 = w->m2[1] / (w->n[1] - 1);
	if (v0 + v1 == 0)
		return 0;
	return (w->mean[0] - w->mean[1]) /
	       sqrt(v0 / w->n[0] + v1 / w->n[1]);
}

static inline uint64_t ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int main(int argc, char **argv)
{
	long samples = argc > 1 ? strtol(argv[1], NULL, 10) : 10000000L;
	char secret[LEN + 1], *in = malloc((size_t)BATCH * (LEN + 1));
	uint64_t *t = malloc(sizeof(*t) * BATCH), *sorted;
	int *cls = malloc(sizeof(*cls) * BATCH);
	uint64_t seed = 0x9E3779B97F4A7C15ull, limit[CROPS] = { 0 };
	struct welch w[CROPS];
	double worst = 0;
	int worst_crop = 0;
	volatile bool sink = false;

	sorted = malloc(sizeof(*sorted) * BATCH);
	if (!t || !cls || !sorted || !in || samples < BATCH)
		return 2;
	memset(w, 0, sizeof(w));
	for (int i = 0; i < LEN; i++)
		secret[i] = (char)('a' + rnd(&seed) % 26);
	secret[LEN] = '\0';
	for (long done = 0, batch = 0; done < samples; done += BATCH, batch++) {
		/* inputs first, timing after (dudect): the timed loop does
		 * the same thing for both classes, only the bytes differ */
		for (int i = 0; i < BATCH; i++) {
			char *g = in + (size_t)i * (LEN + 1);

			cls[i] = (int)(rnd(&seed) & 1);
			if (cls[i] == 0) {
				memcpy(g, secret, LEN + 1);
				g[LEN - 1] ^= 1;
			} else {
				for (int k = 0; k < LEN; k++)
					g[k] = (char)('A' + rnd(&seed) % 26);
				g[LEN] = '\0';
			}
		}
		for (int i = 0; i < BATCH; i++) {
			const char *g = in + (size_t)i * (LEN + 1);
			uint64_t a, b;

			a = ticks();
			sink ^= webhook_token_equal(secret, LEN, g);
			b = ticks();
			t[i] = b - a;
		}
		if (batch == 0) { /* the first batch sets the crop limits */
			memcpy(sorted, t, sizeof(*t) * BATCH);
			qsort(sorted, BATCH, sizeof(*sorted), cmp_u64);
			for (int k = 0; k < CROPS; k++)
				limit[k] = sorted[(size_t)(crop_pct[k] *
							   (BATCH - 1))];
			continue;
		}
		for (int i = 0; i < BATCH; i++)
			for (int k = 0; k < CROPS; k++)
				if (t[i] <= limit[k])
					push(&w[k], cls[i], (double)t[i]);
	}
	for (int k = 0; k < CROPS; k++) {
		double v = fabs(t_value(&w[k]));

		if (v > worst) {
			worst = v;
			worst_crop = k;
		}
	}
	printf("samples=%.0f max|t|=%.2f (crop p%.0f; means %.1f vs %.1f "
	       "ticks)\n", w[0].n[0] + w[0].n[1], worst,
	       crop_pct[worst_crop] * 100, w[worst_crop].mean[0],
	       w[worst_crop].mean[1]);
	free(t);
	free(cls);
	free(sorted);
	free(in);
	return sink ? 0 : 0;
}
