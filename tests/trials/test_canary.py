"""Secret canary (reliability.md §2 G1, G3): semver-tagger --once runs a
set of scenarios with a recognisable token, glpat-CANARY-<128-bit hex>,
then every byte it left behind is searched for the token: stdout and
stderr of every run, every file under the runs' state and home
directories (mirror config, FETCH_HEAD, packed-refs, logs, MR cache,
temporary files), core files of runs killed with SIGABRT, and
/proc/<pid>/environ and cmdline of a running process. Forms searched: raw,
URL-encoded, base64 (at every alignment, alone and as the HTTP Basic
"user:token" pair git sends) and the bare 32-hex part. 0 hits expected.

Run by meson (suite trials) or directly:
  SEMVER_TAGGER_BIN=build/src/app/semver-tagger python3 tests/trials/test_canary.py
"""
import base64
import os
import resource
import secrets
import signal
import subprocess
import threading
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trialslib import (Project, Runner, Standin, TempDirs, VERSION_FILE,  # noqa: E402
                       binary, say)


def forms(token):
    """Byte strings whose presence means the token leaked."""
    t = token.encode()
    out = {"raw": t, "url": urllib.parse.quote(token, safe="").encode(),
           "hex part": t.split(b"-")[-1]}
    for user in (b"", b"oauth2:", b"gitlab-ci-token:", b"semver-tagger:",
                 b"x:", b"root:"):
        for pad in range(3):
            enc = base64.b64encode(b"\0" * pad + user + t)
            # characters fed only by the token's own bytes
            start = (pad + len(user) + 2) // 3 * 4
            core = enc[start:start + 24]
            if len(core) >= 16:
                out["base64 %s+%d" % (user.decode() or "token", pad)] = core
    return out


