/* SPDX-License-Identifier: MIT */
/*
 * The webhook listener over libmicrohttpd (one internal polling thread).
 *
 * Limits (reliability.md §2 D): total and per-IP connection counts
 * (libmicrohttpd refuses the excess at accept; we count IPv6 clients per
 * /64 as well), its inactivity timeout, and our own absolute deadlines:
 * for the header phase (from connect) and for the request (from the
 * headers on). libmicrohttpd's timeout only measures silence, so a client
 * dripping a header line every few seconds held a connection forever
 * (issue 14: 64 such connections from 8 addresses kept a valid webhook
 * waiting 35 s). libmicrohttpd has no call to drop a connection still in
 * its header phase, so a watchdog thread shuts down the socket (through
 * our own dup of it: no race with libmicrohttpd closing and reusing the
 * descriptor) and libmicrohttpd closes it on the end of input it then
 * reads. When every slot is taken, a new connection evicts the oldest
 * one still sending headers: a client that sends its request at once
 * (GitLab) always gets in. The
 * token is checked and Content-Length capped on the first call, before any
 * body byte is read: 401 and 413 cost no body. Streamed bodies past the
 * cap close the connection. No libmicrohttpd PostProcessor (CVE-2023-27371
 * lives there): the body is JSON, read into a capped buffer.
 */
#include "semver-tagger/webhook.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One accepted connection: where its current request is, since when. */
enum conn_phase { PH_HEADERS, PH_BODY, PH_DONE };

struct conn {
	bool used;
	bool dropped;            /* shut down by us; not counted any more */
	int fd;                  /* our dup of the socket, -1 if none */
	enum conn_phase phase;
	int64_t since_ms;        /* start of the phase */
	unsigned char key[16];   /* webhook_peer_key() */
	size_t key_len;
};

struct webhook_server {
	struct MHD_Daemon *mhd;
	/* connections (conn_lock): libmicrohttpd's thread and the watchdog */
	pthread_mutex_t conn_lock;
	pthread_cond_t conn_cond;
	struct conn *conns;
	size_t nconns;           /* slots: libmicrohttpd's hard limit */
	bool watchdog_stop;
	bool watchdog_running;
	pthread_t watchdog;
	int fd;                 /* the listening socket */
	bool quiesced;          /* MHD closes fd on stop unless quiesced */
	uint16_t port;
	struct webhook_limits limits;
	struct webhook_handlers h;
	pthread_mutex_t lock;   /* secret, stats, dedupe */
	char *secret;
	size_t secret_len;
	char *read_token;       /* NULL: the read pages are open */
	struct webhook_stats stats;
	struct webhook_dedupe *dedupe;
};

/* Per request. A request answered on the first call gets &answered. */
struct request {
	int64_t start_ms;
	struct strbuf body;
};

static char answered;

void webhook_limits_default(struct webhook_limits *l)
{
	l->max_body = WEBHOOK_BODY_MAX;
	l->max_connections = 64;
	l->max_per_ip = 8;
	l->idle_timeout_s = 5;
	l->header_deadline_s = 5;
	l->deadline_s = 10;
	l->dedupe_keys = 4096;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count(struct webhook_server *s, uint64_t *field)
{
	pthread_mutex_lock(&s->lock);
	(*field)++;
	pthread_mutex_unlock(&s->lock);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *type, const char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status,
				   const char *msg)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg);

	return reply(c, status, "application/json", body, (size_t)n);
}

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static void peer_name(struct MHD_Connection *c, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(buf, size, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
			  buf, (socklen_t)size);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  buf, (socklen_t)size);
}

