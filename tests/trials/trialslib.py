"""Shared by the trial scripts (tests/trials/crash, race, faults): the
real binary against the GitLab stand-in, projects in a known state, the
"shape" of a project's refs (tree + subject along first-parent history,
commit ids masked), and a tally printer.

Only 127.0.0.1 is contacted. The binary is $SEMVER_TAGGER_BIN, else
build/src/app/semver-tagger.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))

import harness  # noqa: E402
from harness import Project, Standin, TOKEN  # noqa: E402,F401

VERSION_FILE = {"SEMVER_TAGGER_BUILD_SYSTEM": "version-file"}


def binary():
    return harness.binary()


class Runner:
    """Runs --once for one project with its own state directory."""

    def __init__(self, standin, project, state, token=TOKEN, extra=None):
        self.s = standin
        self.p = project
        self.state = state
        self.token = token
        self.extra = dict(extra or {})

    def env(self, **more):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.state,
            "CI_API_V4_URL": self.s.api,
            "CI_PROJECT_ID": str(self.p.id),
            "CI_PROJECT_PATH": self.p.path,
            "CI_DEFAULT_BRANCH": "main",
            "SEMVER_TAGGER_TOKEN": self.token,
            "SEMVER_TAGGER_STATE_DIR": self.state,
            "no_proxy": "127.0.0.1", "NO_PROXY": "127.0.0.1",
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
                  "TSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update({k: str(v) for k, v in self.extra.items()})
        env.update({k: str(v) for k, v in more.items()})
        return env

    def popen(self, args=(), prefix=(), **more):
        return subprocess.Popen(list(prefix) + [binary(), "--once"] +
                                list(args), env=self.env(**more),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def run(self, args=(), timeout=300, prefix=(), **more):
        """(exit status, stdout, stderr, seconds)."""
        t0 = time.monotonic()
        proc = self.popen(args, prefix, **more)
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err, time.monotonic() - t0

    def run_rusage(self, args=(), timeout=900, prefix=(), **more):
        """Like run(), plus the child's peak RSS in KiB (wait4)."""
        t0 = time.monotonic()
        with tempfile.TemporaryFile("w+") as out, \
                tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(list(prefix) + [binary(), "--once"] +
                                    list(args), env=self.env(**more),
                                    stdout=out, stderr=err, text=True)
            deadline = time.monotonic() + timeout
            while True:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                time.sleep(0.02)
            proc.returncode = (os.waitstatus_to_exitcode(status))
            out.seek(0)
            err.seek(0)
            return (proc.returncode, out.read(), err.read(),
                    time.monotonic() - t0, ru.ru_maxrss)

    def run_killed_after(self, delay, **more):
        """Start a run, SIGKILL it after delay seconds unless it ended.
        (status, killed: bool)."""
        proc = self.popen(**more)
        try:
            proc.wait(timeout=delay)
            killed = False
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        proc.communicate()
        # it may have ended between the timeout and the signal
        killed = proc.returncode == -signal.SIGKILL
        return proc.returncode, killed


def shape(p):
    """Each ref (topic branches aside) as its first-parent history of
    (tree, subject), commit ids masked: ids differ between projects (commit
    times), trees and messages of a correct run do not."""
    out = {}
    for ref in sorted(p.refs()):
        if ref.startswith("refs/heads/topic/"):
            continue
        log = p.git("log", "--first-parent", "--format=%T %s", "-n", "20",
                    ref)
        out[ref] = re.sub(r"\b[0-9a-f]{40}\b", "<sha>", log)
    return out


def shape_diff(a, b):
    lines = []
    for ref in sorted(set(a) | set(b)):
        if a.get(ref) != b.get(ref):
            lines.append("  %s:\n    golden: %r\n    got:    %r" %
                         (ref, (a.get(ref) or "")[:300],
                          (b.get(ref) or "")[:300]))
    return "\n".join(lines)


def counters(standin):
    return standin.ctl("GET", "/__control__/counters")


def pushes(c):
    return c.get("POST /:project.git/git-receive-pack", 0)


