/* SPDX-License-Identifier: MIT */
/*
 * Webhook decode and decide (pure), the token check, the Idempotency-Key
 * LRU, and the listener over real sockets on 127.0.0.1: status codes,
 * 401/413 before the body, the streamed-body cap, the per-request
 * deadline, duplicates.
 */
#include "semver-tagger/webhook.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SHA1 "0123456789abcdef0123456789abcdef01234567"
#define SHA2 "89abcdef0123456789abcdef0123456789abcdef"

/* A Merge Request Hook as GitLab 18 sends it (trimmed to what matters,
 * plus some fields we must skip over). */
static char *mr_payload(const char *action, const char *state,
			const char *target, const char *labels,
			const char *changes, const char *updated_at)
{
	char *out = malloc(8192);
	char act[64] = "";

	if (action)
		snprintf(act, sizeof(act), "\"action\":\"%s\",", action);
	snprintf(out, 8192,
		 "{\"object_kind\":\"merge_request\",\"event_type\":"
		 "\"merge_request\",\"user\":{\"id\":1,\"name\":\"A\","
		 "\"username\":\"a\",\"email\":\"[REDACTED]\"},"
		 "\"project\":{\"id\":7,\"name\":\"app\",\"path_with_namespace\":"
		 "\"group/app\",\"default_branch\":\"main\",\"web_url\":"
		 "\"http://x/group/app\"},"
		 "\"object_attributes\":{\"id\":99,\"iid\":12,%s\"state\":\"%s\","
		 "\"title\":\"Add x\",\"source_branch\":\"topic/x\","
		 "\"target_branch\":\"%s\",\"merge_commit_sha\":null,"
		 "\"updated_at\":\"%s\",\"url\":\"http://x/group/app/-/"
		 "merge_requests/12\",\"last_commit\":{\"id\":\"" SHA1 "\","
		 "\"timestamp\":\"2026-03-14T11:21:07+02:00\"},"
		 "\"labels\":[{\"id\":1,\"title\":\"ignored-inner\"}]},"
		 "\"labels\":%s,\"changes\":%s,\"repository\":{\"name\":\"app\"}}",
		 act, state, target, updated_at, labels, changes);
	return out;
}

static const char *LABELS2 =
	"[{\"id\":5,\"title\":\"ImpactMinor\",\"color\":\"#fff\","
	"\"project_id\":7,\"type\":\"ProjectLabel\",\"group_id\":null},"
	"{\"id\":6,\"title\":\"backend\",\"type\":\"GroupLabel\"}]";

static int decode(const char *event, const char *body,
		  struct webhook_event *ev, struct st_error *err)
{
	st_error_clear(err);
	return webhook_decode(event, body, strlen(body), ev, err);
}

static enum webhook_decision decide(const struct webhook_event *ev,
				    const char *prefix, const char *def)
{
	struct webhook_branches b = { prefix, def };
	char reason[128];

	return webhook_decide(ev, &b, reason, sizeof(reason));
}

START_TEST(test_merge_event)
{
	char *p = mr_payload("merge", "merged", "main", LABELS2,
			     "{\"state_id\":{\"previous\":1,\"current\":3}}",
			     "2023-04-11T09:38:46.773Z");
	struct webhook_event ev;
	struct st_error err;

	ck_assert_int_eq(decode("Merge Request Hook", p, &ev, &err), 0);
	ck_assert_int_eq(ev.kind, WEBHOOK_KIND_MR);
	ck_assert(!ev.test);
	ck_assert_str_eq(ev.action, "merge");
	ck_assert_str_eq(ev.state, "merged");
	ck_assert(ev.iid == 12);
	ck_assert(ev.project_id == 7);
	ck_assert_str_eq(ev.project_path, "group/app");
	ck_assert_str_eq(ev.default_branch, "main");
	ck_assert_str_eq(ev.target_branch, "main");
	ck_assert_str_eq(ev.source_branch, "topic/x");
	ck_assert_str_eq(ev.head_sha, SHA1);
	ck_assert_str_eq(ev.title, "Add x");
	/* labels are objects: their titles, top level wins */
	ck_assert_uint_eq(ev.n_labels, 2);
	ck_assert_str_eq(ev.labels[0], "ImpactMinor");
	ck_assert_str_eq(ev.labels[1], "backend");
	ck_assert(!ev.labels_changed);
	ck_assert(ev.updated_at_ms == 1681205926773LL);
	ck_assert_int_eq(decide(&ev, "release/", NULL), WEBHOOK_RECONCILE);
	webhook_event_release(&ev);
	free(p);
}
END_TEST