static bool token_ok(struct webhook_server *s, const char *given)
{
	bool ok;

	pthread_mutex_lock(&s->lock);
	ok = webhook_token_equal(s->secret, s->secret_len, given);
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* Content-Length over the cap (or unreadable): 413 before any body. */
static bool length_too_big(struct webhook_server *s, struct MHD_Connection *c)
{
	const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	unsigned long long n;

	if (!cl)
		return false; /* chunked: the streamed bytes are capped */
	errno = 0;
	n = strtoull(cl, &end, 10);
	if (errno || end == cl || *end || cl[0] == '-')
		return true;
	return n > s->limits.max_body;
}

enum page { PAGE_HEALTH, PAGE_METRICS, PAGE_HTML, PAGE_JSON };

static const char *const page_type[] = {
	"application/json",
	"text/plain; version=0.0.4; charset=utf-8",
	"text/html; charset=utf-8",
	"application/json",
};

bool webhook_bearer_ok(const char *token, const char *auth)
{
	if (!token || !*token || !auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return webhook_token_equal(token, strlen(token), auth);
}

/* The read pages: open, or the bearer token. /healthz is always open. */
static bool read_allowed(struct webhook_server *s, struct MHD_Connection *c)
{
	bool ok;

	pthread_mutex_lock(&s->lock);
	ok = !s->read_token ||
	     webhook_bearer_ok(s->read_token,
			       header(c, MHD_HTTP_HEADER_AUTHORIZATION));
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static enum MHD_Result unauthorized(struct MHD_Connection *c)
{
	static const char body[] = "{\"error\":\"missing or wrong bearer "
				   "token\"}\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(
		sizeof(body) - 1, (void *)(uintptr_t)body,
		MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				"Bearer realm=\"semver-tagger\"");
	ret = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, r);
	MHD_destroy_response(r);
	return ret;
}

/* The page's headers: never cached (it names projects); the HTML page
 * may load nothing but its inline style, and no referrer leaves it. */
static void page_headers(struct MHD_Response *r, enum page p)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, page_type[p]);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (p != PAGE_HTML)
		return;
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'none'; style-src 'unsafe-inline'; "
				"base-uri 'none'; form-action 'none'; "
				"frame-ancestors 'none'");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

static int fill_page(struct webhook_server *s, enum page p,
		     struct strbuf *body)
{
	switch (p) {
	case PAGE_HEALTH:
		return s->h.health ? s->h.health(s->h.ctx, body) : 200;
	case PAGE_METRICS:
		return s->h.metrics ? s->h.metrics(s->h.ctx, body) : 200;
	default:
		return s->h.status ? s->h.status(s->h.ctx, p == PAGE_JSON, body)
				   : 404;
	}
}

/* A page's text is built whole, then handed to libmicrohttpd without a
 * copy. /metrics is ~1.8 KB per project (18 MB at 10,000): its cap is
 * PAGE_METRICS_MAX. A page cut by its cap or by memory is answered 500,
 * never as a truncated 200 a scraper would half-parse. */
#define PAGE_MAX (16u * 1024 * 1024)
#define PAGE_METRICS_MAX (64u * 1024 * 1024)
#define PAGE_CUT "the page does not fit in memory or its size cap\n"

static enum MHD_Result get_page(struct webhook_server *s,
				struct MHD_Connection *c, enum page p)
{
	struct strbuf body;
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len;
	char *text;
	int status;

	if (p != PAGE_HEALTH && !read_allowed(s, c))
		return unauthorized(c);
	strbuf_init(&body, p == PAGE_METRICS ? PAGE_METRICS_MAX : PAGE_MAX);
	status = fill_page(s, p, &body);
	if (body.lost) {
		strbuf_reset(&body);
		strbuf_adds(&body, PAGE_CUT);
		status = 500;
	}
	len = body.len;
	text = strbuf_detach(&body);
	r = text ? MHD_create_response_from_buffer(len, text,
						   MHD_RESPMEM_MUST_FREE)
		 : NULL;
	if (!r) {
		free(text);
		return MHD_NO;
	}
	page_headers(r, p);
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* GET pages by path, or -1. */
static int page_of(const char *url)
{
	if (strcmp(url, "/healthz") == 0)
		return PAGE_HEALTH;
	if (strcmp(url, "/metrics") == 0)
		return PAGE_METRICS;
	if (strcmp(url, "/") == 0)
		return PAGE_HTML;
	if (strcmp(url, "/status.json") == 0)
		return PAGE_JSON;
	return -1;
}

/* ---- connections: deadlines, the /64 limit, eviction ------------------ */

size_t webhook_peer_key(const struct sockaddr *sa, unsigned char key[16])
{
	const struct sockaddr_in6 *s6 = (const void *)sa;

	if (sa && sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)(const void *)sa)
				     ->sin_addr, 4);
		return 4;
	}
	if (!sa || sa->sa_family != AF_INET6)
		return 0;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memcpy(key, s6->sin6_addr.s6_addr + 12, 4);
		return 4;
	}
	memcpy(key, s6->sin6_addr.s6_addr, 8); /* the /64 */
	return 8;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void set_phase(struct webhook_server *s, struct MHD_Connection *c,
		      enum conn_phase ph)
{
	struct conn *k = conn_of(c);

