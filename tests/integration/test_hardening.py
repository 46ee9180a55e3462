"""Hardening II (issue 14): each test is an attack that worked on the
main of the issue, run with the real binary against the stand-in.
docs/reliability.md has a row per test."""
import hashlib
import hmac
import http.server
import json
import os
import shutil
import socket
import threading
import unittest
import urllib.request

from harness import (DaemonTest, OnceTest, Project, TOKEN, WEBHOOK_SECRET,
                     wait_for)

EX_TEMPFAIL = 75
EX_CONFIG = 78


def cache_checksum(raw):
    """gitlab_cache_checksum() (src/adapters/gitlab_cache.c), as in
    tests/fuzz/make_corpus.py: a forger can compute it."""
    m = 0xffffffffffffffff
    k1, k2, k3 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9

    def rotl(x, r):
        return ((x << r) | (x >> (64 - r))) & m

    def lane(v, w):
        return (rotl(v ^ ((w * k1) & m), 31) * k2) & m

    v = [k3 & m, (2 * k3) & m, (3 * k3) & m, (4 * k3) & m]
    n, i, k = len(raw), 0, 0
    while n - i >= 32:
        for j in range(4):
            v[j] = lane(v[j], int.from_bytes(raw[i + 8 * j:i + 8 * j + 8],
                                             "little"))
        i += 32
    while i < n:
        v[k % 4] = lane(v[k % 4], int.from_bytes(raw[i:i + 8], "little"))
        i += 8
        k += 1
    h = n
    for j in range(4):
        h = (rotl(h ^ v[j], 27) * k1 + k3) & m
    h ^= h >> 33
    h = (h * k2) & m
    h ^= h >> 29
    return h


def reseal(path):
    """Seal path as semver-tagger would with TOKEN (gitlab_seal.c): what
    a holder of the token could write."""
    key = hmac.new(TOKEN.encode(), b"semver-tagger state seal 1",
                   hashlib.sha256).digest()
    with open(path, "rb") as f:
        mac = hmac.new(key, f.read(), hashlib.sha256).hexdigest()
    with open(path + ".seal", "w") as f:
        f.write("semver-tagger-seal 1 %s\n" % mac)


class Rogue:
    """An HTTP server on another port of 127.0.0.1 that asks for
    credentials (401 + Basic) the way a git server would, and records
    every request line and Authorization header it gets."""

    def __init__(self):
        seen = self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append((self.path, self.headers.get("Authorization")))
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="x"')
                self.send_header("Content-Length", "0")
                self.end_headers()
            do_POST = do_GET

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


