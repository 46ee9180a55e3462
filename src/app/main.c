/* SPDX-License-Identifier: MIT */
/*
 * semver-tagger: entry point. Parses the command line, sets up logging, and
 * hands over to a mode. Only this file may decide the process exit status.
 */
#include "config.h"
#include "semver-tagger/log.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum {
	EXIT_USAGE = 64, /* sysexits.h EX_USAGE */
};

enum {
	OPT_VERSION = 0x100,
};

static void usage(FILE *out)
{
	fputs("Usage: semver-tagger [OPTION]...\n"
	      "Release GitLab projects continuously: tag the next SemVer version\n"
	      "from the impact labels of the merge requests merged since the\n"
	      "latest release, and keep the release/N and release/N.M branches.\n"
	      "\n"
	      "  -h, --help       show this help and exit\n"
	      "      --version    show the version and exit\n"
	      "  -v, --verbose    more log output (repeat for debug)\n"
	      "  -q, --quiet      errors only\n"
	      "\n"
	      "Exit status: 0 released or nothing to do; 64 usage error.\n"
	      "See semver-tagger(8).\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	int verbosity = 0;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hvq", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("semver-tagger %s\n", SEMVER_TAGGER_VERSION);
			return 0;
		case 'v':
			verbosity++;
			break;
		case 'q':
			verbosity = -1;
			break;
		case ':':
			fprintf(stderr, "semver-tagger: option '%s' needs a value\n",
				argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "semver-tagger: unknown option '%s'\n",
				argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "semver-tagger: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	log_setup(verbosity < 0	  ? LOG_LEVEL_ERROR
		  : verbosity == 0 ? LOG_LEVEL_INFO
				   : LOG_LEVEL_DEBUG,
		  NULL);
	log_error("no mode yet: the release engine comes with a later issue");
	return EXIT_USAGE;
}
