/* SPDX-License-Identifier: MIT */
/*
 * GitLab webhooks: what a delivery means (pure functions, unit-tested and
 * fuzzable) and the HTTP listener that receives them (libmicrohttpd).
 *
 *   webhook_decode()   headers + body -> struct webhook_event (facts)
 *   webhook_decide()   event + a project's branch settings -> what to do
 *   webhook_token_equal()  the X-Gitlab-Token check, in constant time
 *   struct webhook_dedupe  bounded LRU of Idempotency-Key values
 *   struct webhook_server  POST /webhook, GET /healthz, GET /metrics,
 *                          GET / and GET /status.json (the status page)
 *
 * Webhooks are hints: a missed or duplicated delivery costs a poll
 * interval or one extra reconciliation, never a wrong tag. The listener
 * answers at once (202/204) and leaves the work to the application, whose
 * callbacks must not block. Adapters never log: the server counts what it
 * refused (struct webhook_stats) and the application prints.
 */
#ifndef SEMVER_TAGGER_WEBHOOK_H
#define SEMVER_TAGGER_WEBHOOK_H

#include "semver-tagger/error.h"
#include "semver-tagger/strbuf.h"

#include <stdbool.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

/* Largest body read; GitLab MR payloads are a few KiB (a 1 MB description
 * is GitLab's own limit). Larger Content-Length: 413 before reading. */
#define WEBHOOK_BODY_MAX (2u * 1024 * 1024)
/* Labels kept from one payload; more are ignored (a note in reason). */
#define WEBHOOK_LABELS_MAX 64
#define WEBHOOK_KEY_MAX 128 /* longest Idempotency-Key remembered */

enum webhook_kind {
	WEBHOOK_KIND_OTHER = 0, /* an event we do not handle (Note Hook...) */
	WEBHOOK_KIND_MR,        /* Merge Request Hook */
	WEBHOOK_KIND_PUSH,      /* Push Hook (a branch) */
	WEBHOOK_KIND_TAG_PUSH,  /* Tag Push Hook */
	/* A project created, destroyed, renamed, transferred or updated:
	 * System Hook event_name project_*, or a group hook's "Project
	 * Hook" (issue 13: the set of projects of a [group] changes) */
	WEBHOOK_KIND_PROJECT,
};

/* The facts of one delivery. Strings are owned (webhook_event_release). */
struct webhook_event {
	enum webhook_kind kind;
	bool test;              /* UI "Test" delivery: no action, changes {} */
	int64_t project_id;     /* 0 when absent */
	char *project_path;     /* path_with_namespace, NULL when absent */
	char *default_branch;   /* the project's, as the payload says */
	/* Merge Request Hook */
	char action[16];        /* "open", "update", "merge"...; "" if none */
	char state[16];         /* "opened", "merged", "closed", "locked" */
	int64_t iid;
	char *title;
	char *url;              /* the MR's web URL */
	char *source_branch, *target_branch;
	char *head_sha;         /* last_commit.id (the hook has no "sha") */
	char **labels;          /* label titles (objects in hooks) */
	size_t n_labels;
	bool labels_changed;    /* changes.labels present */
	int64_t updated_at_ms;  /* -1 when absent; both GitLab formats */
	/* Push Hook */
	char *ref;              /* "refs/heads/release/1" */
	char *branch;           /* ref without refs/heads/, NULL for others */
	char after[41];         /* "" when absent */
	bool deleted;           /* after is the zero sha */
	/* Project events: "create", "destroy", "rename", "transfer",
	 * "update" (event_name without "project_"); the old path of a
	 * rename or transfer (NULL otherwise) */
	char project_event[16];
	char *old_path;
};

void webhook_event_init(struct webhook_event *ev);
void webhook_event_release(struct webhook_event *ev);

/*
 * Decode one delivery. `event` is the X-Gitlab-Event header (NULL when
 * missing); body is not NUL-terminated. An event kind we do not handle is
 * success with kind WEBHOOK_KIND_OTHER (and the body is not parsed).
 * ST_EINVAL (message says where) for a body that is not JSON, not an
 * object, or whose fields have the wrong types; ST_ETOOBIG over
 * WEBHOOK_BODY_MAX. *out is filled only on success.
 */
int webhook_decode(const char *event, const char *body, size_t len,
		   struct webhook_event *out, struct st_error *err);

enum webhook_decision {
	WEBHOOK_IGNORE = 0,  /* nothing to do (reason says why) */
	WEBHOOK_RECONCILE,   /* run the project's reconciliation now */
	WEBHOOK_CHECK_MR,    /* set the commit status of an open MR */
};

/* What the project's configuration says about branches. */
struct webhook_branches {
	const char *release_prefix;  /* "release/" */
	const char *default_branch;  /* NULL: the payload's default branch */
};

/*
 * What to do with a decoded event for one project:
 *  - MR "merge"                                   -> RECONCILE
 *  - MR "update" of a merged MR whose labels changed -> RECONCILE
 *  - MR "open"/"reopen"/"update" of an open MR targeting the default
 *    branch or a release branch                   -> CHECK_MR
 *  - Push Hook on a release branch                -> RECONCILE
 *  - Test deliveries, other actions, other events -> IGNORE
 * reason (at least 96 bytes) gets a short explanation for the log.
 */
enum webhook_decision webhook_decide(const struct webhook_event *ev,
				     const struct webhook_branches *b,
				     char *reason, size_t reason_size);

const char *webhook_decision_name(enum webhook_decision d);

/*
 * Compare a received token with the secret in time that depends only on
 * the secret's length (never on where they differ, nor on the received
 * length's relation to it). NULL given: false.
 */
