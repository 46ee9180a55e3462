/* SPDX-License-Identifier: MIT */
#include "statuspage.h"

#include "semver-tagger/error.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Phone first: one column of cards, wider screens get margins. Inline:
 * the page loads nothing else (Content-Security-Policy: default-src
 * 'none'; style-src 'unsafe-inline'). */
static const char STYLE[] =
	"body{font:16px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;"
	"background:#f4f5f7}"
	"header{padding:12px 16px;color:#fff}"
	"header.ok{background:#1a7f37}header.unhealthy{background:#b42318}"
	"header.stopping{background:#6e6e6e}"
	"h1{font-size:1.3em;margin:0}header p{margin:4px 0 0}"
	"main{max-width:60em;margin:0 auto;padding:8px}"
	"section{background:#fff;border-radius:8px;margin:10px 0;"
	"padding:10px 14px;border-left:6px solid #999;overflow-wrap:anywhere}"
	"section.ok{border-color:#1a7f37}section.blocked{border-color:#bf8700}"
	"section.failing{border-color:#b42318}"
	"h2{font-size:1.1em;margin:0 0 6px}"
	".badge{font-size:.8em;padding:1px 8px;border-radius:10px;"
	"background:#eee;margin-left:6px;white-space:nowrap}"
	".ok .badge{background:#dafbe1}.blocked .badge{background:#fff8c5}"
	".failing .badge{background:#ffebe9}"
	"dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;"
	"margin:0}dt{color:#555}dd{margin:0}"
	"ul{padding-left:1.2em;margin:4px 0}li{margin:2px 0}"
	".why,.error{color:#8a3b00}.error{font-family:monospace}"
	".v-success{color:#1a7f37}.v-failed{color:#b42318}"
	"a{color:#0b57d0}small{color:#555}header small{color:#f0f0f0}"
	".badge.unhealthy{background:#b42318;color:#fff}"
	"@media (max-width:30em){dl{grid-template-columns:1fr}"
	"dt{margin-top:4px}}";

const char *statuspage_state_name(enum statuspage_state st)
{
	switch (st) {
	case STATUSPAGE_OK: return "ok";
	case STATUSPAGE_BLOCKED: return "blocked";
	case STATUSPAGE_FAILING: return "failing";
	default: return "pending";
	}
}

const char *statuspage_health(const struct statuspage_snapshot *s)
{
	if (s->stopping)
		return "stopping";
	for (size_t i = 0; i < s->n_projects; i++)
		if (!s->projects[i].healthy)
			return "unhealthy";
	return "ok";
}

int statuspage_escape(struct strbuf *out, const char *s)
{
	int rc = 0;

	for (; s && *s && rc == 0; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&': rc = strbuf_adds(out, "&amp;"); break;
		case '<': rc = strbuf_adds(out, "&lt;"); break;
		case '>': rc = strbuf_adds(out, "&gt;"); break;
		case '"': rc = strbuf_adds(out, "&quot;"); break;
		case '\'': rc = strbuf_adds(out, "&#39;"); break;
		default:
			if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
				rc = strbuf_adds(out, "\xef\xbf\xbd");
			else
				rc = strbuf_add(out, s, 1);
		}
	}
	return rc;
}

bool statuspage_url_ok(const char *url)
{
	size_t skip, n;

	if (!url)
		return false;
	if (strncasecmp(url, "https://", 8) == 0)
		skip = 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		skip = 7;
	else
		return false;
	n = strlen(url);
	/* A host: something before the first '/', '?' or '#'. */
	if (n > STATUSPAGE_URL_MAX || n == skip || strchr("/?#", url[skip]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c <= 0x20 || c == 0x7f || strchr("\"'<>\\`", c))
			return false;
	}
	return true;
}