	if (!k)
		return;
	pthread_mutex_lock(&s->conn_lock);
	k->phase = ph;
	k->since_ms = now_ms();
	pthread_mutex_unlock(&s->conn_lock);
}

/* conn_lock held. The socket ends; libmicrohttpd reads its end and closes
 * the connection (NOTIFY_CONNECTION_CLOSED frees the slot). */
static void drop_locked(struct webhook_server *s, struct conn *k)
{
	if (k->fd >= 0)
		shutdown(k->fd, SHUT_RDWR);
	k->dropped = true;
	count(s, &s->stats.timed_out);
}

static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct webhook_server *s = cls;
	const union MHD_ConnectionInfo *fd_info, *addr_info;
	struct conn *k = *socket_context;

	pthread_mutex_lock(&s->conn_lock);
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED && k) {
		if (k->fd >= 0)
			close(k->fd);
		memset(k, 0, sizeof(*k));
		*socket_context = NULL;
	} else if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		for (size_t i = 0; !k && i < s->nconns; i++)
			if (!s->conns[i].used)
				k = &s->conns[i];
		fd_info = MHD_get_connection_info(
			c, MHD_CONNECTION_INFO_CONNECTION_FD);
		addr_info = MHD_get_connection_info(
			c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (k) {
			k->used = true;
			k->fd = fd_info ? fcntl(fd_info->connect_fd,
						F_DUPFD_CLOEXEC, 0) : -1;
			k->phase = PH_HEADERS;
			k->since_ms = now_ms();
			k->key_len = webhook_peer_key(
				addr_info ? addr_info->client_addr : NULL,
				k->key);
		}
		*socket_context = k;
	}
	pthread_mutex_unlock(&s->conn_lock);
}

/* conn_lock held: the oldest connection still sending its headers. */
static struct conn *oldest_in_headers(struct webhook_server *s)
{
	struct conn *best = NULL;

	for (size_t i = 0; i < s->nconns; i++) {
		struct conn *k = &s->conns[i];

		if (k->used && !k->dropped && k->phase == PH_HEADERS &&
		    (!best || k->since_ms < best->since_ms))
			best = k;
	}
	return best;
}

/* Before libmicrohttpd takes a connection (it has checked its own limits
 * by then): the per-/64 limit, and room made when every slot is taken. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr,
				     socklen_t addrlen)
{
	struct webhook_server *s = cls;
	unsigned char key[16];
	size_t n = webhook_peer_key(addr, key), same = 0, live = 0;
	struct conn *victim;
	enum MHD_Result ok = MHD_YES;

	(void)addrlen;
	pthread_mutex_lock(&s->conn_lock);
	for (size_t i = 0; i < s->nconns; i++) {
		const struct conn *k = &s->conns[i];

		if (!k->used || k->dropped)
			continue;
		live++;
		if (n && k->key_len == n && memcmp(k->key, key, n) == 0)
			same++;
	}
	if (same >= s->limits.max_per_ip) {
		ok = MHD_NO;
	} else if (live >= s->limits.max_connections) {
		victim = oldest_in_headers(s);
		if (victim)
			drop_locked(s, victim);
		else
			ok = MHD_NO;
	}
	pthread_mutex_unlock(&s->conn_lock);
	return ok;
}

/* Absolute deadlines: header phase from connect (or the previous
 * request's end), body from the headers on. */