START_TEST(test_timestamp_formats)
{
	static const struct {
		const char *text;
		long long ms;
	} t[] = {
		{ "2019-11-05 02:48:40 UTC", 1572922120000LL },
		{ "2023-04-11T09:38:46.773Z", 1681205926773LL },
		{ "2023-04-11T11:38:46.773+02:00", 1681205926773LL },
		{ "not a time", -1 }, /* a hint is not refused for it */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *p = mr_payload("update", "merged", "main", "[]", "{}",
				     t[i].text);
		struct webhook_event ev;
		struct st_error err;

		ck_assert_int_eq(decode("Merge Request Hook", p, &ev, &err), 0);
		ck_assert_msg(ev.updated_at_ms == t[i].ms, "%s -> %lld",
			      t[i].text, (long long)ev.updated_at_ms);
		webhook_event_release(&ev);
		free(p);
	}
}
END_TEST

START_TEST(test_label_change_on_merged_mr)
{
	char *p = mr_payload(
		"update", "merged", "main", LABELS2,
		"{\"labels\":{\"previous\":[],\"current\":[{\"id\":5,"
		"\"title\":\"ImpactMinor\"}]},\"updated_at\":{\"previous\":"
		"\"2017-09-15 16:50:55 UTC\",\"current\":\"2017-09-15 "
		"16:52:00 UTC\"}}",
		"2017-09-15 16:52:00 UTC");
	char *q = mr_payload("update", "merged", "main", LABELS2, "{}",
			     "2017-09-15 16:52:00 UTC");
	struct webhook_event ev;
	struct st_error err;

	ck_assert_int_eq(decode("Merge Request Hook", p, &ev, &err), 0);
	ck_assert(ev.labels_changed);
	ck_assert_int_eq(decide(&ev, "release/", NULL), WEBHOOK_RECONCILE);
	webhook_event_release(&ev);
	/* an update of a merged MR without a label change: nothing */
	ck_assert_int_eq(decode("Merge Request Hook", q, &ev, &err), 0);
	ck_assert(!ev.labels_changed);
	ck_assert_int_eq(decide(&ev, "release/", NULL), WEBHOOK_IGNORE);
	webhook_event_release(&ev);
	free(p);
	free(q);
}
END_TEST

START_TEST(test_open_mr_checks)
{
	static const struct {
		const char *action, *state, *target, *prefix, *def;
		enum webhook_decision want;
	} t[] = {
		{ "open", "opened", "main", "release/", NULL, WEBHOOK_CHECK_MR },
		{ "reopen", "opened", "main", "release/", NULL, WEBHOOK_CHECK_MR },
		{ "update", "opened", "main", "release/", NULL, WEBHOOK_CHECK_MR },
		{ "open", "opened", "release/1.2", "release/", NULL,
		  WEBHOOK_CHECK_MR },
		{ "open", "opened", "rel-1", "rel-", NULL, WEBHOOK_CHECK_MR },
		{ "open", "opened", "feature", "release/", NULL, WEBHOOK_IGNORE },
		{ "open", "opened", "release/", "release/", NULL, WEBHOOK_IGNORE },
		/* the configured default branch wins over the payload's */
		{ "open", "opened", "main", "release/", "trunk", WEBHOOK_IGNORE },
		{ "open", "opened", "trunk", "release/", "trunk", WEBHOOK_CHECK_MR },
		{ "close", "closed", "main", "release/", NULL, WEBHOOK_IGNORE },
		{ "approved", "opened", "main", "release/", NULL, WEBHOOK_IGNORE },
		{ "unapproval", "opened", "main", "release/", NULL,
		  WEBHOOK_IGNORE },
		{ "merge", "merged", "feature", "release/", NULL,
		  WEBHOOK_RECONCILE },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *p = mr_payload(t[i].action, t[i].state, t[i].target,
				     "[]", "{}", "2023-04-11T09:38:46.773Z");
		struct webhook_event ev;
		struct st_error err;

		ck_assert_int_eq(decode("Merge Request Hook", p, &ev, &err), 0);
		ck_assert_msg(decide(&ev, t[i].prefix, t[i].def) == t[i].want,
			      "row %zu: %s %s into %s", i, t[i].action,
			      t[i].state, t[i].target);
		ck_assert_uint_eq(ev.n_labels, 0);
		webhook_event_release(&ev);
		free(p);
	}
}
END_TEST

