#!/usr/bin/env python3
"""The built-in example behind scripts/demo: a GitLab stand-in on
127.0.0.1 with one project, a few merge requests merged the way people do,
and semver-tagger --once run after each, as a pipeline job would."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import Project, Standin, TOKEN, binary  # noqa: E402


def say(text):
    print("\n\033[1m== %s\033[0m" % text, flush=True)


def main():
    standin = Standin()
    tmp = tempfile.mkdtemp(prefix="semver-tagger-demo-")
    try:
        standin.ctl("POST", "/__control__/tokens",
                    {"token": TOKEN, "username": "release-bot"})
        p = Project(standin, path="demo/library",
                    files={"README.md": "# library\n",
                           "VERSION": "0.1.0-SNAPSHOT\n"})
        env = dict(os.environ, CI_API_V4_URL=standin.api,
                   CI_PROJECT_ID=str(p.id), SEMVER_TAGGER_TOKEN=TOKEN,
                   SEMVER_TAGGER_STATE_DIR=os.path.join(tmp, "state"),
                   SEMVER_TAGGER_BUILD_SYSTEM="version-file")

        def run(*args, **extra):
            e = dict(env, **extra)
            shown = " ".join("%s=%s" % kv for kv in extra.items())
            print("$ %ssemver-tagger --once %s" % (shown + " " if shown else "",
                                                 " ".join(args)), flush=True)
            r = subprocess.run([binary(), "--once"] + list(args), env=e)
            print("(exit status %d)" % r.returncode, flush=True)

        say("A feature is merged with the label ImpactMinor")
        p.mr("Add the parser", ["ImpactMinor"])
        run()
        say("A fix (ImpactPatch) and a docs change someone forgot to label")
        p.mr("Fix a crash on empty input", ["ImpactPatch"])
        docs = p.mr("Document the API", ["documentation"])
        run()
        say("The label is added after the merge; the job is re-run")
        p.label(docs["iid"], ["documentation", "ImpactPatch"])
        run()
        say("The project is ready for 1.0.0")
        run(STABLE_RELEASE="true")
        say("A breaking change")
        p.mr("Rename the public entry point", ["ImpactMajor"])
        run()
        say("A fix cherry-picked into the 1.x line (release/1)")
        p.mr("Fix a crash on empty input (1.x)", ["ImpactPatch"],
             target="release/1")
        run("--branch", "release/1")
        say("What the plan would be now (--dry-run --json)")
        run("--dry-run", "--json")

        say("Tags")
        print(p.git("tag", "--sort=v:refname"), end="")
        say("Branches")
        print(p.git("branch", "--list", "main", "release/*"), end="")
        say("VERSION on each release branch")
        for b in sorted(p.heads()):
            if b == "main" or b.startswith("release/"):
                print("%-12s %s" % (b, p.show(b, "VERSION").strip()))
        say("History")
        print(p.git("log", "--graph", "--oneline", "--decorate",
                    "main", "--branches=release/*", "--tags"), end="")
        say("Notes posted on merge requests")
        for n in p.notes():
            if not n["system"]:
                print("!%d: %s" % (n["noteable_iid"],
                                   n["body"].splitlines()[0]))
    finally:
        standin.stop()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
