/* SPDX-License-Identifier: MIT */
/* ISO 8601 times as found in GitLab JSON, without timegm() or the TZ
 * environment: the conversion is plain calendar arithmetic. */
#include "semver-tagger/json.h"

#include <stdio.h>
#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

/* "Z", " UTC", "+HH:MM", "+HHMM", "-HH:MM": offset east of UTC in minutes. */
static int parse_zone(const char *p, int *minutes)
{
	int hh, mm, sign;

	if (strcmp(p, "Z") == 0 || strcmp(p, " UTC") == 0) {
		*minutes = 0;
		return 0;
	}
	if (*p == ' ')
		p++;
	if (*p != '+' && *p != '-')
		return -1;
	sign = *p++ == '-' ? -1 : 1;
	if (digits(&p, 2, &hh) != 0)
		return -1;
	if (*p == ':')
		p++;
	if (digits(&p, 2, &mm) != 0 || *p || hh > 23 || mm > 59)
		return -1;
	*minutes = sign * (hh * 60 + mm);
	return 0;
}

static int parse_fraction(const char **p, int *ms)
{
	int scale = 100;

	*ms = 0;
	if (**p != '.')
		return 0;
	(*p)++;
	if (**p < '0' || **p > '9')
		return -1;
	/* Keep milliseconds; GitLab sends 3 digits, Rails may send 6. */
	for (int n = 0; **p >= '0' && **p <= '9'; n++, (*p)++) {
		if (n >= 9)
			return -1;
		*ms += (**p - '0') * scale;
		scale /= 10;
	}
	return 0;
}

int json_time_parse(const char *s, int64_t *out_ms)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, ms, zone;
	const char *p = s;

	if (!s || digits(&p, 4, &y) || expect(&p, '-') ||
	    digits(&p, 2, &mo) || expect(&p, '-') || digits(&p, 2, &d))
		return ST_EINVAL;
	if (*p != 'T' && *p != ' ')
		return ST_EINVAL;
	p++;
	if (digits(&p, 2, &h) || expect(&p, ':') || digits(&p, 2, &mi) ||
	    expect(&p, ':') || digits(&p, 2, &sec) ||
	    parse_fraction(&p, &ms) || parse_zone(p, &zone))
		return ST_EINVAL;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || sec > 60)
		return ST_EINVAL;
	*out_ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
		    sec - (int64_t)zone * 60) * 1000) + ms;
	return ST_OK;
}

int json_time_format(int64_t ms, char out[32])
{
	int64_t days, secs, z, era, doe, yoe, y, doy, mp, d, m;
	int64_t msec = ms % 1000;

	if (msec < 0)
		msec += 1000;
	secs = (ms - msec) / 1000;
	days = secs / 86400;
	secs %= 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	/* civil_from_days (H. Hinnant), the inverse of days_from_civil. */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp + (mp < 10 ? 3 : -9);
	y += m <= 2;
	if (y < 1 || y > 9999)
		return ST_EINVAL;
	snprintf(out, 32, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
		 (long long)y, (long long)m, (long long)d,
		 (long long)(secs / 3600), (long long)(secs / 60 % 60),
		 (long long)(secs % 60), (long long)msec);
	return ST_OK;
}
