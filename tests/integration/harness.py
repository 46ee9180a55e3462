"""Harness for integration tests: the real semver-tagger binary against the
GitLab stand-in (tests/forge/standin.py), real git on both sides.

Only 127.0.0.1 is ever contacted. Each test gets a fresh project; the
stand-in process is shared by a test class.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
STANDIN = os.path.join(SRC, "tests", "forge", "standin.py")
TOKEN = "glpat-integration-0123456789abcdef"


def binary():
    path = os.environ.get("SEMVER_TAGGER_BIN")
    if not path:
        path = os.path.join(SRC, "build", "src", "app", "semver-tagger")
    return path


class Standin:
    """One stand-in process, started on demand, stopped at the end."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, STANDIN, "--watch-stdin", "--quiet"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError("stand-in did not start: %r" % self.url)
        self.api = self.url + "/api/v4"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f:
                f.close()

    def ctl(self, method, path, body=None, ok=True):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as e:
            raw = e.read()
            status = e.code
        if ok and status >= 300:
            raise AssertionError("%s %s -> %d %s" % (method, path, status,
                                                      raw[:300]))
        return json.loads(raw) if raw else None


class Project:
    """A project on the stand-in, with helpers that act like people."""

    def __init__(self, standin, path="group/app", files=None, protect=True):
        self.s = standin
        body = {"path_with_namespace": path, "default_branch": "main"}
        if files is not None:
            body["files"] = files
        info = standin.ctl("POST", "/__control__/projects", body)
        self.id = info["id"]
        self.path = path
        self.repo = info["repo_path"]
        self.web_url = info["web_url"]
        self.n = 0
        if protect:
            for name in ("main", "release/*"):
                self.protect(name, "no_force_push")

    def c(self, suffix):
        return "/__control__/projects/%d%s" % (self.id, suffix)

    def protect(self, name, level):
        self.s.ctl("POST", self.c("/protected_branches"),
                   {"name": name, "level": level})

    def commit(self, branch, files, start=None, message=None):
        self.n += 1
        body = {"branch": branch, "files": files,
                "message": message or "change %d" % self.n}
        if start:
            body["start_branch"] = start
        return self.s.ctl("POST", self.c("/commits"), body)["sha"]

    def mr(self, title, labels=(), target="main", files=None, method="merge",
           source=None, merge=True):
        """Commit on a new branch from target, open an MR, merge it."""
        self.n += 1
        source = source or "topic/%d" % self.n
        self.commit(source, files or {"f%d.txt" % self.n: "x%d\n" % self.n},
                    start=target)
        mr = self.s.ctl("POST", self.c("/merge_requests"), {
            "source_branch": source, "target_branch": target,
            "title": title, "labels": list(labels), "author": "alice"})
        if merge:
            mr = self.s.ctl("POST", self.c("/merge_requests/%d/merge" %
                                           mr["iid"]), {"method": method})
        return mr

    def label(self, iid, labels):
        return self.s.ctl("PUT", self.c("/merge_requests/%d/labels" % iid),
                          {"labels": list(labels)})

    def branch(self, name, ref):
        return self.s.ctl("POST", self.c("/branches"),
                          {"branch": name, "ref": ref})["sha"]

    def tag(self, name, ref, message=None):
        return self.s.ctl("POST", self.c("/tags"),
                          {"tag": name, "ref": ref, "message": message})

    def refs(self):
        r = self.s.ctl("GET", self.c("/refs"))
        peeled = r.pop("peeled", {})
        out = {}
        for name, sha in r.items():
            out[name] = peeled.get(name, sha)
        return out

    def tags(self):
        return sorted(k[len("refs/tags/"):] for k in self.refs()
                      if k.startswith("refs/tags/"))

    def heads(self):
        return {k[len("refs/heads/"):]: v for k, v in self.refs().items()
                if k.startswith("refs/heads/")}

    def git(self, *args):
        env = dict(os.environ, GIT_DIR=self.repo)
        return subprocess.run(["git"] + list(args), env=env, check=True,
                              capture_output=True, text=True).stdout

    def show(self, ref, path):
        return self.git("show", "%s:%s" % (ref, path))

    def is_ancestor(self, a, b):
        env = dict(os.environ, GIT_DIR=self.repo)
        return subprocess.run(["git", "merge-base", "--is-ancestor", a, b],
                              env=env).returncode == 0

    def notes(self):
        return self.s.ctl("GET", self.c("/notes"))

    def releases(self):
        return self.s.ctl("GET", self.c("/releases"))


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.json = None
        if self.out.startswith("{"):
            self.json = json.loads(self.out)

    def branch(self, name):
        for b in self.json["branches"]:
            if b["branch"] == name:
                return b
        raise AssertionError("no branch %s in %s" % (name, self.out))


class OnceTest(unittest.TestCase):
    """Base class: one stand-in per class, one project and state dir per
    test."""

    @classmethod
    def setUpClass(cls):
        cls.standin = Standin()

    @classmethod
    def tearDownClass(cls):
        cls.standin.stop()

    def setUp(self):
        self.standin.ctl("POST", "/__control__/reset")
        self.standin.ctl("POST", "/__control__/tokens",
                         {"token": TOKEN, "username": "semver-bot"})
        self.tmp = tempfile.mkdtemp(prefix="semver-tagger-it-")
        self.state = os.path.join(self.tmp, "state")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, project, branch=None, **extra):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.tmp,
            "CI_API_V4_URL": self.standin.api,
            "CI_PROJECT_ID": str(project.id),
            "CI_PROJECT_PATH": project.path,
            "CI_DEFAULT_BRANCH": "main",
            "SEMVER_TAGGER_TOKEN": TOKEN,
            "SEMVER_TAGGER_STATE_DIR": self.state,
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        if branch:
            env["CI_COMMIT_BRANCH"] = branch
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def run_once(self, project, *args, branch=None, timeout=120, **extra):
        proc = subprocess.run([binary(), "--once"] + list(args),
                              env=self.env(project, branch, **extra),
                              capture_output=True, text=True, timeout=timeout)
        res = Result(proc)
        self.assertNotIn(TOKEN, res.out + res.err)
        return res
