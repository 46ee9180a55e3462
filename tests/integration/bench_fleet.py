#!/usr/bin/env python3
"""Steady state of a [group] (issue 13; not a test: it prints).

N projects in nested subgroups of one group (one bare repository served
under every path, so the first cycles are cheap), the daemon with
[group "bench"]; after every project's first reconciliation, R poll
rounds with nothing new: the API requests the stand-in saw, per round and
by route. Expected: one GET /groups/:id/merge_requests per round (plus
pages when more than 100 MRs moved), nothing per project.

usage: bench_fleet.py [--projects 250,2500] [--rounds 5] [--poll 2]
       SEMVER_TAGGER_BIN=build/src/app/semver-tagger (default: build/)
"""
import argparse
import collections
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, Standin, TOKEN, wait_for  # noqa: E402


def run(n, rounds, poll):
    s = Standin()
    tmp = tempfile.mkdtemp(prefix="bench-fleet-")
    d = None
    try:
        s.ctl("POST", "/__control__/tokens", {"token": TOKEN, "username": "bot"})
        t0 = time.monotonic()
        tmpl = s.ctl("POST", "/__control__/projects",
                     {"path_with_namespace": "bench/tmpl", "topics": ["release"]})
        for i in range(1, n):
            s.ctl("POST", "/__control__/projects", {
                "path_with_namespace": "bench/s%d/t%d/p%d" % (i % 10, i % 7, i),
                "share_repo_of": tmpl["id"], "topics": ["release"]})
        setup = time.monotonic() - t0
        d = Daemon(s, tmp, [], poll_interval=poll, global_extra=(
            "discovery_interval = 86400\nreconcile_interval = 2592000\n"
            '[group "bench"]\ntopic = release\n'))
        t0 = time.monotonic()
        d.start()
        state = os.path.join(tmp, "state", "projects")
        group_route = "GET /api/v4/groups/:id/merge_requests"

        def others():
            c = s.ctl("GET", "/__control__/counters")
            return sum(v for k, v in c.items() if k != group_route)

        # every project cloned, then no request but the group listing over
        # two rounds (the stand-in's counters: /metrics of thousands of
        # projects is slow on a loaded machine)
        wait_for(lambda: len([x for x in os.listdir(state) if os.path.isdir(
            os.path.join(state, x, "mirror.git"))]) >= n if os.path.isdir(state)
            else False, timeout=24 * 3600, interval=2, what="every mirror")
        last = [-1]

        def quiet():
            now = others()
            ok = now == last[0]
            last[0] = now
            return ok
        wait_for(quiet, timeout=24 * 3600, interval=2 * poll + 1,
                 what="the first cycles to end")
        first = time.monotonic() - t0

        def polls():
            st, body = d.request("GET", "/metrics", timeout=600)
            for line in body.decode().splitlines():
                if line.startswith('semver_tagger_group_polls_total{group="bench"}'):
                    return float(line.split()[-1])
            return 0.0
        r0 = polls()
        s.ctl("DELETE", "/__control__/counters")
        wait_for(lambda: polls() >= r0 + rounds, timeout=3600, interval=poll,
                 what="%d rounds" % rounds)
        reqs = [r for r in s.ctl("GET", "/__control__/requests")
                if r["route"] != "GET unknown"]
        done = polls() - r0
        by = collections.Counter(r["route"] for r in reqs)
        print("| %d projects | %d rounds | %d requests | %.2f per round | %s "
              "| setup %.0f s, first cycles %.0f s |"
              % (n, done, len(reqs), len(reqs) / max(done, 1),
                 ", ".join("%s: %d" % kv for kv in sorted(by.items())),
                 setup, first))
        sys.stdout.flush()
    finally:
        if d:
            d.stop()
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--projects", default="250,2500")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--poll", type=int, default=2)
    a = ap.parse_args()
    print("| group size | rounds | API requests | per round | routes | |")
    print("|---|---|---|---|---|---|")
    for n in (int(x) for x in a.projects.split(",")):
        run(n, a.rounds, a.poll)


if __name__ == "__main__":
    main()
