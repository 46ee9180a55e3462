/* SPDX-License-Identifier: MIT */
#include "gitlab_testutil.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct standin tu_standin;
long tu_waits[64];
int tu_nwaits;

static char msglog[256];
static char dir[256];

void tu_setup_once(void)
{
	struct st_error err;
	int fd;

	st_error_clear(&err);
	if (http_global_init(&err) != 0 || standin_start(&tu_standin) != 0) {
		fprintf(stderr, "cannot start the GitLab stand-in\n");
		exit(EXIT_FAILURE);
	}
	snprintf(msglog, sizeof(msglog), "/tmp/gitlab_test_msgs.XXXXXX");
	fd = mkstemp(msglog);
	if (fd < 0)
		exit(EXIT_FAILURE);
	close(fd);
}

void tu_teardown_once(void)
{
	standin_stop(&tu_standin);
	unlink(msglog);
	http_global_cleanup();
}

cJSON *tu_ctl(const char *method, const char *path, const char *body,
	      long status)
{
	struct standin_response r;
	cJSON *root = NULL;

	ck_assert_int_eq(standin_control(&tu_standin, method, path, body, &r),
			 0);
	ck_assert_msg(r.status == status, "%s %s: %ld %s", method, path,
		      r.status, r.body);
	if (r.len)
		root = cJSON_Parse(r.body);
	standin_response_release(&r);
	return root;
}

static void ctl(const char *method, const char *path, const char *body,
		long status)
{
	cJSON_Delete(tu_ctl(method, path, body, status));
}

void tu_setup(void)
{
	ctl("POST", "/__control__/reset", NULL, 200);
	ctl("POST", "/__control__/tokens", "{\"token\":\"" TU_TOKEN "\","
	    "\"username\":\"semver-bot\"}", 201);
	ctl("POST", "/__control__/tokens", "{\"token\":\"" TU_RO_TOKEN "\","
	    "\"username\":\"reader\",\"read_only\":true}", 201);
	ctl("POST", "/__control__/tokens", "{\"token\":\"" TU_JOB_TOKEN "\","
	    "\"kind\":\"job\"}", 201);
	ctl("POST", "/__control__/projects", "{\"path_with_namespace\":"
	    "\"grp/app\",\"id\":7}", 201);
	tu_clear_counts();
	tu_nwaits = 0;
}

void tu_teardown(void)
{
	char cmd[300];

	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
		dir[0] = '\0';
	}
}

const char *tu_dir(void)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/gitlab_test.XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(dir));
	}
	return dir;
}

long tu_count(const char *route)
{
	cJSON *c = tu_ctl("GET", "/__control__/counters", NULL, 200);
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(c, route);
	long n = cJSON_IsNumber(it) ? (long)it->valuedouble : 0;

	cJSON_Delete(c);
	return n;
}

long tu_count_all(void)
{
	cJSON *c = tu_ctl("GET", "/__control__/counters", NULL, 200);
	const cJSON *it;
	long n = 0;

	cJSON_ArrayForEach(it, c)
		n += (long)it->valuedouble;
	cJSON_Delete(c);
	return n;
}

void tu_clear_counts(void)
{
	ctl("DELETE", "/__control__/counters", NULL, 204);
}

void tu_fault(const char *json)
{
	ctl("POST", "/__control__/faults", json, 201);
}

void tu_bulk(int n, const char *extra)
{
	struct strbuf sb;

	strbuf_init(&sb, (size_t)64 << 20);
	ck_assert_int_eq(strbuf_adds(&sb, "{\"merge_requests\":["), 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(strbuf_addf(&sb, "%s{\"title\":\"MR %d\"%s%s}",
					     i ? "," : "", i + 1,
					     *extra ? "," : "", extra), 0);
	ck_assert_int_eq(strbuf_adds(&sb, "]}"), 0);
	ctl("POST", "/__control__/projects/7/merge_requests/bulk",
	    strbuf_str(&sb), 201);
	strbuf_release(&sb);
}

static void record_wait(void *ctx, long ms)
{
	if (tu_nwaits < 64)
		tu_waits[tu_nwaits++] = ms;
}

void tu_options(struct gitlab_options *o)
{
	gitlab_options_default(o);
	o->api_url = tu_standin.api_url;
	o->project = "7";
	o->token = TU_TOKEN;
	o->http.connect_timeout_ms = 2000;
	o->http.timeout_ms = 10000;
	o->http.max_attempts = 4;
	o->http.retry_base_ms = 100;
	o->http.retry_max_ms = 2000;
	o->http.retry_budget_ms = 600000;
	/* Waits are recorded, not slept: tests stay fast and can check
	 * exactly what the client would have waited. */
	o->http.sleep_ms = record_wait;
}

struct forge *tu_forge(const struct gitlab_options *o)
{
	struct forge *f = NULL;
	struct st_error err;

	st_error_clear(&err);
	ck_assert_msg(gitlab_forge_new(o, &f, &err) == 0, "%s", err.msg);
	return f;
}

static void base64(const char *in, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
				"tuvwxyz0123456789+/";
	size_t n = strlen(in), o = 0;

	for (size_t i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned char)in[i] << 16 |
			     (unsigned char)in[i + 1] << 8 |
			     (unsigned char)in[i + 2];

		out[o++] = t[v >> 18];
		out[o++] = t[v >> 12 & 63];
		out[o++] = t[v >> 6 & 63];
		out[o++] = t[v & 63];
	}
	out[o] = '\0'; /* the full groups are enough to spot it */
}

int tu_has_token(const char *text)
{
	static const char *const tokens[] = {TU_TOKEN, TU_RO_TOKEN,
					     TU_JOB_TOKEN};

	for (size_t i = 0; i < 3; i++) {
		struct strbuf enc;
		char b64[128];
		int hit;

		strbuf_init(&enc, 512);
		http_escape(&enc, tokens[i]);
		base64(tokens[i], b64);
		/* The distinctive tail also catches a truncated copy. */
		hit = strstr(text, tokens[i]) || strstr(text, strbuf_str(&enc))
		      || strstr(text, b64) || strstr(text, tokens[i] + 13);
		strbuf_release(&enc);
		if (hit)
			return 1;
	}
	return 0;
}

void tu_msg(const char *msg)
{
	int fd = open(msglog, O_WRONLY | O_APPEND);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, msg, strlen(msg)), (ssize_t)strlen(msg));
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	close(fd);
	ck_assert_msg(!tu_has_token(msg), "token in message: %s", msg);
}

size_t tu_msg_count(void)
{
	FILE *f = fopen(msglog, "r");
	char line[4096];
	size_t n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		ck_assert_msg(!tu_has_token(line), "token in: %s", line);
		n++;
	}
	fclose(f);
	return n;
}
