/* SPDX-License-Identifier: MIT */
/*
 * The HTTP client against the GitLab stand-in's fault injection (retries,
 * back-off, Retry-After, budgets, timeouts, dropped connections, size cap),
 * plus two tiny local servers for what the stand-in cannot show: the
 * request headers we send, redirects, and TLS verification.
 */
#include "gitlab_testutil.h"
#include "semver-tagger/gitrepo_advert.h"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROJECT "/api/v4/projects/7"
#define ROUTE "GET /api/v4/projects/:id"

static struct http_client *client(struct http_options *o)
{
	struct http_client *c = NULL;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_int_eq(http_client_new(o, &c, &err), 0);
	ck_assert_int_eq(http_client_set_secret_header(c, "PRIVATE-TOKEN",
						       TU_TOKEN, &err), 0);
	return c;
}

static void options(struct http_options *o)
{
	struct gitlab_options g;

	tu_options(&g);
	*o = g.http;
}

/* GET path on the stand-in; returns the status class, records errors. */
static int get(struct http_client *c, const char *path,
	       struct http_response *rs, struct st_error *err)
{
	char url[512];
	struct http_request rq = {.method = "GET", .url = url,
				  .what = "GET /projects/7"};
	int rc;

	snprintf(url, sizeof(url), "%s%s", tu_standin.url, path);
	st_error_clear(err);
	rc = http_do(c, &rq, rs, err);
	if (rc)
		tu_msg(err->msg);
	return rc;
}

