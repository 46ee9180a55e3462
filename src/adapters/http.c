/* SPDX-License-Identifier: MIT */
/* The libcurl client: one easy handle per client, reused (keep-alive). */
#include "semver-tagger/http.h"
#include "semver-tagger/urlrule.h"

#include "semver-tagger/num.h"

#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define HTTP_SECRET_MAX 4096

struct http_client {
	CURL *curl;
	struct http_options o;
	char *ca_file, *ca_path, *user_agent;
	struct curl_slist *hdr_get;  /* secret + Accept */
	struct curl_slist *hdr_body; /* the same + Content-Type */
	const char *secret;          /* the value inside hdr_get, or NULL */
	uint64_t rng;
	struct http_counters counters;
	char errbuf[CURL_ERROR_SIZE];
	bool too_big; /* the write callback hit the size cap */
};

void http_options_default(struct http_options *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = 10000;
	o->timeout_ms = 60000;
	o->max_attempts = 5;
	o->retry_base_ms = 1000;
	o->retry_max_ms = 60000;
	o->retry_budget_ms = 180000;
	o->rate_limit_wait_ms = 60000;
	o->max_response = (size_t)16 << 20;
}

int http_global_init(struct st_error *err)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		return st_error_set(err, ST_EINTERNAL, "libcurl: %s",
				    curl_easy_strerror(rc));
	return ST_OK;
}

void http_global_cleanup(void)
{
	curl_global_cleanup();
}

/* Free a header list that holds the secret, wiping it first. */
static void wipe_headers(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		if (p->data)
			explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	wipe_headers(c->hdr_get);
	wipe_headers(c->hdr_body);
	free(c->ca_file);
	free(c->ca_path);
	free(c->user_agent);
	free(c);
}

static uint64_t seed_rng(void)
{
	uint64_t s = 0;
	struct timespec ts;

	/* Jitter only spreads runners apart; a weak seed is good enough. */
	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
	}
	return s ? s : 0x9e3779b97f4a7c15ULL;
}

static uint64_t next_rand(struct http_client *c)
{
	/* xorshift64 */
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

static int copy_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return ST_OK;
	*dst = strdup(src);
	return *dst ? ST_OK : ST_ENOMEM;
}

static int build_headers(struct http_client *c, const char *secret_line)
{
	static const char *const common[] = {"Accept: application/json",
					     "Expect:", NULL};
	struct curl_slist *g = NULL, *b = NULL, *t;

	for (const char *const *h = common; *h; h++) {
		if (!(t = curl_slist_append(g, *h)))
			goto fail;
		g = t;
		if (!(t = curl_slist_append(b, *h)))
			goto fail;
		b = t;
	}
	if (!(t = curl_slist_append(b, "Content-Type: application/json")))
		goto fail;
	b = t;
	if (secret_line) {
		if (!(t = curl_slist_append(g, secret_line)))
			goto fail;
		g = t;
		if (!(t = curl_slist_append(b, secret_line)))
			goto fail;
		b = t;
	}
	wipe_headers(c->hdr_get);
	wipe_headers(c->hdr_body);
	c->hdr_get = g;
	c->hdr_body = b;
	/* The secret line was appended last: its value follows ": ". */
	c->secret = NULL;
	if (secret_line) {
		while (g->next)
			g = g->next;
		c->secret = strstr(g->data, ": ") + 2;
	}
	return ST_OK;
fail:
	wipe_headers(g);
	wipe_headers(b);
	return ST_ENOMEM;
}

