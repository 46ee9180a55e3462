#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tests of the GitLab stand-in (tests/forge/standin.py).

One stand-in serves most tests (each test uses its own projects); the
lifecycle tests start their own. Git runs with an empty global config and
the identity from the environment.
"""

import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "standin.py")
ZERO = "0" * 40


def start_standin(*extra, env=None):
    p = subprocess.Popen([sys.executable, STANDIN, "--watch-stdin"] + list(extra),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    line = p.stdout.readline().decode().strip()
    if not line.startswith("http://127.0.0.1:"):
        p.kill()
        p.wait()
        raise RuntimeError("stand-in did not start: %r" % line)
    return p, line


def stop_standin(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    for f in (p.stdin, p.stdout):
        if f:
            f.close()


def wait_until(pred, timeout=10.0):
    """Poll pred until true (a deadline against hangs, not a timed assertion)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    return pred()


class Client:
    def __init__(self, url):
        self.url = url
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port

    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            h = {"Content-Type": "application/json"}
            h.update(headers or {})
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            raw = r.read()
            return r.status, r.headers, raw
        finally:
            conn.close()

    def ctl(self, method, path, body=None, expect=None):
        st, _, raw = self.request(method, "/__control__" + path, body)
        if expect is not None and st != expect:
            raise AssertionError("%s %s -> %d %s" % (method, path, st, raw[:500]))
        return st, (json.loads(raw) if raw else None)

    def api(self, method, path, token="tok", body=None, headers=None, timeout=30):
        h = dict(headers or {})
        if token is not None:
            h["PRIVATE-TOKEN"] = token
        st, hd, raw = self.request(method, "/api/v4" + path, body, h, timeout=timeout)
        try:
            js = json.loads(raw) if raw else None
        except ValueError:
            js = None
        return st, hd, js, raw


class StandinCase(unittest.TestCase):
    proc = None
    url = None
    counter = 0

    @classmethod
    def setUpClass(cls):
        cls.proc, cls.url = start_standin()
        cls.c = Client(cls.url)
        cls.c.ctl("POST", "/tokens", {"token": "tok", "username": "semver-bot"}, expect=201)
        cls.c.ctl("POST", "/tokens", {"token": "ro", "username": "reader", "read_only": True}, expect=201)
        cls.c.ctl("POST", "/tokens", {"token": "job", "username": "ci", "kind": "job"}, expect=201)
        cls.tmp = tempfile.mkdtemp(prefix="standin-test-")
        cls.genv = dict(os.environ)
        for k in list(cls.genv):
            if k.startswith("GIT_"):
                del cls.genv[k]
        cls.genv.update({
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false",
            "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
            "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
            "LC_ALL": "C", "no_proxy": "*", "NO_PROXY": "*",
        })

    @classmethod
    def tearDownClass(cls):
        stop_standin(cls.proc)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.c.ctl("DELETE", "/faults")
        self.c.ctl("DELETE", "/counters")

    # helpers ---------------------------------------------------------------

    def project(self, **kw):
        StandinCase.counter += 1
        body = {"path_with_namespace": "grp/sub/p%d" % StandinCase.counter}
        body.update(kw)
        _, p = self.c.ctl("POST", "/projects", body, expect=201)
        return p

    def commit(self, pid, branch, files, message="change", start=None):
        body = {"branch": branch, "files": files, "message": message}
        if start:
            body["start_branch"] = start
        return self.c.ctl("POST", "/projects/%s/commits" % pid, body, expect=201)[1]["sha"]

    def git(self, *args, cwd=None, check=True):
        p = subprocess.run(["git"] + list(args), cwd=cwd, env=self.genv, capture_output=True,
                           text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("git %s failed: %s" % (" ".join(args), p.stderr))
        return p

    def git_url(self, project, user="oauth2", token="tok"):
        u = urllib.parse.urlsplit(self.url)
        cred = "" if token is None else "%s:%s@" % (user, token)
        return "http://%s%s:%d/%s.git" % (cred, u.hostname, u.port, project["path_with_namespace"])

    def clone(self, project, token="tok", user="oauth2"):
        d = tempfile.mkdtemp(dir=self.tmp)
        self.git("clone", "-q", self.git_url(project, user, token), d)
        return d

    def bare_is_ancestor(self, project, a, b):
        return subprocess.run(["git", "--git-dir", project["repo_path"], "merge-base",
                               "--is-ancestor", a, b], env=self.genv).returncode == 0

    def bare(self, project, *args):
        return subprocess.run(["git", "--git-dir", project["repo_path"]] + list(args),
                              env=self.genv, capture_output=True, text=True,
                              check=True).stdout.strip()

    def head(self, project, branch="main"):
        return self.c.ctl("GET", "/projects/%d/refs" % project["id"])[1]["refs/heads/" + branch]

    def open_mr(self, pid, src, **kw):
        body = {"source_branch": src, "title": kw.pop("title", "MR from " + src)}
        body.update(kw)
        return self.c.ctl("POST", "/projects/%s/merge_requests" % pid, body, expect=201)[1]


# ---------------------------------------------------------------------------

class TestLifecycle(unittest.TestCase):
    def test_prints_url_and_sigterm_removes_state(self):
        tmp = tempfile.mkdtemp(prefix="standin-life-")
        try:
            env = dict(os.environ, TMPDIR=tmp)
            p, url = start_standin(env=env)
            self.assertRegex(url, r"^http://127\.0\.0\.1:\d+$")
            self.assertEqual(len(os.listdir(tmp)), 1)  # its state dir
            st, _, body = Client(url).request("GET", "/__control__/health")
            self.assertEqual((st, json.loads(body)), (200, {"ok": True}))
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(10), 0)
            self.assertEqual(p.stdout.read(), b"")  # exactly one line on stdout
            p.stdin.close()
            p.stdout.close()
            self.assertEqual(os.listdir(tmp), [])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_stdin_eof_stops_it(self):
        p, _ = start_standin()
        p.stdin.close()
        self.assertEqual(p.wait(10), 0)
        p.stdout.close()

    def test_parent_exit_stops_it(self):
        tmp = tempfile.mkdtemp(prefix="standin-life-")
        try:
            pidfile = os.path.join(tmp, "pid")
            env = dict(os.environ, TMPDIR=tmp)
            # The shell is the parent; it exits once the URL was printed.
            script = ('"%s" "%s" > "%s/url" & echo $! > "%s"; '
                      'while ! grep -q http "%s/url" 2>/dev/null; do sleep 0.05; done'
                      % (sys.executable, STANDIN, tmp, pidfile, tmp))
            subprocess.run(["sh", "-c", script], env=env, check=True, timeout=30)
            with open(pidfile) as f:
                pid = int(f.read())

            def gone():
                try:
                    os.kill(pid, 0)
                    return False
                except ProcessLookupError:
                    return True
            self.assertTrue(wait_until(gone, 10))
            self.assertTrue(wait_until(lambda: sorted(os.listdir(tmp)) == ["pid", "url"], 5))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_state_dir_is_kept(self):
        tmp = tempfile.mkdtemp(prefix="standin-life-")
        try:
            p, url = start_standin("--state-dir", os.path.join(tmp, "st"))
            Client(url).ctl("POST", "/projects", {"path_with_namespace": "a/b"}, expect=201)
            stop_standin(p)
            self.assertTrue(os.path.isdir(os.path.join(tmp, "st", "repos", "a", "b.git")))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class TestRestAuthAndProjects(StandinCase):
    def test_project_by_id_and_encoded_path(self):
        p = self.project(id=4242, default_branch="trunk")
        st, _, js, _ = self.c.api("GET", "/projects/4242")
        self.assertEqual(st, 200)
        self.assertEqual(js["path_with_namespace"], p["path_with_namespace"])
        self.assertEqual(js["default_branch"], "trunk")
        self.assertEqual(js["http_url_to_repo"], "%s/%s.git" % (self.url, p["path_with_namespace"]))
        self.assertEqual(js["web_url"], "%s/%s" % (self.url, p["path_with_namespace"]))
        self.assertEqual(js["namespace"]["full_path"], "grp/sub")
        enc = urllib.parse.quote(p["path_with_namespace"], safe="")
        st, _, js2, _ = self.c.api("GET", "/projects/" + enc)
        self.assertEqual((st, js2["id"]), (200, 4242))
        # Unencoded path: route mismatch, Grape's error shape.
        st, _, js3, _ = self.c.api("GET", "/projects/" + p["path_with_namespace"])
        self.assertEqual((st, js3), (404, {"error": "404 Not Found"}))
        st, _, js4, _ = self.c.api("GET", "/projects/999999")
        self.assertEqual((st, js4), (404, {"message": "404 Project Not Found"}))

    def test_auth_forms_and_failures(self):
        p = self.project()
        path = "/projects/%d/merge_requests" % p["id"]
        self.assertEqual(self.c.api("GET", path)[0], 200)
        st, _, _, _ = self.c.api("GET", path, token=None, headers={"Authorization": "Bearer tok"})
        self.assertEqual(st, 200)
        st, _, _, _ = self.c.api("GET", path + "?private_token=tok", token=None)
        self.assertEqual(st, 200)
        st, _, _, raw = self.c.api("GET", path, token="wrong")
        self.assertEqual((st, raw), (401, b'{"message":"401 Unauthorized"}'))
        st, _, _, raw = self.c.api("GET", path, token=None, headers={"Authorization": "Bearer nope"})
        self.assertEqual((st, raw), (401, b'{"message":"401 Unauthorized"}'))
        # No token: a private project does not exist for anonymous users.
        st, _, js, _ = self.c.api("GET", path, token=None)
        self.assertEqual((st, js), (404, {"message": "404 Project Not Found"}))
        st, _, _, raw = self.c.api("GET", "/user", token=None)
        self.assertEqual((st, raw), (401, b'{"message":"401 Unauthorized"}'))
        # Revoked token.
        self.c.ctl("POST", "/tokens", {"token": "tmp-tok"}, expect=201)
        self.assertEqual(self.c.api("GET", path, token="tmp-tok")[0], 200)
        self.c.ctl("DELETE", "/tokens/tmp-tok", expect=204)
        self.assertEqual(self.c.api("GET", path, token="tmp-tok")[0], 401)

    def test_job_token_only_for_releases(self):
        p = self.project()
        path = "/projects/%d/merge_requests" % p["id"]
        st, _, js, _ = self.c.api("GET", path, token=None, headers={"JOB-TOKEN": "job"})
        self.assertEqual((st, js), (404, {"message": "404 Project Not Found"}))
        # A job token in PRIVATE-TOKEN is not a personal token.
        self.assertEqual(self.c.api("GET", path, token="job")[0], 401)
        st, _, js, _ = self.c.api("POST", "/projects/%d/releases" % p["id"], token=None,
                                  headers={"JOB-TOKEN": "job"},
                                  body={"tag_name": "1.0.0", "ref": "main"})
        self.assertEqual(st, 201, js)
        self.assertEqual(js["author"]["username"], "ci")
        st, _, _, _ = self.c.api("POST", "/projects/%d/releases" % p["id"], token=None,
                                 headers={"JOB-TOKEN": "bad"}, body={"tag_name": "1.0.1", "ref": "main"})
        self.assertEqual(st, 401)

    def test_read_only_token_cannot_write(self):
        p = self.project()
        self.commit(p["id"], "f", {"f": "1"})
        mr = self.open_mr(p["id"], "f")
        self.assertEqual(self.c.api("GET", "/projects/%d/merge_requests" % p["id"], token="ro")[0], 200)
        st, _, js, _ = self.c.api("POST", "/projects/%d/merge_requests/%d/notes" % (p["id"], mr["iid"]),
                                  token="ro", body={"body": "hi"})
        self.assertEqual((st, js), (403, {"message": "403 Forbidden"}))
        st, _, _, _ = self.c.api("POST", "/projects/%d/releases" % p["id"], token="ro",
                                 body={"tag_name": "1.0.0", "ref": "main"})
        self.assertEqual(st, 403)

    def test_user_and_unknown_route(self):
        st, _, js, _ = self.c.api("GET", "/user")
        self.assertEqual((st, js["username"]), (200, "semver-bot"))
        st, _, js, _ = self.c.api("GET", "/projects/1/nope")
        self.assertEqual((st, js), (404, {"error": "404 Not Found"}))