START_TEST(test_ok_counts_one_request)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;
	struct http_counters k;

	options(&o);
	c = client(&o);
	http_response_init(&rs);
	ck_assert_int_eq(get(c, PROJECT, &rs, &err), 0);
	ck_assert_int_eq(rs.status, 200);
	ck_assert_str_eq(rs.content_type, "application/json");
	ck_assert_ptr_nonnull(strstr(rs.body.buf, "\"grp/app\""));
	http_client_counters(c, &k);
	ck_assert_uint_eq(k.requests, 1);
	ck_assert_uint_eq(k.retries, 0);
	ck_assert_int_eq(tu_count(ROUTE), 1);
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_429_honours_retry_after)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;

	tu_fault("{\"endpoint\":\"" ROUTE "\",\"mode\":\"status\","
		 "\"status\":429,\"retry_after\":\"7\"}");
	options(&o);
	c = client(&o);
	http_response_init(&rs);
	ck_assert_int_eq(get(c, PROJECT, &rs, &err), 0);
	ck_assert_int_eq(rs.status, 200);
	ck_assert_int_eq(tu_nwaits, 1);
	ck_assert_int_eq(tu_waits[0], 7000); /* exactly what it asked */
	ck_assert_int_eq(tu_count(ROUTE), 2);
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_429_json_without_retry_after_backs_off)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;

	/* The note limiter's JSON 429 has no Retry-After. */
	tu_fault("{\"endpoint\":\"" ROUTE "\",\"mode\":\"status\","
		 "\"status\":429,\"count\":2}");
	options(&o);
	o.rate_limit_wait_ms = 45000;
	c = client(&o);
	http_response_init(&rs);
	ck_assert_int_eq(get(c, PROJECT, &rs, &err), 0);
	ck_assert_int_eq(tu_nwaits, 2);
	ck_assert_int_eq(tu_waits[0], 45000);
	ck_assert_int_eq(tu_waits[1], 45000);
	ck_assert_int_eq(tu_count(ROUTE), 3);
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_429_retry_after_past_budget_fails_now)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;

	tu_fault("{\"endpoint\":\"" ROUTE "\",\"mode\":\"status\","
		 "\"status\":429,\"retry_after\":\"3600\"}");
	options(&o);
	o.retry_budget_ms = 60000;
	c = client(&o);
	http_response_init(&rs);
	ck_assert_int_eq(get(c, PROJECT, &rs, &err), ST_ETEMP);
	ck_assert_ptr_nonnull(strstr(err.msg, "rate limited"));
	ck_assert_ptr_nonnull(strstr(err.msg, "budget"));
	ck_assert_int_eq(tu_nwaits, 0);
	ck_assert_int_eq(tu_count(ROUTE), 1);
	ck_assert_int_eq(rs.retry_after_s, 3600);
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_500_until_attempts_run_out)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;

	tu_fault("{\"endpoint\":\"" ROUTE "\",\"mode\":\"status\","
		 "\"status\":500,\"count\":50}");
	options(&o);
	c = client(&o);
	http_response_init(&rs);
	ck_assert_int_eq(get(c, PROJECT, &rs, &err), ST_ETEMP);
	ck_assert_ptr_nonnull(strstr(err.msg, "HTTP 500"));
	ck_assert_ptr_nonnull(strstr(err.msg, "gave up after 4 attempts"));
	ck_assert_int_eq(tu_count(ROUTE), 4);
	/* Exponential with "equal jitter": wait n is in [d/2, d], d =
	 * base * 2^(n-1). */
	ck_assert_int_eq(tu_nwaits, 3);
	for (int i = 0; i < 3; i++) {
		long d = 100L << i;

		ck_assert_int_ge(tu_waits[i], d / 2);
		ck_assert_int_le(tu_waits[i], d);
	}
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_5xx_bounded_by_total_budget)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;

	tu_fault("{\"endpoint\":\"" ROUTE "\",\"mode\":\"status\","
		 "\"status\":502,\"count\":50}");
	options(&o);
	o.max_attempts = 100;
	o.retry_base_ms = 1000;
	o.retry_max_ms = 1000;
	o.retry_budget_ms = 3000; /* room for about three waits */
	c = client(&o);
	http_response_init(&rs);
	ck_assert_int_eq(get(c, PROJECT, &rs, &err), ST_ETEMP);
	ck_assert_ptr_nonnull(strstr(err.msg, "retry budget"));
	ck_assert_int_le(tu_count(ROUTE), 7);
	ck_assert_int_ge(tu_count(ROUTE), 3);
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_503_html_then_ok)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;

	tu_fault("{\"endpoint\":\"" ROUTE "\",\"mode\":\"status\","
		 "\"status\":503}");
	options(&o);
	c = client(&o);
	http_response_init(&rs);
	ck_assert_int_eq(get(c, PROJECT, &rs, &err), 0);
	ck_assert_int_eq(rs.status, 200);
	ck_assert_int_eq(tu_count(ROUTE), 2);
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_dropped_connection)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;

	tu_fault("{\"endpoint\":\"" ROUTE "\",\"mode\":\"drop\"}");
	options(&o);
	c = client(&o);
	http_response_init(&rs);
	ck_assert_int_eq(get(c, PROJECT, &rs, &err), 0);
	ck_assert_int_eq(rs.status, 200);
	ck_assert_int_eq(tu_count(ROUTE), 2);
	tu_fault("{\"endpoint\":\"" ROUTE "\",\"mode\":\"drop\","
		 "\"count\":10}");
	ck_assert_int_eq(get(c, PROJECT, &rs, &err), ST_ETEMP);
	ck_assert_ptr_nonnull(strstr(err.msg, "gave up"));
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_timeout)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;

	tu_fault("{\"endpoint\":\"" ROUTE "\",\"mode\":\"delay\","
		 "\"delay_ms\":1500,\"count\":2}");
	options(&o);
	o.timeout_ms = 300;
	o.max_attempts = 2;
	c = client(&o);
	http_response_init(&rs);
	ck_assert_int_eq(get(c, PROJECT, &rs, &err), ST_ETEMP);
	ck_assert_ptr_nonnull(strstr(err.msg, "Timeout"));
	ck_assert_int_eq(rs.attempts, 2);
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_not_idempotent_post_not_repeated_after_5xx)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;
	char url[512];
	struct http_request rq = {.method = "POST", .url = url,
				  .what = "POST notes", .body = "{\"body\":\"x\"}",
				  .once = true};
	const char *route = "POST /api/v4/projects/:id/merge_requests/:iid/notes";

	snprintf(url, sizeof(url), "%s" PROJECT "/merge_requests/1/notes",
		 tu_standin.url);
	tu_fault("{\"endpoint\":\"POST /api/v4/projects/:id/merge_requests/"
		 ":iid/notes\",\"mode\":\"status\",\"status\":500,\"count\":5}");
	options(&o);
	c = client(&o);
	http_response_init(&rs);
	st_error_clear(&err);
	ck_assert_int_eq(http_do(c, &rq, &rs, &err), ST_ETEMP);
	tu_msg(err.msg);
	ck_assert_int_eq(tu_count(route), 1); /* may have been stored */
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_size_cap)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;

	options(&o);
	o.max_response = 200;
	c = client(&o);
	http_response_init(&rs);
	ck_assert_int_eq(get(c, PROJECT, &rs, &err), ST_ETOOBIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "200-byte cap"));
	ck_assert_int_eq(tu_count(ROUTE), 1); /* not retried */
	ck_assert_uint_le(rs.body.len, 200);
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_connection_refused_retried_then_fails)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	struct http_request rq = {.method = "GET", .what = "GET /x"};
	char url[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* A port that was free a moment ago: nothing listens there. */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", ntohs(a.sin_port));
	rq.url = url;
	options(&o);
	c = client(&o);
	http_response_init(&rs);
	st_error_clear(&err);
	ck_assert_int_eq(http_do(c, &rq, &rs, &err), ST_ETEMP);
	tu_msg(err.msg);
	ck_assert_int_eq(rs.attempts, 4);
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_cancel_stops_before_sending)
{
	static atomic_int stop = 1;
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;

	options(&o);
	o.cancel = &stop;
	c = client(&o);
	http_response_init(&rs);
	ck_assert_int_eq(get(c, PROJECT, &rs, &err), ST_ETEMP);
	ck_assert_ptr_nonnull(strstr(err.msg, "cancelled"));
	ck_assert_int_eq(tu_count_all(), 0);
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_secret_header_checked_and_never_quoted)
{
	struct http_options o;
	struct http_client *c = NULL;
	struct st_error err;

	options(&o);
	st_error_clear(&err);
	ck_assert_int_eq(http_client_new(&o, &c, &err), 0);
	ck_assert_int_eq(http_client_set_secret_header(c, "PRIVATE-TOKEN",
			 TU_TOKEN "\r\nX-Evil: 1", &err), ST_EINVAL);
	tu_msg(err.msg);
	ck_assert_int_eq(http_client_set_secret_header(c, "Bad Name", "x",
						       &err), ST_EINVAL);
	http_client_free(c);
}
END_TEST