int http_client_new(const struct http_options *o, struct http_client **out,
		    struct st_error *err)
{
	struct http_client *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return st_error_set(err, ST_ENOMEM, "http: out of memory");
	c->o = *o;
	rc = copy_opt(&c->ca_file, o->ca_file);
	if (!rc)
		rc = copy_opt(&c->ca_path, o->ca_path);
	if (!rc)
		rc = copy_opt(&c->user_agent, o->user_agent ? o->user_agent :
			      "semver-tagger/" SEMVER_TAGGER_VERSION);
	if (!rc)
		rc = build_headers(c, NULL);
	if (!rc && !(c->curl = curl_easy_init()))
		rc = ST_ENOMEM;
	if (rc) {
		http_client_free(c);
		return st_error_set(err, rc, "http: cannot set up a client");
	}
	c->o.ca_file = c->ca_file;
	c->o.ca_path = c->ca_path;
	c->o.user_agent = c->user_agent;
	if (c->o.max_attempts == 0)
		c->o.max_attempts = 1;
	c->rng = seed_rng();
	*out = c;
	return ST_OK;
}

static bool header_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

int http_client_set_secret_header(struct http_client *c, const char *name,
				  const char *value, struct st_error *err)
{
	struct strbuf line;
	int rc;

	if (!header_name_ok(name))
		return st_error_set(err, ST_EINVAL, "http: bad header name");
	/* Never quote the value: it is the secret. */
	for (const char *p = value; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p == 0x7f)
			return st_error_set(err, ST_EINVAL, "http: the %s value "
					    "contains a space or control "
					    "character", name);
	if (!*value)
		return st_error_set(err, ST_EINVAL, "http: empty %s", name);
	strbuf_init(&line, HTTP_SECRET_MAX + 256);
	rc = strbuf_addf(&line, "%s: %s", name, value);
	if (!rc)
		rc = build_headers(c, strbuf_str(&line));
	if (line.buf)
		explicit_bzero(line.buf, line.len);
	strbuf_release(&line);
	if (rc)
		return st_error_set(err, rc == ST_ETOOBIG ? ST_EINVAL : rc,
				    "http: %s value too long or no memory",
				    name);
	return ST_OK;
}

/* Standard base64 with padding of n bytes into out (4 * ((n + 2) / 3) + 1). */
static void base64_pad(const unsigned char *in, size_t n, char *out)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i = 0;

	for (; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
			     in[i + 2];

		*out++ = b64[v >> 18 & 63];
		*out++ = b64[v >> 12 & 63];
		*out++ = b64[v >> 6 & 63];
		*out++ = b64[v & 63];
	}
	if (n - i == 1 || n - i == 2) {
		unsigned v = (unsigned)in[i] << 16 |
			     (n - i == 2 ? (unsigned)in[i + 1] << 8 : 0);

		*out++ = b64[v >> 18 & 63];
		*out++ = b64[v >> 12 & 63];
		*out++ = n - i == 2 ? b64[v >> 6 & 63] : '=';
		*out++ = '=';
	}
	*out = '\0';
}

int http_client_set_basic_auth(struct http_client *c, const char *user,
			       const char *password, struct st_error *err)
{
	size_t nu = strlen(user), np = strlen(password);
	unsigned char *pair;
	char *line;
	int rc;

	/* same rule as the secret header: no controls, no spaces; and a
	 * user name without ':' (RFC 7617) */
	for (const char *p = password; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p == 0x7f)
			return st_error_set(err, ST_EINVAL, "http: the token "
					    "contains a space or control "
					    "character");
	if (!nu || !np || strchr(user, ':') || nu + np > HTTP_SECRET_MAX)
		return st_error_set(err, ST_EINVAL, "http: bad user name or "
				    "token for Basic authentication");
	pair = malloc(nu + np + 2);
	line = malloc(32 + 4 * ((nu + np + 3) / 3) + 1);
	rc = pair && line ? ST_OK : ST_ENOMEM;
	if (!rc) {
		memcpy(pair, user, nu);
		pair[nu] = ':';
		memcpy(pair + nu + 1, password, np);
		memcpy(line, "Authorization: Basic ", 22);
		base64_pad(pair, nu + np + 1, line + 21);
		rc = build_headers(c, line);
		explicit_bzero(pair, nu + np + 1);
		explicit_bzero(line, strlen(line));
	}
	free(pair);
	free(line);
	if (rc)
		return st_error_set(err, rc, "http: out of memory");
	c->secret += 6; /* the credentials, after "Basic " */
	return ST_OK;
}

