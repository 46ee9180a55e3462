/* SPDX-License-Identifier: MIT */
/*
 * semver-tagger: entry point. Parses the command line, sets up logging, and
 * hands over to a mode. Only this file (and the modes it calls, through
 * their return value) decides the process exit status.
 */
#include "assess.h"
#include "config.h"
#include "daemon.h"
#include "once.h"
#include "worker.h"
#include "semver-tagger/config.h"
#include "semver-tagger/http.h"
#include "semver-tagger/log.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

extern char **environ;

enum {
	EXIT_USAGE = 64, /* sysexits.h EX_USAGE */
	EXIT_CONFIG = 78,
};

enum {
	OPT_VERSION = 0x100,
	OPT_ONCE,
	OPT_DRY_RUN,
	OPT_JSON,
	OPT_BRANCH,
	OPT_STATE_DIR,
	OPT_TOKEN_FILE,
	OPT_STABLE,
	OPT_CHECK_CONFIG,
	OPT_DOTENV,
	OPT_INTERNAL_WORKER,
	OPT_ASSESS,
	OPT_PROJECT,
};

static void usage(FILE *out)
{
	fputs("Usage: semver-tagger --once [OPTION]...\n"
	      "       semver-tagger --check-config -c FILE\n"
	      "       semver-tagger --assess -c FILE [--project P] [--json]\n"
	      "Release GitLab projects continuously: tag the next SemVer version\n"
	      "from the impact labels of the merge requests merged since the\n"
	      "latest release, and keep the release/N and release/N.M branches.\n"
	      "\n"
	      "      --once            one reconciliation (a pipeline job), then exit\n"
	      "      --branch NAME     evaluate NAME only (default: $CI_COMMIT_BRANCH,\n"
	      "                        else the default branch and every release branch)\n"
	      "      --dry-run         plan only: no push, no note, no release object\n"
	      "      --json            print one JSON object with the plan and results\n"
	      "      --stable-release  release 1.0.0 from 0.x (like STABLE_RELEASE=true)\n"
	      "      --dotenv FILE     write SEMVER_TAGGER_VERSION, _TAG, _PREVIOUS, _NOTES\n"
	      "                        for GitLab's artifacts:reports:dotenv\n"
	      "  -c, --config FILE     configuration file\n"
	      "      --state-dir DIR   mirror and caches (default: $SEMVER_TAGGER_STATE_DIR,\n"
	      "                        else ~/.cache/semver-tagger)\n"
	      "      --token-file FILE API token (default: $SEMVER_TAGGER_TOKEN)\n"
	      "      --check-config    validate the configuration file and exit\n"
	      "      --assess          check what would stop each project's releases\n"
	      "                        (token, role, protected refs, push rules, labels,\n"
	      "                        webhook); reads only; exit 65 when one cannot\n"
	      "      --project P       with --assess: only project P (path or id)\n"
	      "  -v, --verbose         more log output (repeat for debug)\n"
	      "  -q, --quiet           errors only\n"
	      "  -h, --help            show this help and exit\n"
	      "      --version         show the version and exit\n"
	      "\n"
	      "Exit status: 0 released or nothing to do; 65 a person must fix\n"
	      "something (labels, branch, tag conflict); 75 temporary failure, re-run;\n"
	      "77 authentication or permission; 78 configuration; 64 usage.\n"
	      "See semver-tagger(8).\n",
	      out);
}

struct args {
	struct once_args once;
	bool mode_once;
	bool check_config;
	bool worker;       /* hidden: the daemon's engine worker */
	bool assess;
	const char *project;
	int verbosity;
};

/* "semver-tagger: <what> '<arg>'" (or just <what>), then the usage. */
static int usage_error(const char *what, const char *arg)
{
	if (arg)
		fprintf(stderr, "semver-tagger: %s '%s'\n", what, arg);
	else
		fprintf(stderr, "semver-tagger: %s\n", what);
	usage(stderr);
	return EXIT_USAGE;
}