bool webhook_token_equal(const char *secret, size_t secret_len,
			 const char *given);

/* ---- Idempotency-Key dedupe: a bounded LRU ------------------------- */

struct webhook_dedupe;

/* capacity: keys remembered (at least 1). NULL when out of memory. */
struct webhook_dedupe *webhook_dedupe_new(size_t capacity);
void webhook_dedupe_free(struct webhook_dedupe *d);
/* 1 when key was seen (and it becomes the most recent), else 0 and the key
 * is remembered, evicting the least recent when full. Keys longer than
 * WEBHOOK_KEY_MAX or empty are never remembered (0). Not thread-safe. */
int webhook_dedupe_seen(struct webhook_dedupe *d, const char *key);
size_t webhook_dedupe_size(const struct webhook_dedupe *d);

/* ---- the listener ---------------------------------------------------- */

struct webhook_server;

/* Where a delivery came from, for the application's log line. */
struct webhook_delivery {
	const char *event_header;     /* X-Gitlab-Event */
	const char *idempotency_key;  /* may be NULL */
	const char *instance;         /* X-Gitlab-Instance, may be NULL */
	const char *peer;             /* "127.0.0.1" */
};

struct webhook_handlers {
	void *ctx;
	/* A delivery with a valid token, decoded, not a duplicate. Called on
	 * the listener's thread: must not block. Returns the status to send:
	 * 202 (work scheduled), 204 (nothing to do), 503 (shutting down). */
	int (*event)(void *ctx, const struct webhook_event *ev,
		     const struct webhook_delivery *d);
	/* GET /healthz: fill body (JSON), return 200 or 503. */
	int (*health)(void *ctx, struct strbuf *body);
	/* GET /metrics: append Prometheus text to body, return 200. */
	int (*metrics)(void *ctx, struct strbuf *body);
	/* GET / (json false: HTML) and GET /status.json: fill body, return
	 * the status (200). NULL: 404. */
	int (*status)(void *ctx, bool json, struct strbuf *body);
};

struct webhook_limits {
	size_t max_body;             /* WEBHOOK_BODY_MAX */
	unsigned max_connections;    /* 64 */
	unsigned max_per_ip;         /* 8 */
	unsigned idle_timeout_s;     /* 5: libmicrohttpd's inactivity timeout */
	unsigned header_deadline_s;  /* 5: from connect (or the previous
					request's end) to complete headers */
	unsigned deadline_s;         /* 10: whole request, from the headers on */
	size_t dedupe_keys;          /* 4096 Idempotency-Keys remembered */
};

void webhook_limits_default(struct webhook_limits *l);

struct webhook_server_options {
	const char *listen;  /* "127.0.0.1:8080", "[::1]:8080", ":8080" */
	int listen_fd;       /* >= 0: an already bound socket (LISTEN_FDS) */
	const char *secret;  /* the X-Gitlab-Token value; copied */
	/* NULL or "": /metrics, / and /status.json are open. Else they need
	 * "Authorization: Bearer <read_token>" (401 otherwise); /healthz
	 * stays open for probes. Copied. */
	const char *read_token;
	struct webhook_limits limits;
	struct webhook_handlers handlers;
};

/* What the listener answered, since start (for /metrics). */
struct webhook_stats {
	uint64_t accepted;      /* 202 */
	uint64_t ignored;       /* 204: nothing to do, test deliveries */
	uint64_t duplicates;    /* 204: Idempotency-Key seen before */
	uint64_t unauthorized;  /* 401 */
	uint64_t too_large;     /* 413, or closed past the cap */
	uint64_t bad_request;   /* 400: not JSON, wrong shapes */
	uint64_t timed_out;     /* closed past the deadline */
	uint64_t other;         /* 404, 405, 503 */
};

/*
 * The key under which the per-address connection limit counts a client:
 * an IPv4 address (or IPv4-mapped IPv6) whole, an IPv6 address by its
 * /64 (one subscriber usually has a whole /64; counting single addresses
 * would give it 2^64 times the limit). key gets 16 bytes; returns the
 * bytes used (4 or 8, 0 for other families).
 */
size_t webhook_peer_key(const struct sockaddr *sa, unsigned char key[16]);

/* Parse "host:port" (host may be [v6], empty or "*" for any). */
int webhook_parse_listen(const char *listen, char *host, size_t host_size,
			 uint16_t *port, struct st_error *err);

/* Bind and start the listener thread. ST_ECONFIG for a bad address,
 * ST_EIO when it cannot bind. */
int webhook_server_start(const struct webhook_server_options *o,
			 struct webhook_server **out, struct st_error *err);
/* The port actually bound (useful with port 0). */
uint16_t webhook_server_port(const struct webhook_server *s);
/* Replace the secret (SIGHUP). ST_ENOMEM keeps the old one. */
int webhook_server_set_secret(struct webhook_server *s, const char *secret);
/* Replace the read token (NULL or "": none). ST_ENOMEM keeps the old. */
int webhook_server_set_read_token(struct webhook_server *s, const char *token);
/* "Bearer <token>" (scheme case-insensitive) matches token, compared in
 * constant time as webhook_token_equal. Pure. */
bool webhook_bearer_ok(const char *token, const char *authorization);
void webhook_server_stats(struct webhook_server *s, struct webhook_stats *out);
/* Stop accepting connections; requests in progress finish. */
void webhook_server_quiesce(struct webhook_server *s);
/* Stop the thread, close every connection, free. NULL is a no-op. */
void webhook_server_free(struct webhook_server *s);

#endif