START_TEST(test_test_button_and_other_events)
{
	char *p = mr_payload(NULL, "opened", "main", "[]", "{}",
			     "2023-04-11T09:38:46.773Z");
	struct webhook_event ev;
	struct st_error err;
	char reason[128];
	struct webhook_branches b = { "release/", NULL };

	ck_assert_int_eq(decode("Merge Request Hook", p, &ev, &err), 0);
	ck_assert(ev.test);
	ck_assert_int_eq(webhook_decide(&ev, &b, reason, sizeof(reason)),
			 WEBHOOK_IGNORE);
	ck_assert_str_eq(reason, "test delivery");
	webhook_event_release(&ev);
	/* Events we do not handle are not even parsed. */
	ck_assert_int_eq(decode("Note Hook", "not json", &ev, &err), 0);
	ck_assert_int_eq(ev.kind, WEBHOOK_KIND_OTHER);
	ck_assert_int_eq(decide(&ev, "release/", NULL), WEBHOOK_IGNORE);
	webhook_event_release(&ev);
	ck_assert_int_eq(decode("Pipeline Hook", "{}", &ev, &err), 0);
	ck_assert_int_eq(ev.kind, WEBHOOK_KIND_OTHER);
	webhook_event_release(&ev);
	/* A system hook carries the kind in object_kind. */
	ck_assert_int_eq(decode("System Hook", p, &ev, &err), 0);
	ck_assert_int_eq(ev.kind, WEBHOOK_KIND_MR);
	webhook_event_release(&ev);
	ck_assert_int_eq(decode("System Hook", "{\"event_name\":"
				"\"project_create\"}", &ev, &err), 0);
	ck_assert_int_eq(ev.kind, WEBHOOK_KIND_OTHER);
	webhook_event_release(&ev);
	/* No header at all: the body says. */
	ck_assert_int_eq(decode(NULL, p, &ev, &err), 0);
	ck_assert_int_eq(ev.kind, WEBHOOK_KIND_MR);
	webhook_event_release(&ev);
	free(p);
}
END_TEST

static char *push_payload(const char *ref, const char *after)
{
	char *out = malloc(2048);

	snprintf(out, 2048,
		 "{\"object_kind\":\"push\",\"event_name\":\"push\","
		 "\"before\":\"" SHA2 "\",\"after\":\"%s\",\"ref\":\"%s\","
		 "\"ref_protected\":true,\"checkout_sha\":null,"
		 "\"user_id\":1,\"project_id\":7,\"project\":{\"id\":7,"
		 "\"path_with_namespace\":\"group/app\",\"default_branch\":"
		 "\"main\"},\"commits\":[],\"total_commits_count\":0}",
		 after, ref);
	return out;
}

START_TEST(test_push_events)
{
	static const struct {
		const char *event, *ref, *after;
		enum webhook_decision want;
		bool deleted;
	} t[] = {
		{ "Push Hook", "refs/heads/release/1", SHA1, WEBHOOK_RECONCILE,
		  false },
		{ "Push Hook", "refs/heads/release/1.2",
		  "0000000000000000000000000000000000000000",
		  WEBHOOK_RECONCILE, true },
		{ "Push Hook", "refs/heads/main", SHA1, WEBHOOK_IGNORE, false },
		{ "Push Hook", "refs/heads/feature/release/1", SHA1,
		  WEBHOOK_IGNORE, false },
		{ "Tag Push Hook", "refs/tags/1.0.0", SHA1, WEBHOOK_IGNORE,
		  false },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *p = push_payload(t[i].ref, t[i].after);
		struct webhook_event ev;
		struct st_error err;

		ck_assert_int_eq(decode(t[i].event, p, &ev, &err), 0);
		ck_assert(ev.project_id == 7);
		ck_assert_str_eq(ev.ref, t[i].ref);
		ck_assert(ev.deleted == t[i].deleted);
		ck_assert_msg(decide(&ev, "release/", NULL) == t[i].want,
			      "row %zu", i);
		webhook_event_release(&ev);
		free(p);
	}
}
END_TEST

START_TEST(test_bad_bodies)
{
	static const char *const bad[] = {
		"",
		"   ",
		"{",
		"[1,2]",
		"\"merge\"",
		"{\"object_kind\":\"merge_request\"}",        /* no attributes */
		"{\"object_kind\":\"merge_request\",\"object_attributes\":[]}",
		"{\"object_kind\":\"merge_request\",\"object_attributes\":"
		"{\"iid\":\"12\"}}",                           /* iid a string */
		"{\"object_kind\":\"merge_request\",\"object_attributes\":"
		"{\"iid\":1.5}}",
		"{\"object_kind\":\"merge_request\",\"object_attributes\":"
		"{\"iid\":1,\"action\":7}}",
		"{\"object_kind\":\"merge_request\",\"object_attributes\":"
		"{\"iid\":1,\"action\":\"a-very-long-action-name\"}}",
		"{\"object_kind\":\"merge_request\",\"object_attributes\":"
		"{\"iid\":1},\"labels\":[{\"id\":1}]}",        /* no title */
		"{\"object_kind\":\"merge_request\",\"object_attributes\":"
		"{\"iid\":1},\"labels\":[42]}",
		"{\"object_kind\":\"merge_request\",\"object_attributes\":"
		"{\"iid\":1},\"labels\":{}}",
		"{\"object_kind\":\"merge_request\",\"object_attributes\":"
		"{\"iid\":1,\"last_commit\":{\"id\":\"zz\"}}}",
		"{\"object_kind\":\"push\"}",                  /* no ref */
		"{\"object_kind\":\"push\",\"ref\":\"refs/heads/x\","
		"\"after\":\"nope\"}",
		"{\"object_kind\":\"merge_request\",\"project\":{\"id\":-3},"
		"\"object_attributes\":{\"iid\":1}}",
		"{\"a\":1} trailing",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct webhook_event ev;
		struct st_error err;
		int rc;

		webhook_event_init(&ev);
		rc = decode(i % 2 ? "Merge Request Hook" : NULL, bad[i], &ev,
			    &err);
		if (strstr(bad[i], "\"push\""))
			rc = decode("Push Hook", bad[i], &ev, &err);
		ck_assert_msg(rc == ST_EINVAL, "body %zu decoded: %s", i,
			      bad[i]);
		ck_assert_msg(err.msg[0] != '\0', "body %zu: no message", i);
	}
}
END_TEST

