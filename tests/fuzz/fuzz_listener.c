/* SPDX-License-Identifier: MIT */
/*
 * The webhook listener as GitLab (or anyone) reaches it: the input is the
 * raw bytes of one connection, sent to the real libmicrohttpd listener
 * (src/adapters/webhook_server.c) on 127.0.0.1; the first answer is
 * read (see exchange()). Covers libmicrohttpd's header
 * phase as we configure it (memory limit, methods, lengths, chunking,
 * Expect), our first call (routes, token, Content-Length cap), the body
 * cap and the decode (issue 14).
 *
 * Properties: the listener answers with an HTTP/1.x status line and a
 * status it can send, or closes without one; without the secret in the
 * input nothing is accepted (no 202/204); every 64 inputs a fresh
 * GET /healthz is answered 200 (the listener is alive and not full).
 * The listener is started once and kept (libFuzzer runs in-process).
 */
#include "fuzz.h"

#include "semver-tagger/webhook.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define SECRET "fuzz-secret-0123456789"

static struct webhook_server *srv;
static uint16_t port;
static unsigned long inputs;

static int on_event(void *ctx, const struct webhook_event *ev,
		    const struct webhook_delivery *d)
{
	(void)ctx;
	(void)ev;
	FUZZ_ASSERT(d->peer && strcmp(d->peer, "127.0.0.1") == 0);
	return 202;
}

static int on_health(void *ctx, struct strbuf *body)
{
	(void)ctx;
	return strbuf_adds(body, "{\"ok\":true}\n") ? 500 : 200;
}

static void start_once(void)
{
	struct webhook_server_options o;
	struct st_error err;

	if (srv)
		return;
	memset(&o, 0, sizeof(o));
	webhook_limits_default(&o.limits);
	o.listen = "127.0.0.1:0";
	o.listen_fd = -1;
	o.secret = SECRET;
	o.handlers.event = on_event;
	o.handlers.health = on_health;
	st_error_clear(&err);
	FUZZ_ASSERT(webhook_server_start(&o, &srv, &err) == 0);
	port = webhook_server_port(srv);
}

/* A connect interrupted by a signal goes on in the background: wait for
 * it (30 s) and take its result. */
static int connect_finish(int fd)
{
	struct pollfd pf = { fd, POLLOUT, 0 };
	int e = 0, n;
	socklen_t len = sizeof(e);

	do
		n = poll(&pf, 1, 30000);
	while (n < 0 && errno == EINTR);
	if (n != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
		return -1;
	errno = e;
	return e ? -1 : 0;
}

static int dial(void)
{
	struct sockaddr_in sa;
	/* connect: the listener must take the connection within 30 s (a
	 * nice'd process on a loaded machine can go unscheduled past the
	 * 64-entry accept queue for a second or more: not a failure);
	 * then 1 s per send/receive */
	struct timeval tv = { 30, 0 }, io = { 1, 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	FUZZ_ASSERT(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc != 0 && errno == EINTR) /* libFuzzer's SIGALRM */
		rc = connect_finish(fd);
	if (rc != 0)
		fprintf(stderr, "connect: %s\n", strerror(errno));
	FUZZ_ASSERT(rc == 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &io, sizeof(io));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &io, sizeof(io));
	return fd;
}

/* The end of the first final response in ans (n bytes), 0 if it is not
 * complete yet. libmicrohttpd sends Content-Length on every answer we
 * make; a "100 Continue" before it is skipped. */
static size_t response_end(const char *ans, size_t n)
{
	const char *p = ans, *end = ans + n, *hdr_end, *cl;
	unsigned long long len = 0;

	for (;;) {
		hdr_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (!hdr_end)
			return 0;
		hdr_end += 4;
		if (end - p >= 12 && memcmp(p + 9, "100", 3) == 0) {
			p = hdr_end;
			continue;
		}
		break;
	}
	cl = memmem(p, (size_t)(hdr_end - p), "Content-Length: ", 16);
	if (!cl)
		return 0; /* wait for the close */
	for (cl += 16; *cl >= '0' && *cl <= '9'; cl++)
		len = len * 10 + (unsigned long long)(*cl - '0');
	return (unsigned long long)(end - hdr_end) >= len
		       ? (size_t)(hdr_end - ans) + (size_t)len
		       : 0;
}

/*
 * Send data and read the answer (first 64 KiB) until it is complete, the
 * server closes, or wait_ms pass without a byte (an input that stops in
 * the middle of a request gets no answer: libmicrohttpd does not end a
 * connection on the client's half-close, only on its timeouts). Then a
 * reset, so the server frees the connection at once.
 */
static size_t exchange(const uint8_t *data, size_t size, char *ans,
		       size_t cap, int wait_ms)
{
	struct linger lg = { 1, 0 };
	struct pollfd pf;
	int fd = dial();
	size_t got = 0, off = 0;
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	while (off < size) {
		n = send(fd, data + off, size - off, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* answered (401, 413) and closed early */
		off += (size_t)n;
	}
	pf.fd = fd;
	pf.events = POLLIN;
	while (got < cap - 1 && poll(&pf, 1, wait_ms) == 1) {
		n = recv(fd, ans + got, cap - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (response_end(ans, got))
			break;
	}
	ans[got] = '\0';
	close(fd);
	return got;
}

static int status_of(const char *ans, size_t n)
{
	if (n < 12 || strncmp(ans, "HTTP/1.", 7) != 0 || ans[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (ans[i] < '0' || ans[i] > '9')
			return -1;
	return (ans[9] - '0') * 100 + (ans[10] - '0') * 10 + (ans[11] - '0');
}

static void check_alive(void)
{
	static const char probe[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
				    "Connection: close\r\n\r\n";
	char ans[4096];
	int st = -1;

	/* connections just reset may still count against the per-address
	 * limit for a moment: alive = answers within 100 tries */
	for (int i = 0; i < 100 && st != 200; i++) {
		size_t n = exchange((const uint8_t *)probe, sizeof(probe) - 1,
				    ans, sizeof(ans), 200);

		st = status_of(ans, n);
	}
	FUZZ_ASSERT(st == 200);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int can[] = { 100, 200, 202, 204, 400, 401, 404, 405,
				   411, 413, 414, 417, 431, 500, 501, 505 };
	char ans[65536];
	size_t n;
	int st, known = 0;

	start_once();
	/* 5 ms: an answer takes well under 1 ms; a missed one only skips
	 * the checks of that input */
	n = exchange(data, size, ans, sizeof(ans), 5);
	if (n > 0) {
		st = status_of(ans, n);
		FUZZ_ASSERT(st > 0);
		for (size_t i = 0; i < sizeof(can) / sizeof(can[0]); i++)
			known |= st == can[i];
		FUZZ_ASSERT(known);
		if (!memmem(data, size, SECRET, sizeof(SECRET) - 1))
			FUZZ_ASSERT(st != 202 && st != 204);
	}
	if (++inputs % 64 == 0)
		check_alive();
	return 0;
}