bool statuspage_release_url(const char *web_url, const char *tag, char *buf,
			    size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n, off;

	if (!statuspage_url_ok(web_url) || !tag || !*tag)
		return false;
	n = strlen(web_url);
	while (n && web_url[n - 1] == '/')
		n--;
	if (n + sizeof("/-/releases/") > size)
		return false;
	memcpy(buf, web_url, n);
	memcpy(buf + n, "/-/releases/", sizeof("/-/releases/"));
	off = n + sizeof("/-/releases/") - 1;
	for (; *tag; tag++) {
		unsigned char c = (unsigned char)*tag;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || strchr("-._~", c);

		if (off + (plain ? 1 : 3) >= size)
			return false;
		if (plain) {
			buf[off++] = (char)c;
		} else {
			buf[off++] = '%';
			buf[off++] = hex[c >> 4];
			buf[off++] = hex[c & 15];
		}
	}
	buf[off] = '\0';
	return statuspage_url_ok(buf);
}

/* ---- HTML ------------------------------------------------------------ */

/* The output and its first error: a page cut by the size cap is an error
 * (never served half-escaped or with an unclosed tag). */
struct page {
	struct strbuf *sb;
	int rc;
};

static void put(struct page *o, const char *s)
{
	if (o->rc == 0)
		o->rc = strbuf_adds(o->sb, s);
}

static void putf(struct page *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void putf(struct page *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (o->rc == 0)
		o->rc = strbuf_vaddf(o->sb, fmt, ap);
	va_end(ap);
}

static void esc(struct page *o, const char *s)
{
	if (o->rc == 0)
		o->rc = statuspage_escape(o->sb, s);
}

/* <a href="url">text</a> when url is a safe link, else just the text. */
static void link(struct page *o, const char *url, const char *cls,
		 const char *text)
{
	if (!statuspage_url_ok(url)) {
		esc(o, text);
		return;
	}
	put(o, "<a");
	if (cls)
		putf(o, " class=\"%s\"", cls);
	put(o, " href=\"");
	esc(o, url);
	put(o, "\" rel=\"noreferrer\">");
	esc(o, text);
	put(o, "</a>");
}

static void time_utc(struct page *o, int64_t t, int64_t now)
{
	char iso[32], human[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm)) {
		put(o, "never");
		return;
	}
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	strftime(human, sizeof(human), "%Y-%m-%d %H:%M:%S UTC", &tm);
	putf(o, "<time datetime=\"%s\">%s</time>", iso, human);
	if (now >= t)
		putf(o, " <small>(%lld s ago)</small>",
			    (long long)(now - t));
}

static void mr_item(struct page *o, const struct statuspage_mr *m,
		    bool open, int64_t now)
{
	char ref[32];

	snprintf(ref, sizeof(ref), "!%lld", (long long)m->iid);
	if (open && m->verdict)
		put(o, "<li class=\"mr v-");
	else
		put(o, "<li class=\"mr");
	if (open && m->verdict)
		esc(o, m->verdict);
	putf(o, "\" data-iid=\"%lld\">", (long long)m->iid);
	if (m->iid <= 0) { /* a reason that names no MR (no-family...) */
		esc(o, m->detail ? m->detail : "");
		put(o, "</li>");
		return;
	}
	link(o, m->url, "mr", ref);
	put(o, " <span class=\"title\">");
	esc(o, m->title ? m->title : "");
	put(o, "</span>");
	if (open && m->verdict) {
		put(o, " <b class=\"verdict\">");
		esc(o, m->verdict);
		put(o, "</b>");
	}
	if (m->detail && *m->detail) {
		put(o, open ? ": <span class=\"detail\">"
				    : "<br><span class=\"why\">");
		esc(o, m->detail);
		put(o, "</span>");
	}
	if (open && m->checked_unix > 0) {
		put(o, " <small>checked ");
		time_utc(o, m->checked_unix, now);
		put(o, "</small>");
	}
	put(o, "</li>");
}

static void project_facts(struct page *o, const struct statuspage_project *p,
			  int64_t now)
{
	char url[STATUSPAGE_URL_MAX + 256];

	put(o, "<dl><dt>Latest release</dt><dd class=\"latest\">");
	if (!p->latest_tag)
		put(o, "none yet");
	else if (statuspage_release_url(p->web_url, p->latest_tag, url,
					sizeof(url)))
		link(o, url, "release", p->latest_tag);
	else
		esc(o, p->latest_tag);
	put(o, "</dd><dt>Last cycle</dt><dd class=\"last\">");
	if (p->last_cycle_unix > 0) {
		put(o, "<span class=\"result\">");
		esc(o, p->result ? p->result : "?");
		put(o, "</span>, ");
	}
	time_utc(o, p->last_cycle_unix, now);
	if (p->running)
		put(o, " <small>(running now)</small>");
	put(o, "</dd>");
	if (p->failures)
		putf(o, "<dt>Failures</dt><dd>%u in a row</dd>",
			    p->failures);
	if (p->next_in_s >= 0)
		putf(o, "<dt>Next poll</dt><dd>in %lld s</dd>",
			    (long long)p->next_in_s);
	put(o, "</dl>");
}

