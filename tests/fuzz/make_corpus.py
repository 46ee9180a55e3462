#!/usr/bin/env python3
"""Regenerate the seed corpora under tests/fuzz/corpus/<target>/.

Seeds come from the GitLab stand-in's real payloads (MR list pages, the MR
cache written by `semver-tagger --once`) and from the unit tests'
fixtures (versions, config files, version files). File names are the
SHA-1 of the content (libFuzzer's convention), so re-running adds nothing
twice. Crash reproducers found later are added by hand under the same
rule (see docs/reliability.md).

  python3 tests/fuzz/make_corpus.py [path/to/semver-tagger]
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))

import harness  # noqa: E402

API = "http://127.0.0.1/api/v4"
PROJECT = "7"


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


# --- semver: up to three lines -------------------------------------------
SEMVER = [
    "1.2.3", "0.0.0\n1.0.0\n1.0.0-rc.1", "1.0.0-alpha\n1.0.0-alpha.1\n1.0.0-alpha.beta",
    "1.0.0-beta\n1.0.0-beta.2\n1.0.0-beta.11", "1.0.0-rc.1\n1.0.0\n2.0.0",
    "1.1.2-prerelease+meta\n1.1.2+meta\n1.1.2+meta-valid",
    "18446744073709551615.18446744073709551615.18446744073709551615",
    "18446744073709551616.0.0", "01.2.3\n1.02.3\n1.2.03", "1.2.3-0123",
    "1.2.3----RC-SNAPSHOT.12.9.1--.12+788", "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
    "1.0.0-0A.is.legal\n1.0.0+001", "v\nv1.2.3", "release-\nrelease-2.0.0",
    "v\n1.2.3", " 1.2.3\n1.2.3 \n1. 2.3", "1.2\n1.2.3.4\n1..3",
    "1.0.0-alpha..1\n1.0.0-alpha_beta", "2.0.0-rc.1+build.123\n2.0.0-rc.1",
    "1.0.0-999999999999999999999999\n1.0.0-1000000000000000000000000",
    "0.1.0\n0.1.0-SNAPSHOT\n0.0.9", "9.8.7+meta+meta", "1.2.3-\n1.2.3+",
    "1.2.3\x001.2.3", "1.2.3-a.b.c.d.e.f\n1.2.3-a.b.c.d.e\n1.2.3-a.b.c.d.e.0",
]


# --- config: the INI text, NUL, environment lines ------------------------
CONFIG = [
    "; comment\n[global]\nstate_dir = /var/lib/semver-tagger\n"
    "listen = 127.0.0.1:8080\nlog_level = debug\n"
    "api_url = https://gitlab.example/api/v4\n"
    "token_file = /etc/semver-tagger/token\npoll_interval = 120\n"
    "tag_prefix = v\n\n"
    "[project \"platform/backend/payments-api\"]\nbuild_system = maven\n"
    "notes = off\n\n[project \"g/simple\"]\nproject = 42\ntag_prefix =\n"
    "label_major = Breaking|Impact::Major  ; inline comment\n"
    "[project \"g/empty\"]",
    "[global]\nfoo = 1\n",
    "[global]\n\n[project \"a\"]\nbuild_system = gradle\n",
    "[global]\npoll_interval = 0\n", "[global]\npoll_interval = 10s\n",
    "[global]\npoll_interval = 99999999999999999999999\n",
    "[global]\nnotes = maybe\n", "[global]\ntag_prefix = v x\n",
    "[global]\nrelease_prefix = rel..\n", "[global]\nbase_version = 1.0\n",
    "[global]\nlog_level = loud\n", "[global]\ntag_prefix = v\ntag_prefix = w\n",
    "[globals]\n", "[project g/p]\n", "[project \"a\"b\"]\n", "[project \"\"]\n",
    "[project \"a\"]\n[project \"a\"]\n", "[global]\nthis line has no equals sign\n",
    "[global]\nstate_dir = /a\n[project \"x\"]\nstate_dir = /b\n",
    "[global]\nlabel_major = " + "7" * 300 + "\n",
    "[project \"g/app\"]\nbuild_system = version-file\nversion_file = VERSION\n"
    "release_prefix = rel/\nsnapshot_suffix = -dev\nbase_version = 1.0.0\n"
    "git_name = Bot\ngit_email = bot@example.com\nreleases = false\n"
    "connect_timeout = 5\ntotal_timeout = 30\nca_file = /etc/ssl/ca.pem\n",
    "[global]\napi_url = http://127.0.0.1/api/v4\n\x00"
    "CI_API_V4_URL=http://gitlab/api/v4\nCI_PROJECT_ID=7\nSTABLE_RELEASE=yes\n"
    "SEMVER_TAGGER_BUILD_SYSTEM=maven\nSEMVER_TAGGER_TAG_PREFIX=v\n",
    "[project \"g/p\"]\n\x00SEMVER_TAGGER_POLL_INTERVAL=abc\n",
    "\x00CI_PROJECT_PATH=group/sub/app\nSTABLE_RELEASE=0\n"
    "SEMVER_TAGGER_RELEASE_PREFIX=a..b\n",
    "[global]\r\nnotes = yes\r\n[project \"w\"]\r\nreleases=no\r\n",
    "[global]\nwebhook_secret_file = /run/secret\nlisten = [::1]:9000\n",
]


# --- version files ---------------------------------------------------------
ROOT_POM = (
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!-- <version>9.9.9</version> in a comment -->\n"
    "<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n"
    "  <modelVersion>4.0.0</modelVersion>\n  <parent>\n"
    "    <groupId>org.example</groupId>\n    <version>7.1</version>\n"
    "  </parent>\n  <artifactId>app</artifactId>\n"
    "  <version>1.2.0-SNAPSHOT</version>\n"
    "  <description><![CDATA[ <version>0.0.1</version> ]]></description>\n"
    "  <modules>\n    <module>core</module>\n    <module> web </module>\n"
    "  </modules>\n  <dependencies>\n    <dependency><version>3.0</version>"
    "</dependency>\n  </dependencies>\n  <build><plugins><plugin attr=\"a>b\">"
    "<version>2.5</version></plugin></plugins></build>\n</project>\n")
CORE_POM = (
    "<project>\n  <parent><version>1.2.0-SNAPSHOT</version></parent>\n"
    "  <version>1.2.0-SNAPSHOT</version>\n"
    "  <modules><module>../libs/util</module></modules>\n</project>")
WEB_POM = ("<project>\r\n  <?pi <version>x</version> ?>\r\n"
           "  <version>\r\n    1.2.0-SNAPSHOT\r\n  </version>\r\n</project>\r\n")
UTIL_POM = ("<project><version>1.2.0-SNAPSHOT</version>"
            "<modules><module>../../core</module></modules></project>\n")
IT_POM = ("<?xml version=\"1.0\"?>\n<project>\n  <parent>\n"
          "    <version>9.9.9</version>\n  </parent>\n"
          "  <version>1.0.0-SNAPSHOT</version>\n  <modules>\n"
          "    <module>core</module>\n  </modules>\n</project>\n")
IT_CORE = ("<project>\n  <parent><version>1.0.0-SNAPSHOT</version>"
           "</parent>\n  <version>1.0.0-SNAPSHOT</version>\n"
           "  <dependencies><dependency><version>3.1</version>"
           "</dependency></dependencies>\n</project>\n")
BAD_POMS = [
    "<?xml version=\"1.0\"?>\n\n<project>\n<parent><version>1</version></parent></project>",
    "<project>\n<version>${revision}</version></project>",
    "<project>\n<version>1<!--x-->.0</version></project>",
    "<project>\n<version>1</versio></project>",
    "<project>\n<!-- open\n<version>1</version>",
    "<project><version>1</version>\n\n",
    "<!DOCTYPE project [<!ENTITY v \"1.0\">]><project><version>&v;</version></project>",
    "<notproject><version>1</version></notproject>",
    "<project><modules><module>/etc</module><module>../..</module>"
    "<module>a/b.xml</module></modules><version>1</version></project>",
]


def vf(mode, *files):
    """mode byte, then NUL-separated files (root first, others path\\n body)."""
    return bytes([mode]) + b"\0".join(f.encode() for f in files)


VERSIONFILE = [
    vf(0, "1.2.3\n"), vf(0, "  1.2.3-SNAPSHOT  "), vf(0, ""), vf(0, "1.0\n2.0\n"),
    vf(0, "\r\n1.0.0\r\n\r\n"), vf(0, "1.0\x00"), vf(0, "0.1.0-SNAPSHOT"),
    vf(1, ROOT_POM), vf(1, CORE_POM), vf(1, WEB_POM), vf(1, UTIL_POM),
    vf(1, IT_POM), vf(1, IT_CORE),
    vf(2, ROOT_POM, "core/pom.xml\n" + CORE_POM, "web/pom.xml\n" + WEB_POM,
       "libs/util/pom.xml\n" + UTIL_POM),
    vf(2, ROOT_POM, "core/pom.xml\n" + CORE_POM, "libs/util/pom.xml\n" + UTIL_POM),
    vf(2, IT_POM, "core/pom.xml\n" + IT_CORE),
    vf(2, "<project><version>1</version><modules><module>.</module></modules></project>"),
    vf(3, "1.0.0-SNAPSHOT\n"), vf(3, "9.8.7-SNAPSHOT"), vf(3, "a\nb"),
] + [vf(1, p) for p in BAD_POMS] + [vf(2, p) for p in BAD_POMS[:3]]


def cache_checksum(raw):
    """gitlab_cache_checksum() (src/adapters/gitlab_cache.c)."""
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


def cache_file(body, with_header):
    """Mode 1: JSON body (harness adds the header); mode 0: whole file."""
    raw = body.encode()
    if not with_header:
        return b"\x01" + raw
    head = "semver-tagger-mr-cache 2 %d %016x\n" % (len(raw),
                                                     cache_checksum(raw))
    return b"\x00" + head.encode() + raw


def standin_seeds(binary):
    s = harness.Standin()
    try:
        s.ctl("POST", "/__control__/tokens",
              {"token": harness.TOKEN, "username": "semver-bot"})
        p = harness.Project(s, path="group/app",
                            files={"VERSION": "1.0.0-SNAPSHOT\n"})
        p.tag("1.0.0", "main")
        p.mr("Fix", ["ImpactPatch"])
        p.mr("Squashed feature", ["ImpactMinor", "docs"], method="squash")
        p.mr("Fast-forward", ["Impact::Patch"], method="ff")
        p.mr("ff squash", [], method="ff_squash")
        p.mr("Open one", ["ImpactMajor"], merge=False)
        s.ctl("POST", p.c("/merge_requests/bulk"), {"merge_requests": [
            {"title": "Imported \u00e9\u00e8 \"quoted\" \\ <b>", "state": "merged",
             "labels": ["a", "b"], "merged_at": None},
            {"title": "closed", "state": "closed"}]})
        pages = []
        for q in ("state=merged&per_page=3", "state=merged&per_page=3&page=2",
                  "state=all&per_page=100", "state=opened"):
            req = urllib.request.Request(
                "%s/projects/%d/merge_requests?%s" % (s.api, p.id, q))
            req.add_header("PRIVATE-TOKEN", harness.TOKEN)
            with urllib.request.urlopen(req) as resp:
                pages.append(resp.read())
        for i, page in enumerate(pages):
            put("mrs", bytes([1 if i < 2 else 0]) + page)
        one = json.loads(pages[2])[0]
        put("mrs", b"\x00" + json.dumps([one], indent=1).encode())
        for edit in ({"labels": [{"name": "ImpactMinor", "id": 3}]},
                     {"iid": 9007199254740991}, {"iid": 9007199254740992},
                     {"merge_commit_sha": "0" * 64}, {"sha": "XYZ"},
                     {"updated_at": "2019-11-05 02:48:40 UTC"},
                     {"updated_at": "2026-03-14T09:21:07.481+02:00"},
                     {"author": None}, {"state": "opened"}):
            m = dict(one)
            m.update(edit)
            put("mrs", b"\x01" + json.dumps([m]).encode())
        put("mrs", b"\x00[]")
        put("mrs", b"\x00{\"message\":\"401 Unauthorized\"}")
        put("mrs", b"\x00" + b"[" * 70 + b"]" * 70)
        put("mrs", b"\x00" + pages[2][:len(pages[2]) // 2])

        # Webhook deliveries exactly as the stand-in sends them (to a
        # closed port: the answer still carries headers and payload).
        dead = "http://127.0.0.1:9/webhook"
        mr_open = p.mr("Hooked", ["ImpactMinor"], merge=False)
        p.label(mr_open["iid"], ["ImpactMinor", "docs"])
        sends = [{"event": "merge_request", "iid": mr_open["iid"], "action": a}
                 for a in ("open", "update", "reopen", "close")]
        sends += [{"event": "merge_request", "iid": 1, "action": "merge"},
                  {"event": "merge_request", "iid": 1, "action": "update"},
                  {"event": "merge_request", "iid": 1, "test": True},
                  {"event": "push", "ref": "refs/heads/main"},
                  {"event": "push", "ref": "refs/heads/release/1",
                   "after": "0" * 40},
                  {"event": "push", "ref": "refs/tags/1.0.0"}]
        for body in sends:
            body.update({"url": dead, "token": "secret", "project": p.id,
                         "timeout": 1})
            d = s.ctl("POST", "/__control__/webhooks/send", body)
            hdr = d["headers"].get("X-Gitlab-Event", "")
            payload = json.dumps(d["payload"]).encode()
            put("webhook", b"\x00" + hdr.encode() + b"\n" + payload)
            if body.get("action") in ("merge", "update") or \
                    body["event"] == "push":
                put("webhook", b"\x01" + payload)  # System Hook style
        put("webhook", b"\x00System Hook\n{\"object_kind\":\"merge_request\","
            b"\"object_attributes\":{\"iid\":1,\"action\":\"merge\"}}")
        put("webhook", b"\x00Note Hook\n{}")
        put("webhook", b"\x00Merge Request Hook\n[]")
        put("webhook", b"\x02hook-secret-0123456789\nhook-secret-0123456789")
        put("webhook", b"\x02abab\nab")
        put("webhook", b"\x03\x02a\nb\na\nc\nb\n\na\n" + b"k" * 130)

        # The MR cache written by a real run, re-addressed to the
        # harness's api_url/project.
        with tempfile.TemporaryDirectory() as tmp:
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                   "HOME": tmp, "CI_API_V4_URL": s.api,
                   "CI_PROJECT_ID": str(p.id), "CI_DEFAULT_BRANCH": "main",
                   "SEMVER_TAGGER_TOKEN": harness.TOKEN,
                   "SEMVER_TAGGER_STATE_DIR": tmp,
                   "SEMVER_TAGGER_BUILD_SYSTEM": "version-file"}
            subprocess.run([binary, "--once"], env=env, capture_output=True)
            for root, _, names in os.walk(tmp):
                for n in names:
                    if n == "merge-requests.cache":
                        raw = open(os.path.join(root, n), "rb").read()
                        body = json.loads(raw.split(b"\n", 1)[1])
                        body["api_url"] = API
                        body["project"] = PROJECT
                        text = json.dumps(body, separators=(",", ":"))
                        put("cache", cache_file(text, True))
                        put("cache", cache_file(text, False))
                        body["mrs"] = body["mrs"][:1]
                        put("cache", cache_file(json.dumps(body), False))
                        body["mrs"] = []
                        put("cache", cache_file(json.dumps(body), True))
                        put("cache", b"\x00" + raw)  # foreign api_url
                        put("cache", b"\x00" + raw[:len(raw) // 2])
    finally:
        s.stop()
    put("cache", b"\x00")
    put("cache", b"\x00semver-tagger-mr-cache 1 2 0000000000000000\n{}")
    put("cache", b"\x00semver-tagger-mr-cache 2 2 0000000000000000\n{}")
    put("cache", cache_file(json.dumps(
        {"api_url": API, "project": PROJECT, "cursor_ms": -1, "full_at": 0,
         "mrs": [{"iid": 2, "title": "t", "web_url": None,
                  "source_branch": None, "target_branch": "main",
                  "author_username": None, "author_name": None,
                  "merged_at": None, "updated_at": "2026-01-01T00:00:00.000Z",
                  "head_sha": None, "commit": None, "labels": []},
                 {"iid": 1, "title": "out of order", "web_url": None,
                  "source_branch": None, "target_branch": "main",
                  "author_username": None, "author_name": None,
                  "merged_at": None, "updated_at": "2026-01-01T00:00:00.000Z",
                  "head_sha": None, "commit": None, "labels": ["x"]}]}),
        False))


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else harness.binary()
    for s in SEMVER:
        put("semver", s)
    for c in CONFIG:
        put("config", c)
    for v in VERSIONFILE:
        put("versionfile", v)
    standin_seeds(binary)
    for t in sorted(os.listdir(CORPUS)):
        print("%-12s %d files" % (t, len(os.listdir(os.path.join(CORPUS, t)))))


if __name__ == "__main__":
    main()
