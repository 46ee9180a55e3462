/* SPDX-License-Identifier: MIT */
/*
 * The daemon (SPEC §8): every configured project polled on its interval
 * and reconciled within a second of a GitLab webhook, commit statuses on
 * open MRs, /healthz and /metrics, systemd notify/watchdog/socket
 * activation, SIGHUP reload and SIGTERM shutdown within 10 s.
 */
#ifndef SEMVER_TAGGER_DAEMON_H
#define SEMVER_TAGGER_DAEMON_H

#define DAEMON_CONFIG_DEFAULT "/etc/semver-tagger/semver-tagger.conf"
#define DAEMON_STATE_DEFAULT "/var/lib/semver-tagger"

struct daemon_args {
	const char *config_path;  /* NULL: DAEMON_CONFIG_DEFAULT */
	const char *state_dir;    /* --state-dir, overrides the file */
	int verbosity;            /* -1 quiet, 0 default (file's log_level) */
};

/* Run until SIGTERM/SIGINT; returns the process exit status. env is the
 * process environment. */
int daemon_main(const struct daemon_args *a, char **env);

#endif
