/* SPDX-License-Identifier: MIT */
#include "sdnotify.h"

#include "semver-tagger/config.h"
#include "semver-tagger/num.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int sdnotify_open(struct sdnotify *n, char *const *env)
{
	const char *path = config_getenv(env, "NOTIFY_SOCKET");
	size_t len;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (!path || !*path)
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(n->addr.sun_path))
		return -1;
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, path, len);
	if (path[0] == '@')
		n->addr.sun_path[0] = '\0'; /* abstract namespace */
	n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				  (path[0] == '/' ? 1 : 0));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return n->fd < 0 ? -1 : 0;
}

void sdnotify_close(struct sdnotify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

int sdnotify_send(const struct sdnotify *n, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int len;

	if (n->fd < 0)
		return 0;
	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0)
		return -1;
	if ((size_t)len >= sizeof(msg))
		len = (int)sizeof(msg) - 1;
	if (sendto(n->fd, msg, (size_t)len, MSG_NOSIGNAL,
		   (const struct sockaddr *)&n->addr, n->addr_len) < 0)
		return -1;
	return 0;
}

static int pid_matches(char *const *env, const char *var, long pid, bool unset_ok)
{
	const char *v = config_getenv(env, var);
	uint64_t p;

	if (!v || !*v)
		return unset_ok;
	return num_parse_u64_max(v, INT32_MAX, &p) == 0 && (long)p == pid;
}

uint64_t sdnotify_watchdog_usec(char *const *env, long pid)
{
	const char *v = config_getenv(env, "WATCHDOG_USEC");
	uint64_t usec;

	if (!v || !pid_matches(env, "WATCHDOG_PID", pid, true) ||
	    num_parse_u64_max(v, UINT64_MAX, &usec) != 0)
		return 0;
	return usec;
}

int sdnotify_listen_fds(char *const *env, long pid)
{
	const char *v = config_getenv(env, "LISTEN_FDS");
	uint64_t n;

	if (!v || !pid_matches(env, "LISTEN_PID", pid, false) ||
	    num_parse_u64_max(v, 64, &n) != 0)
		return 0;
	for (int fd = SDNOTIFY_LISTEN_FDS_START;
	     fd < SDNOTIFY_LISTEN_FDS_START + (int)n; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return (int)n;
}