/* 0 to go on, -1 to exit 0 (help, version), else an exit status. */
static int parse_option(int c, struct args *a, char **argv)
{
	switch (c) {
	case 'h': usage(stdout); return -1;
	case OPT_VERSION:
		printf("semver-tagger %s\n", SEMVER_TAGGER_VERSION);
		return -1;
	case 'v': a->verbosity++; break;
	case 'q': a->verbosity = -1; break;
	case 'c': a->once.config_path = optarg; break;
	case OPT_ONCE: a->mode_once = true; break;
	case OPT_DRY_RUN: a->once.dry_run = true; break;
	case OPT_JSON: a->once.json = true; break;
	case OPT_BRANCH: a->once.branch = optarg; break;
	case OPT_STATE_DIR: a->once.state_dir = optarg; break;
	case OPT_TOKEN_FILE: a->once.token_file = optarg; break;
	case OPT_STABLE: a->once.stable_release = true; break;
	case OPT_CHECK_CONFIG: a->check_config = true; break;
	case OPT_DOTENV: a->once.dotenv = optarg; break;
	case OPT_INTERNAL_WORKER: a->worker = true; break;
	case OPT_ASSESS: a->assess = true; break;
	case OPT_PROJECT: a->project = optarg; break;
	case ':': return usage_error("this option needs a value:", argv[optind - 1]);
	default: return usage_error("unknown option", argv[optind - 1]);
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "config", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "branch", required_argument, NULL, OPT_BRANCH },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "stable-release", no_argument, NULL, OPT_STABLE },
		{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
		{ "dotenv", required_argument, NULL, OPT_DOTENV },
		/* not documented: only the daemon starts workers (worker.h) */
		{ "internal-worker", no_argument, NULL, OPT_INTERNAL_WORKER },
		{ "assess", no_argument, NULL, OPT_ASSESS },
		{ "project", required_argument, NULL, OPT_PROJECT },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hvqc:", options, NULL)) != -1)
		if ((rc = parse_option(c, a, argv)) != 0)
			return rc;
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	return 0;
}

static int check_config(const char *path)
{
	struct config c;
	struct st_error err;
	int rc;

	if (!path)
		return usage_error("--check-config needs -c FILE", NULL);
	config_init(&c);
	st_error_clear(&err);
	rc = config_load_file(path, &c, &err);
	if (rc)
		log_error("%s", err.msg);
	else
		printf("%s: ok, %zu project%s, %zu group%s\n", path,
		       c.n_projects, c.n_projects == 1 ? "" : "s", c.n_groups,
		       c.n_groups == 1 ? "" : "s");
	config_release(&c);
	return rc ? EXIT_CONFIG : 0;
}

int main(int argc, char **argv)
{
	struct st_error err;
	struct args a;
	int rc;

	/* The API token is in this process's memory: no core file, and
	 * /proc/<pid>/mem, environ and ptrace closed to the user's other
	 * processes (reliability.md G3; the unit also has LimitCORE=0). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* What we write (state, mirror) is ours alone even under a CI
	 * umask of 000; statedir_check() refuses anything else. */
	umask(077);
	memset(&a, 0, sizeof(a));
	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	log_setup(a.verbosity < 0    ? LOG_LEVEL_ERROR
		  : a.verbosity == 0 ? LOG_LEVEL_INFO
				     : LOG_LEVEL_DEBUG,
		  NULL);
	if (a.check_config)
		return check_config(a.once.config_path);
	if (a.worker)
		return worker_main(WORKER_FD);
	if (a.assess)
		return assess_main(&(struct assess_args){ a.once.config_path,
							  a.project,
							  a.once.json });
	if (!a.mode_once) /* the daemon sets up libcurl itself */
		return daemon_main(&(struct daemon_args){ a.once.config_path,
							  a.once.state_dir,
							  a.verbosity }, environ);
	st_error_clear(&err);
	/* libcurl's global state, once, before any thread exists. */
	if (http_global_init(&err) != 0) {
		log_error("%s", err.msg);
		return 70;
	}
	rc = once_main(&a.once, environ);
	http_global_cleanup();
	return rc;
}