class TestMergeRequestsAndPagination(StandinCase):
    def walk(self, path, per_page):
        items, pages, last_headers = [], 0, None
        page = 1
        while True:
            sep = "&" if "?" in path else "?"
            st, hd, js, _ = self.c.api("GET", "%s%spage=%d&per_page=%d" % (path, sep, page, per_page))
            self.assertEqual(st, 200)
            pages += 1
            items += js
            last_headers = hd
            nxt = hd["X-Next-Page"]
            self.assertIsNotNone(nxt)  # present, empty on the last page
            if nxt == "":
                break
            page = int(nxt)
        return items, pages, last_headers

    def test_pagination_walk_with_totals(self):
        p = self.project()
        _, r = self.c.ctl("POST", "/projects/%d/merge_requests/bulk" % p["id"],
                          {"merge_requests": [{"title": "m%d" % i} for i in range(45)]}, expect=201)
        self.assertEqual(r["count"], 45)
        path = "/projects/%d/merge_requests?state=merged" % p["id"]
        st, hd, js, _ = self.c.api("GET", path)
        self.assertEqual((len(js), hd["X-Per-Page"], hd["X-Page"]), (20, "20", "1"))
        self.assertEqual((hd["X-Total"], hd["X-Total-Pages"], hd["X-Next-Page"], hd["X-Prev-Page"]),
                         ("45", "3", "2", ""))
        self.assertIn('rel="next"', hd["Link"])
        self.assertIn('rel="last"', hd["Link"])
        self.assertIn("state=merged", hd["Link"])
        self.assertNotIn('rel="prev"', hd["Link"])
        items, pages, last = self.walk(path, 20)
        self.assertEqual(pages, 3)
        self.assertEqual(len({m["iid"] for m in items}), 45)
        self.assertEqual(last["X-Prev-Page"], "2")
        self.assertNotIn('rel="next"', last["Link"])
        # Default order: created_at desc.
        self.assertEqual([m["iid"] for m in items], list(range(45, 0, -1)))
        # per_page is clamped to 100.
        st, hd, js, _ = self.c.api("GET", path + "&per_page=500")
        self.assertEqual((len(js), hd["X-Per-Page"]), (45, "100"))
        # Out of range page.
        st, hd, js, _ = self.c.api("GET", path + "&page=9")
        self.assertEqual((js, hd["X-Next-Page"], hd["X-Prev-Page"]), ([], "", ""))

    def test_pagination_without_totals_above_10000(self):
        p = self.project()
        for _ in range(3):
            self.c.ctl("POST", "/projects/%d/merge_requests/bulk" % p["id"],
                       {"merge_requests": [{}] * 3400}, expect=201)
        self.c.ctl("POST", "/projects/%d/merge_requests/bulk" % p["id"],
                   {"merge_requests": [{"state": "opened"}] * 5}, expect=201)
        path = "/projects/%d/merge_requests?state=merged&order_by=updated_at&sort=asc" % p["id"]
        st, hd, js, _ = self.c.api("GET", path + "&per_page=100")
        self.assertNotIn("X-Total", hd)
        self.assertNotIn("X-Total-Pages", hd)
        self.assertNotIn('rel="last"', hd["Link"])
        self.assertEqual(hd["X-Next-Page"], "2")
        items, pages, _ = self.walk(path, 100)
        self.assertEqual((len(items), pages), (10200, 102))
        self.assertEqual(len({m["id"] for m in items}), 10200)
        ups = [m["updated_at"] for m in items]
        self.assertEqual(ups, sorted(ups))
        # 5 open ones: totals are back.
        st, hd, js, _ = self.c.api("GET", "/projects/%d/merge_requests?state=opened" % p["id"])
        self.assertEqual((hd["X-Total"], len(js)), ("5", 5))

    def test_filters_and_validation(self):
        p = self.project()
        pid = p["id"]
        self.c.ctl("POST", "/projects/%d/merge_requests/bulk" % pid, {"merge_requests": [
            {"title": "a", "target_branch": "main", "updated_at": "2026-01-01T10:00:00.000Z"},
            {"title": "b", "target_branch": "release/1", "updated_at": "2026-01-02T10:00:00.000Z"},
            {"title": "c", "target_branch": "main", "updated_at": "2026-01-03T10:00:00.000Z",
             "labels": ["Impact::Minor", "Alpha"]},
            {"title": "d", "state": "opened", "updated_at": "2026-01-04T10:00:00.000Z"},
        ]}, expect=201)
        base = "/projects/%d/merge_requests" % pid

        def titles(q):
            st, _, js, raw = self.c.api("GET", base + q)
            self.assertEqual(st, 200, raw)
            return [m["title"] for m in js]
        self.assertEqual(titles(""), ["d", "c", "b", "a"])  # state defaults to all
        self.assertEqual(titles("?state=merged&target_branch=main"), ["c", "a"])
        self.assertEqual(titles("?state=merged&target_branch=release%2F1"), ["b"])
        # Inclusive bounds.
        self.assertEqual(titles("?updated_after=2026-01-02T10:00:00.000Z&order_by=updated_at&sort=asc"),
                         ["b", "c", "d"])
        self.assertEqual(titles("?updated_before=2026-01-02T10:00:00Z&state=merged"), ["b", "a"])
        self.assertEqual(titles("?updated_after=2026-01-02T12:00:00%2B02:00&sort=asc"), ["b", "c", "d"])
        # Labels are sorted strings.
        st, _, js, _ = self.c.api("GET", base + "?state=merged&target_branch=main")
        self.assertEqual(js[0]["labels"], ["Alpha", "Impact::Minor"])
        for q, err in (("?state=bogus", "state does not have a valid value"),
                       ("?order_by=bogus", "order_by does not have a valid value"),
                       ("?sort=up", "sort does not have a valid value"),
                       ("?updated_after=2026-01-02T12:00:00+02:00", "updated_after is invalid"),
                       ("?per_page=x", "per_page is invalid")):
            st, _, js, _ = self.c.api("GET", base + q)
            self.assertEqual((st, js), (400, {"error": err}), q)
        # Unknown parameters are ignored (like Grape): merged_after filters nothing.
        self.assertEqual(titles("?merged_after=2030-01-01T00:00:00Z"), ["d", "c", "b", "a"])

    def test_mr_fields_are_gitlabs(self):
        p = self.project()
        self.commit(p["id"], "feature/x", {"x": "1"})
        mr = self.open_mr(p["id"], "feature/x", title="Add x", labels=["Impact::Patch"],
                          author="alice")
        st, _, single, _ = self.c.api("GET", "/projects/%d/merge_requests/%d" % (p["id"], mr["iid"]))
        self.assertEqual(st, 200)
        self.assertEqual(single, mr)
        st, _, lst, _ = self.c.api("GET", "/projects/%d/merge_requests?state=opened" % p["id"])
        m = lst[0]
        for k in ("id", "iid", "project_id", "title", "description", "state", "created_at",
                  "updated_at", "merged_by", "merge_user", "merged_at", "closed_by", "closed_at",
                  "target_branch", "source_branch", "user_notes_count", "upvotes", "downvotes",
                  "author", "assignees", "assignee", "reviewers", "source_project_id",
                  "target_project_id", "labels", "draft", "work_in_progress", "milestone",
                  "merge_when_pipeline_succeeds", "merge_status", "detailed_merge_status", "sha",
                  "merge_commit_sha", "squash_commit_sha", "discussion_locked",
                  "should_remove_source_branch", "force_remove_source_branch", "reference",
                  "references", "web_url", "time_stats", "squash", "squash_on_merge",
                  "task_completion_status", "has_conflicts", "blocking_discussions_resolved"):
            self.assertIn(k, m)
        self.assertNotIn("diff_refs", m)  # single-MR only
        self.assertIn("diff_refs", single)
        self.assertNotEqual(m["id"], m["iid"])
        self.assertEqual(m["author"]["username"], "alice")
        self.assertEqual(set(m["author"]), {"id", "username", "name", "state", "locked",
                                            "avatar_url", "web_url"})
        self.assertIsNone(m["merged_at"])
        self.assertIsNone(m["merge_commit_sha"])
        self.assertEqual(m["references"]["full"], "%s!%d" % (p["path_with_namespace"], mr["iid"]))
        self.assertEqual(m["web_url"], "%s/%s/-/merge_requests/%d" % (self.url, p["path_with_namespace"], mr["iid"]))
        self.assertRegex(m["updated_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        st, _, js, _ = self.c.api("GET", "/projects/%d/merge_requests/999" % p["id"])
        self.assertEqual((st, js), (404, {"message": "404 Not found"}))

    def test_open_mr_sha_follows_pushes(self):
        p = self.project()
        s1 = self.commit(p["id"], "feat", {"a": "1"})
        mr = self.open_mr(p["id"], "feat")
        self.assertEqual(mr["sha"], s1)
        d = self.clone(p)
        self.git("checkout", "-q", "feat", cwd=d)
        with open(os.path.join(d, "b"), "w") as f:
            f.write("2\n")
        self.git("add", "b", cwd=d)
        self.git("commit", "-q", "-m", "b", cwd=d)
        # A tiny post buffer makes git send the pack with chunked encoding.
        big = os.urandom(200000).hex()
        with open(os.path.join(d, "big"), "w") as f:
            f.write(big)
        self.git("add", "big", cwd=d)
        self.git("commit", "-q", "-m", "big", cwd=d)
        self.git("-c", "http.postBuffer=1024", "push", "-q", "origin", "feat", cwd=d)
        new = self.git("rev-parse", "HEAD", cwd=d).stdout.strip()
        d2 = self.clone(p)
        self.git("checkout", "-q", "feat", cwd=d2)
        with open(os.path.join(d2, "big")) as f:
            self.assertEqual(f.read(), big)
        st, _, js, _ = self.c.api("GET", "/projects/%d/merge_requests/%d" % (p["id"], mr["iid"]))
        self.assertEqual(js["sha"], new)


class TestMergeMethods(StandinCase):
    def setup_diverged(self, diverge=True):
        p = self.project()
        pid = p["id"]
        self.commit(pid, "feature", {"f1": "1\n"}, "f1")
        src = self.commit(pid, "feature", {"f2": "2\n"}, "f2")
        if diverge:
            self.commit(pid, "main", {"m": "m\n"}, "main moves on")
        return p, src, self.head(p)

    def merge(self, p, iid, expect=200, **body):
        return self.c.ctl("POST", "/projects/%d/merge_requests/%d/merge" % (p["id"], iid), body,
                          expect=expect)[1]

    def test_merge_commit(self):
        p, src, old_main = self.setup_diverged()
        mr = self.open_mr(p["id"], "feature", title="Feature")
        out = self.merge(p, mr["iid"], method="merge", user="maint")
        main = self.head(p)
        self.assertEqual(out["state"], "merged")
        self.assertEqual(out["merge_commit_sha"], main)
        self.assertIsNone(out["squash_commit_sha"])
        self.assertEqual(out["sha"], src)
        self.assertEqual(out["merge_user"]["username"], "maint")
        self.assertIsNotNone(out["merged_at"])
        self.assertEqual(self.bare(p, "rev-parse", main + "^1", main + "^2").split(), [old_main, src])
        self.assertTrue(self.bare_is_ancestor(p, src, main))
        self.assertTrue(self.bare_is_ancestor(p, old_main, main))
        msg = self.bare(p, "log", "-1", "--format=%B", main)
        self.assertEqual(msg, "Merge branch 'feature' into 'main'\n\nFeature\n\nSee merge request %s!%d"
                         % (p["path_with_namespace"], mr["iid"]))
        # Also through a clone over HTTP.
        d = self.clone(p)
        self.assertEqual(self.git("merge-base", "--is-ancestor", src, "origin/main", cwd=d,
                                  check=False).returncode, 0)
        # Merging twice is refused.
        self.merge(p, mr["iid"], expect=405, method="merge")

    def test_squash_with_merge_commit(self):
        p, src, old_main = self.setup_diverged()
        mr = self.open_mr(p["id"], "feature", title="Squashed feature")
        out = self.merge(p, mr["iid"], method="squash")
        main = self.head(p)
        sq = out["squash_commit_sha"]
        self.assertEqual(out["merge_commit_sha"], main)
        self.assertIsNotNone(sq)
        self.assertTrue(out["squash"])
        self.assertEqual(self.bare(p, "rev-parse", main + "^2"), sq)  # squash = 2nd parent
        self.assertTrue(self.bare_is_ancestor(p, sq, main))
        self.assertFalse(self.bare_is_ancestor(p, src, main))  # source commits did not land
        self.assertEqual(self.bare(p, "rev-parse", sq + "^{tree}"), self.bare(p, "rev-parse", src + "^{tree}"))
        base = self.bare(p, "merge-base", old_main, src)
        self.assertEqual(self.bare(p, "rev-parse", sq + "^"), base)
        self.assertEqual(self.bare(p, "log", "-1", "--format=%s", sq), "Squashed feature")

    def test_fast_forward(self):
        p, src, old_main = self.setup_diverged(diverge=False)
        mr = self.open_mr(p["id"], "feature")
        out = self.merge(p, mr["iid"], method="ff")
        self.assertIsNone(out["merge_commit_sha"])
        self.assertIsNone(out["squash_commit_sha"])
        self.assertEqual(out["sha"], src)
        self.assertEqual(self.head(p), src)
        self.assertTrue(self.bare_is_ancestor(p, old_main, src))

    def test_fast_forward_needs_rebase(self):
        p, src, old_main = self.setup_diverged()
        mr = self.open_mr(p["id"], "feature")
        self.merge(p, mr["iid"], expect=409, method="ff")
        out = self.merge(p, mr["iid"], method="ff", rebase=True)
        main = self.head(p)
        self.assertEqual(out["sha"], main)  # rebased head, like after "Rebase"
        self.assertNotEqual(out["sha"], src)
        self.assertIsNone(out["merge_commit_sha"])
        self.assertTrue(self.bare_is_ancestor(p, old_main, main))
        self.assertFalse(self.bare_is_ancestor(p, src, main))
        self.assertEqual(self.head(p, "feature"), main)

    def test_fast_forward_automatic_rebase_hides_landed_commit(self):
        p, src, old_main = self.setup_diverged()
        mr = self.open_mr(p["id"], "feature")
        out = self.merge(p, mr["iid"], method="ff", auto_rebase=True)
        main = self.head(p)
        self.assertEqual(out["sha"], src)  # pre-rebase head: not on main
        self.assertIsNone(out["merge_commit_sha"])
        self.assertIsNone(out["squash_commit_sha"])
        self.assertFalse(self.bare_is_ancestor(p, src, main))
        self.assertTrue(self.bare_is_ancestor(p, old_main, main))

    def test_fast_forward_squash(self):
        p, src, old_main = self.setup_diverged(diverge=False)
        mr = self.open_mr(p["id"], "feature")
        out = self.merge(p, mr["iid"], method="ff_squash")
        main = self.head(p)
        self.assertIsNone(out["merge_commit_sha"])
        self.assertEqual(out["squash_commit_sha"], main)
        self.assertEqual(self.bare(p, "rev-parse", main + "^"), old_main)
        self.assertFalse(self.bare_is_ancestor(p, src, main))

    def test_semi_linear(self):
        p, src, old_main = self.setup_diverged()
        mr = self.open_mr(p["id"], "feature")
        self.merge(p, mr["iid"], expect=409, method="semi_linear")
        out = self.merge(p, mr["iid"], method="semi_linear", rebase=True)
        main = self.head(p)
        self.assertEqual(out["merge_commit_sha"], main)
        self.assertEqual(self.bare(p, "rev-parse", main + "^1"), old_main)
        self.assertEqual(self.bare(p, "rev-parse", main + "^2"), out["sha"])

    def test_into_other_target_and_conflict(self):
        p = self.project()
        pid = p["id"]
        self.c.ctl("POST", "/projects/%d/branches" % pid, {"branch": "release/1", "ref": "main"}, expect=201)
        src = self.commit(pid, "fix", {"README.md": "fixed\n"}, start="release/1")
        mr = self.open_mr(pid, "fix", target_branch="release/1")
        out = self.merge(p, mr["iid"], method="merge")
        self.assertEqual(out["target_branch"], "release/1")
        self.assertEqual(self.head(p, "release/1"), out["merge_commit_sha"])
        self.assertFalse(self.bare_is_ancestor(p, src, self.head(p)))
        # Conflict.
        self.commit(pid, "c", {"README.md": "one\n"})
        self.commit(pid, "main", {"README.md": "two\n"})
        mr2 = self.open_mr(pid, "c")
        self.merge(p, mr2["iid"], expect=409, method="merge")
        st, _, js, _ = self.c.api("GET", "/projects/%d/merge_requests/%d" % (pid, mr2["iid"]))
        self.assertEqual(js["state"], "opened")


class TestLabelsNotes(StandinCase):
    def setUp(self):
        super().setUp()
        self.p = self.project()
        self.commit(self.p["id"], "f", {"f": "1"})
        self.mr = self.open_mr(self.p["id"], "f", labels=["Bug"])
        self.c.ctl("POST", "/projects/%d/merge_requests/%d/merge" % (self.p["id"], self.mr["iid"]),
                   {"method": "merge"}, expect=200)

    def get_mr(self):
        return self.c.api("GET", "/projects/%d/merge_requests/%d" % (self.p["id"], self.mr["iid"]))[2]

    def test_label_change_after_merge_bumps_updated_at(self):
        before = self.get_mr()
        _, out = self.c.ctl("PUT", "/projects/%d/merge_requests/%d/labels" % (self.p["id"], self.mr["iid"]),
                            {"add": ["Impact::Minor"]}, expect=200)
        self.assertEqual(out["labels"], ["Bug", "Impact::Minor"])
        self.assertGreater(out["updated_at"], before["updated_at"])
        self.assertEqual(out["merged_at"], before["merged_at"])
        st, _, js, _ = self.c.api("GET", "/projects/%d/merge_requests?state=merged&updated_after=%s"
                                  % (self.p["id"], out["updated_at"]))
        self.assertEqual([m["iid"] for m in js], [self.mr["iid"]])
        _, out2 = self.c.ctl("PUT", "/projects/%d/merge_requests/%d/labels" % (self.p["id"], self.mr["iid"]),
                             {"labels": ["Impact::Major"]}, expect=200)
        self.assertEqual(out2["labels"], ["Impact::Major"])
        st, _, notes, _ = self.c.api("GET", "/projects/%d/merge_requests/%d/notes?sort=asc"
                                     % (self.p["id"], self.mr["iid"]))
        self.assertTrue(all(n["system"] for n in notes))
        self.assertRegex(notes[0]["body"], r"^added ~\d+ label$")
        self.assertEqual(out2["user_notes_count"], 0)

    def test_notes_and_quick_actions(self):
        base = "/projects/%d/merge_requests/%d/notes" % (self.p["id"], self.mr["iid"])
        st, _, n1, _ = self.c.api("POST", base, body={"body": "Released 1.2.0 <!-- semver-tagger -->"})
        self.assertEqual(st, 201)
        self.assertGreater(n1["id"], 2 ** 31)  # int64 ids, as on GitLab.com
        self.assertFalse(n1["system"])
        self.assertEqual(n1["author"]["username"], "semver-bot")
        self.assertEqual(n1["noteable_type"], "MergeRequest")
        self.assertEqual(n1["noteable_iid"], self.mr["iid"])
        # Only quick actions: no note, 202, labels changed.
        st, _, js, _ = self.c.api("POST", base, body={"body": '/label ~"Impact::Minor" ~X'})
        self.assertEqual(st, 202)
        self.assertIn("add_label_ids", js["commands_changes"])
        self.assertEqual(self.get_mr()["labels"], ["Bug", "Impact::Minor", "X"])
        # Mixed: the command line is removed; unknown /commands stay.
        st, _, n2, _ = self.c.api("POST", base, body={"body": "text\n/unlabel ~X\n/notacommand here"})
        self.assertEqual(st, 201)
        self.assertEqual(n2["body"], "text\n/notacommand here")
        self.assertEqual(self.get_mr()["labels"], ["Bug", "Impact::Minor"])
        st, _, js, _ = self.c.api("POST", base, body={})
        self.assertEqual((st, js), (400, {"error": "body is missing"}))
        st, hd, notes, _ = self.c.api("GET", base + "?per_page=2")
        self.assertEqual(hd["X-Total"], "4")  # two user notes, two label system notes
        self.assertEqual(len(notes), 2)
        st, _, notes, _ = self.c.api("GET", base + "?per_page=100")
        ids = [n["id"] for n in notes]
        self.assertEqual(ids, sorted(ids, reverse=True))  # default desc
        self.assertEqual(sum(1 for n in notes if n["system"]), 2)
        self.assertEqual(self.get_mr()["user_notes_count"], 2)
        _, ctl_notes = self.c.ctl("GET", "/projects/%d/notes" % self.p["id"])
        self.assertEqual(len(ctl_notes), 4)


class TestReleasesStatuses(StandinCase):
    def test_releases(self):
        p = self.project()
        pid = p["id"]
        main = self.head(p)
        st, _, js, _ = self.c.api("POST", "/projects/%d/releases" % pid, body={"tag_name": "1.0.0"})
        self.assertEqual((st, js), (422, {"message": "Ref is not specified"}))
        st, _, js, _ = self.c.api("POST", "/projects/%d/releases" % pid,
                                  body={"tag_name": "1.0.0", "ref": "nope"})
        self.assertEqual((st, js), (400, {"message": "Target nope is invalid"}))
        st, _, js, _ = self.c.api("POST", "/projects/%d/releases" % pid,
                                  body={"tag_name": "1.0.0", "ref": "main", "description": "notes",
                                        "tag_message": "Release 1.0.0"})
        self.assertEqual(st, 201, js)
        self.assertEqual((js["tag_name"], js["name"], js["description"]), ("1.0.0", "1.0.0", "notes"))
        self.assertEqual(js["commit"]["id"], main)
        self.assertEqual(js["author"]["username"], "semver-bot")
        self.assertEqual(self.bare(p, "cat-file", "-t", "refs/tags/1.0.0"), "tag")
        st, _, js, _ = self.c.api("POST", "/projects/%d/releases" % pid,
                                  body={"tag_name": "1.0.0", "ref": "main"})
        self.assertEqual((st, js), (409, {"message": "Release already exists"}))
        # GitLab limits a release description to 1,000,000 characters
        st, _, js, _ = self.c.api("POST", "/projects/%d/releases" % pid,
                                  body={"tag_name": "1.0.1", "ref": "main",
                                        "description": "x" * 1000001})
        self.assertEqual(st, 400)
        self.assertIn("Description is too long", js["message"])
        st, _, js, _ = self.c.api("GET", "/projects/%d/releases/1.0.1" % pid)
        self.assertEqual(st, 404)
        # Existing tag: no ref needed.
        self.c.ctl("POST", "/projects/%d/tags" % pid, {"tag": "v2.0.0-rc.1", "ref": "main"}, expect=201)
        st, _, js, _ = self.c.api("POST", "/projects/%d/releases" % pid, body={"tag_name": "v2.0.0-rc.1"})
        self.assertEqual(st, 201)
        st, _, js, _ = self.c.api("GET", "/projects/%d/releases/%s" % (pid, urllib.parse.quote("v2.0.0-rc.1", safe="")))
        self.assertEqual((st, js["tag_name"]), (200, "v2.0.0-rc.1"))
        st, _, js, _ = self.c.api("GET", "/projects/%d/releases/9.9.9" % pid)
        self.assertEqual(st, 404)
        _, rels = self.c.ctl("GET", "/projects/%d/releases" % pid)
        self.assertEqual([r["tag_name"] for r in rels], ["1.0.0", "v2.0.0-rc.1"])
        st, hd, js, _ = self.c.api("GET", "/projects/%d/releases" % pid)
        self.assertEqual((st, hd["X-Total"]), (200, "2"))

    def test_statuses(self):
        p = self.project()
        pid = p["id"]
        main = self.head(p)
        st, _, js, _ = self.c.api("POST", "/projects/%d/statuses/%s" % (pid, main),
                                  body={"state": "running", "name": "semver-tagger",
                                        "description": "checking"})
        self.assertEqual(st, 201, js)
        self.assertEqual((js["status"], js["ref"], js["name"], js["sha"]),
                         ("running", "main", "semver-tagger", main))
        st, _, js2, _ = self.c.api("POST", "/projects/%d/statuses/%s" % (pid, main),
                                   body={"state": "success", "name": "semver-tagger"})
        self.assertEqual((st, js2["id"], js2["status"]), (201, js["id"], "success"))
        st, _, lst, _ = self.c.api("GET", "/projects/%d/repository/commits/%s/statuses" % (pid, main))
        self.assertEqual([s["status"] for s in lst], ["success"])
        st, _, js, _ = self.c.api("POST", "/projects/%d/statuses/%s" % (pid, "f" * 40), body={"state": "success"})
        self.assertEqual((st, js), (404, {"message": "404 Commit Not Found"}))
        st, _, js, _ = self.c.api("POST", "/projects/%d/statuses/%s" % (pid, main), body={"state": "done"})
        self.assertEqual((st, js), (400, {"error": "state does not have a valid value"}))
        _, all_st = self.c.ctl("GET", "/projects/%d/statuses" % pid)
        self.assertEqual(len(all_st), 1)


class TestGit(StandinCase):
    def push(self, d, *refspecs, check=False):
        return self.git("push", "origin", *refspecs, cwd=d, check=check)

    def new_commit(self, d, name="x"):
        with open(os.path.join(d, name), "a") as f:
            f.write("x\n")
        self.git("add", name, cwd=d)
        self.git("commit", "-q", "-m", "c " + name, cwd=d)
        return self.git("rev-parse", "HEAD", cwd=d).stdout.strip()

    def test_clone_auth(self):
        p = self.project()
        d = self.clone(p, user="anything")
        self.assertTrue(os.path.exists(os.path.join(d, "README.md")))
        bad = self.git("clone", "-q", self.git_url(p, token="wrong"), os.path.join(self.tmp, "bad"),
                       check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("Authentication failed", bad.stderr)
        none = self.git("clone", "-q", self.git_url(p, token=None), os.path.join(self.tmp, "none"),
                        check=False)
        self.assertNotEqual(none.returncode, 0)
        # The first request without credentials gets 401 + WWW-Authenticate.
        st, hd, _ = self.c.request("GET", "/%s.git/info/refs?service=git-upload-pack" % p["path_with_namespace"])
        self.assertEqual(st, 401)
        self.assertEqual(hd["WWW-Authenticate"], 'Basic realm="GitLab"')
        # Job token: only as gitlab-ci-token, fetch only.
        d2 = self.clone(p, user="gitlab-ci-token", token="job")
        self.assertNotEqual(self.git("clone", "-q", self.git_url(p, "oauth2", "job"),
                                     os.path.join(self.tmp, "job2"), check=False).returncode, 0)
        self.new_commit(d2)
        r = self.push(d2, "HEAD:refs/heads/jobpush")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("You are not allowed to push code to this project.", r.stderr)

    def test_push_tag_and_tag_rules(self):
        p = self.project()
        d = self.clone(p)
        self.git("tag", "1.0.0", cwd=d)
        r = self.push(d, "refs/tags/1.0.0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("refs/tags/1.0.0", self.c.ctl("GET", "/projects/%d/refs" % p["id"])[1])
        # Move the tag: rejected.
        self.new_commit(d)
        self.git("tag", "-f", "1.0.0", cwd=d)
        r = self.push(d, "-f", "refs/tags/1.0.0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("remote: GitLab: Protected tags cannot be updated.", r.stderr)
        self.assertIn("pre-receive hook declined", r.stderr)
        # Delete: rejected.
        r = self.push(d, ":refs/tags/1.0.0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("You can only delete protected tags using the web interface.", r.stderr)
        # Whole push refused when one ref is refused.
        self.git("tag", "1.0.1", cwd=d)
        r = self.push(d, "-f", "refs/tags/1.0.0", "refs/tags/1.0.1")
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("refs/tags/1.0.1", self.c.ctl("GET", "/projects/%d/refs" % p["id"])[1])

    def test_protected_branches(self):
        p = self.project()
        pid = p["id"]
        self.c.ctl("POST", "/projects/%d/protected_branches" % pid, {"name": "main", "level": "no_force_push"},
                   expect=201)
        self.c.ctl("POST", "/projects/%d/protected_branches" % pid, {"name": "release/*", "level": "no_push"},
                   expect=201)
        d = self.clone(p)
        self.new_commit(d, "a")
        r = self.push(d, "HEAD:main")  # fast-forward: fine
        self.assertEqual(r.returncode, 0, r.stderr)
        self.git("reset", "-q", "--hard", "HEAD~1", cwd=d)
        self.new_commit(d, "b")
        r = self.push(d, "-f", "HEAD:main")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("remote: GitLab: You are not allowed to force push code to a protected branch "
                      "on this project.", r.stderr)
        r = self.push(d, "HEAD:refs/heads/release/1")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("You are not allowed to push code to protected branches on this project.", r.stderr)
        r = self.push(d, ":main")
        self.assertNotEqual(r.returncode, 0)
        # Unprotect: force push works.
        self.c.ctl("DELETE", "/projects/%d/protected_branches/main" % pid, expect=204)
        r = self.push(d, "-f", "HEAD:main")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_read_only_token_push_refused(self):
        p = self.project()
        d = self.clone(p, token="ro")
        self.new_commit(d)
        r = self.push(d, "HEAD:main")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("You are not allowed to push code to this project.", r.stderr)

    def signed_copy(self, d, message):
        """A commit like HEAD with a gpgsig header (the hook checks presence,
        like GitLab's "Reject unsigned commits"); returns its sha."""
        raw = self.git("cat-file", "commit", "HEAD", cwd=d).stdout
        head, _, _ = raw.partition("\n\n")
        body = (head + "\ngpgsig -----BEGIN SSH SIGNATURE-----\n U1NIU0lH\n"
                " -----END SSH SIGNATURE-----\n\n" + message + "\n")
        p = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=d,
                           env=self.genv, input=body, capture_output=True, text=True, check=True)
        return p.stdout.strip()

    def test_push_rule_api(self):
        p = self.project()
        pid = p["id"]
        self.c.ctl("POST", "/tokens", {"token": "dev", "username": "dev", "role": "developer"}, expect=201)
        st, _, js, raw = self.c.api("GET", "/projects/%d/push_rule" % pid)
        self.assertEqual((st, raw), (200, b"null"))  # none: JSON null like GitLab
        self.c.ctl("PUT", "/projects/%d/push_rule" % pid,
                   {"reject_unsigned_commits": True, "commit_message_regex": "^Release"}, expect=200)
        st, _, js, _ = self.c.api("GET", "/projects/%s/push_rule" % urllib.parse.quote(
            p["path_with_namespace"], safe=""))
        self.assertEqual(st, 200)
        self.assertEqual(js["project_id"], pid)
        self.assertIs(js["reject_unsigned_commits"], True)
        self.assertEqual(js["commit_message_regex"], "^Release")
        self.assertIsNone(js["commit_message_negative_regex"])
        for k in ("commit_committer_check", "commit_committer_name_check", "member_check",
                  "deny_delete_tag", "prevent_secrets", "reject_non_dco_commits"):
            self.assertIs(js[k], False, k)
        self.assertEqual(self.c.api("GET", "/projects/%d/push_rule" % pid, token="dev")[2],
                         {"message": "403 Forbidden"})
        self.assertEqual(self.c.api("GET", "/projects/%d/push_rule" % pid, token=None)[0], 401)
        try:
            self.c.ctl("POST", "/edition", {"edition": "ee-unlicensed"}, expect=200)
            self.assertEqual(self.c.api("GET", "/projects/%d/push_rule" % pid)[1:3][1],
                             {"message": "404 Not Found"})
            self.c.ctl("POST", "/edition", {"edition": "ce"}, expect=200)
            self.assertEqual(self.c.api("GET", "/projects/%d/push_rule" % pid)[1:3][1],
                             {"error": "404 Not Found"})
        finally:
            self.c.ctl("POST", "/edition", {"edition": "ee"}, expect=200)
        self.c.ctl("DELETE", "/projects/%d/push_rule" % pid, expect=204)
        self.assertEqual(self.c.api("GET", "/projects/%d/push_rule" % pid)[3], b"null")

    def test_push_rule_unsigned_commits(self):
        p = self.project()
        pid = p["id"]
        self.c.ctl("PUT", "/projects/%d/push_rule" % pid, {"reject_unsigned_commits": True}, expect=200)
        d = self.clone(p)
        sha = self.new_commit(d, "u")
        r = self.push(d, "HEAD:main")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("remote: GitLab: Commit must be signed with a GPG key", r.stderr)
        self.assertIn("pre-receive hook declined", r.stderr)
        refs = self.c.ctl("GET", "/projects/%d/refs" % pid)[1]
        self.assertNotEqual(refs["refs/heads/main"], sha)
        # GitLab checks the commits of branch pushes only: a tag lands (the
        # half-release semver-tagger must avoid by checking first).
        self.git("tag", "9.0.0", cwd=d)
        r = self.push(d, "refs/tags/9.0.0")
        self.assertEqual(r.returncode, 0, r.stderr)
        # Only commits new to the repository are checked (GitLab's
        # new_commits: rev-list --not --all), so push a fresh one.
        self.new_commit(d, "v")
        signed = self.signed_copy(d, "c u signed")
        r = self.push(d, "%s:refs/heads/main" % signed)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.c.ctl("GET", "/projects/%d/refs" % pid)[1]["refs/heads/main"], signed)

    def test_push_rule_messages_and_committer(self):
        p = self.project()
        pid = p["id"]
        self.c.ctl("PUT", "/projects/%d/push_rule" % pid,
                   {"commit_message_regex": "^c ", "commit_message_negative_regex": "secret"},
                   expect=200)
        d = self.clone(p)
        self.git("commit", "-q", "--allow-empty", "-m", "wip", cwd=d)
        r = self.push(d, "HEAD:main")
        self.assertIn("GitLab: Commit message does not follow the pattern '^c '", r.stderr)
        self.git("commit", "-q", "--amend", "--allow-empty", "-m", "c secret", cwd=d)
        r = self.push(d, "HEAD:main")
        self.assertIn("GitLab: Commit message contains the forbidden pattern 'secret'", r.stderr)
        self.c.ctl("DELETE", "/projects/%d/push_rule" % pid, expect=204)
        self.c.ctl("PUT", "/projects/%d/push_rule" % pid, {"commit_committer_check": True}, expect=200)
        self.git("commit", "-q", "--amend", "--allow-empty", "-m", "c ok", cwd=d)
        r = self.push(d, "HEAD:main")  # committer test@example.invalid is not semver-bot's email
        self.assertIn("GitLab: You cannot push commits for 'test@example.invalid'. You can only push "
                      "commits that were committed with one of your own verified emails.", r.stderr)
        # a secondary email counts once confirmed (GET /user/emails lists it)
        self.c.ctl("POST", "/users/semver-bot/emails", {"email": "bot@corp.example",
                                                        "confirmed": False}, expect=201)
        env = dict(self.genv, GIT_COMMITTER_EMAIL="bot@corp.example")
        subprocess.run(["git", "commit", "-q", "--amend", "--allow-empty", "-m", "c ok"], cwd=d,
                       env=env, check=True)
        r = self.push(d, "HEAD:main")
        self.assertIn("You cannot push commits for 'bot@corp.example'", r.stderr)
        self.c.ctl("POST", "/users/semver-bot/emails", {"email": "bot2@corp.example"}, expect=201)
        st, _, js, _ = self.c.api("GET", "/user/emails")
        self.assertEqual([(e["email"], e["confirmed_at"] is not None) for e in js],
                         [("bot@corp.example", False), ("bot2@corp.example", True)])
        env = dict(self.genv, GIT_COMMITTER_EMAIL="bot2@corp.example")
        subprocess.run(["git", "commit", "-q", "--amend", "--allow-empty", "-m", "c ok"], cwd=d,
                       env=env, check=True)
        r = self.push(d, "HEAD:main")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_concurrent_pushes_of_one_tag(self):
        p = self.project()
        d1, d2 = self.clone(p), self.clone(p)
        self.new_commit(d1, "one")
        self.new_commit(d2, "two")
        self.git("tag", "3.0.0", cwd=d1)
        self.git("tag", "3.0.0", cwd=d2)
        results = {}

        def go(name, d):
            results[name] = self.push(d, "refs/tags/3.0.0")
        ts = [threading.Thread(target=go, args=(n, d)) for n, d in (("a", d1), ("b", d2))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        codes = sorted(r.returncode == 0 for r in results.values())
        self.assertEqual(codes, [False, True])
        winner = d1 if results["a"].returncode == 0 else d2
        self.assertEqual(self.c.ctl("GET", "/projects/%d/refs" % p["id"])[1]["refs/tags/3.0.0"],
                         self.git("rev-parse", "HEAD", cwd=winner).stdout.strip())
        # Fetches in parallel.
        outs = []

        def fetch():
            outs.append(self.git("fetch", "-q", "--no-tags", "origin", cwd=d1, check=False).returncode)
        ts = [threading.Thread(target=fetch) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(outs, [0, 0, 0, 0])


class TestFaults(StandinCase):
    def fault(self, **kw):
        self.c.ctl("POST", "/faults", kw, expect=201)

    def test_status_faults_and_counters(self):
        p = self.project()
        path = "/projects/%d/merge_requests" % p["id"]
        self.fault(endpoint="GET /api/v4/projects/:id/merge_requests", count=2, status=503)
        self.assertEqual(self.c.api("GET", path)[0], 503)
        st, hd, _, raw = self.c.api("GET", path)
        self.assertEqual(st, 503)
        self.assertIn(b"<html>", raw)
        self.assertEqual(self.c.api("GET", path)[0], 200)
        _, counters = self.c.ctl("GET", "/counters")
        self.assertEqual(counters["GET /api/v4/projects/:id/merge_requests"], 3)
        self.fault(path="/api/v4/projects/*/merge_requests", method="GET", status=500)
        st, _, js, _ = self.c.api("GET", path)
        self.assertEqual((st, js), (500, {"message": "500 Internal Server Error"}))
        self.fault(endpoint="GET /api/v4/projects/:id/merge_requests", status=502)
        self.assertEqual(self.c.api("GET", path)[0], 502)
        # 429 Rack::Attack style with Retry-After, and the app limiter without it.
        self.fault(endpoint="GET /api/v4/projects/:id/merge_requests", status=429, retry_after="7")
        st, hd, _, raw = self.c.api("GET", path)
        self.assertEqual((st, hd["Retry-After"], raw), (429, "7", b"Retry later\n"))
        self.assertEqual(hd["RateLimit-Remaining"], "0")
        self.fault(endpoint="GET /api/v4/projects/:id/merge_requests", status=429)
        st, hd, js, _ = self.c.api("GET", path)
        self.assertEqual(st, 429)
        self.assertNotIn("Retry-After", hd)
        self.assertIn("error", js["message"])
        _, log = self.c.ctl("GET", "/requests")
        self.assertEqual([e["status"] for e in log], [503, 503, 200, 500, 502, 429, 429])
        self.assertEqual(log[0]["auth"], "private-token")
        self.c.ctl("DELETE", "/counters", expect=204)
        self.assertEqual(self.c.ctl("GET", "/counters")[1], {})

    def test_body_faults(self):
        p = self.project()
        path = "/projects/%d" % p["id"]
        ep = "GET /api/v4/projects/:id"
        self.fault(endpoint=ep, mode="malformed_json")
        st, hd, js, raw = self.c.api("GET", path)
        self.assertEqual((st, hd["Content-Type"], js), (200, "application/json", None))
        self.assertRaises(ValueError, json.loads, raw)
        self.fault(endpoint=ep, mode="truncated_json")
        st, hd, js, raw = self.c.api("GET", path)
        self.assertEqual(st, 200)
        self.assertEqual(int(hd["Content-Length"]), len(raw))
        self.assertIsNone(js)
        self.assertTrue(raw.startswith(b'{"id":%d' % p["id"]))
        self.fault(endpoint=ep, mode="html")
        st, hd, js, raw = self.c.api("GET", path)
        self.assertEqual(st, 200)
        self.assertTrue(hd["Content-Type"].startswith("text/html"))
        self.assertIn(b"Sign in", raw)
        self.fault(endpoint=ep, mode="drop")
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.c.api("GET", path)
        self.fault(endpoint=ep, mode="delay", delay_ms=1500)
        with self.assertRaises(socket.timeout):
            self.c.api("GET", path, timeout=0.3)
        self.assertEqual(self.c.api("GET", path)[0], 200)
        self.assertEqual(self.c.ctl("GET", "/faults")[1], [])
        self.assertEqual(self.c.ctl("GET", "/counters")[1][ep], 6)

    def test_git_fault(self):
        p = self.project()
        d = self.clone(p)
        with open(os.path.join(d, "n"), "w") as f:
            f.write("n\n")
        self.git("add", "n", cwd=d)
        self.git("commit", "-q", "-m", "n", cwd=d)
        # libcurl silently retries once when a reused connection is closed
        # before any answer, so drop two.
        self.fault(endpoint="POST /:project.git/git-receive-pack", mode="drop", count=2)
        r = self.git("push", "origin", "HEAD:main", cwd=d, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotEqual(self.head(p), self.git("rev-parse", "HEAD", cwd=d).stdout.strip())
        r = self.git("push", "origin", "HEAD:main", cwd=d, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.head(p), self.git("rev-parse", "HEAD", cwd=d).stdout.strip())
        counters = self.c.ctl("GET", "/counters")[1]
        self.assertEqual(counters["POST /:project.git/git-receive-pack"], 3)


class TestShellHelper(unittest.TestCase):
    def test_start_ctl_stop(self):
        script = """
set -eu
STANDIN_DIR=%s
. "$STANDIN_DIR/standin.sh"
standin_start
case "$STANDIN_URL" in http://127.0.0.1:*) ;; *) exit 3 ;; esac
standin_ctl POST /__control__/tokens '{"token":"t"}' >/dev/null
standin_ctl POST /__control__/projects '{"path_with_namespace":"a/b"}' >/dev/null
if standin_ctl GET /__control__/projects/99 >/dev/null; then exit 4; fi
out=$(curl -s -H 'PRIVATE-TOKEN: t' "$STANDIN_URL/api/v4/projects/a%%2Fb" 2>/dev/null || \
      standin_ctl GET /__control__/projects/a%%2Fb)
echo "$out" | grep -q '"path_with_namespace":"a/b"'
pid=$STANDIN_PID
standin_stop
if kill -0 "$pid" 2>/dev/null; then exit 5; fi
echo done
""" % HERE
        p = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "done"), p.stderr)


class Receiver:
    def __init__(self, status=200):
        self.got = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append((dict(self.headers.items()), json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class TestWebhooks(StandinCase):
    def setUp(self):
        super().setUp()
        self.rx = Receiver()
        self.p = self.project()
        self.commit(self.p["id"], "feat", {"a": "1"})
        self.mr = self.open_mr(self.p["id"], "feat", labels=["Bug"])

    def tearDown(self):
        self.rx.close()

    def send(self, **kw):
        body = {"url": self.rx.url, "token": "s3cret", "project": self.p["id"], "iid": self.mr["iid"]}
        body.update(kw)
        return self.c.ctl("POST", "/webhooks/send", body, expect=200)[1]

    def test_merge_request_hooks(self):
        self.c.ctl("POST", "/projects/%d/merge_requests/%d/merge" % (self.p["id"], self.mr["iid"]),
                   {"method": "merge"}, expect=200)
        d = self.send(action="merge")
        self.assertEqual(d["status"], 200)
        hdr, pl = self.rx.got[-1]
        self.assertEqual(hdr["X-Gitlab-Event"], "Merge Request Hook")
        self.assertEqual(hdr["X-Gitlab-Token"], "s3cret")
        self.assertEqual(hdr["Content-Type"], "application/json")
        for h in ("X-Gitlab-Webhook-UUID", "X-Gitlab-Event-UUID", "Idempotency-Key", "X-Gitlab-Instance"):
            self.assertIn(h, hdr)
        self.assertEqual((pl["object_kind"], pl["event_type"]), ("merge_request", "merge_request"))
        oa = pl["object_attributes"]
        self.assertEqual((oa["iid"], oa["action"], oa["state"], oa["target_branch"]),
                         (self.mr["iid"], "merge", "merged", "main"))
        self.assertEqual(oa["merge_commit_sha"], self.head(self.p))
        self.assertNotIn("squash_commit_sha", oa)
        self.assertEqual(pl["labels"][0]["title"], "Bug")
        self.assertEqual(pl["project"]["id"], self.p["id"])
        # Label change on the merged MR, then an update hook.
        self.c.ctl("PUT", "/projects/%d/merge_requests/%d/labels" % (self.p["id"], self.mr["iid"]),
                   {"add": ["Impact::Minor"]}, expect=200)
        self.send(action="update")
        _, pl = self.rx.got[-1]
        self.assertEqual(pl["object_attributes"]["action"], "update")
        self.assertEqual(pl["object_attributes"]["state"], "merged")
        self.assertEqual([l["title"] for l in pl["changes"]["labels"]["previous"]], ["Bug"])
        self.assertEqual([l["title"] for l in pl["changes"]["labels"]["current"]], ["Bug", "Impact::Minor"])
        # Test button: no action, empty changes.
        self.send(test=True)
        _, pl = self.rx.got[-1]
        self.assertNotIn("action", pl["object_attributes"])
        self.assertEqual(pl["changes"], {})

    def test_resend_keeps_idempotency_key(self):
        d = self.send(action="open")
        d2 = self.c.ctl("POST", "/webhooks/resend", {"delivery": d["delivery"]}, expect=200)[1]
        (h1, p1), (h2, p2) = self.rx.got[-2:]
        self.assertEqual(h1["Idempotency-Key"], h2["Idempotency-Key"])
        self.assertNotEqual(h1["X-Gitlab-Webhook-UUID"], h2["X-Gitlab-Webhook-UUID"])
        self.assertEqual(p1, p2)
        self.assertEqual(d2["resend_of"], d["delivery"])
        d3 = self.send(action="open")
        self.assertNotEqual(d3["headers"]["Idempotency-Key"], h1["Idempotency-Key"])

    def test_push_hook_and_failed_delivery(self):
        self.send(event="push", ref="refs/heads/feat")
        hdr, pl = self.rx.got[-1]
        self.assertEqual(hdr["X-Gitlab-Event"], "Push Hook")
        self.assertEqual((pl["object_kind"], pl["ref"], pl["before"]), ("push", "refs/heads/feat", ZERO))
        self.assertEqual(pl["after"], self.head(self.p, "feat"))
        self.assertEqual(pl["total_commits_count"], 2)
        d = self.send(url="http://127.0.0.1:9/nothing", timeout=2)
        self.assertIsNone(d["status"])
        self.assertIsNotNone(d["error"])

    def test_project_hooks_fire_automatically(self):
        self.c.ctl("POST", "/projects/%d/hooks" % self.p["id"], {"url": self.rx.url, "token": "t"}, expect=201)
        self.c.ctl("POST", "/projects/%d/merge_requests/%d/merge" % (self.p["id"], self.mr["iid"]),
                   {"method": "ff"}, expect=200)

        def merged():
            return [pl for h, pl in self.rx.got if pl.get("object_kind") == "merge_request"
                    and pl["object_attributes"].get("action") == "merge"]
        self.assertTrue(wait_until(merged))
        pl = merged()[0]
        self.assertIsNone(pl["object_attributes"]["merge_commit_sha"])  # ff: fetch via REST
        self.assertTrue(wait_until(lambda: any(pl.get("object_kind") == "push" for _, pl in self.rx.got)))
        _, dl = self.c.ctl("GET", "/webhooks")
        self.assertTrue(any(d["automatic"] for d in dl))


if __name__ == "__main__":
    unittest.main()