static void redact_all(char *text, const char *secret, size_t n)
{
	char *p = text;

	while ((p = strstr(p, secret))) {
		if (n >= 3) {
			memcpy(p, "***", 3);
			memmove(p + 3, p + n, strlen(p + n) + 1);
			p += 3;
		} else {
			memset(p, '*', n);
			p += n;
		}
	}
}

/* base64 of n bytes (n a multiple of 3), no padding, into out (4n/3 + 1). */
static void base64_groups(const unsigned char *in, size_t n, char *out)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
			     in[i + 2];

		*out++ = b64[v >> 18 & 63];
		*out++ = b64[v >> 12 & 63];
		*out++ = b64[v >> 6 & 63];
		*out++ = b64[v & 63];
	}
	*out = '\0';
}

void http_client_redact(const struct http_client *c, char *text)
{
	size_t n = c->secret ? strlen(c->secret) : 0;

	if (n == 0)
		return;
	redact_all(text, c->secret, n);
	/* Base64 forms too (a proxy echoing an "Authorization: Basic" value
	 * holds base64("user:" + secret)): whatever precedes the secret, the
	 * characters that only its bytes decide are the base64 of the secret
	 * from offset 0, 1 or 2, cut to whole 3-byte groups. */
	for (size_t off = 0; off < 3 && n >= off + 6; off++) {
		size_t len = (n - off) / 3 * 3;
		char *core = malloc(len / 3 * 4 + 1);

		if (!core)
			return;
		base64_groups((const unsigned char *)c->secret + off, len, core);
		redact_all(text, core, strlen(core));
		free(core);
	}
}

void http_client_counters(const struct http_client *c,
			  struct http_counters *out)
{
	*out = c->counters;
}

void http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->body, (size_t)16 << 20);
	r->retry_after_s = -1;
}

void http_response_release(struct http_response *r)
{
	if (!r)
		return;
	strbuf_release(&r->body);
}

int http_escape(struct strbuf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && !rc;
	     p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			rc = strbuf_add(out, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};

			rc = strbuf_add(out, e, 3);
		}
	}
	return rc;
}

int http_url_safe(const char *url)
{
	/* One rule for the API URL and the clone URL (urlrule.h): plain
	 * http only to a numeric loopback address, never by the look of a
	 * name ("127.evil.example", "localhost.evil"). */
	return urlrule_transport_safe(url);
}

/* --- one attempt ------------------------------------------------------ */

struct attempt {
	struct http_client *c;
	struct http_response *rs;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct attempt *a = ud;

	if (strbuf_add(&a->rs->body, data, size * n) != 0) {
		a->c->too_big = true;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	a->c->counters.bytes += size * n;
	return size * n;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' ||
		     v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static long parse_retry_after(const char *v)
{
	uint64_t s;
	time_t when;

	if (num_parse_u64(v, strlen(v), false, &s) == 0)
		return s > 86400 ? 86400 : (long)s;
	when = curl_getdate(v, NULL);
	if (when == -1)
		return -1;
	when -= time(NULL);
	return when < 0 ? 0 : when > 86400 ? 86400 : (long)when;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	struct attempt *a = ud;
	struct http_response *rs = a->rs;
	size_t len = size * n;
	const char *colon = memchr(data, ':', len);
	size_t name_len = colon ? (size_t)(colon - data) : 0;
	const char *v = colon ? colon + 1 : NULL;
	size_t vn = colon ? len - name_len - 1 : 0;
	char tmp[64];

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new status line: forget headers of an interim reply. */
		rs->content_type[0] = rs->next_page[0] = rs->location[0] = 0;
		rs->has_next_page = false;
		rs->retry_after_s = -1;
	} else if (name_len == 12 && !strncasecmp(data, "Content-Type", 12)) {
		copy_value(rs->content_type, sizeof(rs->content_type), v, vn);
	} else if (name_len == 11 && !strncasecmp(data, "X-Next-Page", 11)) {
		rs->has_next_page = true;
		copy_value(rs->next_page, sizeof(rs->next_page), v, vn);
	} else if (name_len == 11 && !strncasecmp(data, "Retry-After", 11)) {
		copy_value(tmp, sizeof(tmp), v, vn);
		rs->retry_after_s = parse_retry_after(tmp);
	} else if (name_len == 8 && !strncasecmp(data, "Location", 8)) {
		copy_value(rs->location, sizeof(rs->location), v, vn);
	}
	return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	struct attempt *a = ud;

	return a->c->o.cancel && *a->c->o.cancel ? 1 : 0;
}

static void set_options(struct http_client *c, const struct http_request *rq,
			struct attempt *a)
{
	CURL *h = c->curl;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->o.ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->o.ca_file);
	if (c->o.ca_path)
		curl_easy_setopt(h, CURLOPT_CAPATH, c->o.ca_path);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->o.user_agent);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)c->o.max_response);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, a);
	/* Never CURLOPT_VERBOSE: its dump would hold the token header. */
	curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER,
			 rq->body ? c->hdr_body : c->hdr_get);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	if (rq->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)strlen(rq->body));
	}
}