START_TEST(test_huge_and_deep_bodies)
{
	size_t n = WEBHOOK_BODY_MAX + 1, depth = 100000;
	char *big = malloc(n), *deep = malloc(depth * 2 + 1);
	struct webhook_event ev;
	struct st_error err;

	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	st_error_clear(&err);
	ck_assert_int_eq(webhook_decode("Merge Request Hook", big, n, &ev,
					&err), ST_ETOOBIG);
	/* A very deep body is refused before cJSON recurses into it. */
	for (size_t i = 0; i < depth; i++) {
		deep[i] = '[';
		deep[depth + i] = ']';
	}
	st_error_clear(&err);
	ck_assert_int_eq(webhook_decode("Merge Request Hook", deep, depth * 2,
					&ev, &err), ST_EINVAL);
	ck_assert(strstr(err.msg, "nested") != NULL);
	free(big);
	free(deep);
}
END_TEST

START_TEST(test_many_labels_capped)
{
	char labels[16384] = "[";
	size_t off = 1;
	char *p;
	struct webhook_event ev;
	struct st_error err;

	for (int i = 0; i < 200; i++)
		off += (size_t)snprintf(labels + off, sizeof(labels) - off,
					"%s{\"title\":\"l%d\"}", i ? "," : "",
					i);
	snprintf(labels + off, sizeof(labels) - off, "]");
	p = mr_payload("open", "opened", "main", labels, "{}", "x");
	ck_assert_int_eq(decode("Merge Request Hook", p, &ev, &err), 0);
	ck_assert_uint_eq(ev.n_labels, WEBHOOK_LABELS_MAX);
	ck_assert_str_eq(ev.labels[0], "l0");
	webhook_event_release(&ev);
	free(p);
	/* plain strings (REST shape) are accepted too; the inner list is
	 * used when there is no top-level one */
	ck_assert_int_eq(decode("Merge Request Hook",
				"{\"object_attributes\":{\"iid\":3,\"action\":"
				"\"open\",\"state\":\"opened\",\"labels\":"
				"[\"ImpactPatch\",{\"title\":\"x\"}]}}",
				&ev, &err), 0);
	ck_assert_uint_eq(ev.n_labels, 2);
	ck_assert_str_eq(ev.labels[0], "ImpactPatch");
	ck_assert_str_eq(ev.labels[1], "x");
	webhook_event_release(&ev);
}
END_TEST

START_TEST(test_token_equal)
{
	const char *s = "s3cret-token";

	ck_assert(webhook_token_equal(s, strlen(s), "s3cret-token"));
	ck_assert(!webhook_token_equal(s, strlen(s), "s3cret-tokeN"));
	ck_assert(!webhook_token_equal(s, strlen(s), "s3cret-token2"));
	ck_assert(!webhook_token_equal(s, strlen(s), "s3cret-toke"));
	ck_assert(!webhook_token_equal(s, strlen(s), ""));
	ck_assert(!webhook_token_equal(s, strlen(s), NULL));
	/* a repetition of a prefix wraps onto itself: still different */
	ck_assert(!webhook_token_equal("abab", 4, "ab"));
	ck_assert(!webhook_token_equal("aaaa", 4, "a"));
	ck_assert(!webhook_token_equal("", 0, ""));
	ck_assert(!webhook_token_equal(NULL, 0, "x"));
}
END_TEST

/* The status page's bearer token (issue 17). */
START_TEST(test_bearer_ok)
{
	const char *t = "read-token";

	ck_assert(webhook_bearer_ok(t, "Bearer read-token"));
	ck_assert(webhook_bearer_ok(t, "bearer read-token"));
	ck_assert(webhook_bearer_ok(t, "BEARER   read-token"));
	ck_assert(!webhook_bearer_ok(t, "Bearer read-token "));
	ck_assert(!webhook_bearer_ok(t, "Bearer read-toke"));
	ck_assert(!webhook_bearer_ok(t, "Basic read-token"));
	ck_assert(!webhook_bearer_ok(t, "read-token"));
	ck_assert(!webhook_bearer_ok(t, "Bearer"));
	ck_assert(!webhook_bearer_ok(t, "Bearer "));
	ck_assert(!webhook_bearer_ok(t, ""));
	ck_assert(!webhook_bearer_ok(t, NULL));
	ck_assert(!webhook_bearer_ok("", "Bearer "));
	ck_assert(!webhook_bearer_ok(NULL, "Bearer x"));
}
END_TEST