static void *watchdog_main(void *arg)
{
	struct webhook_server *s = arg;

	pthread_mutex_lock(&s->conn_lock);
	while (!s->watchdog_stop) {
		struct timespec ts;
		int64_t now = now_ms();

		for (size_t i = 0; i < s->nconns; i++) {
			struct conn *k = &s->conns[i];
			int64_t limit = k->phase == PH_HEADERS
				? (int64_t)s->limits.header_deadline_s * 1000
				: (int64_t)s->limits.deadline_s * 1000;

			if (k->used && !k->dropped && k->phase != PH_DONE &&
			    now - k->since_ms > limit)
				drop_locked(s, k);
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->conn_cond, &s->conn_lock, &ts);
	}
	pthread_mutex_unlock(&s->conn_lock);
	return NULL;
}

static int conns_start(struct webhook_server *s)
{
	/* twice our limit: room for the evicted until libmicrohttpd has
	 * read their end */
	size_t n = (size_t)s->limits.max_connections * 2;
	pthread_condattr_t ca;

	s->conns = calloc(n, sizeof(*s->conns));
	if (!s->conns)
		return ST_ENOMEM;
	s->nconns = n;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->conn_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&s->watchdog, NULL, watchdog_main, s) != 0)
		return ST_ENOMEM;
	s->watchdog_running = true;
	return ST_OK;
}

static void conns_stop(struct webhook_server *s)
{
	if (s->watchdog_running) {
		pthread_mutex_lock(&s->conn_lock);
		s->watchdog_stop = true;
		pthread_cond_signal(&s->conn_cond);
		pthread_mutex_unlock(&s->conn_lock);
		pthread_join(s->watchdog, NULL);
		s->watchdog_running = false;
	}
	for (size_t i = 0; s->conns && i < s->nconns; i++)
		if (s->conns[i].used && s->conns[i].fd >= 0)
			close(s->conns[i].fd);
	free(s->conns);
	s->conns = NULL;
	if (s->nconns)
		pthread_cond_destroy(&s->conn_cond);
	s->nconns = 0;
}

/* First call: the headers are in, no body byte has been read. */
static enum MHD_Result first_call(struct webhook_server *s,
				  struct MHD_Connection *c, const char *url,
				  const char *method, void **con_cls)
{
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
		   strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	struct request *r;
	int page = page_of(url);

	*con_cls = &answered;
	set_phase(s, c, PH_DONE); /* answered now, unless a body follows */
	if (page >= 0) {
		if (!get) {
			count(s, &s->stats.other);
			return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
					   "use GET");
		}
		return get_page(s, c, (enum page)page);
	}
	if (strcmp(url, "/webhook") != 0) {
		count(s, &s->stats.other);
		return reply_error(c, MHD_HTTP_NOT_FOUND, "not found");
	}
	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
		count(s, &s->stats.other);
		return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
	}
	if (!token_ok(s, header(c, "X-Gitlab-Token"))) {
		count(s, &s->stats.unauthorized);
		return reply_error(c, MHD_HTTP_UNAUTHORIZED,
				   "missing or wrong X-Gitlab-Token");
	}
	if (length_too_big(s, c)) {
		count(s, &s->stats.too_large);
		return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
				   "body too large");
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return MHD_NO;
	r->start_ms = now_ms();
	strbuf_init(&r->body, s->limits.max_body);
	*con_cls = r;
	set_phase(s, c, PH_BODY);
	return MHD_YES;
}

static enum MHD_Result deliver(struct webhook_server *s,
			       struct MHD_Connection *c, struct request *r)
{
	struct webhook_event ev;
	struct webhook_delivery d;
	struct st_error err;
	char peer[64];
	int status, dup;