/* Basic authentication for git's smart HTTP (the quick check's ref
 * advertisement, gitrepo_advert.h): sent with the first request, every
 * base64 padding length right (the stand-in decodes it), bad user or
 * token refused without quoting it. */
START_TEST(test_basic_auth_advertisement)
{
	static const char *const toks[] = { "glpat-a", "glpat-ab", "glpat-abc" };
	struct http_options o;
	struct http_client *c = NULL;
	struct gitrepo_advert a;
	struct gitrepo_advert_request rq = { .username = NULL };
	struct st_error err;
	char url[512], body[128];

	options(&o);
	o.max_attempts = 1;
	st_error_clear(&err);
	ck_assert_int_eq(http_client_new(&o, &c, &err), 0);
	snprintf(url, sizeof(url), "%s/grp/app.git", tu_standin.url);
	rq.url = url;
	for (size_t i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "{\"token\":\"%s\"}", toks[i]);
		cJSON_Delete(tu_ctl("POST", "/__control__/tokens", body, 201));
		rq.token = toks[i];
		tu_clear_counts();
		st_error_clear(&err);
		ck_assert_msg(gitrepo_advert_fetch(c, &rq, &a, &err) == 0,
			      "%s: %s", toks[i], err.msg);
		ck_assert_int_eq(tu_count("GET /:project.git/info/refs"), 1);
	}
	rq.token = "glpat-unknown";
	ck_assert_int_eq(gitrepo_advert_fetch(c, &rq, &a, &err), ST_EINVAL);
	ck_assert_str_eq(err.msg, "info/refs: HTTP 401");
	rq.token = TU_TOKEN " x";
	ck_assert_int_eq(gitrepo_advert_fetch(c, &rq, &a, &err), ST_EINVAL);
	tu_msg(err.msg);
	rq.token = TU_TOKEN;
	rq.username = "user:name";
	ck_assert_int_eq(gitrepo_advert_fetch(c, &rq, &a, &err), ST_EINVAL);
	tu_msg(err.msg);
	http_client_free(c);
}
END_TEST