START_TEST(test_dedupe_lru)
{
	struct webhook_dedupe *d = webhook_dedupe_new(3);
	char key[WEBHOOK_KEY_MAX + 2];

	ck_assert_int_eq(webhook_dedupe_seen(d, "a"), 0);
	ck_assert_int_eq(webhook_dedupe_seen(d, "a"), 1);
	ck_assert_int_eq(webhook_dedupe_seen(d, "b"), 0);
	ck_assert_int_eq(webhook_dedupe_seen(d, "c"), 0);
	ck_assert_uint_eq(webhook_dedupe_size(d), 3);
	ck_assert_int_eq(webhook_dedupe_seen(d, "a"), 1); /* a most recent */
	ck_assert_int_eq(webhook_dedupe_seen(d, "d"), 0); /* evicts b */
	ck_assert_uint_eq(webhook_dedupe_size(d), 3);
	ck_assert_int_eq(webhook_dedupe_seen(d, "a"), 1);
	ck_assert_int_eq(webhook_dedupe_seen(d, "c"), 1);
	ck_assert_int_eq(webhook_dedupe_seen(d, "d"), 1);
	ck_assert_int_eq(webhook_dedupe_seen(d, "b"), 0); /* was evicted */
	/* empty, missing and over-long keys are never remembered */
	ck_assert_int_eq(webhook_dedupe_seen(d, ""), 0);
	ck_assert_int_eq(webhook_dedupe_seen(d, ""), 0);
	ck_assert_int_eq(webhook_dedupe_seen(d, NULL), 0);
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	ck_assert_int_eq(webhook_dedupe_seen(d, key), 0);
	ck_assert_int_eq(webhook_dedupe_seen(d, key), 0);
	webhook_dedupe_free(d);
	webhook_dedupe_free(NULL);
	/* many keys through a small table stay consistent */
	d = webhook_dedupe_new(64);
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 10000; i++) {
			snprintf(key, sizeof(key), "key-%d", i);
			ck_assert_int_eq(webhook_dedupe_seen(d, key), 0);
		}
	for (int i = 10000 - 64; i < 10000; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		ck_assert_int_eq(webhook_dedupe_seen(d, key), 1);
	}
	webhook_dedupe_free(d);
}
END_TEST

START_TEST(test_parse_listen)
{
	char host[64];
	uint16_t port;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(webhook_parse_listen("127.0.0.1:8080", host,
					      sizeof(host), &port, &err), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_uint_eq(port, 8080);
	ck_assert_int_eq(webhook_parse_listen("[::1]:0", host, sizeof(host),
					      &port, &err), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 0);
	ck_assert_int_eq(webhook_parse_listen(":9000", host, sizeof(host),
					      &port, &err), 0);
	ck_assert_str_eq(host, "");
	ck_assert_int_eq(webhook_parse_listen("*:9000", host, sizeof(host),
					      &port, &err), 0);
	ck_assert_str_eq(host, "");
	ck_assert_int_eq(webhook_parse_listen("localhost", host, sizeof(host),
					      &port, &err), ST_ECONFIG);
	ck_assert_int_eq(webhook_parse_listen("h:65536", host, sizeof(host),
					      &port, &err), ST_ECONFIG);
	ck_assert_int_eq(webhook_parse_listen("h:-1", host, sizeof(host),
					      &port, &err), ST_ECONFIG);
	ck_assert_int_eq(webhook_parse_listen("[::1:80", host, sizeof(host),
					      &port, &err), ST_ECONFIG);
}
END_TEST

/* ---- the listener over real sockets -------------------------------------- */

struct seen {
	pthread_mutex_t lock;
	int events;
	int64_t last_iid;
	char last_key[WEBHOOK_KEY_MAX + 1];
};

static int on_event(void *ctx, const struct webhook_event *ev,
		    const struct webhook_delivery *d)
{
	struct seen *s = ctx;
	struct webhook_branches b = { "release/", NULL };
	char reason[128];
	enum webhook_decision dec = webhook_decide(ev, &b, reason,
						   sizeof(reason));

	pthread_mutex_lock(&s->lock);
	s->events++;
	s->last_iid = ev->iid;
	snprintf(s->last_key, sizeof(s->last_key), "%s",
		 d->idempotency_key ? d->idempotency_key : "");
	pthread_mutex_unlock(&s->lock);
	return dec == WEBHOOK_IGNORE ? 204 : 202;
}

static int on_health(void *ctx, struct strbuf *body)
{
	(void)ctx;
	strbuf_adds(body, "{\"status\":\"ok\"}");
	return 200;
}

static int on_metrics(void *ctx, struct strbuf *body)
{
	(void)ctx;
	strbuf_adds(body, "semver_tagger_up 1\n");
	return 200;
}

static struct seen seen = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct webhook_server *start(unsigned deadline_s)
{
	struct webhook_server_options o;
	struct webhook_server *s = NULL;
	struct st_error err;

	memset(&o, 0, sizeof(o));
	o.listen = "127.0.0.1:0";
	o.listen_fd = -1;
	o.secret = "hook-secret";
	webhook_limits_default(&o.limits);
	o.limits.max_body = 64 * 1024;
	o.limits.deadline_s = deadline_s;
	o.limits.idle_timeout_s = 30;
	o.handlers.ctx = &seen;
	o.handlers.event = on_event;
	o.handlers.health = on_health;
	o.handlers.metrics = on_metrics;
	st_error_clear(&err);
	ck_assert_msg(webhook_server_start(&o, &s, &err) == 0, "%s", err.msg);
	ck_assert_uint_ne(webhook_server_port(s), 0);
	pthread_mutex_lock(&seen.lock);
	seen.events = 0;
	pthread_mutex_unlock(&seen.lock);
	return s;
}

static int connect_to(struct webhook_server *s)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(webhook_server_port(s));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return; /* the server may close first: fine */
		p += w;
		n -= (size_t)w;
	}
}