	st_error_clear(&err);
	set_phase(s, c, PH_DONE);
	d.event_header = header(c, "X-Gitlab-Event");
	d.idempotency_key = header(c, "Idempotency-Key");
	d.instance = header(c, "X-Gitlab-Instance");
	peer_name(c, peer, sizeof(peer));
	d.peer = peer;
	if (webhook_decode(d.event_header, strbuf_str(&r->body), r->body.len,
			   &ev, &err) != 0) {
		count(s, &s->stats.bad_request);
		return reply_error(c, MHD_HTTP_BAD_REQUEST,
				   "body is not a GitLab event");
	}
	pthread_mutex_lock(&s->lock);
	dup = webhook_dedupe_seen(s->dedupe, d.idempotency_key);
	if (dup)
		s->stats.duplicates++;
	pthread_mutex_unlock(&s->lock);
	if (dup) {
		webhook_event_release(&ev);
		return reply(c, MHD_HTTP_NO_CONTENT, NULL, "", 0);
	}
	status = s->h.event ? s->h.event(s->h.ctx, &ev, &d) : 204;
	webhook_event_release(&ev);
	pthread_mutex_lock(&s->lock);
	if (status == 202)
		s->stats.accepted++;
	else if (status == 204)
		s->stats.ignored++;
	else
		s->stats.other++;
	pthread_mutex_unlock(&s->lock);
	return reply(c, (unsigned)status, NULL, "", 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct webhook_server *s = cls;
	struct request *r = *con_cls;

	(void)version;
	if (!r)
		return first_call(s, c, url, method, con_cls);
	if ((void *)r == (void *)&answered) {
		*upload_data_size = 0; /* already answered; not reached */
		return MHD_YES;
	}
	if (now_ms() - r->start_ms > (int64_t)s->limits.deadline_s * 1000) {
		count(s, &s->stats.timed_out);
		return MHD_NO; /* closes the connection */
	}
	if (*upload_data_size) {
		if (strbuf_add(&r->body, upload_data, *upload_data_size)) {
			count(s, &s->stats.too_large);
			return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return deliver(s, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *r = *con_cls;

	(void)toe;
	/* keep-alive: the next request's header phase starts now */
	set_phase(cls, c, PH_HEADERS);
	if (r && (void *)r != (void *)&answered) {
		strbuf_release(&r->body);
		free(r);
	}
	*con_cls = NULL;
}

static void quiet_logger(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	(void)fmt;
	(void)ap; /* adapters never log; the stats say what was refused */
}

int webhook_parse_listen(const char *addr, char *host, size_t host_size,
			 uint16_t *port, struct st_error *err)
{
	const char *colon, *h = addr;
	size_t hn;
	char *end;
	unsigned long p;

	if (!addr || !*addr)
		return st_error_set(err, ST_ECONFIG, "listen is empty");
	if (addr[0] == '[') {
		const char *close_br = strchr(addr, ']');

		if (!close_br || close_br[1] != ':')
			return st_error_set(err, ST_ECONFIG, "listen '%s': "
					    "expected [address]:port", addr);
		h = addr + 1;
		hn = (size_t)(close_br - h);
		colon = close_br + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return st_error_set(err, ST_ECONFIG, "listen '%s': "
					    "expected address:port", addr);
		hn = (size_t)(colon - addr);
	}
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || p > 65535 ||
	    colon[1] < '0' || colon[1] > '9')
		return st_error_set(err, ST_ECONFIG, "listen '%s': the port "
				    "is not a number from 0 to 65535", addr);
	if (hn >= host_size)
		return st_error_set(err, ST_ECONFIG, "listen '%s': address "
				    "too long", addr);
	memcpy(host, h, hn);
	host[hn] = '\0';
	if (strcmp(host, "*") == 0)
		host[0] = '\0';
	*port = (uint16_t)p;
	return ST_OK;
}

static int bind_listen(const char *addr, int *out_fd, struct st_error *err)
{
	struct addrinfo hints, *res = NULL;
	char host[256], port_s[8];
	uint16_t port;
	int fd, one = 1, rc;

	rc = webhook_parse_listen(addr, host, sizeof(host), &port, err);
	if (rc)
		return rc;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port_s, sizeof(port_s), "%u", (unsigned)port);
	rc = getaddrinfo(host[0] ? host : "0.0.0.0", port_s, &hints, &res);
	if (rc != 0 || !res)
		return st_error_set(err, ST_ECONFIG, "listen '%s': %s", addr,
				    rc ? gai_strerror(rc) : "no address");
	fd = socket(res->ai_family,
		    res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    res->ai_protocol);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, 64) != 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return st_error_set(err, ST_EIO, "listen on %s: %s", addr,
				    strerror(e));
	}
	freeaddrinfo(res);
	*out_fd = fd;
	return ST_OK;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static void server_release(struct webhook_server *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->secret) {
		memset(s->secret, 0, s->secret_len);
		free(s->secret);
	}
	if (s->read_token) {
		memset(s->read_token, 0, strlen(s->read_token));
		free(s->read_token);
	}
	webhook_dedupe_free(s->dedupe);
	conns_stop(s);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->conn_lock);
	free(s);
}

