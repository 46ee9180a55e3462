"""The status page (issue 17): the daemon against the stand-in with a
released, a blocked and a failing project, the page loaded in headless
Chromium (Debian's package), its DOM checked, a screenshot written under
the build directory; /status.json; and the bearer token of the read pages.

Waits are generous upper bounds on outcomes, never timing assertions."""
import html.parser
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

from harness import (Daemon, DaemonTest, Project, WEBHOOK_SECRET, binary,
                     wait_for)

# An MR title that would be markup, script and an attribute break-out if it
# were not escaped; the page must show it as these very characters.
HOSTILE = ("</span><img src=x onerror=\"document.title='pwned'\">"
           "<script>document.body.setAttribute('data-pwned','1')</script>"
           "\"' onmouseover='x' & <b>bold</b>")
STATUS_TOKEN = "status-token-0123456789abcdef"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-quic", "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children = []  # Nodes and str

    def text(self):
        return "".join(c if isinstance(c, str) else c.text()
                       for c in self.children)

    def walk(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.walk()

    def find_all(self, tag=None, cls=None, **attrs):
        for n in self.walk():
            if tag and n.tag != tag:
                continue
            if cls and cls not in n.attrs.get("class", "").split():
                continue
            if all(n.attrs.get(k.replace("_", "-")) == v
                   for k, v in attrs.items()):
                yield n

    def find(self, *a, **kw):
        return next(self.find_all(*a, **kw), None)


class DomBuilder(html.parser.HTMLParser):
    """Chromium's serialised DOM -> a tree of Nodes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def dom(text):
    b = DomBuilder()
    b.feed(text)
    b.close()
    return b.root


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def out_dir():
    d = os.environ.get("STATUSPAGE_OUT") or tempfile.gettempdir()
    os.makedirs(d, exist_ok=True)
    return d


@unittest.skipIf(chromium() is None,
                 "chromium not installed (scripts/bootstrap installs it)")
class StatusPage(DaemonTest):
    def browser(self, *args):
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.tmp)
        proc = subprocess.run(
            [chromium()] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile] +
            list(args), capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        return proc.stdout

    def three_projects(self):
        released = Project(self.standin, "group/released")
        released.mr("Add the parser", ["ImpactMinor"])
        blocked = Project(self.standin, "group/blocked")
        merged = blocked.mr(HOSTILE, [])  # no impact label: refused
        d = self.daemon([released, blocked, ("group/failing", {})])
        self.standin.ctl("POST", blocked.c("/hooks"), {
            "url": d.hook_url(), "token": WEBHOOK_SECRET,
            "merge_requests_events": True, "push_events": False})
        opened = blocked.mr("Open: " + HOSTILE, [], merge=False)
        wait_for(lambda: released.tags() == ["0.1.0"], 60, "tag 0.1.0")
        # The daemon records a cycle before it counts it.
        wait_for(lambda: d.metric("semver_tagger_cycles_total",
                                  project="group/released",
                                  result="ok") >= 1, 60, "the release cycle")
        wait_for(lambda: d.metric("semver_tagger_cycles_total",
                                  project="group/blocked",
                                  result="refused") >= 1, 60,
                 "the refused cycle")
        wait_for(lambda: d.metric("semver_tagger_cycles_total",
                                  project="group/failing",
                                  result="failed") >= 1, 60,
                 "the failed cycle")
        wait_for(lambda: d.metric("semver_tagger_mr_checks_total",
                                  project="group/blocked",
                                  result="set") >= 1, 60,
                 "the open MR's verdict")
        return d, released, blocked, merged, opened

    def test_page_in_chromium(self):
        d, released, blocked, merged, opened = self.three_projects()
        url = "http://127.0.0.1:%d/" % d.port
        root = dom(self.browser("--dump-dom", url))

        # Whole-service health at the top: the failing project (not found
        # on GitLab) makes the service unhealthy, as /healthz says.
        health = root.find("span", id="health")
        self.assertIsNotNone(health, "no #health in the page")
        self.assertEqual(health.attrs.get("data-health"), "unhealthy")
        self.assertEqual(root.find("title").text(),
                         "semver-tagger: unhealthy")
        self.assertEqual(d.get("/healthz")[0], 503)

        sections = {s.attrs["data-project"]: s
                    for s in root.find_all("section", cls="project")}
        self.assertEqual(sorted(sections), ["group/blocked", "group/failing",
                                            "group/released"])

        s = sections["group/released"]
        self.assertEqual(s.attrs["data-state"], "ok")
        rel = s.find("a", cls="release")
        self.assertIsNotNone(rel, "no release link")
        self.assertEqual(rel.text(), "0.1.0")
        self.assertEqual(rel.attrs["href"],
                         released.web_url + "/-/releases/0.1.0")
        self.assertEqual(s.find("a", cls="project").attrs["href"],
                         released.web_url)
        self.assertEqual(s.find("span", cls="result").text(), "ok")

        s = sections["group/blocked"]
        self.assertEqual(s.attrs["data-state"], "blocked")
        item = s.find("ul", cls="blockers").find("li", data_iid=str(
            merged["iid"]))
        self.assertIsNotNone(item, "the unlabelled MR is not listed")
        link = item.find("a", cls="mr")
        self.assertEqual(link.attrs["href"], merged["web_url"])
        self.assertEqual(link.text(), "!%d" % merged["iid"])
        self.assertEqual(item.find("span", cls="title").text(), HOSTILE)
        self.assertIn("no impact label", item.find("span", cls="why").text())
        op = s.find("ul", cls="open-mrs").find("li", data_iid=str(
            opened["iid"]))
        self.assertIsNotNone(op, "the open MR is not listed")
        self.assertEqual(op.find("a", cls="mr").attrs["href"],
                         opened["web_url"])
        self.assertEqual(op.find("span", cls="title").text(),
                         "Open: " + HOSTILE)
        self.assertEqual(op.find("b", cls="verdict").text(), "failed")

        s = sections["group/failing"]
        self.assertEqual(s.attrs["data-state"], "failing")
        self.assertIn("not-found", s.find("span", cls="result").text())
        self.assertTrue(s.find("p", cls="error").text())

        # The hostile title stayed text: no element it names exists, no
        # attribute it tried to add, no script ran.
        self.assertIsNone(root.find("img"))
        self.assertIsNone(root.find("script"))
        self.assertIsNone(root.find("b", cls=None, onmouseover="x"))
        self.assertEqual([b.text() for b in root.find_all("b")
                          if b.text() == "bold"], [])
        body = root.find("body")
        self.assertNotIn("data-pwned", body.attrs)
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            page = resp.read().decode()
            self.assertEqual(resp.getheader("Content-Type"),
                             "text/html; charset=utf-8")
            self.assertIn("default-src 'none'",
                          resp.getheader("Content-Security-Policy"))
            self.assertEqual(resp.getheader("X-Content-Type-Options"),
                             "nosniff")
            self.assertEqual(resp.getheader("Cache-Control"), "no-store")
        finally:
            conn.close()
        self.assertIn('<meta name="viewport"', page)

        # For people: a desktop and a phone screenshot.
        for name, size in (("statuspage.png", "1100,1050"),
                           ("statuspage-phone.png", "412,1400")):
            shot = os.path.join(out_dir(), name)
            if os.path.exists(shot):
                os.unlink(shot)
            self.browser("--screenshot=" + shot, "--window-size=" + size,
                         url)
            with open(shot, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", shot)
            print("screenshot: %s" % shot)

    def test_status_json(self):
        d, released, blocked, merged, opened = self.three_projects()
        status, body = d.get("/status.json")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        self.assertEqual(doc["health"], "unhealthy")
        ps = {p["name"]: p for p in doc["projects"]}
        r = ps["group/released"]
        self.assertEqual((r["state"], r["latest_release"], r["web_url"]),
                         ("ok", "0.1.0", released.web_url))
        self.assertEqual(r["latest_release_url"],
                         released.web_url + "/-/releases/0.1.0")
        b = ps["group/blocked"]
        self.assertEqual(b["state"], "blocked")
        self.assertEqual([(m["iid"], m["title"], m["web_url"])
                          for m in b["blocking_merge_requests"]],
                         [(merged["iid"], HOSTILE, merged["web_url"])])
        self.assertEqual([(m["iid"], m["verdict"])
                          for m in b["open_merge_requests"]],
                         [(opened["iid"], "failed")])
        f = ps["group/failing"]
        self.assertEqual((f["state"], f["healthy"]), ("failing", False))
        self.assertEqual(f["last_result"], "not-found")


class ReadToken(DaemonTest):
    """status_token_file: /, /status.json and /metrics need the bearer
    token; /healthz stays open for probes."""

    def test_bearer_token(self):
        p = Project(self.standin)
        path = os.path.join(self.tmp, "status-token")
        with open(path, "w") as f:
            f.write(STATUS_TOKEN + "\n")
        d = self.daemon([p], global_extra="status_token_file = %s" % path)
        wait_for(lambda: d.find_log("bearer token"), 10,
                 "the listener line naming the token")
        for page in ("/", "/status.json", "/metrics"):
            status, _ = d.get(page)
            self.assertEqual(status, 401, page)
            status, _ = d.request("GET", page, headers={
                "Authorization": "Bearer wrong-token"})
            self.assertEqual(status, 401, page)
            status, body = d.request("GET", page, headers={
                "Authorization": "Bearer " + STATUS_TOKEN})
            self.assertEqual(status, 200, page)
            self.assertNotIn(STATUS_TOKEN.encode(), body)
        self.assertIn(d.get("/healthz")[0], (200, 503))
        self.assertNotIn(STATUS_TOKEN, d.logs())

    def test_reload_rereads_the_token(self):
        p = Project(self.standin)
        path = os.path.join(self.tmp, "status-token")
        with open(path, "w") as f:
            f.write(STATUS_TOKEN + "\n")
        d = self.daemon([p], global_extra="status_token_file = %s" % path)

        def ok_with(token):
            return d.request("GET", "/status.json", headers={
                "Authorization": "Bearer " + token})[0]

        self.assertEqual(ok_with(STATUS_TOKEN), 200)
        with open(path, "w") as f:
            f.write("rotated-" + STATUS_TOKEN + "\n")
        d.kill(signal.SIGHUP)
        wait_for(lambda: d.find_log("configuration reloaded"), 30,
                 "the reload")
        self.assertEqual(ok_with(STATUS_TOKEN), 401)
        self.assertEqual(ok_with("rotated-" + STATUS_TOKEN), 200)
        # A named file that is gone: the reload is refused, the running
        # token stays.
        os.unlink(path)
        d.kill(signal.SIGHUP)
        wait_for(lambda: d.find_log("reload failed"), 30,
                 "the refused reload")
        self.assertEqual(ok_with("rotated-" + STATUS_TOKEN), 200)
        self.assertNotIn(STATUS_TOKEN, d.logs())

    def test_open_without_token(self):
        p = Project(self.standin)
        d = self.daemon([p])
        self.assertEqual(d.get("/")[0], 200)
        self.assertEqual(d.get("/status.json")[0], 200)
        self.assertFalse(d.find_log("without status_token_file"))

    def test_missing_token_file_refuses_to_start(self):
        p = Project(self.standin)
        d = Daemon(self.standin, self.tmp, [p], global_extra=(
            "status_token_file = %s/absent-token" % self.tmp))
        r = subprocess.run([binary(), "-c", d.conf], env=d.env(),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("absent-token", r.stderr)

if __name__ == "__main__":
    unittest.main()