static CURLcode attempt_once(struct http_client *c,
			     const struct http_request *rq,
			     struct http_response *rs)
{
	struct attempt a = {c, rs};
	CURLcode cc;

	strbuf_release(&rs->body);
	strbuf_init(&rs->body, c->o.max_response);
	rs->status = 0;
	rs->content_type[0] = rs->next_page[0] = rs->location[0] = '\0';
	rs->has_next_page = false;
	rs->retry_after_s = -1;
	c->errbuf[0] = '\0';
	c->too_big = false;
	set_options(c, rq, &a);
	c->counters.requests++;
	rs->attempts++;
	cc = curl_easy_perform(c->curl);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &rs->status);
	return cc;
}

/* --- retries ---------------------------------------------------------- */

enum verdict { V_DONE, V_RETRY, V_FAIL };

struct outcome {
	enum verdict verdict;
	int code;       /* V_FAIL: the error class */
	long delay_ms;  /* V_RETRY: asked by the server, -1: back off */
	char reason[256];
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_json(const char *content_type)
{
	return strncasecmp(content_type, "application/json", 16) == 0;
}

static void classify_status(struct http_client *c,
			    const struct http_request *rq,
			    const struct http_response *rs, struct outcome *o)
{
	long ra = rs->retry_after_s;

	if (rs->status != 429 && rs->status < 500) {
		o->verdict = V_DONE;
		return;
	}
	o->verdict = V_RETRY;
	o->delay_ms = ra >= 0 ? ra * 1000 : -1;
	if (rs->status == 429) {
		/* GitLab's note limiter answers JSON with no Retry-After
		 * and wants about a minute; Rack::Attack sends the header. */
		if (ra < 0 && is_json(rs->content_type))
			o->delay_ms = c->o.rate_limit_wait_ms;
		snprintf(o->reason, sizeof(o->reason), "rate limited (HTTP "
			 "429%s)", ra >= 0 ? ", Retry-After given" : "");
		return;
	}
	snprintf(o->reason, sizeof(o->reason), "server error HTTP %ld",
		 rs->status);
	if (rq->once) {
		/* A 5xx to a POST may still have been acted on. */
		o->verdict = V_FAIL;
		o->code = ST_ETEMP;
	}
}

static bool tls_trust_error(CURLcode cc)
{
	return cc == CURLE_PEER_FAILED_VERIFICATION ||
	       cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM ||
	       cc == CURLE_SSL_ISSUER_ERROR || cc == CURLE_SSL_CRL_BADFILE;
}

static void classify_curl(struct http_client *c, const struct http_request *rq,
			  CURLcode cc, struct outcome *o)
{
	bool unsent = cc == CURLE_COULDNT_CONNECT ||
		      cc == CURLE_COULDNT_RESOLVE_HOST ||
		      cc == CURLE_COULDNT_RESOLVE_PROXY;

	o->delay_ms = -1;
	o->code = ST_ETEMP;
	snprintf(o->reason, sizeof(o->reason), "%s%s%s",
		 curl_easy_strerror(cc), c->errbuf[0] ? ": " : "", c->errbuf);
	if (c->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		o->code = ST_ETOOBIG;
		snprintf(o->reason, sizeof(o->reason), "response larger than "
			 "the %zu-byte cap", c->o.max_response);
	} else if (cc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(o->reason, sizeof(o->reason), "cancelled");
	} else if (tls_trust_error(cc)) {
		o->code = ST_ECONFIG; /* retrying cannot fix trust */
	} else if (cc == CURLE_URL_MALFORMAT ||
		   cc == CURLE_UNSUPPORTED_PROTOCOL) {
		o->code = ST_ECONFIG;
	} else if (cc == CURLE_OUT_OF_MEMORY) {
		o->code = ST_ENOMEM;
	} else if (unsent || !rq->once) {
		o->verdict = V_RETRY;
		return;
	}
	o->verdict = V_FAIL;
}

static long backoff_ms(struct http_client *c, unsigned attempt)
{
	long d = c->o.retry_base_ms;

	for (unsigned i = 1; i < attempt && d < c->o.retry_max_ms; i++)
		d *= 2;
	if (d > c->o.retry_max_ms)
		d = c->o.retry_max_ms;
	if (d <= 1)
		return d < 0 ? 0 : d;
	/* "Equal jitter": at least half the delay, so runners that failed
	 * together spread out but none hammers the server. */
	return d / 2 + (long)(next_rand(c) % (uint64_t)(d / 2 + 1));
}

static void wait_ms(struct http_client *c, long ms)
{
	struct timespec ts;

	if (c->o.sleep_ms) {
		c->o.sleep_ms(c->o.sleep_ctx, ms);
		return;
	}
	/* Slices, so a cancel request is seen within 100 ms. */
	while (ms > 0 && !(c->o.cancel && *c->o.cancel)) {
		long step = ms > 100 ? 100 : ms;

		ts.tv_sec = 0;
		ts.tv_nsec = step * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		ms -= step;
	}
}

int http_do(struct http_client *c, const struct http_request *rq,
	    struct http_response *rs, struct st_error *err)
{
	long used = 0;

