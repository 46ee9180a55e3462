/* SPDX-License-Identifier: MIT */
/*
 * A small HTTPS client over libcurl for REST APIs: bounded retries with
 * exponential back-off and jitter (network errors, 5xx, 429 honouring
 * Retry-After), timeouts, a response-size cap, TLS verification always on,
 * no redirects, and one secret header that never reaches an error message.
 *
 * libcurl's global state: call http_global_init() once from main before
 * any thread starts (curl_global_init is not thread-safe in curl 7.88).
 */
#ifndef SEMVER_TAGGER_HTTP_H
#define SEMVER_TAGGER_HTTP_H

#include "semver-tagger/error.h"
#include "semver-tagger/strbuf.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_options {
	long connect_timeout_ms;  /* 10 000 */
	long timeout_ms;          /* 60 000: one attempt, whole transfer */
	unsigned max_attempts;    /* 5: first try included */
	long retry_base_ms;       /* 1 000: first back-off, doubled per retry */
	long retry_max_ms;        /* 60 000: longest computed back-off */
	long retry_budget_ms;     /* 180 000: attempts and waits together */
	long rate_limit_wait_ms;  /* 60 000: a 429 without Retry-After */
	size_t max_response;      /* 16 MiB of (decoded) body */
	const char *ca_file;      /* NULL: the system's CA bundle */
	const char *ca_path;      /* NULL: the system's CA directory */
	const char *user_agent;   /* NULL: "semver-tagger/<version>" */
	/* Waiting between attempts; NULL: sleep (tests record instead). */
	void (*sleep_ms)(void *ctx, long ms);
	void *sleep_ctx;
	/* Non-zero stops transfers and waits early (daemon shutdown). */
	const atomic_int *cancel; /* set by another thread: atomic */
};

void http_options_default(struct http_options *o);

/* libcurl global setup/teardown, once per process. */
int http_global_init(struct st_error *err);
void http_global_cleanup(void);

struct http_client;

/* The options are copied (strings included). */
int http_client_new(const struct http_options *o, struct http_client **out,
		    struct st_error *err);
void http_client_free(struct http_client *c);

/*
 * Send "name: value" with every request (the API token). The value is
 * wiped from memory on free. ST_EINVAL when it holds CR, LF or control
 * characters (header injection); the message does not quote it.
 */
int http_client_set_secret_header(struct http_client *c, const char *name,
				  const char *value, struct st_error *err);

/*
 * Send "Authorization: Basic base64(user:password)" with every request
 * instead of the secret header (git's smart HTTP with a token). Same
 * rules and wiping as the secret header; redaction covers the encoded
 * credentials. ST_EINVAL for a user with ':' or a password with spaces or
 * control characters (the message quotes neither).
 */
int http_client_set_basic_auth(struct http_client *c, const char *user,
			       const char *password, struct st_error *err);

/* Replace every copy of the secret header's value in text by "***" (for
 * server messages that might echo what we sent). */
void http_client_redact(const struct http_client *c, char *text);

struct http_counters {
	uint64_t requests;  /* attempts sent */
	uint64_t retries;   /* attempts that were repeats */
	uint64_t bytes;     /* body bytes received */
	long waited_ms;     /* total back-off asked for */
};

void http_client_counters(const struct http_client *c,
			  struct http_counters *out);

struct http_response;

struct http_request {
	const char *method; /* "GET", "POST", "PUT" */
	const char *url;
	const char *what;   /* names the call in errors: "GET /projects/42" */
	const char *body;   /* JSON body or NULL */
	/* Not idempotent (a note): repeat only when the server surely did
	 * not act on it (no connection, or 429). */
	bool once;
	/* Reads (!once): a 2xx answer that accept() rejects (non-zero,
	 * reason filled) is retried like a 5xx, within the same attempts
	 * and budget: a body garbled by a proxy or a restarting server is
	 * as temporary as a 502. NULL: every 2xx is final. */
	int (*accept)(void *ctx, const struct http_response *rs,
		      char *reason, size_t size);
	void *accept_ctx;
};

struct http_response {
	long status;              /* final HTTP status */
	struct strbuf body;       /* capped at max_response */
	char content_type[128];   /* "" when absent */
	bool has_next_page;       /* an X-Next-Page header was present */
	char next_page[24];       /* its value, "" on the last page */
	long retry_after_s;       /* -1 when absent */
	char location[512];       /* a redirect's target, "" when none */
	unsigned attempts;
};

void http_response_init(struct http_response *r);
void http_response_release(struct http_response *r);

/*
 * Perform rq, retrying as described above. Returns 0 with the final
 * response for any status that is not retried (2xx, 3xx, 4xx but 429);
 * the caller interprets it. ST_ETEMP when retries or the budget ran out
 * (network, 5xx, 429), ST_ETOOBIG past max_response, ST_ECONFIG for TLS
 * and URL problems (never retried).
 */
int http_do(struct http_client *c, const struct http_request *rq,
	    struct http_response *rs, struct st_error *err);

/* Percent-encode s for a URL path segment or query value (everything but
 * A-Z a-z 0-9 - . _ ~). */
int http_escape(struct strbuf *out, const char *s);

/* 1 when url is https, or plain http to a numeric loopback address
 * (127.0.0.0/8, [::1]; urlrule_transport_safe), else 0. */
int http_url_safe(const char *url);

#endif
