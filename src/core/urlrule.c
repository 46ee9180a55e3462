/* SPDX-License-Identifier: MIT */
/*
 * The clone-URL rule (see urlrule.h): a narrow URL grammar and the
 * comparison with api_url. Loopback is decided on the numeric address.
 */
#include "semver-tagger/urlrule.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Characters no part of an accepted URL may hold: controls, space,
 * DEL, '\\' (WHATWG parsers read it as '/'), and '#' (a fragment some
 * parsers cut and others send). */
static bool has_bad_char(const char *url)
{
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '\\' || *p == '#')
			return true;
	return false;
}

/* "host" or "[v6]" at s, n bytes, lower-cased into out. */
static int parse_host(const char *s, size_t n, char *out, size_t size)
{
	bool v6 = n > 2 && s[0] == '[' && s[n - 1] == ']';

	if (n == 0 || n >= size)
		return ST_EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = is_alnum(c) || c == '.' || c == '-' ||
			  (v6 && (c == ':' || ((i == 0 || i == n - 1) &&
					       (c == '[' || c == ']'))));

		if (!ok)
			return ST_EINVAL;
		out[i] = lower(c);
	}
	out[n] = '\0';
	return 0;
}

/* ":digits" (1..65535) at s, n bytes. */
static int parse_port(const char *s, size_t n, unsigned *port)
{
	unsigned v = 0;

	if (n < 2 || n > 6 || s[0] != ':')
		return ST_EINVAL;
	for (size_t i = 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return ST_EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return ST_EINVAL;
	*port = v;
	return 0;
}

int urlrule_origin(const char *url, struct urlrule_origin *out)
{
	const char *auth, *end, *colon;
	size_t n;

	if (!url || has_bad_char(url))
		return ST_EINVAL;
	if (strncasecmp(url, "https://", 8) == 0) {
		snprintf(out->scheme, sizeof(out->scheme), "https");
		out->port = 443;
		auth = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		snprintf(out->scheme, sizeof(out->scheme), "http");
		out->port = 80;
		auth = url + 7;
	} else {
		return ST_EINVAL;
	}
	end = auth + strcspn(auth, "/?");
	n = (size_t)(end - auth);
	if (memchr(auth, '@', n) || memchr(auth, '%', n))
		return ST_EINVAL;
	/* the port's colon: after the closing bracket for IPv6 */
	colon = auth[0] == '[' ? memchr(auth, ']', n) : auth;
	if (!colon)
		return ST_EINVAL;
	colon = memchr(colon, ':', (size_t)(end - colon));
	if (colon && parse_port(colon, (size_t)(end - colon), &out->port))
		return ST_EINVAL;
	return parse_host(auth, (size_t)((colon ? colon : end) - auth),
			  out->host, sizeof(out->host));
}

bool urlrule_loopback(const char *host)
{
	unsigned char a[16];
	char v6[64];
	size_t n = host ? strlen(host) : 0;

	if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
		if (n - 2 >= sizeof(v6))
			return false;
		memcpy(v6, host + 1, n - 2);
		v6[n - 2] = '\0';
		return inet_pton(AF_INET6, v6, a) == 1 &&
		       IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a);
	}
	/* inet_pton takes only the dotted quad: no "127.1", no hex, no
	 * names, so nothing a resolver could send elsewhere */
	return n > 0 && inet_pton(AF_INET, host, a) == 1 && a[0] == 127;
}

static bool origin_safe(const struct urlrule_origin *o)
{
	return strcmp(o->scheme, "https") == 0 || urlrule_loopback(o->host);
}

bool urlrule_transport_safe(const char *url)
{
	struct urlrule_origin o;

	return urlrule_origin(url, &o) == 0 && origin_safe(&o);
}

static bool is_local(const char *url)
{
	return url[0] == '/' || strncasecmp(url, "file:", 5) == 0;
}

/* The URL, or a placeholder when printing it could print credentials. */
static const char *shown(const char *url)
{
	return strchr(url, '@') || has_bad_char(url) || strlen(url) > 300
		       ? "(not shown)"
		       : url;
}

int urlrule_clone_url(const char *api_url, const char *clone_url,
		      bool configured, struct st_error *err)
{
	struct urlrule_origin api, git;

	if (!clone_url || !*clone_url)
		return st_error_set(err, ST_ECONFIG, "no repository URL");
	if (configured && is_local(clone_url))
		return ST_OK; /* the operator's own choice; no token sent */
	if (urlrule_origin(clone_url, &git) != 0)
		return st_error_set(err, ST_ECONFIG, "repository URL %s: not "
				    "an http(s) URL of the accepted form (no "
				    "user info, local path or file://)%s",
				    shown(clone_url), configured ? "" :
				    "; set git_url in the configuration to "
				    "choose the clone URL yourself");
	if (!origin_safe(&git))
		return st_error_set(err, ST_ECONFIG, "repository URL %s: plain "
				    "http only to a numeric loopback address "
				    "(127.0.0.0/8, [::1]); the token would go "
				    "in clear text", shown(clone_url));
	if (configured)
		return ST_OK;
	if (urlrule_origin(api_url, &api) != 0 ||
	    strcmp(api.scheme, git.scheme) != 0 ||
	    strcmp(api.host, git.host) != 0 || api.port != git.port)
		return st_error_set(err, ST_ECONFIG, "repository URL %s (from "
				    "GitLab's answer) is not on api_url's scheme, "
				    "host and port; the token is not sent there. "
				    "Set git_url in the configuration if the "
				    "repository is served elsewhere",
				    shown(clone_url));
	return ST_OK;
}
