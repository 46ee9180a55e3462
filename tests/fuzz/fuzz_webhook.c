/* SPDX-License-Identifier: MIT */
/*
 * The webhook request decoder (src/adapters/webhook.c): what the listener
 * does with a delivery once the HTTP layer has it. Byte 0 picks the mode:
 *   0  X-Gitlab-Event = the first line, body = the rest -> decode, decide
 *   1  no X-Gitlab-Event header, body = the rest        -> decode, decide
 *   2  "secret\ngiven": webhook_token_equal() == exact string equality
 *   3  byte 1 = capacity - 1 (mod 8), then one Idempotency-Key per line:
 *      the LRU agrees with a simple model (seen / not seen, size)
 * Decode properties: the facts have the documented shapes (iid >= 1,
 * labels <= WEBHOOK_LABELS_MAX, shas are full hex ids, a branch only for
 * a Push Hook on refs/heads/...), every decision is one of three with a
 * NUL-terminated reason that fits its buffer, errors carry a message.
 */
#include "fuzz.h"

#include "semver-tagger/webhook.h"

#include <string.h>

#define KEYS_MAX 64

static bool hex_id(const char *s)
{
	size_t n = strlen(s);

	return (n == 40 || n == 64) && strspn(s, "0123456789abcdef") == n;
}

static void check_decide(const struct webhook_event *ev)
{
	static const struct webhook_branches cfg[] = {
		{ NULL, NULL }, { "release/", "main" }, { "", "develop" },
		{ "rel-", NULL },
	};

	for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		char reason[96 + 1];
		enum webhook_decision d;

		memset(reason, 'x', sizeof(reason));
		d = webhook_decide(ev, &cfg[i], reason, 96);
		FUZZ_ASSERT(d == WEBHOOK_IGNORE || d == WEBHOOK_RECONCILE ||
			    d == WEBHOOK_CHECK_MR);
		FUZZ_ASSERT(memchr(reason, '\0', 96) != NULL);
		FUZZ_ASSERT(reason[96] == 'x');
		FUZZ_ASSERT(webhook_decision_name(d) != NULL);
		if (d == WEBHOOK_CHECK_MR)
			FUZZ_ASSERT(ev->kind == WEBHOOK_KIND_MR && ev->head_sha);
		if (d != WEBHOOK_IGNORE)
			FUZZ_ASSERT(ev->kind == WEBHOOK_KIND_MR ||
				    ev->kind == WEBHOOK_KIND_PUSH);
	}
}

static void check_event(const struct webhook_event *ev)
{
	FUZZ_ASSERT(ev->kind >= WEBHOOK_KIND_OTHER &&
		    ev->kind <= WEBHOOK_KIND_TAG_PUSH);
	FUZZ_ASSERT(ev->project_id >= 0);
	FUZZ_ASSERT(memchr(ev->action, '\0', sizeof(ev->action)));
	FUZZ_ASSERT(memchr(ev->state, '\0', sizeof(ev->state)));
	FUZZ_ASSERT(memchr(ev->after, '\0', sizeof(ev->after)));
	FUZZ_ASSERT(ev->n_labels <= WEBHOOK_LABELS_MAX);
	for (size_t i = 0; i < ev->n_labels; i++)
		FUZZ_ASSERT(ev->labels && ev->labels[i]);
	if (ev->kind == WEBHOOK_KIND_MR)
		FUZZ_ASSERT(ev->iid >= 1);
	if (ev->head_sha)
		FUZZ_ASSERT(hex_id(ev->head_sha));
	if (ev->after[0])
		FUZZ_ASSERT(hex_id(ev->after));
	if (ev->kind == WEBHOOK_KIND_PUSH || ev->kind == WEBHOOK_KIND_TAG_PUSH)
		FUZZ_ASSERT(ev->ref != NULL);
	if (ev->branch) {
		FUZZ_ASSERT(ev->kind == WEBHOOK_KIND_PUSH);
		FUZZ_ASSERT(strncmp(ev->ref, "refs/heads/", 11) == 0 &&
			    strcmp(ev->ref + 11, ev->branch) == 0);
	}
	if (ev->deleted)
		FUZZ_ASSERT(strspn(ev->after, "0") == strlen(ev->after));
}

static void decode(const char *event, const char *body, size_t len)
{
	struct webhook_event ev;
	struct st_error err;
	int rc;

	webhook_event_init(&ev);
	st_error_clear(&err);
	rc = webhook_decode(event, body, len, &ev, &err);
	if (rc == 0) {
		check_event(&ev);
		check_decide(&ev);
		webhook_event_release(&ev);
	} else {
		FUZZ_ASSERT(rc < 0 && err.code == rc && err.msg[0]);
	}
}

static void token(const char *s, size_t n)
{
	const char *nl = memchr(s, '\n', n);
	char *secret, *given;
	bool want;

	if (!nl)
		return;
	secret = strndup(s, (size_t)(nl - s));
	given = strndup(nl + 1, n - (size_t)(nl + 1 - s));
	if (secret && given) {
		want = *secret && strcmp(secret, given) == 0;
		FUZZ_ASSERT(webhook_token_equal(secret, strlen(secret), given) ==
			    want);
		FUZZ_ASSERT(!webhook_token_equal(secret, strlen(secret), NULL));
	}
	free(secret);
	free(given);
}

/* The model: an array, most recent first. */
static void dedupe(const char *s, size_t n)
{
	char *model[KEYS_MAX];
	size_t cap, used = 0, start = 1, lines = 0;
	struct webhook_dedupe *d;

	if (n < 1)
		return;
	cap = 1 + (unsigned char)s[0] % 8;
	if (!(d = webhook_dedupe_new(cap)))
		return;
	for (size_t i = 1; i <= n && lines < KEYS_MAX; i++) {
		char *key;
		size_t at = used;
		int got, want;

		if (i < n && s[i] != '\n')
			continue;
		key = strndup(s + start, i - start);
		start = i + 1;
		lines++;
		if (!key)
			break;
		for (size_t j = 0; j < used; j++)
			if (strcmp(model[j], key) == 0)
				at = j;
		want = at < used;
		got = webhook_dedupe_seen(d, key);
		if (!*key || strlen(key) > WEBHOOK_KEY_MAX) {
			FUZZ_ASSERT(got == 0);
			free(key);
			continue;
		}
		FUZZ_ASSERT(got == want);
		if (want) { /* move to the front */
			char *k = model[at];

			memmove(model + 1, model, at * sizeof(*model));
			model[0] = k;
			free(key);
		} else {
			if (used == cap)
				free(model[--used]);
			memmove(model + 1, model, used * sizeof(*model));
			model[0] = key;
			used++;
		}
		FUZZ_ASSERT(webhook_dedupe_size(d) == used);
	}
	for (size_t j = 0; j < used; j++)
		free(model[j]);
	webhook_dedupe_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;
	const char *nl;
	char *event;

	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		nl = memchr(s, '\n', n);
		if (!nl)
			return 0;
		event = strndup(s, (size_t)(nl - s));
		if (event)
			decode(event, nl + 1, n - (size_t)(nl + 1 - s));
		free(event);
		break;
	case 1:
		decode(NULL, s, n);
		break;
	case 2:
		token(s, n);
		break;
	default:
		dedupe(s, n);
		break;
	}
	return 0;
}