/* Read the whole answer (until the server closes, or 10 s pass). */
static int read_status(int fd, char *buf, size_t size)
{
	size_t off = 0;
	int status = -1;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (off + 1 >= size || poll(&p, 1, 10000) <= 0)
			break;
		r = recv(fd, buf + off, size - off - 1, 0);
		if (r <= 0)
			break;
		off += (size_t)r;
		buf[off] = '\0';
		if (strstr(buf, "\r\n\r\n") && !strstr(buf, "Content-Length") &&
		    !strstr(buf, "content-length"))
			break;
		{
			const char *cl = strstr(buf, "Content-Length: ");
			const char *hdr_end = strstr(buf, "\r\n\r\n");

			if (cl && hdr_end) {
				size_t want = strtoul(cl + 16, NULL, 10);

				if (off >= (size_t)(hdr_end + 4 - buf) + want)
					break;
			}
		}
	}
	buf[off] = '\0';
	if (off > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0)
		status = (int)strtol(buf + 9, NULL, 10);
	return status;
}

static int request(struct webhook_server *s, const char *method,
		   const char *path, const char *token, const char *event,
		   const char *key, const char *body, char *answer,
		   size_t answer_size)
{
	char head[2048];
	int fd = connect_to(s), n, status;

	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		     "Content-Type: application/json\r\n%s%s%s%s%s%s%s%s%s"
		     "Content-Length: %zu\r\n\r\n",
		     method, path, token ? "X-Gitlab-Token: " : "",
		     token ? token : "", token ? "\r\n" : "",
		     event ? "X-Gitlab-Event: " : "", event ? event : "",
		     event ? "\r\n" : "", key ? "Idempotency-Key: " : "",
		     key ? key : "", key ? "\r\n" : "", body ? strlen(body) : 0);
	send_all(fd, head, (size_t)n);
	if (body)
		send_all(fd, body, strlen(body));
	status = read_status(fd, answer, answer_size);
	close(fd);
	return status;
}

static int events_seen(void)
{
	int n;

	pthread_mutex_lock(&seen.lock);
	n = seen.events;
	pthread_mutex_unlock(&seen.lock);
	return n;
}