	rs->attempts = 0;
	for (;;) {
		struct outcome o = {.verdict = V_DONE};
		long t0 = now_ms(), delay;
		CURLcode cc;

		if (c->o.cancel && *c->o.cancel)
			return st_error_set(err, ST_ETEMP, "%s: cancelled",
					    rq->what);
		cc = attempt_once(c, rq, rs);
		used += now_ms() - t0;
		if (cc == CURLE_OK)
			classify_status(c, rq, rs, &o);
		else
			classify_curl(c, rq, cc, &o);
		if (o.verdict == V_DONE && rq->accept && !rq->once &&
		    rs->status >= 200 && rs->status < 300 &&
		    rq->accept(rq->accept_ctx, rs, o.reason,
			       sizeof(o.reason)) != 0) {
			o.verdict = V_RETRY;
			o.delay_ms = -1;
		}
		if (o.verdict == V_DONE)
			return ST_OK;
		if (o.verdict == V_FAIL)
			return st_error_set(err, o.code, "%s: %s", rq->what,
					    o.reason);
		if (rs->attempts >= c->o.max_attempts)
			return st_error_set(err, ST_ETEMP, "%s: %s; gave up "
					    "after %u attempts", rq->what,
					    o.reason, rs->attempts);
		delay = o.delay_ms >= 0 ? o.delay_ms :
			backoff_ms(c, rs->attempts);
		if (used + delay > c->o.retry_budget_ms)
			return st_error_set(err, ST_ETEMP, "%s: %s; waiting "
					    "%ld ms more would pass the retry "
					    "budget of %ld ms (attempt %u)",
					    rq->what, o.reason, delay,
					    c->o.retry_budget_ms, rs->attempts);
		wait_ms(c, delay);
		used += delay;
		c->counters.retries++;
		c->counters.waited_ms += delay;
	}
}
