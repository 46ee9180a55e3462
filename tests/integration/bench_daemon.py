#!/usr/bin/env python3
"""Daemon figures against the GitLab stand-in (not a test: it prints).

  - merge-to-tag latency: an MR merged on the stand-in, GitLab's project
    hook delivers the Merge Request Hook, the daemon reconciles; the clock
    runs from the merge call's return to the tag being visible;
  - idle footprint with N configured projects: RSS of the daemon after
    every project's first cycle, CPU time and context switches (all
    threads) over an idle window with no poll due.

usage: bench_daemon.py [--projects 100] [--merges 10] [--idle 30]
       SEMVER_TAGGER_BIN=build/src/app/semver-tagger (default: build/)
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Daemon, Project, Standin, TOKEN,  # noqa: E402
                     WEBHOOK_SECRET, wait_for)


def proc_stat(pid):
    """(cpu seconds, context switches of every thread, RSS KiB)."""
    ticks = os.sysconf("SC_CLK_TCK")
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    switches = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches",
                                        "nonvoluntary_ctxt_switches")):
                        switches += int(line.split()[1])
        except FileNotFoundError:
            pass
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return cpu, switches, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--projects", type=int, default=100)
    ap.add_argument("--merges", type=int, default=10)
    ap.add_argument("--idle", type=float, default=30.0)
    args = ap.parse_args()

    s = Standin()
    tmp = tempfile.mkdtemp(prefix="semver-tagger-bench-")
    d = None
    try:
        s.ctl("POST", "/__control__/tokens",
              {"token": TOKEN, "username": "semver-bot"})
        t0 = time.monotonic()
        projects = [Project(s, path="bench/p%03d" % i, protect=False)
                    for i in range(args.projects)]
        print("stand-in: %d projects in %.1f s" % (len(projects),
                                                    time.monotonic() - t0))
        d = Daemon(s, tmp, projects, poll_interval=3600).start()
        pid = d.proc.pid
        t0 = time.monotonic()
        wait_for(lambda: all(d.cycles(p.path) >= 1 for p in projects),
                 timeout=600, what="every first cycle", interval=0.5)
        print("first cycles of %d projects: %.1f s"
              % (len(projects), time.monotonic() - t0))

        # idle: no poll due (interval 3600 s), no webhook
        time.sleep(2)
        cpu0, sw0, rss0 = proc_stat(pid)
        time.sleep(args.idle)
        cpu1, sw1, rss1 = proc_stat(pid)
        threads = len(os.listdir("/proc/%d/task" % pid))
        print("idle with %d projects: RSS %.1f MiB (%.1f MiB after %.0f s),"
              " %d threads" % (len(projects), rss0 / 1024, rss1 / 1024,
                               args.idle, threads))
        print("idle %.0f s: CPU %.3f s (%.3f %%), %d context switches "
              "(all threads)" % (args.idle, cpu1 - cpu0,
                                 100 * (cpu1 - cpu0) / args.idle, sw1 - sw0))

        # merge-to-tag latency through GitLab's own project hook
        p = projects[0]
        s.ctl("POST", p.c("/hooks"), {
            "url": d.hook_url(), "token": WEBHOOK_SECRET,
            "merge_requests_events": True, "push_events": False})
        lat = []
        for i in range(args.merges):
            mr = p.mr("Change %d" % i, ["ImpactPatch"], merge=False)
            n_tags = len(p.tags())
            s.ctl("POST", p.c("/merge_requests/%d/merge" % mr["iid"]),
                  {"method": "merge"})
            t0 = time.monotonic()
            wait_for(lambda: len(p.tags()) > n_tags, timeout=60,
                     what="the tag", interval=0.01)
            lat.append(time.monotonic() - t0)
            # let the cycle (branches, notes) finish before the next merge
            wait_for(lambda: not d.metric("semver_tagger_cycle_running",
                                          project=p.path), timeout=60,
                     what="the cycle to end", interval=0.02)
        print("merge-to-tag over %d merges: min %.0f ms, median %.0f ms, "
              "max %.0f ms" % (len(lat), 1000 * min(lat),
                               1000 * statistics.median(lat),
                               1000 * max(lat)))
        print("tags of %s: %s" % (p.path, " ".join(p.tags())))
        _, _, rss2 = proc_stat(pid)
        print("RSS after the merges: %.1f MiB" % (rss2 / 1024))
        code, took = d.stop()
        print("SIGTERM: exit %s in %.2f s" % (code, took))
    finally:
        if d:
            d.stop()
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