START_TEST(test_server_routes_and_tokens)
{
	struct webhook_server *s = start(10);
	char *merge = mr_payload("merge", "merged", "main", LABELS2, "{}",
				 "2023-04-11T09:38:46.773Z");
	char *test = mr_payload(NULL, "opened", "main", "[]", "{}", "x");
	struct webhook_stats st;
	char ans[4096];

	ck_assert_int_eq(request(s, "GET", "/healthz", NULL, NULL, NULL, NULL,
				 ans, sizeof(ans)), 200);
	ck_assert(strstr(ans, "{\"status\":\"ok\"}") != NULL);
	ck_assert_int_eq(request(s, "GET", "/metrics", NULL, NULL, NULL, NULL,
				 ans, sizeof(ans)), 200);
	ck_assert(strstr(ans, "semver_tagger_up 1") != NULL);
	ck_assert(strstr(ans, "text/plain; version=0.0.4") != NULL);
	ck_assert_int_eq(request(s, "GET", "/nope", NULL, NULL, NULL, NULL,
				 ans, sizeof(ans)), 404);
	ck_assert_int_eq(request(s, "GET", "/webhook", "hook-secret", NULL,
				 NULL, NULL, ans, sizeof(ans)), 405);
	ck_assert_int_eq(request(s, "POST", "/metrics", NULL, NULL, NULL, "x",
				 ans, sizeof(ans)), 405);
	/* wrong, missing, prefix-only tokens: 401 and the handler never runs */
	ck_assert_int_eq(request(s, "POST", "/webhook", "hook-secreT",
				 "Merge Request Hook", "k0", merge, ans,
				 sizeof(ans)), 401);
	ck_assert_int_eq(request(s, "POST", "/webhook", NULL,
				 "Merge Request Hook", "k0", merge, ans,
				 sizeof(ans)), 401);
	ck_assert_int_eq(request(s, "POST", "/webhook", "hook-secret-and-more",
				 "Merge Request Hook", "k0", merge, ans,
				 sizeof(ans)), 401);
	ck_assert_int_eq(events_seen(), 0);
	/* bad JSON with a good token: 400, no handler */
	ck_assert_int_eq(request(s, "POST", "/webhook", "hook-secret",
				 "Merge Request Hook", "k1", "{nope", ans,
				 sizeof(ans)), 400);
	ck_assert_int_eq(events_seen(), 0);
	/* a merge: 202; the same Idempotency-Key again: 204, no handler */
	ck_assert_int_eq(request(s, "POST", "/webhook", "hook-secret",
				 "Merge Request Hook", "k2", merge, ans,
				 sizeof(ans)), 202);
	ck_assert_int_eq(events_seen(), 1);
	ck_assert(seen.last_iid == 12);
	ck_assert_str_eq(seen.last_key, "k2");
	ck_assert_int_eq(request(s, "POST", "/webhook", "hook-secret",
				 "Merge Request Hook", "k2", merge, ans,
				 sizeof(ans)), 204);
	ck_assert_int_eq(events_seen(), 1);
	/* a test delivery and an unknown event: 2xx */
	ck_assert_int_eq(request(s, "POST", "/webhook", "hook-secret",
				 "Merge Request Hook", "k3", test, ans,
				 sizeof(ans)), 204);
	ck_assert_int_eq(request(s, "POST", "/webhook", "hook-secret",
				 "Note Hook", "k4", "{}", ans, sizeof(ans)),
			 204);
	/* without a key every delivery counts */
	ck_assert_int_eq(request(s, "POST", "/webhook", "hook-secret",
				 "Merge Request Hook", NULL, merge, ans,
				 sizeof(ans)), 202);
	ck_assert_int_eq(request(s, "POST", "/webhook", "hook-secret",
				 "Merge Request Hook", NULL, merge, ans,
				 sizeof(ans)), 202);
	/* a new secret takes effect at once */
	ck_assert_int_eq(webhook_server_set_secret(s, "rotated"), 0);
	ck_assert_int_eq(request(s, "POST", "/webhook", "hook-secret",
				 "Merge Request Hook", "k5", merge, ans,
				 sizeof(ans)), 401);
	ck_assert_int_eq(request(s, "POST", "/webhook", "rotated",
				 "Merge Request Hook", "k5", merge, ans,
				 sizeof(ans)), 202);
	webhook_server_stats(s, &st);
	ck_assert_uint_eq(st.unauthorized, 4);
	ck_assert_uint_eq(st.bad_request, 1);
	ck_assert_uint_eq(st.accepted, 4);
	ck_assert_uint_eq(st.duplicates, 1);
	ck_assert_uint_eq(st.ignored, 2);
	webhook_server_quiesce(s);
	webhook_server_free(s);
	free(merge);
	free(test);
}
END_TEST

/* 413 from Content-Length alone: the answer comes while the client has
 * sent no body byte at all. */
START_TEST(test_server_oversize_without_reading)
{
	struct webhook_server *s = start(10);
	const char *head = "POST /webhook HTTP/1.1\r\nHost: x\r\n"
			   "X-Gitlab-Token: hook-secret\r\n"
			   "X-Gitlab-Event: Merge Request Hook\r\n"
			   "Content-Length: 1048577\r\n\r\n";
	int fd = connect_to(s);
	char ans[2048];
	struct webhook_stats st;

	send_all(fd, head, strlen(head));
	ck_assert_int_eq(read_status(fd, ans, sizeof(ans)), 413);
	close(fd);
	/* also with Expect: 100-continue (no 100 is sent first) */
	fd = connect_to(s);
	head = "POST /webhook HTTP/1.1\r\nHost: x\r\n"
	       "X-Gitlab-Token: hook-secret\r\nExpect: 100-continue\r\n"
	       "Content-Length: 99999999999\r\n\r\n";
	send_all(fd, head, strlen(head));
	ck_assert_int_eq(read_status(fd, ans, sizeof(ans)), 413);
	close(fd);
	/* a wrong token with a huge body: 401, not a byte read either */
	fd = connect_to(s);
	head = "POST /webhook HTTP/1.1\r\nHost: x\r\n"
	       "X-Gitlab-Token: nope\r\nContent-Length: 99999999\r\n\r\n";
	send_all(fd, head, strlen(head));
	ck_assert_int_eq(read_status(fd, ans, sizeof(ans)), 401);
	close(fd);
	webhook_server_stats(s, &st);
	ck_assert_uint_eq(st.too_large, 2);
	ck_assert_uint_eq(events_seen(), 0);
	webhook_server_free(s);
}
END_TEST

/* A chunked body (no Content-Length) past the cap: connection closed
 * without an answer, the handler never runs. */