START_TEST(test_redact_raw_and_base64_forms)
{
	struct http_options o;
	struct http_client *c = NULL;
	struct st_error err;
	/* "glpat-CANARY-0123456789abcdef" after "x:", "ab:" and "abc:"
	 * (base64 of an "Authorization: Basic" value, each alignment) */
	char text[] = "raw glpat-CANARY-0123456789abcdef; "
		      "basic eDpnbHBhdC1DQU5BUlktMDEyMzQ1Njc4OWFiY2RlZg==; "
		      "basic YWI6Z2xwYXQtQ0FOQVJZLTAxMjM0NTY3ODlhYmNkZWY=; "
		      "basic YWJjOmdscGF0LUNBTkFSWS0wMTIzNDU2Nzg5YWJjZGVm; "
		      "other eDpvdGhlcg==";

	options(&o);
	st_error_clear(&err);
	ck_assert_int_eq(http_client_new(&o, &c, &err), 0);
	ck_assert_int_eq(http_client_set_secret_header(c, "PRIVATE-TOKEN",
			 "glpat-CANARY-0123456789abcdef", &err), 0);
	http_client_redact(c, text);
	ck_assert_ptr_null(strstr(text, "CANARY"));
	ck_assert_ptr_null(strstr(text, "Z2xwYXQtQ0FOQVJZLTAxMjM0NTY3ODlh"));
	ck_assert_ptr_null(strstr(text, "nbHBhdC1DQU5BUlktMDEyMzQ1Njc4OWFi"));
	ck_assert_ptr_null(strstr(text, "dscGF0LUNBTkFSWS0wMTIzNDU2Nzg5YWJj"));
	ck_assert_ptr_nonnull(strstr(text, "raw ***;"));
	ck_assert_ptr_nonnull(strstr(text, "other eDpvdGhlcg=="));
	http_client_free(c);
}
END_TEST

START_TEST(test_url_safety)
{
	ck_assert(http_url_safe("https://gitlab.example.com/api/v4"));
	ck_assert(http_url_safe("http://127.0.0.1:8080/api/v4"));
	/* names are not addresses: only a numeric loopback (issue 14) */
	ck_assert(!http_url_safe("http://localhost/api/v4"));
	ck_assert(!http_url_safe("http://127.evil.example/api/v4"));
	ck_assert(!http_url_safe("http://gitlab.example.com/api/v4"));
	ck_assert(!http_url_safe("ftp://gitlab.example.com/"));
	ck_assert(!http_url_safe("not a url"));
}
END_TEST

/* --- a one-shot raw server: what exactly did we send? ----------------- */

struct raw {
	pid_t pid;
	int port;
	int pipe_rd; /* the request as the server saw it */
};