static void project_problems(struct page *o,
			     const struct statuspage_project *p, int64_t now)
{
	/* A failing project shows its error below; the reason it is
	 * unhealthy would repeat it. */
	if (!p->healthy && p->unhealthy_why &&
	    !(p->state == STATUSPAGE_FAILING && p->error)) {
		put(o, "<p class=\"why\">Unhealthy: ");
		esc(o, p->unhealthy_why);
		put(o, "</p>");
	}
	if (p->state == STATUSPAGE_FAILING && p->error) {
		put(o, "<p class=\"error\">");
		esc(o, p->error);
		put(o, "</p>");
	}
	if (p->state != STATUSPAGE_BLOCKED)
		return;
	put(o, "<div class=\"blocked\"><p><b>Blocked</b>: nothing is "
		       "released until a person acts.</p>");
	if (p->error && p->n_blockers == 0) {
		put(o, "<p class=\"why\">");
		esc(o, p->error);
		put(o, "</p>");
	}
	if (p->n_blockers) {
		put(o, "<p>Merge requests to fix:</p><ul "
			       "class=\"blockers\">");
		for (size_t i = 0; i < p->n_blockers; i++)
			mr_item(o, &p->blockers[i], false, now);
		put(o, "</ul>");
	}
	put(o, "</div>");
}

static void project_html(struct page *o, const struct statuspage_project *p,
			 int64_t now)
{
	const char *state = statuspage_state_name(p->state);

	putf(o, "<section class=\"project %s\" data-state=\"%s\" "
		       "data-project=\"", state, state);
	esc(o, p->name);
	put(o, "\"><h2>");
	link(o, p->web_url, "project", p->name);
	putf(o, "<span class=\"badge\">%s</span>", state);
	if (!p->healthy)
		put(o, "<span class=\"badge unhealthy\">unhealthy</span>");
	put(o, "</h2>");
	if (p->path && *p->path && p->name && strcmp(p->path, p->name) != 0) {
		put(o, "<p><small>GitLab project ");
		esc(o, p->path);
		put(o, "</small></p>");
	}
	project_facts(o, p, now);
	project_problems(o, p, now);
	if (p->n_open_mrs) {
		putf(o, "<details open><summary>Open merge requests "
			       "(%zu)</summary><ul class=\"open-mrs\">",
			    p->n_open_mrs);
		for (size_t i = 0; i < p->n_open_mrs; i++)
			mr_item(o, &p->open_mrs[i], true, now);
		put(o, "</ul></details>");
	}
	put(o, "</section>");
}

static void header_html(struct page *o, const struct statuspage_snapshot *s)
{
	const char *health = statuspage_health(s);
	size_t bad = 0, blocked = 0;

	for (size_t i = 0; i < s->n_projects; i++) {
		bad += !s->projects[i].healthy;
		blocked += s->projects[i].state == STATUSPAGE_BLOCKED;
	}
	putf(o, "<header class=\"%s\"><h1>semver-tagger: <span "
		       "id=\"health\" data-health=\"%s\">%s</span></h1><p>",
		    health, health, health);
	putf(o, "%zu project%s", s->n_projects,
		    s->n_projects == 1 ? "" : "s");
	if (bad)
		putf(o, ", %zu unhealthy", bad);
	if (blocked)
		putf(o, ", %zu blocked", blocked);
	put(o, "</p><p><small>version ");
	esc(o, s->version ? s->version : "?");
	put(o, ", started ");
	time_utc(o, s->start_unix, s->now_unix);
	put(o, "; page of ");
	time_utc(o, s->now_unix, -1);
	put(o, "</small></p></header>");
}

