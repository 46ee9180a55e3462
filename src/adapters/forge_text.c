/* SPDX-License-Identifier: MIT */
/*
 * Text we write into a forge. GitLab runs every note line that starts with
 * '/' as a quick action (/label, /merge, /close) and removes it, so outside
 * text (an MR title such as "/close") must never start a line.
 */
#include "semver-tagger/forge.h"

#include <string.h>

/* Leading blanks do not stop a line from counting as a line start: a
 * renderer may strip them, so '/' after them is escaped too. */
static int append_text(struct strbuf *out, const char *text, bool full)
{
	bool line_start = true;
	int rc = 0;

	for (const char *p = text; *p && !rc; p++) {
		unsigned char c = (unsigned char)*p;

		if (full && ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f))
			c = ' ';
		if (c == '/' && line_start)
			rc = strbuf_add(out, "\\/", 2);
		else if (c == '<' && full)
			rc = strbuf_add(out, "&lt;", 4);
		else
			rc = strbuf_add(out, &c, 1);
		/* Judge what was written: a control character turned into a
		 * blank keeps a line start, as a real blank does. */
		if (c == '\n' || c == '\r')
			line_start = true;
		else if (c != ' ' && c != '\t')
			line_start = false;
	}
	return rc;
}

int forge_text_escape(struct strbuf *out, const char *text)
{
	return append_text(out, text, true);
}

int forge_text_defuse(struct strbuf *out, const char *text)
{
	return append_text(out, text, false);
}

int forge_text_is_inert(const char *text)
{
	bool line_start = true;

	for (const char *p = text; *p; p++) {
		if (*p == '/' && line_start)
			return 0;
		if (*p == '\n' || *p == '\r')
			line_start = true;
		else if (*p != ' ' && *p != '\t')
			line_start = false;
	}
	return 1;
}

int forge_marker_valid(const char *marker)
{
	size_t n = marker ? strlen(marker) : 0;

	if (n == 0 || n > 200 || strstr(marker, "--"))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = marker[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("._:+/-", c)))
			return 0;
	}
	return 1;
}