static int listen_any(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void raw_serve(int lfd, int out, const char *answer)
{
	char buf[8192];
	size_t n = 0;
	int fd = accept(lfd, NULL, NULL);

	while (fd >= 0 && n < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	if (write(out, buf, n) < 0 ||
	    write(fd, answer, strlen(answer)) < 0)
		_exit(1);
	_exit(0);
}

static void raw_start(struct raw *r, const char *answer)
{
	int p[2], lfd = listen_any(&r->port);

	ck_assert_int_eq(pipe(p), 0);
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		close(p[0]);
		raw_serve(lfd, p[1], answer);
	}
	close(lfd);
	close(p[1]);
	r->pipe_rd = p[0];
}

static void raw_request(struct raw *r, char *buf, size_t n)
{
	ssize_t got = read(r->pipe_rd, buf, n - 1);

	buf[got > 0 ? got : 0] = '\0';
	close(r->pipe_rd);
	waitpid(r->pid, NULL, 0);
}

START_TEST(test_headers_sent_and_redirect_not_followed)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;
	struct raw r;
	struct http_request rq = {.method = "GET", .what = "GET /x"};
	char url[64], req[8192], answer[256];
	int port2, lfd2 = listen_any(&port2);

	snprintf(answer, sizeof(answer), "HTTP/1.1 302 Found\r\nLocation: "
		 "http://127.0.0.1:%d/steal\r\nContent-Length: 0\r\n\r\n",
		 port2);
	raw_start(&r, answer);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v4/x", r.port);
	rq.url = url;
	options(&o);
	c = client(&o);
	http_response_init(&rs);
	st_error_clear(&err);
	ck_assert_int_eq(http_do(c, &rq, &rs, &err), 0);
	raw_request(&r, req, sizeof(req));
	ck_assert_int_eq(rs.status, 302);
	ck_assert_int_eq(rs.attempts, 1);
	ck_assert_ptr_nonnull(strstr(rs.location, "/steal"));
	ck_assert_ptr_nonnull(strstr(req, "User-Agent: semver-tagger/"));
	ck_assert_ptr_nonnull(strstr(req, "PRIVATE-TOKEN: " TU_TOKEN "\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "Accept: application/json"));
	/* Nobody connected to the redirect target. */
	fcntl(lfd2, F_SETFL, O_NONBLOCK);
	ck_assert_int_eq(accept(lfd2, NULL, NULL), -1);
	close(lfd2);
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

/* --- TLS: verification is on; a CA file makes a private CA work ------- */

static const char tls_server[] =
	"import http.server,ssl,sys,os\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"  def do_GET(s):\n"
	"    s.send_response(200);s.send_header('Content-Type',"
	"'application/json');s.send_header('Content-Length','2')\n"
	"    s.end_headers();s.wfile.write(b'{}')\n"
	"  def log_message(s,*a): pass\n"
	"srv=http.server.HTTPServer(('127.0.0.1',0),H)\n"
	"c=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
	"c.load_cert_chain(sys.argv[1],sys.argv[2])\n"
	"srv.socket=c.wrap_socket(srv.socket,server_side=True)\n"
	"print(os.getpid(),srv.server_address[1],flush=True)\n"
	"srv.serve_forever()\n";

static FILE *tls_start(const char *d, int *pid, int *port)
{
	char cmd[1024];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "cd '%s' && openssl req -x509 -newkey "
		 "rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 "
		 "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
		 ">/dev/null 2>&1", d);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/srv.py", d);
	f = fopen(cmd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(tls_server, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 '%s/srv.py' '%s/cert.pem' "
		 "'%s/key.pem' 2>/dev/null", d, d, d);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d %d", pid, port), 2);
	return f;
}

START_TEST(test_tls_verification_on)
{
	struct http_options o;
	struct http_client *c;
	struct http_response rs;
	struct st_error err;
	struct http_request rq = {.method = "GET", .what = "GET /tls"};
	char url[64], ca[300];
	int pid, port;
	FILE *srv = tls_start(tu_dir(), &pid, &port);

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", port);
	rq.url = url;
	options(&o);
	c = client(&o);
	http_response_init(&rs);
	st_error_clear(&err);
	ck_assert_int_eq(http_do(c, &rq, &rs, &err), ST_ECONFIG);
	tu_msg(err.msg);
	ck_assert_int_eq(rs.attempts, 1); /* trust is not retried */
	http_client_free(c);
	snprintf(ca, sizeof(ca), "%s/cert.pem", tu_dir());
	o.ca_file = ca;
	c = client(&o);
	st_error_clear(&err);
	ck_assert_msg(http_do(c, &rq, &rs, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(rs.status, 200);
	kill(pid, SIGTERM);
	pclose(srv);
	http_response_release(&rs);
	http_client_free(c);
}
END_TEST

START_TEST(test_no_message_holds_the_token)
{
	/* Runs last: every message recorded above, checked once more. */
	ck_assert_uint_ge(tu_msg_count(), 10);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("http");
	SRunner *sr;
	int failed;

	tu_setup_once();
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ok_counts_one_request);
	tcase_add_test(tc, test_basic_auth_advertisement);
	tcase_add_test(tc, test_429_honours_retry_after);
	tcase_add_test(tc, test_429_json_without_retry_after_backs_off);
	tcase_add_test(tc, test_429_retry_after_past_budget_fails_now);
	tcase_add_test(tc, test_500_until_attempts_run_out);
	tcase_add_test(tc, test_5xx_bounded_by_total_budget);
	tcase_add_test(tc, test_503_html_then_ok);
	tcase_add_test(tc, test_dropped_connection);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_not_idempotent_post_not_repeated_after_5xx);
	tcase_add_test(tc, test_size_cap);
	tcase_add_test(tc, test_connection_refused_retried_then_fails);
	tcase_add_test(tc, test_cancel_stops_before_sending);
	tcase_add_test(tc, test_secret_header_checked_and_never_quoted);
	tcase_add_test(tc, test_redact_raw_and_base64_forms);
	tcase_add_test(tc, test_url_safety);
	tcase_add_test(tc, test_headers_sent_and_redirect_not_followed);
	tcase_add_test(tc, test_tls_verification_on);
	tcase_add_test(tc, test_no_message_holds_the_token);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_teardown_once();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