class TempDirs:
    def __init__(self, prefix):
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.n = 0

    def new(self, name=None):
        self.n += 1
        d = os.path.join(self.root, name or "s%d" % self.n)
        os.makedirs(d, exist_ok=True)
        return d

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def reset(standin):
    standin.ctl("POST", "/__control__/reset")
    standin.ctl("POST", "/__control__/tokens",
                {"token": TOKEN, "username": "semver-bot"})


def say(*args):
    print(*args, flush=True)


BOT_NAME = "Semver Bot"
BOT_EMAIL = "semver-bot@example.com"  # the stand-in's email of semver-bot


class Signing:
    """--sign ssh|openpgp (issue 15): a throw-away key the runners sign
    with, the stand-in's "Reject unsigned commits" push rule on for every
    project, and a check that every commit and tag object the bot made
    passes git verify-commit / verify-tag."""

    def __init__(self, kind):
        self.kind = kind
        # short path: gpg-agent's socket lives in the GnuPG home
        self.dir = tempfile.mkdtemp(prefix="st-sign-", dir="/tmp")
        self.gnupg = os.path.join(self.dir, "gnupg")
        os.mkdir(self.gnupg, 0o700)
        self.genv = dict(os.environ, GNUPGHOME=self.gnupg, LC_ALL="C")
        self.allowed = os.path.join(self.dir, "allowed_signers")
        self.env = {"SEMVER_TAGGER_GIT_NAME": BOT_NAME,
                    "SEMVER_TAGGER_GIT_EMAIL": BOT_EMAIL,
                    "SEMVER_TAGGER_SIGNING_FORMAT": kind}
        if kind == "ssh":
            key = os.path.join(self.dir, "bot_ed25519")
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                            "-f", key], check=True)
            with open(key + ".pub") as f:
                pub = f.read().split()
            with open(self.allowed, "w") as f:
                f.write('%s namespaces="git" %s %s\n' % (BOT_EMAIL, pub[0],
                                                         pub[1]))
            self.env["SEMVER_TAGGER_SIGNING_KEY"] = key
        elif kind == "openpgp":
            subprocess.run(["gpg", "--batch", "--pinentry-mode", "loopback",
                            "--passphrase", "", "--quick-gen-key",
                            "%s <%s>" % (BOT_NAME, BOT_EMAIL), "ed25519",
                            "sign", "1y"], env=self.genv, check=True,
                           capture_output=True)
            open(self.allowed, "w").close()
            self.env["SEMVER_TAGGER_SIGNING_KEY"] = BOT_EMAIL
            self.env["SEMVER_TAGGER_GNUPG_HOME"] = self.gnupg
        else:
            raise ValueError("--sign takes ssh or openpgp")

    def protect(self, standin, p):
        standin.ctl("PUT", "/__control__/projects/%d/push_rule" % p.id,
                    {"reject_unsigned_commits": True})

    def unsigned(self, p):
        """Commits (committer = the bot) and tag objects of p that do not
        verify."""
        env = dict(self.genv, GIT_DIR=p.repo)
        cfg = ["-c", "gpg.ssh.allowedSignersFile=" + self.allowed]
        log = subprocess.run(["git", "log", "--all", "--format=%H %ce"],
                             env=env, capture_output=True, text=True,
                             check=True).stdout.split("\n")
        objs = [("verify-commit", l.split()[0]) for l in log
                if l.endswith(" " + BOT_EMAIL)]
        refs = subprocess.run(["git", "for-each-ref", "--format="
                               "%(objecttype) %(refname)", "refs/tags"],
                              env=env, capture_output=True, text=True,
                              check=True).stdout.split("\n")
        objs += [("verify-tag", l.split()[1]) for l in refs
                 if l.startswith("tag ") and not l.endswith("/1.0.0")]
        bad = []
        for verb, name in objs:
            r = subprocess.run(["git"] + cfg + [verb, name], env=env,
                               capture_output=True, text=True)
            if r.returncode != 0:
                bad.append(name)
        return bad

    def close(self):
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=self.genv,
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
