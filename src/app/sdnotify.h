/* SPDX-License-Identifier: MIT */
/*
 * systemd's service protocols without libsystemd: the notify datagrams
 * (READY=1, STATUS=, WATCHDOG=1, RELOADING=1, STOPPING=1) sent to
 * $NOTIFY_SOCKET, the watchdog interval from $WATCHDOG_USEC, and socket
 * activation from $LISTEN_FDS (sd_notify(3), sd_watchdog_enabled(3),
 * sd_listen_fds(3)). Every function is a no-op outside systemd.
 */
#ifndef SEMVER_TAGGER_SDNOTIFY_H
#define SEMVER_TAGGER_SDNOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#define SDNOTIFY_LISTEN_FDS_START 3

struct sdnotify {
	int fd;                    /* -1 when $NOTIFY_SOCKET is unset */
	struct sockaddr_un addr;
	socklen_t addr_len;
};

/* Read $NOTIFY_SOCKET from env (NULL-terminated "K=V" array). A path or
 * an abstract name ("@name"). Returns 0, or -1 for an unusable value (the
 * notifier is then off). */
int sdnotify_open(struct sdnotify *n, char *const *env);
void sdnotify_close(struct sdnotify *n);

/* Send one datagram ("READY=1\nSTATUS=..."); 0 when sent or when off. */
int sdnotify_send(const struct sdnotify *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* $WATCHDOG_USEC when $WATCHDOG_PID is unset or ours, else 0. */
uint64_t sdnotify_watchdog_usec(char *const *env, long pid);

/* How many sockets systemd passed (from fd 3 on) when $LISTEN_PID is
 * ours; 0 otherwise. The descriptors get FD_CLOEXEC. */
int sdnotify_listen_fds(char *const *env, long pid);

#endif