class Hardening(OnceTest):
    def setUp(self):
        super().setUp()
        self.rogue = Rogue()

    def tearDown(self):
        self.rogue.stop()
        super().tearDown()

    def project_json(self, p):
        req = urllib.request.Request(
            "%s/projects/%d" % (self.standin.api, p.id),
            headers={"PRIVATE-TOKEN": TOKEN})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def answer_project(self, p, **fields):
        """GitLab's project answer, with fields replaced, for every GET."""
        body = self.project_json(p)
        body.update(fields)
        self.standin.ctl("POST", "/__control__/faults", {
            "endpoint": "GET /api/v4/projects/:id", "mode": "status",
            "status": 200, "body": json.dumps(body), "count": 1000})

    def cache_file(self, p):
        return os.path.join(self.state, "projects", str(p.id),
                            "project.cache")

    # --- item 1: the API names another host/port for the clone URL ---

    def test_1_api_clone_url_on_another_port_gets_no_token(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        self.answer_project(p, http_url_to_repo=self.rogue.url + "/x.git")
        r = self.run_once(p)
        self.assertEqual(self.rogue.seen, [])
        self.assertEqual(r.code, EX_CONFIG, r.err)
        self.assertIn(self.rogue.url + "/x.git", r.err)
        self.assertIn("git_url", r.err)
        self.assertEqual(p.tags(), [])

    def test_1_api_clone_url_naming_a_local_path_is_refused(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        for url in ("file://" + p.repo, p.repo):
            self.answer_project(p, http_url_to_repo=url)
            r = self.run_once(p)
            self.assertEqual(r.code, EX_CONFIG, url + ": " + r.err)
            self.assertIn("local path", r.err)
            self.standin.ctl("DELETE", "/__control__/faults")
        self.assertEqual(p.tags(), [])

    def test_1_configured_git_url_is_the_operators_choice(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        url = self.project_json(p)["http_url_to_repo"]
        self.answer_project(p, http_url_to_repo=self.rogue.url + "/x.git")
        r = self.run_once(p, SEMVER_TAGGER_GIT_URL=url)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(self.rogue.seen, [])
        self.assertEqual(p.tags(), ["0.0.1"])

    # --- item 2: the state directory ---

    def test_2_planted_project_cache_costs_a_request_not_the_token(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        self.assertEqual(self.run_once(p).code, 0)
        with open(self.cache_file(p)) as f:
            magic = f.readline()
            cached = json.loads(f.read())
        cached["http_url_to_repo"] = self.rogue.url + "/x.git"
        with open(self.cache_file(p), "w") as f:
            f.write(magic + json.dumps(cached))
        p.mr("Feature", ["ImpactMinor"])
        r = self.run_once(p)  # not sealed: not read
        self.assertEqual(self.rogue.seen, [])
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.0.1", "0.1.0"])
        # sealed with the token (an older version's cache, or its
        # holder's): the cached URL is still checked before use
        with open(self.cache_file(p), "w") as f:
            f.write(magic + json.dumps(cached))
        reseal(self.cache_file(p))
        p.mr("Fix 2", ["ImpactPatch"])
        r = self.run_once(p)
        self.assertEqual(self.rogue.seen, [])
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("asking GitLab again", r.err)
        self.assertEqual(p.tags(), ["0.0.1", "0.1.0", "0.1.1"])

    def test_2_planted_mirror_insteadof_does_not_move_the_fetch(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        self.assertEqual(self.run_once(p).code, 0)
        config = os.path.join(self.state, "projects", str(p.id),
                              "mirror.git", "config")
        with open(config, "a") as f:
            f.write('[url "%s/"]\n\tinsteadOf = %s/\n'
                    % (self.rogue.url, self.standin.url))
        p.mr("Feature", ["ImpactMinor"])
        r = self.run_once(p)
        self.assertEqual(self.rogue.seen, [])
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.0.1", "0.1.0"])

    def test_2_forged_mr_cache_costs_a_full_listing_not_a_version(self):
        # A hostile cache (a shared CI cache) with a valid format and
        # checksum: it claims MR !2 is ImpactMajor and that nothing was
        # updated since (cursor in the future), so an incremental listing
        # would never correct it. The seal (HMAC under the token) does
        # not match: the tool lists everything and releases 0.0.2, not
        # the 0.1.0 the forgery asks for.
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        self.assertEqual(self.run_once(p).code, 0)
        mr2 = p.mr("Fix 2", ["ImpactPatch"])
        path = os.path.join(self.state, "projects", str(p.id),
                            "merge-requests.cache")
        with open(path, "rb") as f:
            f.readline()
            body = json.loads(f.read())
        entry = dict(body["mrs"][0])
        entry.update({
            "iid": mr2["iid"], "title": mr2["title"],
            "web_url": mr2["web_url"], "labels": ["ImpactMajor"],
            "source_branch": mr2["source_branch"],
            "target_branch": mr2["target_branch"],
            "merged_at": mr2["merged_at"], "updated_at": mr2["updated_at"],
            "head_sha": mr2["sha"],
            "commit": mr2.get("merge_commit_sha") or
            mr2.get("squash_commit_sha") or mr2["sha"]})
        body["mrs"].append(entry)
        body["cursor_ms"] = body["cursor_ms"] + 10 * 365 * 86400 * 1000
        raw = json.dumps(body, separators=(",", ":")).encode()
        with open(path, "wb") as f:
            f.write(b"semver-tagger-mr-cache 2 %d %016x\n"
                    % (len(raw), cache_checksum(raw)) + raw)
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.0.1", "0.0.2"])
        self.assertIn("seal does not match", r.err)

    def test_2_world_writable_state_directory_is_refused(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        os.makedirs(self.state)
        os.chmod(self.state, 0o777)
        r = self.run_once(p)
        self.assertEqual(r.code, EX_CONFIG, r.err)
        self.assertIn(self.state, r.err)
        self.assertIn("chmod go-w", r.err)
        self.assertEqual(p.tags(), [])
        # a GitLab CI cache: the runner's umask 0000 makes it 0777 and
        # only the seal can vouch for it; the run goes on
        r = self.run_once(p, GITLAB_CI="true")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.0.1"])

    def test_2_state_files_writable_or_foreign_are_refused(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        self.assertEqual(self.run_once(p).code, 0)
        cache = self.cache_file(p)
        p.mr("Feature", ["ImpactMinor"])
        os.chmod(cache, 0o666)
        r = self.run_once(p)
        self.assertEqual(r.code, EX_CONFIG, r.err)
        self.assertIn(cache, r.err)
        self.assertIn("writable by group or others", r.err)
        os.chmod(cache, 0o600)
        if os.geteuid() == 0:  # root can give a file away
            os.chown(cache, 65534, 65534)
            r = self.run_once(p)
            self.assertEqual(r.code, EX_CONFIG, r.err)
            self.assertIn(cache, r.err)
            self.assertIn("not by the running user", r.err)
            os.chown(cache, 0, 0)
        self.assertEqual(p.tags(), ["0.0.1"])
        self.assertEqual(self.run_once(p).code, 0)
        self.assertEqual(p.tags(), ["0.0.1", "0.1.0"])

    # --- item 9: a garbled answer to a read is temporary ---

    MRS = "GET /api/v4/projects/:id/merge_requests"

    def test_9_one_garbled_mr_page_is_retried(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        for mode in ("malformed_json", "truncated_json"):
            self.standin.ctl("POST", "/__control__/faults", {
                "endpoint": self.MRS, "mode": mode, "count": 1})
        r = self.run_once(p, SEMVER_TAGGER_TOTAL_TIMEOUT=30)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.0.1"])

    def test_9_garbled_reads_past_the_retries_exit_75_push_nothing(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        self.assertEqual(self.run_once(p).code, 0)
        p.mr("Feature", ["ImpactMinor"])
        before = p.refs()
        self.standin.ctl("POST", "/__control__/faults", {
            "endpoint": self.MRS, "mode": "malformed_json", "count": 1000})
        r = self.run_once(p)
        self.assertEqual(r.code, EX_TEMPFAIL, r.err)
        self.assertIn("body is not valid JSON", r.err)
        self.assertIn("gave up after", r.err)
        self.assertEqual(p.refs(), before)

    # --- item 6: names that only look local ---

    def test_6_plain_http_api_url_must_be_a_numeric_loopback(self):
        p = Project(self.standin)
        port = self.standin.api.split(":")[2].split("/")[0]
        for host in ("127.evil.example", "127.0.0.1.evil.example",
                     "localhost.evil", "localhost"):
            api = "http://%s:%s/api/v4" % (host, port)
            r = self.run_once(p, CI_API_V4_URL=api)
            self.assertEqual(r.code, EX_CONFIG, host + ": " + r.err)
            self.assertIn("must be https", r.err)
        self.assertEqual(self.rogue.seen, [])


class Dripper:
    """Slow-header clients: per source address (127.0.0.x) n connections
    that send a request line and then one header line per interval,
    never finishing; a connection the server closes is opened again.
    Counts the connections the server closed while they dripped."""

    def __init__(self, port, addrs, per_addr, interval=1.0):
        self.port = port
        self.addrs = addrs
        self.per_addr = per_addr
        self.interval = interval
        self.socks = []          # (addr, socket, first generation?)
        self.opened = 0
        self.closed_first = 0    # of the first generation, by the server
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def connect(self, addr, first):
        try:
            sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sk.bind((addr, 0))
            sk.settimeout(5)
            sk.connect(("127.0.0.1", self.port))
            sk.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\n")
            sk.setblocking(False)
        except OSError:
            return
        with self.lock:
            self.socks.append((addr, sk, first))
            self.opened += 1

    def start(self):
        for a in self.addrs:
            for _ in range(self.per_addr):
                self.connect(a, True)
        self.t.start()
        return self

    def alive(self, sk):
        try:
            return sk.recv(4096) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def run(self):
        n = 0
        while not self.stopping.wait(self.interval):
            n += 1
            with self.lock:
                socks = list(self.socks)
            for addr, sk, first in socks:
                ok = self.alive(sk)
                if ok:
                    try:
                        sk.send(b"X-Drip-%d: x\r\n" % n)
                    except OSError:
                        ok = False
                if not ok:
                    sk.close()
                    with self.lock:
                        self.socks.remove((addr, sk, first))
                        if first:
                            self.closed_first += 1
                    self.connect(addr, False)

    def stop(self):
        self.stopping.set()
        self.t.join(timeout=30)
        for _, sk, _ in self.socks:
            sk.close()


class SlowHeaders(DaemonTest):
    # --- item 3: slow headers cannot hold the listener ---

    def test_3_slow_headers_from_8_addresses_do_not_block_a_webhook(self):
        p = Project(self.standin)
        d = self.daemon([p])
        addrs = ["127.0.0.%d" % i for i in range(2, 10)]
        drip = Dripper(d.port, addrs, 8).start()
        try:
            self.assertEqual(drip.opened, 64)
            body = json.dumps({"object_kind": "push",
                               "ref": "refs/heads/release/1",
                               "after": "0" * 39 + "1",
                               "project": {"id": p.id,
                                           "path_with_namespace": p.path}})
            status, _ = d.request("POST", "/webhook", body.encode(), {
                "X-Gitlab-Token": WEBHOOK_SECRET,
                "X-Gitlab-Event": "Push Hook",
                "Content-Type": "application/json"}, timeout=30)
            self.assertEqual(status, 202)
            # every first-generation dripper is closed by the server
            # although it never went silent for long (absolute deadline)
            wait_for(lambda: drip.closed_first >= 64, 120,
                     "the server to close the 64 slow-header connections")
        finally:
            drip.stop()


class LogInjection(DaemonTest):
    # --- item 7: a value from outside cannot start a log line ---

    def test_7_control_characters_in_a_webhook_ref_are_escaped(self):
        p = Project(self.standin)
        d = self.daemon([p], extra_env={"JOURNAL_STREAM": "8:1234"})
        ref = "refs/heads/release/1\n<3>FORGED LINE\x1b[31m\u009b"
        body = json.dumps({"object_kind": "push", "ref": ref,
                           "after": "0" * 39 + "1",
                           "project": {"id": p.id,
                                       "path_with_namespace": p.path}})
        status, _ = d.request("POST", "/webhook", body.encode(), {
            "X-Gitlab-Token": WEBHOOK_SECRET, "X-Gitlab-Event": "Push Hook",
            "Content-Type": "application/json"})
        self.assertEqual(status, 202)
        lines = wait_for(lambda: d.find_log("FORGED"), 30, "the log line")
        self.assertIn("release/1\\n<3>FORGED LINE\\x1b[31m\\u009b",
                      lines[0])
        self.assertTrue(lines[0].startswith("<6>"), lines[0])
        for line in d.logs().split("\n"):
            self.assertFalse(line.startswith("<3>FORGED"), line)
        self.assertNotIn("\x1b", d.logs())
        self.assertNotIn("\u009b", d.logs())


if __name__ == "__main__":
    unittest.main()