int statuspage_html(struct strbuf *out, const struct statuspage_snapshot *s)
{
	struct page pg = { out, 0 }, *o = &pg;

	putf(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
		       "charset=\"utf-8\"><meta name=\"viewport\" content="
		       "\"width=device-width, initial-scale=1\"><meta "
		       "name=\"referrer\" content=\"no-referrer\"><title>"
		       "semver-tagger: %s</title><style>%s</style></head>"
		       "<body>", statuspage_health(s), STYLE);
	header_html(o, s);
	put(o, "<main>");
	if (s->n_projects == 0)
		put(o, "<p>No project configured.</p>");
	for (size_t i = 0; i < s->n_projects; i++)
		project_html(o, &s->projects[i], s->now_unix);
	put(o, "</main></body></html>\n");
	return pg.rc;
}

/* ---- JSON ------------------------------------------------------------ */

static void add_str(cJSON *o, const char *key, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

static void add_time(cJSON *o, const char *key, int64_t t)
{
	if (t > 0)
		cJSON_AddNumberToObject(o, key, (double)t);
	else
		cJSON_AddNullToObject(o, key);
}

static cJSON *mrs_json(const struct statuspage_mr *m, size_t n, bool open)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < n; i++) {
		cJSON *x = cJSON_CreateObject();

		if (!x)
			break;
		cJSON_AddNumberToObject(x, "iid", (double)m[i].iid);
		add_str(x, "title", m[i].title);
		add_str(x, "web_url", m[i].url);
		if (open) {
			add_str(x, "verdict", m[i].verdict);
			add_str(x, "description", m[i].detail);
			add_time(x, "checked_at", m[i].checked_unix);
		} else {
			add_str(x, "reason", m[i].detail);
		}
		cJSON_AddItemToArray(a, x);
	}
	return a;
}

static cJSON *project_json(const struct statuspage_project *p)
{
	char url[STATUSPAGE_URL_MAX + 256];
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	add_str(o, "name", p->name);
	add_str(o, "project", p->path);
	add_str(o, "web_url", p->web_url);
	cJSON_AddStringToObject(o, "state", statuspage_state_name(p->state));
	cJSON_AddBoolToObject(o, "healthy", p->healthy);
	add_str(o, "unhealthy_reason", p->healthy ? NULL : p->unhealthy_why);
	add_str(o, "latest_release", p->latest_tag);
	add_str(o, "latest_release_url",
		p->latest_tag && statuspage_release_url(p->web_url,
							p->latest_tag, url,
							sizeof(url))
			? url : NULL);
	add_str(o, "last_result", p->last_cycle_unix > 0 ? p->result : NULL);
	add_time(o, "last_cycle_at", p->last_cycle_unix);
	add_time(o, "last_success_at", p->last_success_unix);
	add_str(o, "error", p->state == STATUSPAGE_OK ? NULL : p->error);
	cJSON_AddNumberToObject(o, "consecutive_failures", p->failures);
	cJSON_AddBoolToObject(o, "running", p->running);
	if (p->next_in_s >= 0)
		cJSON_AddNumberToObject(o, "next_poll_in_s",
					(double)p->next_in_s);
	else
		cJSON_AddNullToObject(o, "next_poll_in_s");
	cJSON_AddItemToObject(o, "blocking_merge_requests",
			      mrs_json(p->blockers, p->n_blockers, false));
	cJSON_AddItemToObject(o, "open_merge_requests",
			      mrs_json(p->open_mrs, p->n_open_mrs, true));
	return o;
}

int statuspage_json(struct strbuf *out, const struct statuspage_snapshot *s)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char *text;
	int rc;

	if (!o)
		return ST_ENOMEM;
	cJSON_AddStringToObject(o, "health", statuspage_health(s));
	add_str(o, "version", s->version);
	add_time(o, "started_at", s->start_unix);
	add_time(o, "generated_at", s->now_unix);
	a = cJSON_AddArrayToObject(o, "projects");
	for (size_t i = 0; a && i < s->n_projects; i++)
		cJSON_AddItemToArray(a, project_json(&s->projects[i]));
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text)
		return ST_ENOMEM;
	rc = strbuf_adds(out, text);
	if (rc == 0)
		rc = strbuf_adds(out, "\n");
	free(text);
	return rc;
}