START_TEST(test_server_chunked_over_cap)
{
	struct webhook_server *s = start(10);
	const char *head = "POST /webhook HTTP/1.1\r\nHost: x\r\n"
			   "X-Gitlab-Token: hook-secret\r\n"
			   "X-Gitlab-Event: Merge Request Hook\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n";
	char chunk[8192 + 16], ans[2048];
	int fd = connect_to(s);
	struct webhook_stats st;

	send_all(fd, head, strlen(head));
	snprintf(chunk, sizeof(chunk), "2000\r\n");
	memset(chunk + 6, ' ', 8192);
	memcpy(chunk + 6 + 8192, "\r\n", 2);
	for (int i = 0; i < 16; i++) /* 128 KiB against a 64 KiB cap */
		send_all(fd, chunk, 6 + 8192 + 2);
	ck_assert_int_eq(read_status(fd, ans, sizeof(ans)), -1);
	close(fd);
	webhook_server_stats(s, &st);
	ck_assert_uint_eq(st.too_large, 1);
	ck_assert_int_eq(events_seen(), 0);
	webhook_server_free(s);
}
END_TEST

/* A body dripping in slower than the deadline allows: dropped. */
START_TEST(test_server_deadline)
{
	struct webhook_server *s = start(1);
	const char *head = "POST /webhook HTTP/1.1\r\nHost: x\r\n"
			   "X-Gitlab-Token: hook-secret\r\n"
			   "X-Gitlab-Event: Merge Request Hook\r\n"
			   "Content-Length: 100\r\n\r\n";
	int fd = connect_to(s), status = 0;
	char ans[2048];
	struct webhook_stats st;
	struct timespec gap = { 0, 300 * 1000 * 1000 };

	send_all(fd, head, strlen(head));
	for (int i = 0; i < 20; i++) { /* 6 s of drip for a 1 s deadline */
		if (send(fd, " ", 1, MSG_NOSIGNAL) != 1)
			break;
		nanosleep(&gap, NULL);
	}
	status = read_status(fd, ans, sizeof(ans));
	ck_assert_int_eq(status, -1);
	close(fd);
	webhook_server_stats(s, &st);
	ck_assert_uint_eq(st.timed_out, 1);
	ck_assert_int_eq(events_seen(), 0);
	webhook_server_free(s);
}
END_TEST

/* More connections from one address than the per-IP limit: the excess
 * is closed at once, the first ones stay usable. */
START_TEST(test_server_per_ip_limit)
{
	struct webhook_server *s = start(10);
	int fds[12], closed = 0;
	char ans[2048];

	for (int i = 0; i < 12; i++) {
		fds[i] = connect_to(s);
		send_all(fds[i], "GET /healthz HTTP/1.1\r\n", 23); /* no end */
	}
	/* the excess is closed (EOF) right away; wait for at most 3 s */
	for (int round = 0; round < 30 && closed < 4; round++) {
		struct pollfd p[12];

		for (int i = 0; i < 12; i++)
			p[i] = (struct pollfd){ fds[i] < 0 ? -1 : fds[i],
						POLLIN, 0 };
		if (poll(p, 12, 100) <= 0)
			continue;
		for (int i = 0; i < 12; i++) {
			char c;

			if (fds[i] >= 0 && (p[i].revents & (POLLIN | POLLHUP)) &&
			    recv(fds[i], &c, 1, 0) <= 0) {
				close(fds[i]);
				fds[i] = -1;
				closed++;
			}
		}
	}
	ck_assert_int_eq(closed, 4); /* 12 - the limit of 8 */
	ck_assert_int_ge(fds[0], 0);
	/* finish one of the held ones: it is served */
	send_all(fds[0], "Host: x\r\nConnection: close\r\n\r\n", 31);
	ck_assert_int_eq(read_status(fds[0], ans, sizeof(ans)), 200);
	for (int i = 0; i < 12; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	webhook_server_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("webhook");
	TCase *tc = tcase_create("decode");
	TCase *srv = tcase_create("server");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_merge_event);
	tcase_add_test(tc, test_timestamp_formats);
	tcase_add_test(tc, test_label_change_on_merged_mr);
	tcase_add_test(tc, test_open_mr_checks);
	tcase_add_test(tc, test_test_button_and_other_events);
	tcase_add_test(tc, test_push_events);
	tcase_add_test(tc, test_bad_bodies);
	tcase_add_test(tc, test_huge_and_deep_bodies);
	tcase_add_test(tc, test_many_labels_capped);
	tcase_add_test(tc, test_token_equal);
	tcase_add_test(tc, test_bearer_ok);
	tcase_add_test(tc, test_dedupe_lru);
	tcase_add_test(tc, test_parse_listen);
	suite_add_tcase(s, tc);
	tcase_set_timeout(srv, 60);
	tcase_add_test(srv, test_server_routes_and_tokens);
	tcase_add_test(srv, test_server_oversize_without_reading);
	tcase_add_test(srv, test_server_chunked_over_cap);
	tcase_add_test(srv, test_server_deadline);
	tcase_add_test(srv, test_server_per_ip_limit);
	suite_add_tcase(s, srv);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
