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


# ---------------------------------------------------------------------------
# The daemon (issue 7): semver-tagger -c FILE against the stand-in.

import http.client  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

WEBHOOK_SECRET = "hook-secret-0123456789"


def wait_for(cond, timeout=30.0, what="condition", interval=0.05):
    """Poll cond() until it is truthy; fail after a generous timeout."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %.0f s waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def parse_metrics(text):
    """Prometheus text -> {(name, ((label, value), ...)): float}."""
    out = {}
    pat = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
    lab = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = pat.match(line)
        if not m:
            raise AssertionError("bad metrics line: %r" % line)
        labels = tuple(sorted(lab.findall(m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


class Daemon:
    """One semver-tagger daemon process with its own config and state."""

    def __init__(self, standin, tmp, projects, poll_interval=3600,
                 listen=True, extra_env=None, global_extra="", args=()):
        self.s = standin
        self.tmp = tmp
        self.conf = os.path.join(tmp, "semver-tagger.conf")
        self.token_file = os.path.join(tmp, "token")
        self.secret_file = os.path.join(tmp, "webhook-secret")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        with open(self.secret_file, "w") as f:
            f.write(WEBHOOK_SECRET + "\n")
        self.poll_interval = poll_interval
        self.listen = listen
        self.global_extra = global_extra
        self.extra_env = extra_env or {}
        self.args = list(args)
        self.lines = []
        self.lock = threading.Lock()
        self.proc = None
        self.port = None
        self.write_config(projects)

    def config_text(self, projects):
        g = ["[global]",
             "state_dir = %s" % os.path.join(self.tmp, "state"),
             "api_url = %s" % self.s.api,
             "token_file = %s" % self.token_file,
             "poll_interval = %d" % self.poll_interval,
             "total_timeout = 30"]
        if self.listen == "socket":  # systemd passes the socket
            g += ["webhook_secret_file = %s" % self.secret_file]
        elif self.listen:
            g += ["listen = 127.0.0.1:0",
                  "webhook_secret_file = %s" % self.secret_file]
        text = "\n".join(g) + "\n" + self.global_extra + "\n"
        for p in projects:
            if isinstance(p, tuple):
                name, keys = p
            else:
                name, keys = p.path, {}
            text += '\n[project "%s"]\n' % name
            for k, v in keys.items():
                text += "%s = %s\n" % (k, v)
        return text

    def write_config(self, projects, raw=None):
        with open(self.conf, "w") as f:
            f.write(raw if raw is not None else self.config_text(projects))

    def env(self):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": self.tmp, "no_proxy": "127.0.0.1,localhost",
               "NO_PROXY": "127.0.0.1,localhost"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(self.extra_env)
        return env

    def start(self, cmd=None, pass_fds=(), wait_ready=True):
        cmd = cmd or [binary(), "-c", self.conf] + self.args
        self.proc = subprocess.Popen(cmd, env=self.env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True,
                                     pass_fds=pass_fds)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if wait_ready:
            wait_for(lambda: self.proc.poll() is not None or
                     self.find_log("started:"), 30, "the daemon to start")
            if self.proc.poll() is not None:
                raise AssertionError("daemon exited %s:\n%s"
                                     % (self.proc.returncode, self.logs()))
            if self.listen:
                m = wait_for(lambda: re.search(r"\(port (\d+)\)",
                                               self.logs()), 10, "the port")
                self.port = int(m.group(1))
        return self

    def _read(self):
        for line in self.proc.stderr:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def logs(self):
        with self.lock:
            return "\n".join(self.lines)

    def find_log(self, needle):
        with self.lock:
            return [l for l in self.lines if needle in l]

    def hook_url(self):
        return "http://127.0.0.1:%d/webhook" % self.port

    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def get(self, path):
        return self.request("GET", path)

    def raw(self, data, timeout=30):
        """Send bytes as they are; return the status of the answer (None
        when the connection closes without one)."""
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=timeout) as sk:
            sk.sendall(data)
            answer = b""
            while b"\r\n" not in answer:
                chunk = sk.recv(4096)
                if not chunk:
                    break
                answer += chunk
        m = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
        return int(m.group(1)) if m else None

    def send(self, project, iid=None, action=None, event="merge_request",
             token=WEBHOOK_SECRET, **extra):
        """Have the stand-in deliver a webhook to us; returns the delivery."""
        body = {"url": self.hook_url(), "token": token, "event": event,
                "project": project.id}
        if iid is not None:
            body["iid"] = iid
        if action is not None:
            body["action"] = action
        body.update(extra)
        return self.s.ctl("POST", "/__control__/webhooks/send", body)

    def metrics(self):
        status, body = self.get("/metrics")
        if status != 200:
            raise AssertionError("/metrics -> %d" % status)
        return parse_metrics(body.decode())

    def metric(self, name, **labels):
        """Sum of the samples of name whose labels include labels."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.metrics().items()
                   if n == name and want <= set(ls))

    def cycles(self, project):
        return self.metric("semver_tagger_cycles_total", project=project)

    def kill(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signal, wait; returns (exit status, seconds it took)."""
        if not self.proc:
            return None, 0.0
        if self.proc.poll() is not None:
            self.reader.join(timeout=5)
            if not self.proc.stderr.closed:
                self.proc.stderr.close()
            return self.proc.returncode, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        took = time.monotonic() - t0
        self.reader.join(timeout=5)
        self.proc.stderr.close()
        return self.proc.returncode, took


class DaemonTest(OnceTest):
    """Base class: OnceTest's stand-in and project setup, plus daemons
    that are always stopped and whose logs never show the token."""

    def setUp(self):
        super().setUp()
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            code, _ = d.stop()
            if os.environ.get("DAEMON_TEST_LOGS"):
                sys.stderr.write("--- daemon log (%s) ---\n%s\n"
                                 % (self.id(), d.logs()))
            self.assertNotIn(TOKEN, d.logs())
            self.assertNotIn(WEBHOOK_SECRET, d.logs())
            # 0 after SIGTERM; under ASan also "no leak, no error"
            self.assertIn(code, (0, None), d.logs())
        super().tearDown()

    def daemon(self, projects, start=True, **kw):
        d = Daemon(self.standin, self.tmp, projects, **kw)
        self.daemons.append(d)
        return d.start() if start else d
