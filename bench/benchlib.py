# SPDX-License-Identifier: MIT
"""Helpers for bench/run: the stand-in, projects built from bench/gen's
output, whole-process timing with /usr/bin/time, statistics."""

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402  (the stand-in process, shared with the tests)
TOKEN = "glpat-bench-0123456789abcdef"
TIME = "/usr/bin/time"


class Standin(harness.Standin):
    """The integration harness's stand-in (loopback only), with the
    counters the benchmark reads."""

    def counters(self):
        return self.ctl("GET", "/__control__/counters")

    def reset_counters(self):
        self.ctl("DELETE", "/__control__/counters")


def link_repo(data_dir, repo_path):
    """Serve bench/gen's repository from the stand-in's (empty) bare repo
    for the project: its objects through objects/info/alternates (read
    only: the generated repository is never written), its refs copied.
    Instant at 100k commits, unlike a push of 40 MB through the stand-in.
    Objects pushed later land in the stand-in's own repository."""
    src = os.path.abspath(os.path.join(data_dir, "repo.git"))
    info = os.path.join(repo_path, "objects", "info")
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "alternates"), "w") as f:
        f.write(os.path.join(src, "objects") + "\n")
    shutil.copyfile(os.path.join(src, "packed-refs"),
                    os.path.join(repo_path, "packed-refs"))


def make_project(standin, data_dir, pid, path):
    """A fresh project `path` with id `pid` holding bench/gen's output:
    refs, merged MR records, GitLab-like branch protection."""
    info = standin.ctl("POST", "/__control__/projects", {
        "path_with_namespace": path, "id": pid, "default_branch": "main",
        "initialize": False})
    link_repo(data_dir, info["repo_path"])
    with open(os.path.join(data_dir, "mrs.json")) as f:
        body = json.load(f)
    standin.ctl("POST", "/__control__/projects/%d/merge_requests/bulk" % pid,
                body)
    for name in ("main", "release/*"):
        standin.ctl("POST", "/__control__/projects/%d/protected_branches" %
                    pid, {"name": name, "level": "no_force_push"})
    return info


def fresh_standin_state(standin):
    standin.ctl("POST", "/__control__/reset")
    standin.ctl("POST", "/__control__/tokens",
                {"token": TOKEN, "username": "semver-bot"})


def tool_env(standin, pid, path, state_dir, build="version-file", extra=None):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": state_dir,
        "CI_API_V4_URL": standin.api,
        "CI_PROJECT_ID": str(pid),
        "CI_PROJECT_PATH": path,
        "SEMVER_TAGGER_TOKEN": TOKEN,
        "SEMVER_TAGGER_STATE_DIR": state_dir,
        "SEMVER_TAGGER_BUILD_SYSTEM": build,
        "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }
    env.update(extra or {})
    return env


class Run:
    def __init__(self, wall_ms, rss_kb, code, out, err, cpu_ms=0.0):
        self.wall_ms = wall_ms
        self.rss_kb = rss_kb
        self.code = code
        self.out = out
        self.err = err
        self.cpu_ms = cpu_ms   # user + system, the process and its children


def timed_wait4(argv, env=None, cwd=None, timeout=600):
    """Without /usr/bin/time (Debian's "time" package): the same figures
    from wait4()'s rusage (ru_maxrss covers the children it waited for)."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=fo,
                             stderr=fe)
        _, status, ru = os.wait4(p.pid, 0)
        wall = (time.perf_counter() - t0) * 1000.0
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out = fo.read().decode("utf-8", "replace")
        err = fe.read().decode("utf-8", "replace")
    return Run(wall, ru.ru_maxrss, p.returncode, out, err)


def timed(argv, env=None, cwd=None, timeout=600):
    """Run argv under /usr/bin/time -f %M (peak RSS of the process and its
    waited-for children); wall time from a monotonic clock around it; CPU
    time from getrusage(RUSAGE_CHILDREN) around it."""
    if not os.access(TIME, os.X_OK):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = timed_wait4(argv, env, cwd, timeout)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r.cpu_ms = ((r1.ru_utime - r0.ru_utime) +
                    (r1.ru_stime - r0.ru_stime)) * 1000
        return r
    fd, tfile = tempfile.mkstemp(prefix="bench-time-")
    os.close(fd)
    try:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run([TIME, "-f", "%M", "-o", tfile] + list(argv),
                           env=env, cwd=cwd, capture_output=True, text=True,
                           timeout=timeout)
        wall = (time.perf_counter() - t0) * 1000.0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) * 1000
        with open(tfile) as f:
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
        rss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    finally:
        os.unlink(tfile)
    return Run(wall, rss, p.returncode, p.stdout, p.stderr, cpu)


def copy_state(src, dst):
    """Copy a state directory; pack files (never modified in place) are
    hard-linked, everything else copied."""
    if os.path.exists(dst):
        shutil.rmtree(dst)

    def cp(s, d):
        if os.sep + "objects" + os.sep + "pack" + os.sep in s:
            os.link(s, d)
        else:
            shutil.copy2(s, d)
    shutil.copytree(src, dst, copy_function=cp, symlinks=True)


def stats(values):
    v = sorted(values)
    return {"median": statistics.median(v), "min": v[0], "max": v[-1],
            "n": len(v)}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