int webhook_server_start(const struct webhook_server_options *o,
			 struct webhook_server **out, struct st_error *err)
{
	struct webhook_server *s = calloc(1, sizeof(*s));
	uint16_t port;
	int rc;

	if (!s)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	s->fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->conn_lock, NULL);
	s->limits = o->limits;
	s->h = o->handlers;
	if (!o->secret || !*o->secret) {
		server_release(s);
		return st_error_set(err, ST_ECONFIG, "webhook listener without "
				    "a secret: set webhook_secret_file or the "
				    "webhook-secret credential");
	}
	s->secret = strdup(o->secret);
	s->secret_len = strlen(o->secret);
	s->dedupe = webhook_dedupe_new(o->limits.dedupe_keys);
	if (o->read_token && *o->read_token)
		s->read_token = strdup(o->read_token);
	if (!s->secret || !s->dedupe || conns_start(s) != 0 ||
	    (o->read_token && *o->read_token && !s->read_token)) {
		server_release(s);
		return st_error_set(err, ST_ENOMEM, "out of memory");
	}
	if (o->listen_fd >= 0) {
		s->fd = o->listen_fd;
		fcntl(s->fd, F_SETFD, FD_CLOEXEC);
		fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	} else if ((rc = bind_listen(o->listen, &s->fd, err)) != 0) {
		server_release(s);
		return rc;
	}
	s->port = port = bound_port(s->fd);
	if (port == 0 && o->listen_fd >= 0) {
		server_release(s);
		return st_error_set(err, ST_ECONFIG, "the socket passed as fd "
				    "%d is not a bound TCP socket",
				    o->listen_fd);
	}
	s->mhd = MHD_start_daemon(
		MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC, 0, accept_policy, s,
		on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, quiet_logger, s,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)s->nconns,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned int)s->limits.max_per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)s->limits.idle_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_END);
	if (!s->mhd) {
		server_release(s);
		return st_error_set(err, ST_EIO, "cannot start the HTTP "
				    "listener on port %u", (unsigned)port);
	}
	*out = s;
	return ST_OK;
}

uint16_t webhook_server_port(const struct webhook_server *s)
{
	return s ? s->port : 0;
}

int webhook_server_set_secret(struct webhook_server *s, const char *secret)
{
	char *copy;

	if (!secret || !*secret || !(copy = strdup(secret)))
		return ST_ENOMEM;
	pthread_mutex_lock(&s->lock);
	memset(s->secret, 0, s->secret_len);
	free(s->secret);
	s->secret = copy;
	s->secret_len = strlen(copy);
	pthread_mutex_unlock(&s->lock);
	return ST_OK;
}

int webhook_server_set_read_token(struct webhook_server *s, const char *token)
{
	char *copy = NULL, *old;

	if (token && *token && !(copy = strdup(token)))
		return ST_ENOMEM;
	pthread_mutex_lock(&s->lock);
	old = s->read_token;
	s->read_token = copy;
	pthread_mutex_unlock(&s->lock);
	if (old) {
		memset(old, 0, strlen(old));
		free(old);
	}
	return ST_OK;
}

void webhook_server_stats(struct webhook_server *s, struct webhook_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}

void webhook_server_quiesce(struct webhook_server *s)
{
	MHD_socket fd;

	if (!s || !s->mhd)
		return;
	fd = MHD_quiesce_daemon(s->mhd);
	if (fd != MHD_INVALID_SOCKET)
		s->quiesced = true; /* ours again: closed in _free */
}

void webhook_server_free(struct webhook_server *s)
{
	if (!s)
		return;
	if (s->mhd) {
		MHD_stop_daemon(s->mhd);
		if (!s->quiesced)
			s->fd = -1; /* libmicrohttpd closed it */
	}
	server_release(s);
}