class Canary(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.s = Standin()
        cls.tmp = TempDirs("semver-tagger-canary-")
        cls.canary = "glpat-CANARY-" + secrets.token_hex(16)
        cls.canary_ro = "glpat-CANARY-" + secrets.token_hex(16)
        cls.canary_revoked = "glpat-CANARY-" + secrets.token_hex(16)
        cls.outputs = []   # (label, text)
        cls.cores = 0
        cls.proc_checked = 0

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.tmp.cleanup()

    def token(self, value, read_only=False):
        self.s.ctl("POST", "/__control__/tokens",
                   {"token": value, "username": "semver-bot",
                    "read_only": read_only})

    def project(self, name):
        p = Project(self.s, path="canary/" + name,
                    files={"VERSION": "1.0.0-SNAPSHOT\n"})
        p.tag("1.0.0", "main")
        return p

    def run_once(self, label, runner, args=(), **more):
        rc, out, err, _ = runner.run(args, **more)
        self.outputs.append((label, out + err))
        return rc

    def test_canary(self):
        s = self.s
        s.ctl("POST", "/__control__/reset")
        for t in (self.canary, self.canary_revoked):
            self.token(t)
        self.token(self.canary_ro, read_only=True)
        home = self.tmp.new("home")

        # 1. a release with notes, release object, prep commits; verbose
        p = self.project("release")
        p.mr("Fix", ["ImpactPatch"])
        r = Runner(s, p, self.tmp.new(), token=self.canary,
                   extra=dict(VERSION_FILE, HOME=home))
        self.assertEqual(self.run_once("release -v -v", r, ["-v", "-v"]), 0)
        p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(self.run_once("release --json", r, ["--json"]), 0)
        self.assertEqual(self.run_once("nothing to do", r, ["-v", "-v"]), 0)

        # 2. a refusal (MR note) and a dry run
        p.mr("No label", [])
        self.assertEqual(self.run_once("refusal", r, ["-v", "-v"]), 65)
        self.assertEqual(self.run_once("dry run", r, ["--dry-run", "-v"]), 65)

        # 3. token from a file (kept outside the searched directories)
        tokfile = os.path.join(self.tmp.root, "token-file")
        with open(tokfile, "w") as f:
            f.write(self.canary + "\n")
        q = self.project("file")
        q.mr("Fix", ["ImpactPatch"])
        rf = Runner(s, q, self.tmp.new(), token="", extra=VERSION_FILE)
        rf.extra.pop("SEMVER_TAGGER_TOKEN", None)
        env_no_token = {"SEMVER_TAGGER_TOKEN": ""}
        self.assertEqual(self.run_once("token file", rf,
                                       ["--token-file", tokfile, "-v", "-v"],
                                       **env_no_token), 0)

        # 4. a revoked token (401 on the API), then one the server echoes
        #    back in its error message
        s.ctl("DELETE", "/__control__/tokens/" + self.canary_revoked)
        rr = Runner(s, p, self.tmp.new(), token=self.canary_revoked,
                    extra=VERSION_FILE)
        self.assertEqual(self.run_once("revoked", rr, ["-v", "-v"]), 77)
        for status in (500, 400, 403):
            s.ctl("POST", "/__control__/faults", {
                "endpoint": "GET /api/v4/projects/:id/merge_requests",
                "count": 10, "mode": "status", "status": status,
                "body": '{"message":"bad token %s (%s)"}' %
                        (self.canary, base64.b64encode(
                            ("x:" + self.canary).encode()).decode())})
            re_ = Runner(s, p, self.tmp.new(), token=self.canary,
                         extra=dict(VERSION_FILE,
                                    SEMVER_TAGGER_TOTAL_TIMEOUT=2))
            self.assertNotEqual(self.run_once("echo %d" % status, re_,
                                              ["-v", "-v"]), 0)
            s.ctl("DELETE", "/__control__/faults")

        # 5. a read-only token: the git push is refused
        w = self.project("readonly")
        w.mr("Fix", ["ImpactPatch"])
        ro = Runner(s, w, self.tmp.new(), token=self.canary_ro,
                    extra=VERSION_FILE)
        self.assertEqual(self.run_once("read-only", ro, ["-v", "-v"]), 77)

        # 6. a git server at another URL that refuses the credentials
        g = self.project("giturl")
        g.mr("Fix", ["ImpactPatch"])
        rg = Runner(s, g, self.tmp.new(), token=self.canary,
                    extra=dict(VERSION_FILE,
                               SEMVER_TAGGER_GIT_URL=s.url + "/nope/x.git"))
        self.assertNotEqual(self.run_once("wrong git url", rg,
                                          ["-v", "-v"]), 0)

        # 7. /proc/<pid>/environ and cmdline of a running process, and core
        #    files of runs aborted mid-way (SIGABRT, RLIMIT_CORE raised).
        #    Synchronised on the program's own "token read" debug
        #    line, which it prints after it has read and scrubbed the
        #    token (not on a delay, which raced the scrub under load);
        #    the project request is held meanwhile, so the process is
        #    still running when /proc is read: every read must happen.
        cores = self.tmp.new("cores")
        for k in range(3):
            c = self.project("core%d" % k)
            c.mr("Fix", ["ImpactPatch"])
            s.ctl("POST", "/__control__/faults", {
                "endpoint": "GET /api/v4/projects/:id", "mode": "delay",
                "delay_ms": 60000, "count": 1})
            rc_ = Runner(s, c, self.tmp.new(), token=self.canary,
                         extra=VERSION_FILE)
            proc = subprocess.Popen(
                [binary(), "--once", "-v", "-v"], env=rc_.env(), cwd=cores,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                preexec_fn=lambda: resource.setrlimit(
                    resource.RLIMIT_CORE,
                    (resource.RLIM_INFINITY, resource.RLIM_INFINITY)))
            err_lines, ready = [], threading.Event()

            def read_err(f=proc.stderr, lines=err_lines, ev=ready):
                for line in iter(f.readline, b""):
                    lines.append(line)
                    if b"token read (environment scrubbed)" in line:
                        ev.set()
                ev.set()  # EOF: the program ended before the line

            reader = threading.Thread(target=read_err, daemon=True)
            reader.start()
            self.assertTrue(ready.wait(120), "no 'token read' line")
            self.assertIsNone(proc.poll(), b"".join(err_lines))
            for name in ("environ", "cmdline"):
                with open("/proc/%d/%s" % (proc.pid, name), "rb") as f:
                    self.outputs.append(("/proc %s run %d" % (name, k),
                                         f.read().decode("latin-1")))
                self.proc_checked += 1
            proc.send_signal(signal.SIGABRT)
            out = proc.stdout.read()
            proc.wait()
            reader.join(timeout=30)
            self.outputs.append(("aborted run %d" % k, (out + b"".join(
                err_lines)).decode("latin-1")))
        s.ctl("DELETE", "/__control__/faults")
        self.assertEqual(self.proc_checked, 6)
        self.cores = len([n for n in os.listdir(cores)
                          if n.startswith("core")])

        # Search everything.
        needles = {}
        for t in (self.canary, self.canary_ro, self.canary_revoked):
            for k, v in forms(t).items():
                needles[v] = k
        hits = []
        files = nbytes = 0
        for root, _, names in os.walk(self.tmp.root):
            for n in names:
                path = os.path.join(root, n)
                if path == tokfile or os.path.islink(path):
                    continue
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                files += 1
                nbytes += len(data)
                for needle, kind in needles.items():
                    if needle in data:
                        hits.append("%s: %s" % (os.path.relpath(
                            path, self.tmp.root), kind))
        for label, text in self.outputs:
            data = text.encode("utf-8", "surrogateescape")
            for needle, kind in needles.items():
                if needle in data:
                    hits.append("output of %s: %s" % (label, kind))
        say("canary: %d runs' outputs, %d files (%d bytes, %d core files), "
            "%d /proc reads, %d encodings of 3 tokens: %d hits" %
            (len(self.outputs), files, nbytes, self.cores,
             self.proc_checked, len(needles), len(hits)))
        self.assertGreater(files, 20)
        self.assertEqual(hits, [])


if __name__ == "__main__":
    unittest.main()
