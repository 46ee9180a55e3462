#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The daemon's figures (issue 12), against the GitLab stand-in, written
into docs/performance.md between the bench/daemon markers.

    bench/daemon.py [--only steady,merge,scale] [--scale 1000,10000]
                    [--merges 20] [--binary build/src/app/semver-tagger]

- steady: one project polled every second; per poll: REST requests and
  git info/refs requests (stand-in counters), CPU of the daemon and of
  the engine workers (their own, and with the gitrepo children they
  reaped), over a window of polls;
- merge: merge-to-tag through GitLab's project hook, p50/p99, next to the
  floor measured in the same run right after each release: `git fetch`
  of the project into a mirror plus `git push` of one tag, by git against
  the same stand-in (what a release needs before its tag is visible);
- scale: N configured projects on one repository (the stand-in's
  aliases), mirrors seeded by hard links (no N clones): the first round
  (every project's first cycle) timed, then one whole poll interval
  (--scale-interval, 300 s) of steady polls: CPU of the daemon, its
  workers and their children over that window divided by the window, and
  the peak RSS (summed) and PSS of the daemon and its workers in both.

Not a test: nothing asserts a time. Keep runs short (shared machine).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
DOC = os.path.join(SRC, "docs", "performance.md")
BEGIN = "<!-- bench/daemon: begin -->"
END = "<!-- bench/daemon: end -->"


def log(msg):
    sys.stderr.write("[bench/daemon %s] %s\n" % (time.strftime("%H:%M:%S"),
                                                 msg))
    sys.stderr.flush()


def stat_fields(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu(pid, children=True):
    """CPU seconds of pid (and of the children it reaped)."""
    try:
        x = stat_fields(pid)
    except OSError:
        return 0.0
    t = int(x[11]) + int(x[12])
    if children:
        t += int(x[13]) + int(x[14])
    return t / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid):
    """Proportional set size: shared pages (the libraries every worker
    maps) counted once across processes."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def workers(dpid):
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            x = stat_fields(int(pid))
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if int(x[1]) == dpid and b"--internal-worker" in cmd:
            out.append(int(pid))
    return sorted(out)


class Usage:
    """CPU of the daemon and its workers between two points. Workers
    start at their first job: one that appeared meanwhile counts from
    zero; one replaced meanwhile is lost (none are, in these runs)."""

    def __init__(self, dpid):
        self.dpid = dpid
        self.d0 = cpu(dpid, children=False)
        self.w0 = {w: (cpu(w, False), cpu(w, True)) for w in workers(dpid)}

    def done(self):
        ws = workers(self.dpid)
        base = [self.w0.get(w, (0.0, 0.0)) for w in ws]
        return {"daemon": cpu(self.dpid, children=False) - self.d0,
                "workers_self": sum(cpu(w, False) - b[0]
                                    for w, b in zip(ws, base)),
                "workers_all": sum(cpu(w, True) - b[1]
                                   for w, b in zip(ws, base))}


def pct(values, p):
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def counters(s):
    c = s.ctl("GET", "/__control__/counters")
    rest = sum(v for k, v in c.items() if " /api/" in k)
    git = sum(v for k, v in c.items() if "info/refs" in k)
    other = sum(v for k, v in c.items()) - rest - git
    return rest, git, other


def steady(h, args):
    s = h.Standin()
    tmp = tempfile.mkdtemp(prefix="bench-daemon-")
    d = None
    try:
        s.ctl("POST", "/__control__/tokens",
              {"token": h.TOKEN, "username": "semver-bot"})
        p = h.Project(s, path="bench/steady", protect=False)
        for i in range(20):
            p.mr("change %d" % i, ["ImpactPatch"])
        d = h.Daemon(s, tmp, [p], poll_interval=1).start()
        h.wait_for(lambda: d.cycles(p.path) >= 3, timeout=120,
                   what="the first cycles")
        s.ctl("DELETE", "/__control__/counters")
        u = Usage(d.proc.pid)
        time.sleep(args.window)
        use = u.done()
        rest, git, other = counters(s)
        polls = rest  # one listing per poll
        return {"polls": polls, "rest": rest / polls, "git": git / polls,
                "other": other, "window": args.window,
                "daemon_ms": use["daemon"] * 1000 / polls,
                "workers_self_ms": use["workers_self"] * 1000 / polls,
                "workers_all_ms": use["workers_all"] * 1000 / polls}
    finally:
        if d:
            d.stop()
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def git_floor(s, p, token, tmp, i):
    """What a release needs before its tag is visible, by git: a fetch
    into a mirror (ref advertisement, new objects), then a push of one
    tag. Milliseconds (fetch, fetch + tag push)."""
    d = os.path.join(tmp, "floor.git")
    host = s.url.split("://", 1)[1]
    url = "http://bench:%s@%s/%s.git" % (token, host, p.path)
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    if not os.path.isdir(d):
        subprocess.run(["git", "init", "-q", "--bare", d], check=True)
    t0 = time.perf_counter()
    subprocess.run(["git", "--git-dir", d, "fetch", "-q", url,
                    "+refs/heads/*:refs/heads/*"], check=True, env=env,
                   stderr=subprocess.DEVNULL)
    t1 = time.perf_counter()
    head = subprocess.run(["git", "--git-dir", d, "rev-parse", "main"],
                          check=True, capture_output=True,
                          text=True).stdout.strip()
    name = "refs/tags/floor-%d" % i
    subprocess.run(["git", "--git-dir", d, "update-ref", name, head],
                   check=True)
    subprocess.run(["git", "--git-dir", d, "push", "-q", url, name],
                   check=True, env=env, stderr=subprocess.DEVNULL)
    t2 = time.perf_counter()
    return (t1 - t0) * 1000, (t2 - t0) * 1000


class TagWatch:
    """The stand-in repository's tag count, from the file system: loose
    tags listed, packed-refs re-read only when it changes. Watching with
    `git for-each-ref` every 2 ms (a process each time) kept a core busy
    and slowed the very release it timed; the floor had no such load."""

    def __init__(self, repo):
        self.tags = os.path.join(repo, "refs", "tags")
        self.packed = os.path.join(repo, "packed-refs")
        self.stamp, self.packed_tags = None, set()

    def count(self):
        try:
            st = os.stat(self.packed)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp != self.stamp:
            self.stamp, self.packed_tags = stamp, set()
            if stamp:
                with open(self.packed) as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) == 2 and \
                                parts[1].startswith("refs/tags/"):
                            self.packed_tags.add(parts[1][10:])
        loose = set()
        for root, _, files in os.walk(self.tags):
            rel = os.path.relpath(root, self.tags)
            loose.update(f if rel == "." else rel + "/" + f for f in files)
        return len(loose | self.packed_tags)


def merge(h, args):
    s = h.Standin()
    tmp = tempfile.mkdtemp(prefix="bench-daemon-")
    d = None
    try:
        s.ctl("POST", "/__control__/tokens",
              {"token": h.TOKEN, "username": "semver-bot"})
        p = h.Project(s, path="bench/merge", protect=False)
        d = h.Daemon(s, tmp, [p], poll_interval=3600).start()
        h.wait_for(lambda: d.cycles(p.path) >= 1, timeout=120,
                   what="the first cycle")
        s.ctl("POST", p.c("/hooks"), {
            "url": d.hook_url(), "token": h.WEBHOOK_SECRET,
            "merge_requests_events": True, "push_events": False})
        lat, floor_fetch, floor = [], [], []
        watch = TagWatch(p.repo)
        for i in range(args.merges):
            mr = p.mr("change %d" % i, ["ImpactPatch"], merge=False)
            n = watch.count()
            assert n == len(p.tags()), "TagWatch disagrees with git"
            s.ctl("POST", p.c("/merge_requests/%d/merge" % mr["iid"]),
                  {"method": "merge"})
            t0 = time.monotonic()
            h.wait_for(lambda: watch.count() > n, timeout=60,
                       what="the tag", interval=0.002)
            lat.append((time.monotonic() - t0) * 1000)
            h.wait_for(lambda: not d.metric("semver_tagger_cycle_running",
                                            project=p.path), timeout=60,
                       what="the cycle to end", interval=0.02)
            f1, f2 = git_floor(s, p, h.TOKEN, tmp, i)
            floor_fetch.append(f1)
            floor.append(f2)
        return {"merges": args.merges,
                "p50": pct(lat, 50), "p99": pct(lat, 99),
                "floor_p50": pct(floor, 50), "floor_p99": pct(floor, 99),
                "floor_fetch_p50": pct(floor_fetch, 50)}
    finally:
        if d:
            d.stop()
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def polls_of(s):
    """Polls the stand-in saw: each lists the project's merge requests
    once (the quick check's one REST request, or the full cycle's
    incremental listing; a quick check that finds a change and the full
    cycle after it list twice, rare once converged). info/refs no longer
    counts polls: a quick check makes one request, a full cycle's fetch
    two (git's unauthenticated try, then with the token)."""
    c = s.ctl("GET", "/__control__/counters")
    return c.get("GET /api/v4/projects/:id/merge_requests", 0)


def seed_state(h, s, p, tmp):
    """One daemon cycle of p, to get its mirror."""
    d = h.Daemon(s, tmp, [p], poll_interval=3600, listen=False).start()
    mirror = os.path.join(tmp, "state", "projects", "bench%2Fscale",
                          "mirror.git")
    try:
        h.wait_for(lambda: counters(s)[0] >= 2 and os.path.isdir(mirror),
                   timeout=120, what="the seed cycle")
        time.sleep(2)
    finally:
        d.stop()
    return mirror


class FirstRound:
    """Projects whose first cycle has run: the MR cache in their state
    folder exists (the preflight before it also asks for the project,
    so the stand-in's counters cannot tell)."""

    def __init__(self, tmp, names):
        self.left = [os.path.join(tmp, "state", "projects",
                                  n.replace("/", "%2F"),
                                  "merge-requests.cache") for n in names]

    def done(self):
        self.left = [f for f in self.left if not os.path.exists(f)]
        return not self.left


def seed_aliases(h, s, p, tmp, n):
    mirror = seed_state(h, s, p, tmp)
    names = ["bench/a%05d" % i for i in range(n)]
    s.ctl("POST", p.c("/aliases"), {"paths": names})
    files, dirs = [], []
    for root, _, fs in os.walk(mirror):
        rel = os.path.relpath(root, mirror)
        dirs.append(rel)
        files += [os.path.join(rel, f) for f in fs]
    for name in names:  # hard links: no clone per project
        dst = os.path.join(tmp, "state", "projects",
                           name.replace("/", "%2F"), "mirror.git")
        for x in dirs:
            os.makedirs(os.path.join(dst, x), exist_ok=True)
        for f in files:
            os.link(os.path.join(mirror, f), os.path.join(dst, f))
    return names


class Memory:
    """Peak RSS (summed) and PSS of the daemon and its workers."""

    def __init__(self, dpid):
        self.dpid, self.rss, self.pss, self.daemon = dpid, 0, 0, 0

    def sample(self):
        ws = workers(self.dpid)
        d = rss_kb(self.dpid)
        self.daemon = max(self.daemon, d)
        self.rss = max(self.rss, d + sum(rss_kb(w) for w in ws))
        self.pss = max(self.pss, pss_kb(self.dpid) +
                       sum(pss_kb(w) for w in ws))


def scale(h, args, n):
    """N projects: the first round (every project's first cycle: project
    request, full listing, mirror opened), then one whole poll interval
    of steady polls measured directly: CPU over the window / window."""
    s = h.Standin()
    tmp = tempfile.mkdtemp(prefix="bench-daemon-")
    d = None
    try:
        s.ctl("POST", "/__control__/tokens",
              {"token": h.TOKEN, "username": "semver-bot"})
        p = h.Project(s, path="bench/scale", protect=False)
        for i in range(5):
            p.mr("change %d" % i, ["ImpactPatch"])
        names = seed_aliases(h, s, p, tmp, n)
        interval = args.scale_interval
        d = h.Daemon(s, tmp, [(x, {}) for x in names],
                     poll_interval=interval, listen=False)
        d.start()
        dpid = d.proc.pid
        s.ctl("DELETE", "/__control__/counters")
        t0 = time.monotonic()
        u = Usage(dpid)
        m1 = Memory(dpid)
        first_round = FirstRound(tmp, names)
        while not first_round.done():
            if time.monotonic() - t0 > args.scale_window:
                raise AssertionError("first round: %d of %d projects left "
                                     "after %.0f s" % (len(first_round.left),
                                                       n, args.scale_window))
            m1.sample()
            time.sleep(2)
        time.sleep(5)  # the last first cycles end
        first = u.done()
        res = {"n": n, "interval": interval,
               "first_s": time.monotonic() - t0,
               "first_cpu_s": first["daemon"] + first["workers_all"],
               "rss_round_kb": m1.rss, "pss_round_kb": m1.pss,
               "rss_daemon_kb": m1.daemon}
        # the steady window: one whole poll interval after the first round
        u2 = Usage(dpid)
        m2 = Memory(dpid)
        p0, r0 = polls_of(s), counters(s)[0]
        t1 = time.monotonic()
        while time.monotonic() - t1 < interval:
            m2.sample()
            time.sleep(2)
        use = u2.done()
        window = time.monotonic() - t1
        polls = max(polls_of(s) - p0, 1)
        cpu_s = use["daemon"] + use["workers_all"]
        res.update({"steady_window_s": window, "steady_polls": polls,
                    "steady_rest": (counters(s)[0] - r0) / polls,
                    "steady_cpu_s": cpu_s,
                    "steady_cpu_ms": cpu_s * 1000 / polls,
                    "steady_core_pct": cpu_s * 100 / window,
                    "rss_steady_kb": m2.rss, "pss_steady_kb": m2.pss,
                    "rss_steady_daemon_kb": m2.daemon})
        return res
    finally:
        if d:
            d.stop()
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def render(r, args):
    out = [BEGIN, "",
           "Measured %s UTC by `bench/daemon.py` (%s), load %s."
           % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
              " ".join(sys.argv[1:]) or "defaults",
              " ".join("%.2f" % x for x in os.getloadavg())), ""]
    out.append("| daemon figure | measured | target |")
    out.append("|---|---|---|")
    st = r.get("steady")
    if st:
        out.append("| steady poll: REST requests per poll | %.2f | ≤ 1 |"
                   % st["rest"])
        out.append("| steady poll: git `info/refs` requests per poll (the "
                   "quick check's one ref advertisement, token sent with "
                   "it) | %.2f | one advertisement |"
                   % st["git"])
        out.append("| steady poll: CPU per poll, daemon + worker + its "
                   "children | %.1f ms (daemon %.1f, worker %.1f, "
                   "children %.1f) | ≤ 2 ms |"
                   % (st["daemon_ms"] + st["workers_all_ms"],
                      st["daemon_ms"], st["workers_self_ms"],
                      st["workers_all_ms"] - st["workers_self_ms"]))
    m = r.get("merge")
    if m:
        out.append("| merge-to-tag p50 / p99 (%d merges) | %.0f / %.0f ms "
                   "| |" % (m["merges"], m["p50"], m["p99"]))
        out.append("| floor: `git fetch` + `git push` of one tag, same "
                   "run, p50 / p99 | %.0f / %.0f ms (fetch alone %.0f) | |"
                   % (m["floor_p50"], m["floor_p99"], m["floor_fetch_p50"]))
        out.append("| merge-to-tag p50 / floor p50 | %.2f× | ≤ 1.3× |"
                   % (m["p50"] / m["floor_p50"]))
    for sc in r.get("scale", []):
        n = format(sc["n"], ",")
        out.append("| %s projects: first round (every project's first "
                   "cycle: preflight, project request, full listing, mirror check) "
                   "| %.0f s, %.1f ms CPU per project | |"
                   % (n, sc["first_s"], sc["first_cpu_s"] * 1000 /
                      sc["n"]))
        out.append("| %s projects: memory during the first round, daemon "
                   "+ 4 workers (RSS summed; PSS counts shared library "
                   "pages once) | %.1f MiB RSS, %.1f MiB PSS (daemon alone "
                   "%.1f RSS) | < 100 MiB |"
                   % (n, sc["rss_round_kb"] / 1024, sc["pss_round_kb"] /
                      1024, sc["rss_daemon_kb"] / 1024))
        out.append("| %s projects: memory during the steady round | %.1f "
                   "MiB RSS, %.1f MiB PSS (daemon alone %.1f RSS) | "
                   "< 100 MiB |"
                   % (n, sc["rss_steady_kb"] / 1024, sc["pss_steady_kb"] /
                      1024, sc["rss_steady_daemon_kb"] / 1024))
        out.append("| %s projects: steady polls in one %d s interval | %d "
                   "polls, %.2f REST requests and %.1f ms CPU each | |"
                   % (n, sc["interval"], sc["steady_polls"],
                      sc["steady_rest"], sc["steady_cpu_ms"]))
        out.append("| %s projects at a %d s poll: CPU over the whole "
                   "interval, daemon + workers + children | %.1f %% of a "
                   "core | < 10 %% |"
                   % (n, sc["interval"], sc["steady_core_pct"]))
    out += ["", END]
    return "\n".join(out)


def write_doc(text):
    with open(DOC) as f:
        doc = f.read()
    if BEGIN in doc and END in doc:
        a = doc.index(BEGIN)
        b = doc.index(END) + len(END)
        doc = doc[:a] + text + doc[b:]
    else:
        doc = doc.rstrip("\n") + "\n\n## The daemon's figures (issue 12)\n\n" \
            + text + "\n"
    with open(DOC, "w") as f:
        f.write(doc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="steady,merge,scale")
    ap.add_argument("--scale", default="1000,10000")
    ap.add_argument("--merges", type=int, default=20)
    ap.add_argument("--window", type=float, default=20.0,
                    help="seconds of steady polls observed")
    ap.add_argument("--scale-window", type=float, default=3600.0,
                    help="seconds at most for a first round")
    ap.add_argument("--scale-interval", type=int, default=300,
                    help="poll interval of the scale runs (the steady "
                    "window is one interval)")
    ap.add_argument("--binary", default=os.path.join(
        SRC, "build", "src", "app", "semver-tagger"))
    ap.add_argument("--no-doc", action="store_true")
    args = ap.parse_args()
    os.environ["SEMVER_TAGGER_BIN"] = os.path.abspath(args.binary)
    import harness as h  # noqa: E402
    only = args.only.split(",")
    r = {}
    if "steady" in only:
        log("steady poll")
        r["steady"] = steady(h, args)
        log(json.dumps(r["steady"]))
    if "merge" in only:
        log("merge-to-tag, %d merges" % args.merges)
        r["merge"] = merge(h, args)
        log(json.dumps(r["merge"]))
    if "scale" in only:
        r["scale"] = []
        for n in [int(x) for x in args.scale.split(",") if x]:
            log("%d projects" % n)
            r["scale"].append(scale(h, args, n))
            log(json.dumps(r["scale"][-1]))
    text = render(r, args)
    print(text)
    if not args.no_doc:
        write_doc(text)


if __name__ == "__main__":
    main()
