#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""GitLab stand-in for semver-tagger's tests.

REST v4 subset, git smart HTTP through `git http-backend`, GitLab-like push
rules, merge request simulation with real git, webhooks, fault injection.
Python 3 standard library only. The contract is tests/forge/README.md.
"""

import argparse
import base64
import datetime
import fnmatch
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import standin_fleet as fleet  # groups, hooks, labels, pipelines (issue 13)

ZERO_SHA = "0" * 40
GITLAB_VERSION = "18.2.0"
MAX_TOTAL_COUNT = 10000  # Gitlab::Pagination: no X-Total above this
NOTE_ID_BASE = 3_000_000_000  # note ids above 2^31, as on GitLab.com
STATUS_ID_BASE = 5_000_000_000
MR_ID_BASE = 10_000
HOOK_TIMEOUT = 10.0

STANDIN_IDENTITY = {
    "GIT_AUTHOR_NAME": "Stand-in",
    "GIT_AUTHOR_EMAIL": "standin@example.invalid",
    "GIT_COMMITTER_NAME": "Stand-in",
    "GIT_COMMITTER_EMAIL": "standin@example.invalid",
}

VERBOSE = False


def log(msg):
    if VERBOSE:
        sys.stderr.write("standin: %s\n" % msg)
        sys.stderr.flush()


# --------------------------------------------------------------------------
# Time

def fmt_ms(ms):
    """2026-03-14T09:21:07.481Z"""
    if ms is None:
        return None
    dt = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


def fmt_ms_utc_words(ms):
    """2026-03-14 09:21:07 UTC (older GitLab webhook style)"""
    if ms is None:
        return None
    dt = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_ms_offset(ms):
    """2026-03-14T09:21:07+00:00 (git commit timestamps in webhooks)"""
    dt = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_iso(value):
    """ISO 8601 to epoch ms; ValueError when invalid (also on a space, as a
    '+' sent unencoded in a query string arrives as one)."""
    if not isinstance(value, str) or not value or " " in value:
        raise ValueError(value)
    v = value
    if v.endswith("Z") or v.endswith("z"):
        v = v[:-1] + "+00:00"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        v += "T00:00:00+00:00"
    dt = datetime.datetime.fromisoformat(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(round(dt.timestamp() * 1000))


class Clock:
    """Millisecond clock whose values are strictly increasing."""

    def __init__(self):
        self.offset_ms = 0
        self.last = 0
        self.lock = threading.Lock()

    def now(self):
        with self.lock:
            ms = int(time.time() * 1000) + self.offset_ms
            if ms <= self.last:
                ms = self.last + 1
            self.last = ms
            return ms

    def advance(self, seconds):
        with self.lock:
            self.offset_ms += int(seconds * 1000)

    def set(self, ms):
        with self.lock:
            self.offset_ms = ms - int(time.time() * 1000)
            self.last = min(self.last, ms - 1)


# --------------------------------------------------------------------------
# Git

class GitError(Exception):
    def __init__(self, msg, rc=None, stderr=""):
        super().__init__(msg)
        self.rc = rc
        self.stderr = stderr


def git_env(extra=None):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("GIT_") and k not in ("GIT_EXEC_PATH",):
            del env[k]
    env.update(STANDIN_IDENTITY)
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


def git(repo, *args, input=None, env=None, ok_codes=(0,), text=True):
    cmd = ["git", "--git-dir", repo] + list(args)
    p = subprocess.run(cmd, input=input, capture_output=True, env=git_env(env),
                       text=text, timeout=120)
    if p.returncode not in ok_codes:
        raise GitError("git %s failed: %s" % (" ".join(args[:2]), p.stderr.strip()),
                       p.returncode, p.stderr)
    return p


def git_out(repo, *args, **kw):
    return git(repo, *args, **kw).stdout.strip()


def rev_parse(repo, rev):
    p = git(repo, "rev-parse", "--verify", "--quiet", rev + "^{commit}", ok_codes=(0, 1, 128))
    if p.returncode != 0:
        return None
    return p.stdout.strip()


def is_ancestor(repo, a, b):
    p = git(repo, "merge-base", "--is-ancestor", a, b, ok_codes=(0, 1, 128))
    return p.returncode == 0


def list_refs(repo):
    out = git_out(repo, "for-each-ref", "--format=%(objectname) %(refname)")
    refs = {}
    for line in out.splitlines():
        if line:
            sha, name = line.split(" ", 1)
            refs[name] = sha
    return refs


def user_env(user, prefix_both=True):
    name = user.name
    email = "%s@example.com" % user.username
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}


PRE_RECEIVE_HOOK = r'''#!__PYTHON__
# GitLab-like push rules of the stand-in (generated; see tests/forge/README.md).
import fnmatch, json, os, subprocess, sys
ZERO = "0" * 40
try:
    with open(os.path.join(os.environ.get("GIT_DIR", "."), "standin-protect.json")) as f:
        cfg = json.load(f)
except OSError:
    cfg = {}
protected = cfg.get("protected_branches", [])
default_branch = cfg.get("default_branch")

def level(branch):
    lv = None
    for p in protected:
        if fnmatch.fnmatchcase(branch, p["name"]):
            if p["level"] == "no_push":
                return "no_push"
            lv = p["level"]
    return lv

def is_ancestor(a, b):
    return subprocess.run(["git", "merge-base", "--is-ancestor", a, b],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

def check(old, new, ref):
    if ref.startswith("refs/tags/"):
        if old != ZERO and new == ZERO:
            return "You can only delete protected tags using the web interface."
        if old != ZERO:
            return "Protected tags cannot be updated."
        return None
    if ref.startswith("refs/heads/"):
        branch = ref[len("refs/heads/"):]
        if new == ZERO and branch == default_branch:
            return "The default branch of a project cannot be deleted."
        lv = level(branch)
        if lv is None:
            return None
        if new == ZERO:
            return "You can only delete protected branches using the web interface."
        if lv == "no_push":
            return "You are not allowed to push code to protected branches on this project."
        if old != ZERO and not is_ancestor(old, new):
            return "You are not allowed to force push code to a protected branch on this project."
    return None

# ---- push rules (GitLab Premium; ee/lib/ee/gitlab/checks/push_rules) ----
rule = cfg.get("push_rule") or None
import re

def commit_fields(sha):
    raw = subprocess.run(["git", "cat-file", "commit", sha], stdout=subprocess.PIPE,
                         check=True).stdout.decode("utf-8", "replace")
    head, _, msg = raw.partition("\n\n")
    f = {"signed": False, "message": msg}
    for hl in head.split("\n"):
        key, _, val = hl.partition(" ")
        if key in ("gpgsig", "gpgsig-sha256"):
            f["signed"] = True
        elif key in ("author", "committer"):
            name, _, rest = val.partition(" <")
            f[key + "_name"] = name
            f[key + "_email"] = rest.partition(">")[0]
    return f

def rx(pattern, value):
    return bool(pattern) and re.search(pattern, value, re.M) is not None

def commit_check(c):
    """GitLab's CommitCheck#check_commit, in its order, with its messages."""
    user_email = os.environ.get("STANDIN_USER_EMAIL", "")
    user_name = os.environ.get("STANDIN_USER_NAME", "")
    if rule.get("commit_message_regex") and not rx(rule["commit_message_regex"], c["message"]):
        return "Commit message does not follow the pattern '%s'" % rule["commit_message_regex"]
    if rx(rule.get("commit_message_negative_regex"), c["message"]):
        return "Commit message contains the forbidden pattern '%s'" % rule["commit_message_negative_regex"]
    aer = rule.get("author_email_regex")
    if aer and not rx(aer, c["committer_email"]):
        return "Committer's email '%s' does not follow the pattern '%s'" % (c["committer_email"], aer)
    if aer and not rx(aer, c["author_email"]):
        return "Author's email '%s' does not follow the pattern '%s'" % (c["author_email"], aer)
    verified = [e.lower() for e in os.environ.get("STANDIN_USER_EMAILS", user_email).split(",")]
    if rule.get("commit_committer_check") and c["committer_email"].lower() not in verified:
        return ("You cannot push commits for '%s'. You can only push commits that were "
                "committed with one of your own verified emails." % c["committer_email"])
    if rule.get("commit_committer_name_check") and \
            c["committer_email"].lower() == c["author_email"].lower() and c["author_name"] != user_name:
        return "Your git username is inconsistent with GitLab account name"
    if rule.get("reject_unsigned_commits") and not c["signed"]:
        return "Commit must be signed with a GPG key"
    members = cfg.get("member_emails", [])
    if rule.get("member_check") and c["author_email"].lower() not in members:
        return "Author '%s' is not a member of team" % c["author_email"]
    return None

def push_rule_check(old, new, ref):
    if rule is None:
        return None
    if ref.startswith("refs/tags/"):
        if rule.get("deny_delete_tag") and new == ZERO and old != ZERO:
            return "You cannot delete a tag"
        return None  # GitLab checks the commits of branch pushes only
    if not ref.startswith("refs/heads/") or new == ZERO:
        return None
    branch = ref[len("refs/heads/"):]
    bnr = rule.get("branch_name_regex")
    if bnr and branch != default_branch and not rx(bnr, branch):
        return "Branch name does not follow the pattern '%s'" % bnr
    shas = subprocess.run(["git", "rev-list", new, "--not", "--all"], stdout=subprocess.PIPE,
                          check=True).stdout.decode().split()
    for sha in shas:
        msg = commit_check(commit_fields(sha))
        if msg:
            return msg
    return None

for line in sys.stdin:
    parts = line.split()
    if len(parts) != 3:
        continue
    msg = check(*parts) or push_rule_check(*parts)
    if msg:
        sys.stderr.write("GitLab: %s\n" % msg)
        sys.stderr.flush()
        sys.exit(1)
sys.exit(0)
'''


# --------------------------------------------------------------------------
# Model

class User:
    def __init__(self, uid, username, base_url):
        self.id = uid
        self.username = username
        self.name = username.replace("-", " ").replace("_", " ").title() if username != "root" else "Administrator"
        self.base_url = base_url
        self.emails = []  # secondary emails: [{"id", "email", "confirmed_at"}]

    def verified_emails(self):
        return ["%s@example.com" % self.username] + \
            [e["email"] for e in self.emails if e["confirmed_at"]]

    def basic(self):
        return {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "state": "active",
            "locked": False,
            "avatar_url": "https://www.gravatar.com/avatar/%032x?s=80&d=identicon" % (self.id * 7919),
            "web_url": "%s/%s" % (self.base_url, self.username),
        }


class Token:
    def __init__(self, token, kind, read_only, user, role="maintainer"):
        self.token = token
        self.kind = kind
        self.read_only = read_only
        self.user = user
        self.role = role


class MR:
    __slots__ = ("id", "iid", "project", "title", "description", "state", "created_at",
                 "updated_at", "merged_at", "closed_at", "merged_by", "closed_by",
                 "target_branch", "source_branch", "author", "labels", "sha",
                 "merge_commit_sha", "squash_commit_sha", "squash", "prev_labels",
                 "label_change_updated", "base_sha", "start_sha", "prepared_at")

    def __init__(self):
        self.description = None
        self.merged_at = None
        self.closed_at = None
        self.merged_by = None
        self.closed_by = None
        self.labels = []
        self.merge_commit_sha = None
        self.squash_commit_sha = None
        self.squash = False
        self.prev_labels = None
        self.label_change_updated = None
        self.base_sha = None
        self.start_sha = None


class Project:
    def __init__(self, pid, path, default_branch, repo_path, created_at):
        self.id = pid
        self.path_with_namespace = path
        self.name = path.rsplit("/", 1)[-1]
        self.namespace = path.rsplit("/", 1)[0] if "/" in path else path
        self.default_branch = default_branch
        self.repo_path = repo_path
        self.created_at = created_at
        self.merge_method = "merge"
        self.visibility = "private"
        self.mrs = {}          # iid -> MR
        self.mr_list = []      # in creation order
        self.next_iid = 1
        self.notes = []        # dicts (internal), creation order
        self.releases = {}     # tag -> release dict (insertion order)
        self.statuses = []
        self.protected = []    # [{"name":..., "level":...}]
        self.push_rule = None  # dict of GitLab's push rule fields, or None
        self.hooks = []
        self.labels = {}       # name -> label dict
        self.git_lock = threading.RLock()
        fleet.FleetModel.init_project(self)


class ApiError(Exception):
    """An HTTP answer other than success, raised from a handler."""

    def __init__(self, status, body, headers=None, content_type="application/json"):
        super().__init__("%d" % status)
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.content_type = content_type


def api_error(status, message=None, error=None):
    if error is not None:
        return ApiError(status, {"error": error})
    return ApiError(status, {"message": message})


def ctl_error(status, msg):
    return ApiError(status, {"error": msg})


# --------------------------------------------------------------------------
# The stand-in

class Standin:
    def __init__(self, state_dir, base_url):
        self.state_dir = state_dir
        self.repos_dir = os.path.join(state_dir, "repos")
        self.hooks_dir = os.path.join(state_dir, "hooks")
        os.makedirs(self.repos_dir, exist_ok=True)
        os.makedirs(self.hooks_dir, exist_ok=True)
        hook = os.path.join(self.hooks_dir, "pre-receive")
        with open(hook, "w") as f:
            f.write(PRE_RECEIVE_HOOK.replace("__PYTHON__", sys.executable))
        os.chmod(hook, 0o755)
        self.base_url = base_url
        self.lock = threading.RLock()
        self.clock = Clock()
        self.procs = set()
        self.procs_lock = threading.Lock()
        self.hook_queue = []
        self.hook_cv = threading.Condition()
        self.stopping = False
        self.reset_state()

    def reset_state(self):
        with self.lock:
            self.users = {}
            self.tokens = {}
            self.projects = {}
            self.projects_by_path = {}
            self.next_project_id = 1
            self.next_mr_id = MR_ID_BASE
            self.next_note_id = NOTE_ID_BASE
            self.next_status_id = STATUS_ID_BASE
            self.next_label_id = 100
            self.next_hook_id = 1
            self.faults = []
            self.next_fault_id = 1
            self.edition = "ee"  # "ee" (Premium), "ee-unlicensed", "ce" (Free)
            self.counters = {}
            self.requests = []
            self.deliveries = []
            self.fleet = fleet.FleetModel(self)
            if os.path.isdir(self.repos_dir):
                shutil.rmtree(self.repos_dir, ignore_errors=True)
            os.makedirs(self.repos_dir, exist_ok=True)

    # ---- users, labels -----------------------------------------------------

    def user(self, username):
        with self.lock:
            u = self.users.get(username)
            if u is None:
                u = User(len(self.users) + 1, username, self.base_url)
                self.users[username] = u
            return u

    def label(self, project, name):
        with self.lock:
            lab = project.labels.get(name)
            if lab is None:
                ts = self.clock.now()
                colors = ["#dc143c", "#428bca", "#69d100", "#ed9121", "#8e44ad", "#009966"]
                lab = {"id": self.next_label_id, "title": name,
                       "color": colors[self.next_label_id % len(colors)],
                       "project_id": project.id, "created_at": ts, "updated_at": ts,
                       "template": False, "description": None, "type": "ProjectLabel",
                       "group_id": None}
                self.next_label_id += 1
                project.labels[name] = lab
            return lab

    def label_hook(self, project, name):
        lab = dict(self.label(project, name))
        lab["created_at"] = fmt_ms_utc_words(lab["created_at"])
        lab["updated_at"] = fmt_ms_utc_words(lab["updated_at"])
        return lab

    # ---- projects ----------------------------------------------------------

    def find_project(self, ident):
        """ident: numeric id or (decoded) path."""
        with self.lock:
            if isinstance(ident, int) or (isinstance(ident, str) and ident.isdigit()):
                return self.projects.get(int(ident))
            return self.projects_by_path.get(ident)

    def project_from_segment(self, seg):
        return self.find_project(urllib.parse.unquote(seg))

    def write_protect_config(self, project):
        cfg = {"default_branch": project.default_branch, "protected_branches": project.protected,
               "push_rule": project.push_rule,
               "member_emails": sorted("%s@example.com" % u for u in self.users)}
        path = os.path.join(project.repo_path, "standin-protect.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f)
        os.replace(tmp, path)

    def create_project(self, body):
        path = body.get("path_with_namespace")
        if not isinstance(path, str) or not re.fullmatch(r"[A-Za-z0-9_.][A-Za-z0-9_.\-]*(/[A-Za-z0-9_.][A-Za-z0-9_.\-]*)*", path) \
                or path.endswith(".git") or ".." in path:
            raise ctl_error(400, "path_with_namespace missing or invalid")
        with self.lock:
            if path in self.projects_by_path:
                raise ctl_error(409, "project %s exists" % path)
            pid = body.get("id")
            if pid is None:
                pid = self.next_project_id
                while pid in self.projects:
                    pid += 1
            if not isinstance(pid, int) or pid <= 0 or pid in self.projects:
                raise ctl_error(409, "project id %r taken or invalid" % pid)
            self.next_project_id = max(self.next_project_id, pid + 1)
            repo = os.path.join(self.repos_dir, path + ".git")
            proj = Project(pid, path, body.get("default_branch") or "main", repo, self.clock.now())
            proj.merge_method = body.get("merge_method", "merge")
            proj.visibility = body.get("visibility", "private")
            self.projects[pid] = proj
            self.projects_by_path[path] = proj
        os.makedirs(os.path.dirname(repo), exist_ok=True)
        template = self.find_project(body["clone_of"]) if body.get("clone_of") else None
        shared = self.find_project(body["share_repo_of"]) if body.get("share_repo_of") else None
        if shared is not None:
            # benchmarks: one bare repository served under many paths
            proj.repo_path = repo = shared.repo_path
            template = shared
        elif template is not None:
            fleet.FleetModel.copy_repo(template.repo_path, repo)
        else:
            subprocess.run(["git", "init", "-q", "--bare", "-b", proj.default_branch, repo],
                           check=True, env=git_env(), capture_output=True)
            git(repo, "config", "core.hooksPath", self.hooks_dir)
            git(repo, "config", "http.receivepack", "true")
            git(repo, "config", "receive.advertisePushOptions", "true")
        self.write_protect_config(proj)
        if body.get("initialize", True) and template is None:
            files = body.get("files") or {"README.md": "# %s\n" % proj.name}
            self.commit_files(proj, proj.default_branch, files,
                              body.get("message") or "Initial commit", None, None)
        self.fleet.project_created(proj, body)
        return proj

    def project_ctl_json(self, p):
        head = rev_parse(p.repo_path, "refs/heads/" + p.default_branch)
        return {"id": p.id, "path_with_namespace": p.path_with_namespace,
                "default_branch": p.default_branch,
                "http_url_to_repo": "%s/%s.git" % (self.base_url, p.path_with_namespace),
                "web_url": "%s/%s" % (self.base_url, p.path_with_namespace),
                "repo_path": p.repo_path, "head": head}

    # ---- git content -------------------------------------------------------

    def commit_files(self, proj, branch, files, message, start_branch, author):
        """Commit files (path -> content or None) on branch. Returns (sha, parent)."""
        repo = proj.repo_path
        if not isinstance(files, dict):
            raise ctl_error(400, "files must be an object")
        with proj.git_lock:
            ref = "refs/heads/" + branch
            parent = rev_parse(repo, ref)
            old = parent or ZERO_SHA
            if parent is None:
                start = start_branch or proj.default_branch
                parent = rev_parse(repo, start) if start else None
                if parent is None:
                    parent = rev_parse(repo, "refs/heads/" + start) if start else None
                if parent is None and list_refs(repo):
                    raise ctl_error(400, "start_branch %s not found" % start)
            fd, index = tempfile.mkstemp(prefix="index-", dir=self.state_dir)
            os.close(fd)
            os.unlink(index)
            try:
                ienv = {"GIT_INDEX_FILE": index}
                if parent:
                    git(repo, "read-tree", parent, env=ienv)
                lines = []
                for path, content in files.items():
                    if content is None:
                        lines.append("0 %s\t%s" % (ZERO_SHA, path))
                        continue
                    if not isinstance(content, str):
                        raise ctl_error(400, "content of %s must be a string or null" % path)
                    blob = git(repo, "hash-object", "-w", "--stdin", input=content.encode("utf-8"),
                               text=False).stdout.decode().strip()
                    lines.append("100644 %s\t%s" % (blob, path))
                git(repo, "update-index", "--index-info", input="\n".join(lines) + "\n", env=ienv)
                tree = git_out(repo, "write-tree", env=ienv)
            finally:
                if os.path.exists(index):
                    os.unlink(index)
            args = ["commit-tree", tree, "-m", message]
            if parent:
                args[2:2] = ["-p", parent]
            env = {}
            if author:
                env.update(author)
            sha = git_out(repo, *args, env=env)
            try:
                git(repo, "update-ref", ref, sha, old)
            except GitError as e:
                raise ctl_error(409, "branch %s moved concurrently: %s" % (branch, e))
        self.after_ref_change(proj, {ref: (old, sha)}, None)
        return sha, (parent or None)

    def after_ref_change(self, proj, changes, user):
        """changes: ref -> (old, new). Refresh open MR shas, fire push hooks."""
        with self.lock:
            for mr in proj.mr_list:
                if mr.state == "opened":
                    r = "refs/heads/" + mr.source_branch
                    if r in changes and changes[r][1] != ZERO_SHA:
                        mr.sha = changes[r][1]
        for ref, (old, new) in changes.items():
            self.fire_project_hooks(proj, "push", {"ref": ref, "before": old, "after": new,
                                                   "user": user})

    # ---- merge requests ----------------------------------------------------

    def open_mr(self, proj, body):
        src = body.get("source_branch")
        if not src:
            raise ctl_error(400, "source_branch is required")
        tgt = body.get("target_branch") or proj.default_branch
        sha = rev_parse(proj.repo_path, "refs/heads/" + src)
        if sha is None:
            raise ctl_error(400, "source branch %s does not exist" % src)
        base = rev_parse(proj.repo_path, "refs/heads/" + tgt)
        if base is None:
            raise ctl_error(400, "target branch %s does not exist" % tgt)
        mb = git(proj.repo_path, "merge-base", base, sha, ok_codes=(0, 1)).stdout.strip() or None
        author = self.user(body.get("author") or "root")
        with self.lock:
            mr = MR()
            mr.id = self.next_mr_id
            self.next_mr_id += 1
            mr.iid = proj.next_iid
            proj.next_iid += 1
            mr.project = proj
            mr.title = body.get("title") or ("Draft: " + src)
            mr.description = body.get("description")
            mr.state = "opened"
            mr.created_at = mr.updated_at = self.clock.now()
            mr.prepared_at = mr.created_at
            mr.target_branch = tgt
            mr.source_branch = src
            mr.author = author
            mr.labels = sorted(set(body.get("labels") or []))
            for name in mr.labels:
                self.label(proj, name)
            mr.sha = sha
            mr.squash = bool(body.get("squash", False))
            mr.base_sha = mb
            mr.start_sha = base
            proj.mrs[mr.iid] = mr
            proj.mr_list.append(mr)
        self.fire_project_hooks(proj, "merge_request", {"mr": mr, "action": "open", "user": author})
        return mr

    def bulk_mrs(self, proj, items):
        if not isinstance(items, list):
            raise ctl_error(400, "merge_requests must be a list")
        created = []
        with self.lock:
            for it in items:
                if not isinstance(it, dict):
                    raise ctl_error(400, "each merge request must be an object")
                mr = MR()
                mr.id = self.next_mr_id
                self.next_mr_id += 1
                mr.iid = proj.next_iid
                proj.next_iid += 1
                mr.project = proj
                mr.title = it.get("title") or "MR %d" % mr.iid
                mr.description = it.get("description")
                mr.state = it.get("state", "merged")
                if mr.state not in ("opened", "closed", "merged", "locked"):
                    raise ctl_error(400, "bad state %r" % mr.state)
                try:
                    now = self.clock.now()
                    mr.created_at = parse_iso(it["created_at"]) if it.get("created_at") else now
                    mr.updated_at = parse_iso(it["updated_at"]) if it.get("updated_at") else now
                    if it.get("merged_at"):
                        mr.merged_at = parse_iso(it["merged_at"])
                    elif mr.state == "merged" and "merged_at" not in it:
                        mr.merged_at = mr.updated_at
                    if mr.state == "closed":
                        mr.closed_at = mr.updated_at
                except ValueError as e:
                    raise ctl_error(400, "bad timestamp: %s" % e)
                mr.prepared_at = mr.created_at
                mr.target_branch = it.get("target_branch") or proj.default_branch
                mr.source_branch = it.get("source_branch") or "feature/mr-%d" % mr.iid
                mr.author = self.user(it.get("author") or "root")
                mr.labels = sorted(set(it.get("labels") or []))
                for name in mr.labels:
                    self.label(proj, name)
                mr.sha = it.get("sha") or os.urandom(20).hex()
                mr.merge_commit_sha = it.get("merge_commit_sha") if "merge_commit_sha" in it else \
                    (os.urandom(20).hex() if mr.state == "merged" else None)
                mr.squash_commit_sha = it.get("squash_commit_sha")
                mr.squash = bool(it.get("squash", False))
                if mr.state == "merged":
                    mr.merged_by = self.user(it.get("merged_by") or it.get("author") or "root")
                proj.mrs[mr.iid] = mr
                proj.mr_list.append(mr)
                created.append(mr)
        return created

    def _rebase(self, proj, onto, head, user):
        """Rebase head onto `onto` in a temporary worktree; returns new head."""
        repo = proj.repo_path
        wt = tempfile.mkdtemp(prefix="rebase-", dir=self.state_dir)
        shutil.rmtree(wt)
        env = user_env(user)
        try:
            git(repo, "worktree", "add", "-q", "--detach", wt, head)
            p = subprocess.run(["git", "-C", wt, "rebase", "-q", onto], capture_output=True,
                               text=True, env=git_env(env), timeout=120)
            if p.returncode != 0:
                subprocess.run(["git", "-C", wt, "rebase", "--abort"], capture_output=True,
                               env=git_env(), timeout=60)
                raise ctl_error(409, "rebase failed (conflict): %s" % p.stderr.strip())
            return subprocess.run(["git", "-C", wt, "rev-parse", "HEAD"], capture_output=True,
                                  text=True, env=git_env(), check=True).stdout.strip()
        finally:
            subprocess.run(["git", "--git-dir", repo, "worktree", "remove", "--force", wt],
                           capture_output=True, env=git_env())
            shutil.rmtree(wt, ignore_errors=True)
            subprocess.run(["git", "--git-dir", repo, "worktree", "prune"],
                           capture_output=True, env=git_env())

    def merge_mr(self, proj, mr, body):
        method = body.get("method") or "merge"
        if method not in ("merge", "squash", "semi_linear", "ff", "ff_squash"):
            raise ctl_error(400, "method must be merge, squash, semi_linear, ff or ff_squash")
        if mr.state != "opened":
            raise ctl_error(405, "merge request !%d is %s" % (mr.iid, mr.state))
        user = self.user(body.get("user") or "root")
        uenv = user_env(user)
        repo = proj.repo_path
        rebase = bool(body.get("rebase"))
        auto_rebase = bool(body.get("auto_rebase"))
        with proj.git_lock:
            tref = "refs/heads/" + mr.target_branch
            sref = "refs/heads/" + mr.source_branch
            target = rev_parse(repo, tref)
            source = rev_parse(repo, sref)
            if target is None or source is None:
                raise ctl_error(409, "branch missing for !%d" % mr.iid)
            changes = {}
            sha_field = source
            if method in ("semi_linear", "ff", "ff_squash") and not is_ancestor(repo, target, source):
                if rebase or (auto_rebase and method == "ff"):
                    new_source = self._rebase(proj, target, source, user)
                    if rebase:
                        git(repo, "update-ref", sref, new_source, source)
                        changes[sref] = (source, new_source)
                        sha_field = new_source
                    source = new_source
                else:
                    raise ctl_error(409, "!%d cannot be merged with %s: source branch is not "
                                    "rebased onto %s" % (mr.iid, method, mr.target_branch))
            merge_commit = squash_commit = None
            title = mr.title
            merge_msg = "Merge branch '%s' into '%s'\n\n%s\n\nSee merge request %s!%d" % (
                mr.source_branch, mr.target_branch, title, proj.path_with_namespace, mr.iid)
            if method in ("squash", "ff_squash"):
                base = target if method == "ff_squash" else \
                    git_out(repo, "merge-base", target, source)
                tree = git_out(repo, "rev-parse", source + "^{tree}")
                squash_commit = git_out(repo, "commit-tree", tree, "-p", base, "-m", title,
                                        env=uenv)
            if method in ("merge", "squash", "semi_linear"):
                second = squash_commit or source
                p = git(repo, "merge-tree", "--write-tree", "--no-messages", target, second,
                        ok_codes=(0, 1))
                if p.returncode == 1:
                    raise ctl_error(409, "!%d has conflicts with %s" % (mr.iid, mr.target_branch))
                tree = p.stdout.split("\n", 1)[0].strip()
                merge_commit = git_out(repo, "commit-tree", tree, "-p", target, "-p", second,
                                       "-m", merge_msg, env=uenv)
                new_target = merge_commit
            elif method == "ff":
                new_target = source
            else:  # ff_squash
                new_target = squash_commit
            try:
                git(repo, "update-ref", tref, new_target, target)
            except GitError as e:
                raise ctl_error(409, "target %s moved concurrently: %s" % (mr.target_branch, e))
            changes[tref] = (target, new_target)
            with self.lock:
                now = self.clock.now()
                mr.state = "merged"
                mr.merged_at = now
                mr.updated_at = now
                mr.merged_by = user
                mr.sha = sha_field
                mr.merge_commit_sha = merge_commit
                mr.squash_commit_sha = squash_commit
                mr.squash = method in ("squash", "ff_squash")
        self.after_ref_change(proj, changes, user)
        self.fire_project_hooks(proj, "merge_request", {"mr": mr, "action": "merge", "user": user})
        return mr

    def set_labels(self, proj, mr, new_labels, user, system_note=True):
        new_labels = sorted(set(new_labels))
        with self.lock:
            old = list(mr.labels)
            if old == new_labels:
                return mr, [], []
            for name in new_labels:
                self.label(proj, name)
            before_updated = mr.updated_at
            mr.prev_labels = old
            mr.labels = new_labels
            mr.updated_at = self.clock.now()
            mr.label_change_updated = (before_updated, mr.updated_at)
            added = [n for n in new_labels if n not in old]
            removed = [n for n in old if n not in new_labels]
            if system_note:
                parts = []
                if added:
                    parts.append("added %s label%s" % (" ".join("~%d" % self.label(proj, n)["id"] for n in added),
                                                        "s" if len(added) > 1 else ""))
                if removed:
                    parts.append("removed %s label%s" % (" ".join("~%d" % self.label(proj, n)["id"] for n in removed),
                                                          "s" if len(removed) > 1 else ""))
                self.add_note(proj, mr, " and ".join(parts), user, system=True)
        self.fire_project_hooks(proj, "merge_request", {"mr": mr, "action": "update", "user": user})
        return mr, added, removed

    def add_note(self, proj, mr, body, user, system=False, commands_changes=None):
        with self.lock:
            ts = self.clock.now()
            note = {"id": self.next_note_id, "body": body, "author": user, "created_at": ts,
                    "updated_at": ts, "system": system, "mr": mr,
                    "commands_changes": commands_changes or {}}
            self.next_note_id += 1
            proj.notes.append(note)
            return note

    # ---- serializers -------------------------------------------------------

    def mr_json(self, mr, single=False):
        p = mr.project
        merged = mr.state == "merged"
        detailed = "not_open" if mr.state != "opened" else "mergeable"
        user_notes = sum(1 for n in p.notes if n["mr"] is mr and not n["system"])
        d = {
            "id": mr.id,
            "iid": mr.iid,
            "project_id": p.id,
            "title": mr.title,
            "description": mr.description,
            "state": mr.state,
            "created_at": fmt_ms(mr.created_at),
            "updated_at": fmt_ms(mr.updated_at),
            "merged_by": mr.merged_by.basic() if mr.merged_by else None,
            "merge_user": mr.merged_by.basic() if mr.merged_by else None,
            "merged_at": fmt_ms(mr.merged_at),
            "merge_after": None,
            "prepared_at": fmt_ms(mr.prepared_at),
            "closed_by": mr.closed_by.basic() if mr.closed_by else None,
            "closed_at": fmt_ms(mr.closed_at),
            "target_branch": mr.target_branch,
            "source_branch": mr.source_branch,
            "user_notes_count": user_notes,
            "upvotes": 0,
            "downvotes": 0,
            "author": mr.author.basic(),
            "assignees": [],
            "assignee": None,
            "reviewers": [],
            "source_project_id": p.id,
            "target_project_id": p.id,
            "labels": sorted(mr.labels),
            "draft": mr.title.startswith("Draft:"),
            "imported": False,
            "imported_from": "none",
            "work_in_progress": mr.title.startswith("Draft:"),
            "milestone": None,
            "merge_when_pipeline_succeeds": False,
            "merge_status": "can_be_merged",
            "detailed_merge_status": detailed,
            "sha": mr.sha,
            "merge_commit_sha": mr.merge_commit_sha,
            "squash_commit_sha": mr.squash_commit_sha,
            "discussion_locked": None,
            "should_remove_source_branch": None,
            "force_remove_source_branch": False,
            "reference": "!%d" % mr.iid,
            "references": {"short": "!%d" % mr.iid, "relative": "!%d" % mr.iid,
                           "full": "%s!%d" % (p.path_with_namespace, mr.iid)},
            "web_url": "%s/%s/-/merge_requests/%d" % (self.base_url, p.path_with_namespace, mr.iid),
            "time_stats": {"time_estimate": 0, "total_time_spent": 0,
                           "human_time_estimate": None, "human_total_time_spent": None},
            "squash": mr.squash,
            "squash_on_merge": mr.squash,
            "task_completion_status": {"count": 0, "completed_count": 0},
            "has_conflicts": False,
            "blocking_discussions_resolved": True,
        }
        if single:
            d.update({
                "subscribed": False,
                "changes_count": "1",
                "latest_build_started_at": None,
                "latest_build_finished_at": None,
                "first_deployed_to_production_at": None,
                "pipeline": None,
                "head_pipeline": self.fleet.head_pipeline_json(p, mr),
                "diff_refs": {"base_sha": mr.base_sha, "head_sha": mr.sha, "start_sha": mr.start_sha},
                "merge_error": None,
                "first_contribution": False,
                "user": {"can_merge": True},
            })
        return d

    def note_json(self, proj, note):
        mr = note["mr"]
        return {
            "id": note["id"],
            "type": None,
            "body": note["body"],
            "attachment": None,
            "author": note["author"].basic(),
            "created_at": fmt_ms(note["created_at"]),
            "updated_at": fmt_ms(note["updated_at"]),
            "system": note["system"],
            "noteable_id": mr.id,
            "noteable_type": "MergeRequest",
            "project_id": proj.id,
            "resolvable": False,
            "confidential": False,
            "internal": False,
            "imported": False,
            "imported_from": "none",
            "noteable_iid": mr.iid,
            "commands_changes": note["commands_changes"],
        }

    def commit_json(self, proj, sha):
        fmt = "%H%x00%h%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%s%x00%B"
        out = git_out(proj.repo_path, "show", "-s", "--format=" + fmt, sha)
        f = out.split("\x00")
        return {
            "id": f[0], "short_id": f[1], "created_at": f[8],
            "parent_ids": f[2].split() if f[2] else [],
            "title": f[9], "message": f[10] if f[10].endswith("\n") else f[10] + "\n",
            "author_name": f[3], "author_email": f[4], "authored_date": f[5],
            "committer_name": f[6], "committer_email": f[7], "committed_date": f[8],
            "trailers": {}, "extended_trailers": {},
            "web_url": "%s/%s/-/commit/%s" % (self.base_url, proj.path_with_namespace, f[0]),
        }

    def release_json(self, proj, rel):
        base = "%s/%s" % (self.base_url, proj.path_with_namespace)
        tag_q = urllib.parse.quote(rel["tag_name"], safe="")
        name = proj.name
        sources = [{"format": fm, "url": "%s/-/archive/%s/%s-%s.%s" % (base, rel["tag_name"], name,
                                                                         rel["tag_name"], fm)}
                   for fm in ("zip", "tar.gz", "tar.bz2", "tar")]
        return {
            "name": rel["name"],
            "tag_name": rel["tag_name"],
            "description": rel["description"],
            "created_at": fmt_ms(rel["created_at"]),
            "released_at": fmt_ms(rel["released_at"]),
            "upcoming_release": rel["released_at"] > self.clock.now(),
            "historical_release": rel["released_at"] < rel["created_at"],
            "author": rel["author"].basic(),
            "commit": rel["commit"],
            "milestones": [],
            "commit_path": "/%s/-/commit/%s" % (proj.path_with_namespace, rel["commit"]["id"]),
            "tag_path": "/%s/-/tags/%s" % (proj.path_with_namespace, rel["tag_name"]),
            "assets": {"count": len(sources) + len(rel["links"]), "sources": sources,
                       "links": rel["links"]},
            "evidences": [],
            "_links": {
                "closed_issues_url": "%s/-/issues?release_tag=%s&scope=all&state=closed" % (base, tag_q),
                "closed_merge_requests_url": "%s/-/merge_requests?release_tag=%s&scope=all&state=closed" % (base, tag_q),
                "edit_url": "%s/-/releases/%s/edit" % (base, tag_q),
                "merged_merge_requests_url": "%s/-/merge_requests?release_tag=%s&scope=all&state=merged" % (base, tag_q),
                "opened_issues_url": "%s/-/issues?release_tag=%s&scope=all&state=opened" % (base, tag_q),
                "opened_merge_requests_url": "%s/-/merge_requests?release_tag=%s&scope=all&state=opened" % (base, tag_q),
                "self": "%s/-/releases/%s" % (base, tag_q),
            },
        }

    def status_json(self, st):
        return {
            "id": st["id"], "sha": st["sha"], "ref": st["ref"], "status": st["status"],
            "name": st["name"], "target_url": st["target_url"], "description": st["description"],
            "created_at": fmt_ms(st["created_at"]), "started_at": fmt_ms(st["started_at"]),
            "finished_at": fmt_ms(st["finished_at"]), "allow_failure": False,
            "coverage": st["coverage"], "pipeline_id": st["pipeline_id"],
            "author": st["author"].basic(),
        }

    def project_json(self, p):
        base = "%s/%s" % (self.base_url, p.path_with_namespace)
        api = "%s/api/v4/projects/%d" % (self.base_url, p.id)
        ns_name = p.namespace.rsplit("/", 1)[-1]
        empty = fleet.FleetModel.repo_empty(p.repo_path)
        return {
            "id": p.id,
            "description": None,
            "name": p.name,
            "name_with_namespace": " / ".join(p.path_with_namespace.split("/")),
            "path": p.name,
            "path_with_namespace": p.path_with_namespace,
            "created_at": fmt_ms(p.created_at),
            "default_branch": p.default_branch,
            "tag_list": list(p.topics),
            "topics": list(p.topics),
            "ssh_url_to_repo": "git@127.0.0.1:%s.git" % p.path_with_namespace,
            "http_url_to_repo": "%s.git" % base,
            "web_url": base,
            "readme_url": None if empty else "%s/-/blob/%s/README.md" % (base, p.default_branch),
            "forks_count": 0,
            "avatar_url": None,
            "star_count": 0,
            "last_activity_at": fmt_ms(p.created_at),
            "namespace": self.fleet.namespace_json(p),
            "container_registry_image_prefix": "registry.example.com/%s" % p.path_with_namespace,
            "_links": {"self": api, "issues": api + "/issues", "merge_requests": api + "/merge_requests",
                       "repo_branches": api + "/repository/branches", "labels": api + "/labels",
                       "events": api + "/events", "members": api + "/members",
                       "cluster_agents": api + "/cluster_agents"},
            "packages_enabled": True,
            "empty_repo": empty,
            "archived": p.archived,
            "visibility": p.visibility,
            "resolve_outdated_diff_discussions": False,
            "issues_enabled": True,
            "merge_requests_enabled": True,
            "jobs_enabled": True,
            "creator_id": 1,
            "import_status": "none",
            "open_issues_count": 0,
            "ci_config_path": None,
            "public_jobs": True,
            "shared_with_groups": [],
            "only_allow_merge_if_pipeline_succeeds": False,
            "allow_merge_on_skipped_pipeline": None,
            "only_allow_merge_if_all_discussions_are_resolved": False,
            "remove_source_branch_after_merge": True,
            "request_access_enabled": True,
            "merge_method": p.merge_method if p.merge_method in ("merge", "rebase_merge", "ff") else "merge",
            "squash_option": "default_off",
            "permissions": {"project_access": {"access_level": 40, "notification_level": 3},
                            "group_access": None},
        }

    # ---- webhooks ----------------------------------------------------------

    PUSH_RULE_BOOLS = ("deny_delete_tag", "member_check", "prevent_secrets",
                       "commit_committer_check", "commit_committer_name_check",
                       "reject_unsigned_commits", "reject_non_dco_commits")
    PUSH_RULE_REGEXES = {"commit_message_regex": 511, "commit_message_negative_regex": 2047,
                         "branch_name_regex": 511, "author_email_regex": 511,
                         "file_name_regex": 511}

    def set_push_rule(self, proj, body):
        """Create or update the project's push rule (fields as GitLab's API)."""
        with self.lock:
            rule = dict(proj.push_rule or {})
            for k, v in body.items():
                if k in self.PUSH_RULE_BOOLS and isinstance(v, bool):
                    rule[k] = v
                elif k in self.PUSH_RULE_REGEXES and (v is None or isinstance(v, str)):
                    if v is not None and len(v) > self.PUSH_RULE_REGEXES[k]:
                        raise ApiError(400, {"message": {k: ["is too long (maximum is %d characters)"
                                                             % self.PUSH_RULE_REGEXES[k]]}})
                    rule[k] = v or None
                elif k == "max_file_size" and isinstance(v, int) and v >= 0:
                    rule[k] = v
                else:
                    raise ctl_error(400, "bad push rule field %s=%r" % (k, v))
            if proj.push_rule is None:
                rule["id"] = proj.id
                rule["created_at"] = fmt_ms(self.clock.now())
            proj.push_rule = rule
            self.write_protect_config(proj)

    def push_rule_json(self, proj):
        r = proj.push_rule
        out = {"id": r["id"], "project_id": proj.id}
        for k in self.PUSH_RULE_REGEXES:
            out[k] = r.get(k)
        for k in self.PUSH_RULE_BOOLS:
            out[k] = bool(r.get(k, False))
        out["max_file_size"] = r.get("max_file_size", 0)
        out["created_at"] = r["created_at"]
        return out

    def hook_project(self, p):
        base = "%s/%s" % (self.base_url, p.path_with_namespace)
        return {"id": p.id, "name": p.name, "description": None, "web_url": base,
                "avatar_url": None, "git_ssh_url": "git@127.0.0.1:%s.git" % p.path_with_namespace,
                "git_http_url": base + ".git", "namespace": p.namespace.rsplit("/", 1)[-1],
                "visibility_level": 0, "path_with_namespace": p.path_with_namespace,
                "default_branch": p.default_branch, "ci_config_path": None,
                "homepage": base, "url": "git@127.0.0.1:%s.git" % p.path_with_namespace,
                "ssh_url": "git@127.0.0.1:%s.git" % p.path_with_namespace,
                "http_url": base + ".git"}

    def hook_user(self, u):
        b = u.basic()
        return {"id": u.id, "name": u.name, "username": u.username,
                "avatar_url": b["avatar_url"], "email": "[REDACTED]"}

    def mr_hook_payload(self, proj, mr, action, user, changes=None, test=False):
        state_id = {"opened": 1, "closed": 2, "merged": 3, "locked": 4}[mr.state]
        labels = [self.label_hook(proj, n) for n in sorted(mr.labels)]
        last = None
        try:
            c = self.commit_json(proj, mr.sha)
            last = {"id": c["id"], "message": c["message"], "title": c["title"],
                    "timestamp": fmt_ms_offset(parse_iso(c["authored_date"])),
                    "url": c["web_url"], "author": {"name": c["author_name"], "email": c["author_email"]}}
        except (GitError, ValueError, IndexError):
            last = {"id": mr.sha, "message": mr.title + "\n", "title": mr.title,
                    "timestamp": fmt_ms_offset(mr.created_at),
                    "url": "%s/%s/-/commit/%s" % (self.base_url, proj.path_with_namespace, mr.sha),
                    "author": {"name": mr.author.name, "email": "[REDACTED]"}}
        hp = self.hook_project(proj)
        oa = {
            "assignee_id": None,
            "author_id": mr.author.id,
            "created_at": fmt_ms(mr.created_at),
            "description": mr.description or "",
            "draft": mr.title.startswith("Draft:"),
            "head_pipeline_id": None,
            "id": mr.id,
            "iid": mr.iid,
            "last_edited_at": None,
            "last_edited_by_id": None,
            "merge_commit_sha": mr.merge_commit_sha,
            "merge_error": None,
            "merge_params": {"force_remove_source_branch": "0"},
            "merge_status": "can_be_merged",
            "merge_user_id": mr.merged_by.id if mr.merged_by else None,
            "merge_when_pipeline_succeeds": False,
            "milestone_id": None,
            "source_branch": mr.source_branch,
            "source_project_id": proj.id,
            "state_id": state_id,
            "target_branch": mr.target_branch,
            "target_project_id": proj.id,
            "time_estimate": 0,
            "title": mr.title,
            "updated_at": fmt_ms(mr.updated_at),
            "updated_by_id": None,
            "prepared_at": fmt_ms(mr.prepared_at),
            "assignee_ids": [],
            "blocking_discussions_resolved": True,
            "detailed_merge_status": "not_open" if mr.state != "opened" else "mergeable",
            "first_contribution": False,
            "human_time_change": None,
            "human_time_estimate": None,
            "human_total_time_spent": None,
            "labels": labels,
            "last_commit": last,
            "reviewer_ids": [],
            "source": hp,
            "state": mr.state,
            "target": hp,
            "time_change": 0,
            "total_time_spent": 0,
            "url": "%s/%s/-/merge_requests/%d" % (self.base_url, proj.path_with_namespace, mr.iid),
            "work_in_progress": mr.title.startswith("Draft:"),
        }
        if not test:
            oa["action"] = action
        if changes is None:
            changes = {}
            if not test and action == "update" and mr.prev_labels is not None:
                changes["labels"] = {"previous": [self.label_hook(proj, n) for n in mr.prev_labels],
                                     "current": labels}
                if mr.label_change_updated:
                    changes["updated_at"] = {"previous": fmt_ms_utc_words(mr.label_change_updated[0]),
                                             "current": fmt_ms_utc_words(mr.label_change_updated[1])}
            elif not test and action == "merge":
                changes = {"state_id": {"previous": 1, "current": 3},
                           "updated_at": {"previous": fmt_ms_utc_words(mr.created_at),
                                          "current": fmt_ms_utc_words(mr.updated_at)}}
        return {
            "object_kind": "merge_request",
            "event_type": "merge_request",
            "user": self.hook_user(user or mr.author),
            "project": hp,
            "object_attributes": oa,
            "labels": labels,
            "changes": changes,
            "repository": {"name": proj.name, "url": hp["url"], "description": None,
                           "homepage": hp["homepage"]},
            "assignees": [],
            "reviewers": [],
        }

    def push_hook_payload(self, proj, ref, before, after, user):
        user = user or self.user("root")
        hp = self.hook_project(proj)
        is_tag = ref.startswith("refs/tags/")
        commits = []
        total = 0
        if after != ZERO_SHA and not is_tag:
            try:
                rng = [after] if before == ZERO_SHA else [after, "^" + before]
                revs = git_out(proj.repo_path, "rev-list", *rng).split()
                total = len(revs)
                for sha in revs[:20]:
                    c = self.commit_json(proj, sha)
                    commits.append({"id": sha, "message": c["message"], "title": c["title"],
                                    "timestamp": fmt_ms_offset(parse_iso(c["authored_date"])),
                                    "url": c["web_url"],
                                    "author": {"name": c["author_name"], "email": "[REDACTED]"},
                                    "added": [], "modified": [], "removed": []})
            except (GitError, ValueError):
                pass
        branch = ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else None
        prot = bool(branch and any(fnmatch.fnmatchcase(branch, p["name"]) for p in proj.protected)) or is_tag
        return {
            "object_kind": "tag_push" if is_tag else "push",
            "event_name": "tag_push" if is_tag else "push",
            "before": before, "after": after, "ref": ref, "ref_protected": prot,
            "checkout_sha": None if after == ZERO_SHA else (rev_parse(proj.repo_path, after) or after),
            "message": None,
            "user_id": user.id, "user_name": user.name, "user_username": user.username,
            "user_email": "", "user_avatar": user.basic()["avatar_url"],
            "project_id": proj.id, "project": hp,
            "commits": commits, "total_commits_count": total, "push_options": {},
            "repository": {"name": proj.name, "url": hp["url"], "description": None,
                           "homepage": hp["homepage"], "git_http_url": hp["git_http_url"],
                           "git_ssh_url": hp["git_ssh_url"], "visibility_level": 0},
        }

    def deliver(self, url, token, event_header, payload, idem_key=None, event_uuid=None,
                timeout=HOOK_TIMEOUT, automatic=False, resend_of=None):
        body = json.dumps(payload).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitLab/%s" % GITLAB_VERSION,
            "X-Gitlab-Event": event_header,
            "X-Gitlab-Instance": self.base_url,
            "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
            "X-Gitlab-Event-UUID": event_uuid or str(uuid.uuid4()),
            "Idempotency-Key": idem_key or str(uuid.uuid4()),
        }
        if token:
            headers["X-Gitlab-Token"] = token.replace("\n", "").replace("\r", "")
        status = None
        error = None
        try:
            # http.client keeps header names as GitLab spells them.
            u = urllib.parse.urlsplit(url)
            if u.scheme != "http" or not u.hostname:
                raise ValueError("only http:// URLs are supported: %s" % url)
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
            try:
                conn.putrequest("POST", (u.path or "/") + ("?" + u.query if u.query else ""),
                                skip_accept_encoding=True)
                for k, v in headers.items():
                    conn.putheader(k, v)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                status = resp.status
                resp.read(8192)
            finally:
                conn.close()
        except Exception as e:  # connection refused, timeout...
            error = "%s: %s" % (type(e).__name__, e)
        with self.lock:
            d = {"delivery": len(self.deliveries) + 1, "url": url, "token": token,
                 "event": event_header, "headers": headers, "payload": payload,
                 "status": status, "error": error, "automatic": automatic,
                 "resend_of": resend_of}
            self.deliveries.append(d)
        return d

    def fire_project_hooks(self, proj, kind, info):
        hooks = [h for h in proj.hooks if (kind == "push" and h["push_events"]) or
                 (kind == "merge_request" and h["merge_requests_events"])]
        extra = self.fleet.extra_hook_targets(proj, kind)
        if not hooks and not extra:
            return
        if kind == "merge_request":
            payload = self.mr_hook_payload(proj, info["mr"], info["action"], info.get("user"))
            event = "Merge Request Hook"
        else:
            payload = self.push_hook_payload(proj, info["ref"], info["before"], info["after"],
                                             info.get("user"))
            event = "Tag Push Hook" if info["ref"].startswith("refs/tags/") else "Push Hook"
        event_uuid = str(uuid.uuid4())
        with self.hook_cv:
            for h in hooks:
                self.hook_queue.append((h["url"], h["token"], event, payload, str(uuid.uuid4()),
                                        event_uuid))
            for h, header in extra:
                ev = header if kind == "merge_request" or header == "System Hook" else event
                self.hook_queue.append((h["url"], h["token"], ev, payload, str(uuid.uuid4()),
                                        event_uuid))
            self.hook_cv.notify()

    def hook_worker(self):
        while True:
            with self.hook_cv:
                while not self.hook_queue and not self.stopping:
                    self.hook_cv.wait(0.5)
                if self.stopping:
                    return
                item = self.hook_queue.pop(0)
            url, token, event, payload, idem, ev_uuid = item
            self.deliver(url, token, event, payload, idem_key=idem, event_uuid=ev_uuid,
                         automatic=True)

    # ---- faults, counters --------------------------------------------------

    def take_fault(self, method, path, route):
        with self.lock:
            for f in self.faults:
                if f["remaining"] <= 0:
                    continue
                if f.get("method") and f["method"].upper() != method:
                    continue
                if f.get("endpoint") and f["endpoint"] != route:
                    continue
                if f.get("path") and not fnmatch.fnmatchcase(path, f["path"]):
                    continue
                f["remaining"] -= 1
                return dict(f)
        return None

    def count(self, route, entry):
        with self.lock:
            self.counters[route] = self.counters.get(route, 0) + 1
            if len(self.requests) < 100000:
                self.requests.append(entry)


# --------------------------------------------------------------------------
# HTTP

REST_ROUTES = [
    # (method, regex on the raw path, route key, handler name)
    ("GET", r"/api/v4/projects/([^/]+)", "GET /api/v4/projects/:id", "rest_project"),
    ("GET", r"/api/v4/projects/([^/]+)/merge_requests", "GET /api/v4/projects/:id/merge_requests", "rest_mr_list"),
    ("GET", r"/api/v4/projects/([^/]+)/merge_requests/([^/]+)", "GET /api/v4/projects/:id/merge_requests/:iid", "rest_mr_get"),
    ("GET", r"/api/v4/projects/([^/]+)/merge_requests/([^/]+)/notes", "GET /api/v4/projects/:id/merge_requests/:iid/notes", "rest_notes_list"),
    ("POST", r"/api/v4/projects/([^/]+)/merge_requests/([^/]+)/notes", "POST /api/v4/projects/:id/merge_requests/:iid/notes", "rest_notes_create"),
    ("POST", r"/api/v4/projects/([^/]+)/releases", "POST /api/v4/projects/:id/releases", "rest_release_create"),
    ("GET", r"/api/v4/projects/([^/]+)/releases", "GET /api/v4/projects/:id/releases", "rest_release_list"),
    ("GET", r"/api/v4/projects/([^/]+)/releases/([^/]+)", "GET /api/v4/projects/:id/releases/:tag_name", "rest_release_get"),
    ("POST", r"/api/v4/projects/([^/]+)/statuses/([^/]+)", "POST /api/v4/projects/:id/statuses/:sha", "rest_status_create"),
    ("GET", r"/api/v4/projects/([^/]+)/repository/commits/([^/]+)/statuses", "GET /api/v4/projects/:id/repository/commits/:sha/statuses", "rest_status_list"),
    ("GET", r"/api/v4/projects/([^/]+)/push_rule", "GET /api/v4/projects/:id/push_rule", "rest_push_rule"),
    ("GET", r"/api/v4/user", "GET /api/v4/user", "rest_user"),
    ("GET", r"/api/v4/user/emails", "GET /api/v4/user/emails", "rest_user_emails"),
    ("GET", r"/api/v4/version", "GET /api/v4/version", "rest_version"),
]
REST_ROUTES = [(m, re.compile(r + r"/?"), k, h) for (m, r, k, h) in REST_ROUTES + fleet.ROUTES]
JOB_TOKEN_ROUTES = {"rest_release_create", "rest_release_get", "rest_release_list"}
GIT_ROUTE = re.compile(r"/(.+)\.git/(info/refs|git-upload-pack|git-receive-pack)")

QUICK_ACTIONS = {"label", "unlabel", "relabel", "close", "reopen", "title", "merge", "approve",
                 "unapprove", "assign", "unassign", "milestone", "remove_milestone", "draft",
                 "ready", "rebase", "squash", "spend", "estimate", "todo", "done", "subscribe",
                 "unsubscribe", "award", "lock", "unlock", "assign_reviewer", "request_review",
                 "unassign_reviewer", "target_branch", "copy_metadata", "cc"}

HTML_SIGN_IN = (b"<!DOCTYPE html>\n<html class=\"gl-light\" lang=\"en\">\n<head>\n"
                b"<meta charset=\"utf-8\">\n<title>Sign in \xc2\xb7 GitLab</title>\n</head>\n"
                b"<body class=\"login-page\">\n<div class=\"flash-container\"></div>\n"
                b"<form action=\"/users/sign_in\" method=\"post\">\n"
                b"<input type=\"text\" name=\"user[login]\">\n</form>\n</body>\n</html>\n")


def html_error_page(status, reason):
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>%d %s</title>\n</head>\n<body>\n<h1>%d</h1>\n<p>%s</p>\n"
            "</body>\n</html>\n" % (status, reason, status,
                                    "Whoops, GitLab is taking too much time to respond.")).encode()


class Handler(fleet.FleetHandlers, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    standin = None  # set on the class by main()

    def version_string(self):
        return "nginx"

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

    # ---- plumbing ----------------------------------------------------------

    def read_body(self):
        if getattr(self, "_body", None) is not None:
            return self._body
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        trailer = self.rfile.readline(65537)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            self._body = b"".join(chunks)
        else:
            n = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(n) if n > 0 else b""
        return self._body

    def send_raw(self, status, body, content_type="application/json", headers=None,
                 reason=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status, reason)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=0, private, must-revalidate")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Request-Id", uuid.uuid4().hex[:26].upper())
        for k, v in (headers or {}).items():
            if isinstance(v, list):
                for vv in v:
                    self.send_header(k, vv)
            else:
                self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def json_body(self):
        """The request's parameters: JSON or form body, plus query parameters
        the body does not set (Grape merges both)."""
        v = self._json_body()
        for k, vals in self.query.items():
            if k not in v and not k.endswith("[]") and k not in ("private_token", "job_token"):
                v[k] = vals[-1]
        return v

    def _json_body(self):
        raw = self.read_body()
        if not raw:
            return {}
        ctype = self.headers.get("Content-Type", "")
        if "application/x-www-form-urlencoded" in ctype:
            return {k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode(), keep_blank_values=True).items()}
        try:
            v = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, {"error": "The provided content-type 'application/json' is not supported."})
        if not isinstance(v, dict):
            raise ApiError(400, {"error": "body must be an object"})
        return v

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def dispatch(self):
        self._body = None
        s = self.standin
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        self.query_string = split.query
        self.query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        try:
            if path.startswith("/__control__/") or path == "/__control__":
                status, body, headers = self.control(path[len("/__control__"):] or "/")
                self.read_body()
                self.send_raw(status, json.dumps(body, separators=(",", ":")) if body is not None else b"",
                              headers=headers)
                return
            self.serve_forge(path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except ApiError as e:
            body = e.body if isinstance(e.body, (bytes, str)) else json.dumps(e.body, separators=(",", ":"))
            try:
                self.send_raw(e.status, body, e.content_type, e.headers)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        except Exception:
            traceback.print_exc(file=sys.stderr)
            try:
                self.send_raw(500, json.dumps({"message": "500 Internal Server Error"}))
            except Exception:
                self.close_connection = True

    def route_of(self, method, path):
        for m, rx, key, h in REST_ROUTES:
            if m == method and rx.fullmatch(path):
                return key, h, rx.fullmatch(path).groups()
        g = GIT_ROUTE.fullmatch(path)
        if g:
            return "%s /:project.git/%s" % (method, g.group(2)), "git", g.groups()
        return "%s unknown" % method, None, ()

    def auth_kind(self):
        if self.headers.get("PRIVATE-TOKEN") or self.query.get("private_token"):
            return "private-token"
        a = self.headers.get("Authorization", "")
        if a.lower().startswith("bearer "):
            return "bearer"
        if a.lower().startswith("basic "):
            return "basic"
        if self.headers.get("JOB-TOKEN") or self.query.get("job_token"):
            return "job-token"
        return "none"

    def serve_forge(self, path):
        s = self.standin
        method = self.command
        route, handler, groups = self.route_of(method, path)
        entry = {"method": method, "path": path, "query": self.query_string, "route": route,
                 "status": None, "auth": self.auth_kind(), "t": time.time()}
        s.count(route, entry)
        fault = s.take_fault(method, path, route)
        if fault:
            mode = fault["mode"]
            if mode == "drop":
                self.read_body()
                entry["status"] = "dropped"
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if mode == "delay":
                time.sleep(float(fault.get("delay_ms", 5000)) / 1000.0)
            elif mode == "status":
                self.read_body()
                st = int(fault.get("status", 500))
                entry["status"] = st
                self.send_fault_status(st, fault)
                return
            elif mode == "malformed_json":
                self.read_body()
                entry["status"] = 200
                self.send_raw(200, fault.get("body") or '{"id": 1, "iid": 1, "title": "broken',
                              headers={"X-Page": "1", "X-Per-Page": "20"})
                return
            elif mode == "html":
                self.read_body()
                entry["status"] = 200
                self.send_raw(200, HTML_SIGN_IN, "text/html; charset=utf-8")
                return
        status, body, ctype, headers = self.compute_forge(method, path, handler, groups)
        entry["status"] = status
        if fault and fault["mode"] == "truncated_json":
            if isinstance(body, str):
                body = body.encode("utf-8")
            body = body[: max(1, len(body) // 2)]
        self.send_raw(status, body, ctype, headers)

    def send_fault_status(self, st, fault):
        headers = {}
        ctype = "application/json"
        if st == 429:
            if fault.get("retry_after") is not None:
                ra = str(fault["retry_after"])
                reset = int(time.time()) + int(float(ra))
                headers = {"Retry-After": ra, "RateLimit-Name": "throttle_authenticated_api",
                           "RateLimit-Limit": "60", "RateLimit-Observed": "61",
                           "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset),
                           "RateLimit-ResetTime": time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                                time.gmtime(reset))}
                body = "Retry later\n"
                ctype = "text/plain"
            else:
                body = json.dumps({"message": {"error": "This endpoint has been requested too many times. Try again later."}})
        elif st in (502, 503, 504):
            reasons = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
            body = html_error_page(st, reasons[st])
            ctype = "text/html"
            if fault.get("retry_after") is not None:
                headers["Retry-After"] = str(fault["retry_after"])
        else:
            msgs = {500: "500 Internal Server Error", 404: "404 Not Found", 401: "401 Unauthorized",
                    403: "403 Forbidden", 409: "409 Conflict", 422: "422 Unprocessable Entity"}
            body = json.dumps({"message": msgs.get(st, "%d Error" % st)}, separators=(",", ":"))
            if fault.get("retry_after") is not None:
                headers["Retry-After"] = str(fault["retry_after"])
        if fault.get("body") is not None:
            body = fault["body"]
        self.send_raw(st, body, ctype, headers)

    def compute_forge(self, method, path, handler, groups):
        """-> (status, body bytes/str, content type, headers)"""
        try:
            if handler is None:
                self.read_body()
                if path.startswith("/api/"):
                    raise ApiError(404, {"error": "404 Not Found"})
                raise ApiError(404, "404 page not found\n", content_type="text/plain")
            if handler == "git":
                return self.git_request(groups[0], groups[1])
            status, body, headers = getattr(self, handler)(*groups)
            if isinstance(body, (dict, list)):
                body = json.dumps(body, separators=(",", ":"))
            return status, body, "application/json", headers
        except ApiError as e:
            body = e.body if isinstance(e.body, (bytes, str)) else json.dumps(e.body, separators=(",", ":"))
            return e.status, body, e.content_type, e.headers

    # ---- REST auth ---------------------------------------------------------

    def authenticate(self, handler):
        """-> Token or None (anonymous). Raises 401 for a bad token."""
        s = self.standin
        pt = self.headers.get("PRIVATE-TOKEN") or (self.query.get("private_token") or [None])[0]
        auth = self.headers.get("Authorization", "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        jt = self.headers.get("JOB-TOKEN") or (self.query.get("job_token") or [None])[0]
        value = pt or bearer
        if value:
            with s.lock:
                tok = s.tokens.get(value)
            if tok is None or tok.kind != "personal" or not s.fleet.token_usable(value):
                raise api_error(401, "401 Unauthorized")
            return tok
        if jt and handler in JOB_TOKEN_ROUTES:
            with s.lock:
                tok = s.tokens.get(jt)
            if tok is None or tok.kind != "job":
                raise api_error(401, "401 Unauthorized")
            return tok
        return None

    def project_for(self, seg, handler, write=False):
        tok = self.authenticate(handler)
        proj = self.standin.project_from_segment(seg)
        if tok is None:
            if write:
                raise api_error(401, "401 Unauthorized")
            if proj is None or proj.visibility != "public":
                raise api_error(404, "404 Project Not Found")
        if proj is None:
            raise api_error(404, "404 Project Not Found")
        if write and tok.read_only:
            raise api_error(403, "403 Forbidden")
        return proj, tok

    def mr_for(self, proj, iid_seg):
        if not iid_seg.isdigit():
            raise api_error(400, error="merge_request_iid is invalid")
        mr = proj.mrs.get(int(iid_seg))
        if mr is None:
            raise api_error(404, "404 Not found")
        return mr

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[-1] if v else default

    def int_param(self, name, default):
        v = self.q(name)
        if v is None or v == "":
            return default
        try:
            return int(v)
        except ValueError:
            raise api_error(400, error="%s is invalid" % name)

    def paginate(self, items, path):
        page = self.int_param("page", 1)
        per_page = self.int_param("per_page", 20)
        if page < 1:
            page = 1
        if per_page < 1:
            per_page = 20
        per_page = min(per_page, 100)
        total = len(items)
        pages = max(1, (total + per_page - 1) // per_page)
        chunk = items[(page - 1) * per_page: page * per_page]
        out_of_range = page > pages
        nxt = page + 1 if page < pages else None
        prv = page - 1 if page > 1 and not out_of_range else None
        pairs = [(k, v) for k, v in urllib.parse.parse_qsl(self.query_string, keep_blank_values=True)
                 if k not in ("page", "per_page")]

        def link(pg):
            q = pairs + [("page", str(pg)), ("per_page", str(per_page))]
            return "%s%s?%s" % (self.standin.base_url, path, urllib.parse.urlencode(q))

        links = []
        if prv:
            links.append('<%s>; rel="prev"' % link(prv))
        if nxt:
            links.append('<%s>; rel="next"' % link(nxt))
        links.append('<%s>; rel="first"' % link(1))
        headers = {"X-Page": str(page), "X-Per-Page": str(per_page),
                   "X-Next-Page": str(nxt) if nxt else "", "X-Prev-Page": str(prv) if prv else ""}
        if total <= MAX_TOTAL_COUNT:
            links.append('<%s>; rel="last"' % link(pages))
            headers["X-Total"] = str(total)
            headers["X-Total-Pages"] = str(pages)
        headers["Link"] = ", ".join(links)
        return chunk, headers

    # ---- REST handlers -----------------------------------------------------

    def rest_user(self):
        tok = self.authenticate("rest_user")
        if tok is None:
            raise api_error(401, "401 Unauthorized")
        u = tok.user.basic()
        u.update({"created_at": "2024-01-01T00:00:00.000Z", "bio": "", "location": "",
                  "public_email": None, "skype": "", "linkedin": "", "twitter": "",
                  "discord": "", "website_url": "", "organization": "", "job_title": "",
                  "pronouns": None, "bot": False, "work_information": None,
                  "local_time": None, "last_sign_in_at": None, "confirmed_at": None,
                  "last_activity_on": None, "email": "%s@example.com" % tok.user.username,
                  "theme_id": 1, "color_scheme_id": 1, "projects_limit": 100000,
                  "current_sign_in_at": None, "identities": [], "can_create_group": True,
                  "can_create_project": True, "two_factor_enabled": False, "external": False,
                  "private_profile": False, "commit_email": "%s@example.com" % tok.user.username})
        if (self.standin.fleet.token_info.get(tok.token) or {}).get("admin"):
            u["is_admin"] = True
        return 200, u, {}

    def rest_user_emails(self):
        # GitLab lists the secondary emails only (not the primary one).
        tok = self.authenticate("rest_user_emails")
        if tok is None:
            raise api_error(401, "401 Unauthorized")
        with self.standin.lock:
            return 200, [dict(e) for e in tok.user.emails], {}

    def rest_version(self):
        tok = self.authenticate("rest_version")
        if tok is None:
            raise api_error(401, "401 Unauthorized")
        return 200, {"version": GITLAB_VERSION + "-ee", "revision": "6b1e5d8e1f1",
                     "kas": {"enabled": False, "externalUrl": None, "version": None},
                     "enterprise": True}, {}

    def rest_project(self, seg):
        proj, _ = self.project_for(seg, "rest_project")
        return 200, self.standin.project_json(proj), {}

    def rest_push_rule(self, seg):
        # ee/lib/api/project_push_rule.rb: authenticate!, then
        # authorize_admin_project (403), then the licensed feature (404).
        s = self.standin
        if s.edition == "ce":
            self.project_for(seg, "rest_push_rule")
            raise api_error(404, error="404 Not Found")  # no such route on Free
        tok = self.authenticate("rest_push_rule")
        if tok is None:
            raise api_error(401, "401 Unauthorized")
        proj, tok = self.project_for(seg, "rest_push_rule")
        if tok.role != "maintainer":
            raise api_error(403, "403 Forbidden")
        if s.edition != "ee":
            raise api_error(404, "404 Not Found")
        with s.lock:
            if proj.push_rule is None:
                return 200, "null", {}  # no rule: 200 with a JSON null, like GitLab
            return 200, s.push_rule_json(proj), {}

    def rest_mr_list(self, seg):
        s = self.standin
        proj, _ = self.project_for(seg, "rest_mr_list")
        state = self.q("state", "all")
        if state not in ("opened", "closed", "locked", "merged", "all"):
            raise api_error(400, error="state does not have a valid value")
        order_by = self.q("order_by", "created_at")
        valid_orders = ("created_at", "updated_at", "merged_at", "title", "priority",
                        "label_priority", "milestone_due", "popularity")
        if order_by not in valid_orders:
            raise api_error(400, error="order_by does not have a valid value")
        sort = self.q("sort", "desc")
        if sort not in ("asc", "desc"):
            raise api_error(400, error="sort does not have a valid value")
        bounds = {}
        for name in ("updated_after", "updated_before", "created_after", "created_before"):
            v = self.q(name)
            if v is not None:
                try:
                    bounds[name] = parse_iso(v)
                except ValueError:
                    raise api_error(400, error="%s is invalid" % name)
        target = self.q("target_branch")
        source = self.q("source_branch")
        iids = self.query.get("iids[]")
        if iids is not None:
            try:
                iids = set(int(x) for x in iids)
            except ValueError:
                raise api_error(400, error="iids is invalid")
        with s.lock:
            items = []
            for mr in proj.mr_list:
                if state != "all" and mr.state != state:
                    continue
                if target is not None and mr.target_branch != target:
                    continue
                if source is not None and mr.source_branch != source:
                    continue
                if iids is not None and mr.iid not in iids:
                    continue
                if "updated_after" in bounds and mr.updated_at < bounds["updated_after"]:
                    continue
                if "updated_before" in bounds and mr.updated_at > bounds["updated_before"]:
                    continue
                if "created_after" in bounds and mr.created_at < bounds["created_after"]:
                    continue
                if "created_before" in bounds and mr.created_at > bounds["created_before"]:
                    continue
                items.append(mr)
            rev = sort == "desc"
            if order_by == "updated_at":
                items.sort(key=lambda m: (m.updated_at, m.id), reverse=rev)
            elif order_by == "merged_at":
                with_m = [m for m in items if m.merged_at is not None]
                without = [m for m in items if m.merged_at is None]
                with_m.sort(key=lambda m: (m.merged_at, m.id), reverse=rev)
                without.sort(key=lambda m: m.id, reverse=rev)
                items = with_m + without
            elif order_by == "title":
                items.sort(key=lambda m: (m.title.lower(), m.id), reverse=rev)
            else:
                items.sort(key=lambda m: (m.created_at, m.id), reverse=rev)
            chunk, headers = self.paginate(items, "/api/v4/projects/%s/merge_requests" % seg)
            body = [s.mr_json(m) for m in chunk]
        return 200, body, headers

    def rest_mr_get(self, seg, iid):
        proj, _ = self.project_for(seg, "rest_mr_get")
        with self.standin.lock:
            mr = self.mr_for(proj, iid)
            return 200, self.standin.mr_json(mr, single=True), {}

    def rest_notes_list(self, seg, iid):
        s = self.standin
        proj, _ = self.project_for(seg, "rest_notes_list")
        sort = self.q("sort", "desc")
        if sort not in ("asc", "desc"):
            raise api_error(400, error="sort does not have a valid value")
        order_by = self.q("order_by", "created_at")
        if order_by not in ("created_at", "updated_at"):
            raise api_error(400, error="order_by does not have a valid value")
        with s.lock:
            mr = self.mr_for(proj, iid)
            notes = [n for n in proj.notes if n["mr"] is mr]
            notes.sort(key=lambda n: (n[order_by], n["id"]), reverse=(sort == "desc"))
            chunk, headers = self.paginate(notes, "/api/v4/projects/%s/merge_requests/%s/notes" % (seg, iid))
            return 200, [s.note_json(proj, n) for n in chunk], headers

    def rest_notes_create(self, seg, iid):
        s = self.standin
        proj, tok = self.project_for(seg, "rest_notes_create", write=True)
        body = self.json_body()
        with s.lock:
            mr = self.mr_for(proj, iid)
        text = body.get("body")
        if text is None:
            raise api_error(400, error="body is missing")
        if not isinstance(text, str) or text.strip() == "":
            raise api_error(400, message={"note": ["can't be blank"]})
        if len(text) > 1_000_000:
            raise api_error(400, message={"note": ["is too long (maximum is 1000000 characters)"]})
        kept, commands = [], []
        in_code = False
        for line in text.split("\n"):
            if line.startswith("```"):
                in_code = not in_code
            m = re.match(r"^/([a-z_]+)(?:\s+(.*))?$", line) if not in_code else None
            if m and m.group(1) in QUICK_ACTIONS:
                commands.append((m.group(1), (m.group(2) or "").strip()))
            else:
                kept.append(line)
        changes, summary = {}, []
        if commands:
            labels = list(mr.labels)

            def parse_labels(arg):
                return [a or b for a, b in re.findall(r'~"([^"]+)"|~([^\s~]+)', arg)]

            for cmd, arg in commands:
                if cmd == "label":
                    new = [n for n in parse_labels(arg) if n not in labels]
                    labels += new
                    if new:
                        changes.setdefault("add_label_ids", []).extend(s.label(proj, n)["id"] for n in new)
                        summary.append("Added %s label%s." % (" ".join('~"%s"' % n for n in new),
                                                             "s" if len(new) > 1 else ""))
                elif cmd == "unlabel":
                    names = parse_labels(arg)
                    rem = [n for n in labels if (n in names or not names)]
                    labels = [n for n in labels if n not in rem]
                    if rem:
                        changes.setdefault("remove_label_ids", []).extend(s.label(proj, n)["id"] for n in rem)
                        summary.append("Removed %s label%s." % (" ".join('~"%s"' % n for n in rem),
                                                               "s" if len(rem) > 1 else ""))
                elif cmd == "relabel":
                    labels = parse_labels(arg)
                    changes["label_ids"] = [s.label(proj, n)["id"] for n in labels]
                    summary.append("Replaced all labels with %s." % " ".join('~"%s"' % n for n in labels))
            if sorted(set(labels)) != mr.labels:
                s.set_labels(proj, mr, labels, tok.user)
        rest = "\n".join(kept).strip("\n")
        if commands and rest.strip() == "":
            return 202, {"commands_changes": changes, "summary": summary}, {}
        note = s.add_note(proj, mr, rest if commands else text, tok.user, commands_changes=changes)
        return 201, s.note_json(proj, note), {}

    def rest_release_create(self, seg):
        s = self.standin
        proj, tok = self.project_for(seg, "rest_release_create", write=True)
        body = self.json_body()
        tag = body.get("tag_name")
        if not tag:
            raise api_error(400, error="tag_name is missing")
        # GitLab validates the description length (1,000,000 characters,
        # gitlab-org/gitlab!60386) and answers 400.
        if len(body.get("description") or "") > 1000000:
            raise api_error(400, "Validation failed: Description is too long "
                                 "(maximum is 1000000 characters)")
        with proj.git_lock:
            with s.lock:
                if tag in proj.releases:
                    raise api_error(409, "Release already exists")
            tag_ref = "refs/tags/" + tag
            tag_commit = rev_parse(proj.repo_path, tag_ref)
            if tag_commit is None:
                ref = body.get("ref")
                if not ref:
                    raise api_error(422, "Ref is not specified")
                if git(proj.repo_path, "check-ref-format", tag_ref, ok_codes=(0, 1)).returncode != 0:
                    raise api_error(400, "Tag name invalid")
                target = rev_parse(proj.repo_path, "refs/heads/" + ref) or \
                    rev_parse(proj.repo_path, "refs/tags/" + ref) or \
                    (rev_parse(proj.repo_path, ref) if re.fullmatch(r"[0-9a-f]{7,40}", ref) else None)
                if target is None:
                    raise api_error(400, "Target %s is invalid" % ref)
                msg = body.get("tag_message")
                uenv = user_env(tok.user)
                if msg:
                    p = git(proj.repo_path, "tag", "-a", "-m", msg, tag, target, env=uenv,
                            ok_codes=(0, 128))
                else:
                    p = git(proj.repo_path, "update-ref", tag_ref, target, "", ok_codes=(0, 128))
                if p.returncode != 0:
                    raise api_error(409, "Tag %s already exists" % tag)
                tag_commit = target
                new = git_out(proj.repo_path, "rev-parse", tag_ref)
                s.after_ref_change(proj, {tag_ref: (ZERO_SHA, new)}, tok.user)
            now = s.clock.now()
            released = now
            if body.get("released_at"):
                try:
                    released = parse_iso(body["released_at"])
                except ValueError:
                    raise api_error(400, error="released_at is invalid")
            links = []
            assets = body.get("assets") or {}
            for i, l in enumerate(assets.get("links") or []):
                links.append({"id": 1000 + i, "name": l.get("name"), "url": l.get("url"),
                              "direct_asset_url": l.get("url"),
                              "link_type": l.get("link_type", "other")})
            rel = {"tag_name": tag, "name": body.get("name") or tag,
                   "description": body.get("description"), "created_at": now,
                   "released_at": released, "author": tok.user,
                   "commit": s.commit_json(proj, tag_commit), "links": links}
            with s.lock:
                if tag in proj.releases:
                    raise api_error(409, "Release already exists")
                proj.releases[tag] = rel
            return 201, s.release_json(proj, rel), {}

    def rest_release_get(self, seg, tag_seg):
        s = self.standin
        proj, _ = self.project_for(seg, "rest_release_get")
        tag = urllib.parse.unquote(tag_seg)
        with s.lock:
            rel = proj.releases.get(tag)
        if rel is None:
            raise api_error(404, "404 Not Found")
        return 200, s.release_json(proj, rel), {}

    def rest_release_list(self, seg):
        s = self.standin
        proj, _ = self.project_for(seg, "rest_release_list")
        with s.lock:
            rels = sorted(proj.releases.values(), key=lambda r: r["released_at"],
                          reverse=self.q("sort", "desc") == "desc")
        chunk, headers = self.paginate(rels, "/api/v4/projects/%s/releases" % seg)
        return 200, [s.release_json(proj, r) for r in chunk], headers

    def rest_status_create(self, seg, sha_seg):
        s = self.standin
        proj, tok = self.project_for(seg, "rest_status_create", write=True)
        body = self.json_body()
        state = body.get("state")
        if state is None:
            raise api_error(400, error="state is missing")
        if state not in ("pending", "running", "success", "failed", "canceled", "skipped"):
            raise api_error(400, error="state does not have a valid value")
        sha = rev_parse(proj.repo_path, sha_seg) if re.fullmatch(r"[0-9a-f]{7,64}", sha_seg) else None
        if sha is None:
            raise api_error(404, "404 Commit Not Found")
        name = body.get("name") or body.get("context") or "default"
        ref = body.get("ref")
        if ref is None:
            for r, v in list_refs(proj.repo_path).items():
                if r.startswith("refs/heads/") and v == sha:
                    ref = r[len("refs/heads/"):]
                    break
        pipeline_id = body.get("pipeline_id")
        if pipeline_id is not None and (isinstance(pipeline_id, bool) or
                                        not isinstance(pipeline_id, int)):
            try:
                pipeline_id = int(str(pipeline_id))
            except ValueError:
                raise api_error(400, error="pipeline_id is invalid")
        with s.lock:
            now = s.clock.now()
            pipe = s.fleet.status_pipeline(proj, sha, body.get("ref"), pipeline_id, ref)
            for st in proj.statuses:
                if st["sha"] == sha and st["name"] == name and st["pipeline_id"] == pipe["id"]:
                    break
            else:
                st = {"id": s.next_status_id, "sha": sha, "ref": ref, "name": name,
                      "created_at": now, "started_at": None, "finished_at": None,
                      "author": tok.user, "pipeline_id": pipe["id"]}
                s.next_status_id += 1
                proj.statuses.append(st)
            st["status"] = state
            st["target_url"] = body.get("target_url")
            st["description"] = body.get("description")
            st["coverage"] = body.get("coverage")
            if state == "running" and st["started_at"] is None:
                st["started_at"] = now
            if state in ("success", "failed", "canceled", "skipped"):
                st["finished_at"] = now
            return 201, s.status_json(st), {}

    def rest_status_list(self, seg, sha_seg):
        s = self.standin
        proj, _ = self.project_for(seg, "rest_status_list")
        sha = rev_parse(proj.repo_path, sha_seg) if re.fullmatch(r"[0-9a-f]{7,64}", sha_seg) else None
        if sha is None:
            raise api_error(404, "404 Commit Not Found")
        ref = self.q("ref")
        name = self.q("name")
        with s.lock:
            sts = [st for st in proj.statuses if st["sha"] == sha and
                   (ref is None or st["ref"] == ref) and (name is None or st["name"] == name)]
        chunk, headers = self.paginate(sts, "/api/v4/projects/%s/repository/commits/%s/statuses" % (seg, sha_seg))
        return 200, [s.status_json(st) for st in chunk], headers

    # ---- git smart HTTP ----------------------------------------------------

    def git_request(self, path, action):
        s = self.standin
        proj = s.find_project(path)
        service = self.q("service") if action == "info/refs" else action
        auth = self.headers.get("Authorization", "")
        deny = {"WWW-Authenticate": 'Basic realm="GitLab"'}
        if not auth.lower().startswith("basic "):
            self.read_body()
            return 401, "HTTP Basic: Access denied\n", "text/plain", deny
        try:
            user, _, pw = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            user, pw = "", ""
        with s.lock:
            tok = s.tokens.get(pw)
        if tok is None or not user or (tok.kind == "job" and user != "gitlab-ci-token"):
            self.read_body()
            return 401, ("HTTP Basic: Access denied. If a password was provided for Git "
                         "authentication, the password was incorrect or you're required to use "
                         "a token instead of a password. If a token was provided, it was either "
                         "incorrect, expired, or improperly scoped. See "
                         "%s/help/topics/git/troubleshooting_git.md#error-on-git-fetch-http-basic-access-denied\n"
                         % s.base_url), "text/plain", deny
        if proj is None:
            self.read_body()
            return 404, ("The project you were looking for could not be found or you don't have "
                         "permission to view it.\n"), "text/plain", {}
        if service not in ("git-upload-pack", "git-receive-pack"):
            self.read_body()
            return 403, "Unsupported service\n", "text/plain", {}
        if service == "git-receive-pack" and (tok.read_only or tok.kind == "job"):
            self.read_body()
            return 403, "You are not allowed to push code to this project.\n", "text/plain", {}
        body = self.read_body()
        before = list_refs(proj.repo_path) if action == "git-receive-pack" else None
        env = git_env({
            # the storage path, not the current path: a renamed or
            # transferred project keeps its repository (hashed storage)
            "GIT_PROJECT_ROOT": os.path.dirname(proj.repo_path),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": "/%s/%s" % (os.path.basename(proj.repo_path), action),
            "QUERY_STRING": self.query_string or "",
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": tok.user.username,
            # the pusher, for the push rules' committer checks in the hook
            "STANDIN_USER_EMAIL": "%s@example.com" % tok.user.username,
            "STANDIN_USER_EMAILS": ",".join(tok.user.verified_emails()),
            "STANDIN_USER_NAME": tok.user.name,
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_HTTP_MAX_REQUEST_BUFFER": "100M",
        })
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["HTTP_GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        p = subprocess.Popen(["git", "http-backend"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
        with s.procs_lock:
            s.procs.add(p)
        try:
            out, err = p.communicate(body, timeout=300)
        finally:
            with s.procs_lock:
                s.procs.discard(p)
        if err:
            log("http-backend: %s" % err.decode(errors="replace").strip())
        head, sep, payload = out.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = out.partition(b"\n\n")
        status = 200
        ctype = None
        headers = {}
        for line in head.decode("latin-1").splitlines():
            if ":" not in line:
                continue
            k, v = line.split(":", 1)
            k, v = k.strip(), v.strip()
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k.lower() == "content-type":
                ctype = v
            elif k.lower() not in ("content-length",):
                headers[k] = v
        if before is not None:
            after = list_refs(proj.repo_path)
            changes = {}
            for r in set(before) | set(after):
                o, n = before.get(r, ZERO_SHA), after.get(r, ZERO_SHA)
                if o != n:
                    changes[r] = (o, n)
            if changes:
                s.after_ref_change(proj, changes, tok.user)
        return status, payload, ctype, headers

    # ---- control API -------------------------------------------------------

    def control(self, path):
        """-> (status, body, headers)"""
        s = self.standin
        m = self.command
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        raw_parts = path.strip("/").split("/") if path.strip("/") else []
        try:
            body = self._json_body() if m in ("POST", "PUT", "PATCH", "DELETE") else {}
        except ApiError:
            raise ctl_error(400, "body must be a JSON object")

        if parts == ["health"] and m == "GET":
            return 200, {"ok": True}, {}
        if parts == ["reset"] and m == "POST":
            s.reset_state()
            return 200, {"ok": True}, {}
        if parts == ["clock"] and m == "POST":
            if "set" in body:
                try:
                    s.clock.set(parse_iso(body["set"]))
                except ValueError:
                    raise ctl_error(400, "bad time %r" % body["set"])
            if "advance_seconds" in body:
                s.clock.advance(float(body["advance_seconds"]))
            return 200, {"now": fmt_ms(s.clock.now())}, {}
        if parts == ["clock"] and m == "GET":
            return 200, {"now": fmt_ms(s.clock.now())}, {}

        if parts == ["edition"] and m == "POST":
            if body.get("edition") not in ("ee", "ee-unlicensed", "ce"):
                raise ctl_error(400, "edition must be ee, ee-unlicensed or ce")
            s.edition = body["edition"]
            return 200, {"edition": s.edition}, {}
        if len(parts) == 3 and parts[0] == "users" and parts[2] == "emails" and m == "POST":
            email = body.get("email")
            if not isinstance(email, str) or "@" not in email:
                raise ctl_error(400, "email required")
            u = s.user(parts[1])
            with s.lock:
                e = {"id": 100 + len(u.emails), "email": email,
                     "confirmed_at": fmt_ms(s.clock.now()) if body.get("confirmed", True) else None}
                u.emails.append(e)
            return 201, e, {}
        if parts[:1] == ["tokens"]:
            if len(parts) == 1 and m == "POST":
                token = body.get("token")
                if not isinstance(token, str) or not token or ":" in token:
                    raise ctl_error(400, "token must be a non-empty string without ':'")
                kind = body.get("kind", "personal")
                if kind not in ("personal", "job"):
                    raise ctl_error(400, "kind must be personal or job")
                role = body.get("role", "maintainer")
                if role not in ("developer", "maintainer"):
                    raise ctl_error(400, "role must be developer or maintainer")
                u = s.user(body.get("username") or "root")
                tok = Token(token, kind, bool(body.get("read_only", False)), u, role)
                with s.lock:
                    s.tokens[token] = tok
                s.fleet.token_created(tok, body)
                return 201, {"token": token, "kind": kind, "read_only": tok.read_only,
                             "role": role, "user": u.basic()}, {}
            if len(parts) == 2 and m == "DELETE":
                with s.lock:
                    if s.tokens.pop(parts[1], None) is None:
                        raise ctl_error(404, "no such token")
                return 204, None, {}

        if parts == ["faults"]:
            if m == "POST":
                mode = body.get("mode", "status")
                if mode not in ("status", "delay", "malformed_json", "truncated_json", "drop", "html"):
                    raise ctl_error(400, "bad mode %r" % mode)
                if not body.get("endpoint") and not body.get("path"):
                    raise ctl_error(400, "endpoint or path required")
                with s.lock:
                    f = {"id": s.next_fault_id, "endpoint": body.get("endpoint"),
                         "path": body.get("path"), "method": body.get("method"),
                         "remaining": int(body.get("count", 1)), "mode": mode,
                         "status": int(body.get("status", 500)),
                         "retry_after": body.get("retry_after"), "body": body.get("body"),
                         "delay_ms": body.get("delay_ms", 5000)}
                    s.next_fault_id += 1
                    s.faults.append(f)
                return 201, {"id": f["id"]}, {}
            if m == "GET":
                with s.lock:
                    return 200, [f for f in s.faults if f["remaining"] > 0], {}
            if m == "DELETE":
                with s.lock:
                    s.faults = []
                return 204, None, {}
        if parts == ["counters"]:
            if m == "GET":
                with s.lock:
                    return 200, dict(s.counters), {}
            if m == "DELETE":
                with s.lock:
                    s.counters = {}
                    s.requests = []
                return 204, None, {}
        if parts == ["requests"] and m == "GET":
            with s.lock:
                return 200, list(s.requests), {}

        if parts[:1] == ["webhooks"]:
            if parts == ["webhooks"] and m == "GET":
                with s.lock:
                    return 200, [self.delivery_json(d) for d in s.deliveries], {}
            if parts == ["webhooks", "send"] and m == "POST":
                return 200, self.delivery_json(self.webhook_send(body)), {}
            if parts == ["webhooks", "resend"] and m == "POST":
                with s.lock:
                    n = body.get("delivery")
                    if not isinstance(n, int) or not 1 <= n <= len(s.deliveries):
                        raise ctl_error(404, "no such delivery")
                    d = s.deliveries[n - 1]
                d2 = s.deliver(body.get("url") or d["url"], d["token"], d["event"], d["payload"],
                               idem_key=d["headers"]["Idempotency-Key"],
                               event_uuid=d["headers"]["X-Gitlab-Event-UUID"],
                               timeout=float(body.get("timeout", HOOK_TIMEOUT)), resend_of=n)
                return 200, self.delivery_json(d2), {}

        r = self.fleet_control(m, parts, body)
        if r is not None:
            return r
        if parts[:1] == ["projects"]:
            if len(parts) == 1 and m == "POST":
                proj = s.create_project(body)
                return 201, s.project_ctl_json(proj), {}
            if len(parts) >= 2:
                proj = s.find_project(parts[1])
                if proj is None:
                    raise ctl_error(404, "no project %s" % parts[1])
                return self.control_project(proj, m, parts[2:], raw_parts[2:], body)
        raise ctl_error(404, "no control route %s %s" % (m, path))

    def delivery_json(self, d):
        return {k: d[k] for k in ("delivery", "url", "event", "headers", "payload", "status",
                                  "error", "automatic", "resend_of")}

    def webhook_send(self, body):
        s = self.standin
        url = body.get("url")
        if not url:
            raise ctl_error(400, "url required")
        proj = s.find_project(str(body.get("project", "")))
        if proj is None:
            raise ctl_error(404, "no project %r" % body.get("project"))
        event = body.get("event", "merge_request")
        timeout = float(body.get("timeout", HOOK_TIMEOUT))
        if event == "merge_request":
            mr = proj.mrs.get(int(body.get("iid", 0)))
            if mr is None:
                raise ctl_error(404, "no merge request !%r" % body.get("iid"))
            test = bool(body.get("test")) or ("action" in body and body["action"] is None)
            action = body.get("action") or ("merge" if mr.state == "merged" else "update")
            if action not in ("open", "close", "reopen", "update", "approved", "unapproved",
                              "approval", "unapproval", "merge"):
                raise ctl_error(400, "bad action %r" % action)
            user = s.user(body["user"]) if body.get("user") else (mr.merged_by or mr.author)
            payload = s.mr_hook_payload(proj, mr, action, user, body.get("changes"), test=test)
            return s.deliver(url, body.get("token"), "Merge Request Hook", payload, timeout=timeout)
        if event == "push":
            ref = body.get("ref") or "refs/heads/" + proj.default_branch
            after = body.get("after") or rev_parse(proj.repo_path, ref) or ZERO_SHA
            before = body.get("before") or ZERO_SHA
            user = s.user(body["user"]) if body.get("user") else None
            payload = s.push_hook_payload(proj, ref, before, after, user)
            ev = "Tag Push Hook" if ref.startswith("refs/tags/") else "Push Hook"
            return s.deliver(url, body.get("token"), ev, payload, timeout=timeout)
        raise ctl_error(400, "event must be merge_request or push")

    def control_project(self, proj, m, parts, raw_parts, body):
        s = self.standin
        if not parts and m == "GET":
            return 200, s.project_ctl_json(proj), {}
        if parts == ["refs"] and m == "GET":
            refs = list_refs(proj.repo_path)
            peeled = {}
            for r in refs:
                if r.startswith("refs/tags/"):
                    peeled[r] = rev_parse(proj.repo_path, r)
            out = dict(refs)
            out["peeled"] = peeled
            return 200, out, {}
        if parts == ["aliases"] and m == "POST":
            # benchmarks: one repository served under many project paths
            # (the API answers with the project's own path and URLs)
            paths = body.get("paths")
            if not isinstance(paths, list) or not all(
                    isinstance(x, str) and re.fullmatch(
                        r"[A-Za-z0-9_.][A-Za-z0-9_.\-]*(/[A-Za-z0-9_.][A-Za-z0-9_.\-]*)*", x)
                    for x in paths):
                raise ctl_error(400, "paths must be a list of project paths")
            with s.lock:
                for x in paths:
                    if x in s.projects_by_path:
                        raise ctl_error(409, "project %s exists" % x)
                for x in paths:
                    s.projects_by_path[x] = proj
            return 201, {"aliases": len(paths)}, {}
        if parts == ["commits"] and m == "POST":
            branch = body.get("branch")
            if not branch:
                raise ctl_error(400, "branch required")
            author = None
            if body.get("author_name") or body.get("author_email"):
                author = {"GIT_AUTHOR_NAME": body.get("author_name") or "Stand-in",
                          "GIT_AUTHOR_EMAIL": body.get("author_email") or "standin@example.invalid"}
            sha, parent = s.commit_files(proj, branch, body.get("files") or {},
                                         body.get("message") or "Update", body.get("start_branch"),
                                         author)
            return 201, {"sha": sha, "branch": branch, "parent": parent}, {}
        if parts == ["branches"] and m == "POST":
            name, ref = body.get("branch"), body.get("ref") or proj.default_branch
            if not name:
                raise ctl_error(400, "branch required")
            with proj.git_lock:
                sha = rev_parse(proj.repo_path, "refs/heads/" + ref) or rev_parse(proj.repo_path, ref)
                if sha is None:
                    raise ctl_error(400, "ref %s not found" % ref)
                p = git(proj.repo_path, "update-ref", "refs/heads/" + name, sha, "", ok_codes=(0, 128))
                if p.returncode != 0:
                    raise ctl_error(409, "branch %s exists" % name)
            s.after_ref_change(proj, {"refs/heads/" + name: (ZERO_SHA, sha)}, None)
            return 201, {"name": name, "sha": sha}, {}
        if parts == ["tags"] and m == "POST":
            name, ref = body.get("tag"), body.get("ref") or proj.default_branch
            if not name:
                raise ctl_error(400, "tag required")
            with proj.git_lock:
                sha = rev_parse(proj.repo_path, "refs/heads/" + ref) or rev_parse(proj.repo_path, ref)
                if sha is None:
                    raise ctl_error(400, "ref %s not found" % ref)
                if body.get("message"):
                    p = git(proj.repo_path, "tag", "-a", "-m", body["message"], name, sha, ok_codes=(0, 128))
                else:
                    p = git(proj.repo_path, "update-ref", "refs/tags/" + name, sha, "", ok_codes=(0, 128))
                if p.returncode != 0:
                    raise ctl_error(409, "tag %s exists" % name)
                target = git_out(proj.repo_path, "rev-parse", "refs/tags/" + name)
            s.after_ref_change(proj, {"refs/tags/" + name: (ZERO_SHA, target)}, None)
            return 201, {"name": name, "sha": sha, "target": target}, {}
        if parts[:1] == ["protected_branches"]:
            if len(parts) == 1 and m == "POST":
                name = body.get("name")
                level = body.get("level", "no_force_push")
                if not name or level not in ("no_force_push", "no_push"):
                    raise ctl_error(400, "name and level (no_force_push|no_push) required")
                with s.lock:
                    proj.protected = [p for p in proj.protected if p["name"] != name]
                    proj.protected.append({"name": name, "level": level})
                    s.write_protect_config(proj)
                return 201, {"name": name, "level": level}, {}
            if len(parts) == 2 and m == "DELETE":
                with s.lock:
                    proj.protected = [p for p in proj.protected if p["name"] != parts[1]]
                    s.write_protect_config(proj)
                return 204, None, {}
            if len(parts) == 1 and m == "GET":
                return 200, list(proj.protected), {}
        if parts == ["push_rule"]:
            if m in ("PUT", "POST"):
                s.set_push_rule(proj, body)
                with s.lock:
                    return 200, s.push_rule_json(proj), {}
            if m == "GET":
                with s.lock:
                    return 200, {"push_rule": None if proj.push_rule is None
                                 else s.push_rule_json(proj)}, {}
            if m == "DELETE":
                with s.lock:
                    proj.push_rule = None
                    s.write_protect_config(proj)
                return 204, None, {}
        if parts == ["hooks"] and m == "POST":
            if not body.get("url"):
                raise ctl_error(400, "url required")
            with s.lock:
                h = {"id": s.next_hook_id, "url": body["url"], "token": body.get("token"),
                     "merge_requests_events": bool(body.get("merge_requests_events", True)),
                     "push_events": bool(body.get("push_events", True))}
                s.next_hook_id += 1
                proj.hooks.append(h)
            return 201, h, {}
        if parts == ["notes"] and m == "GET":
            with s.lock:
                return 200, [s.note_json(proj, n) for n in proj.notes], {}
        if parts == ["releases"] and m == "GET":
            with s.lock:
                return 200, [s.release_json(proj, r) for r in proj.releases.values()], {}
        if parts == ["statuses"] and m == "GET":
            with s.lock:
                return 200, [s.status_json(st) for st in proj.statuses], {}
        if parts[:1] == ["merge_requests"]:
            if len(parts) == 1 and m == "POST":
                mr = s.open_mr(proj, body)
                with s.lock:
                    return 201, s.mr_json(mr, single=True), {}
            if parts == ["merge_requests", "bulk"] and m == "POST":
                created = s.bulk_mrs(proj, body.get("merge_requests"))
                return 201, {"count": len(created),
                             "first_iid": created[0].iid if created else None,
                             "last_iid": created[-1].iid if created else None}, {}
            if len(parts) >= 2:
                if not parts[1].isdigit() or int(parts[1]) not in proj.mrs:
                    raise ctl_error(404, "no merge request !%s" % parts[1])
                mr = proj.mrs[int(parts[1])]
                rest = parts[2:]
                if rest == ["merge"] and m == "POST":
                    s.merge_mr(proj, mr, body)
                    with s.lock:
                        return 200, s.mr_json(mr, single=True), {}
                if rest == ["labels"] and m == "PUT":
                    user = s.user(body.get("user") or "root")
                    if "labels" in body:
                        new = list(body["labels"])
                    else:
                        new = [n for n in mr.labels if n not in (body.get("remove") or [])]
                        new += [n for n in (body.get("add") or []) if n not in new]
                    s.set_labels(proj, mr, new, user)
                    with s.lock:
                        return 200, s.mr_json(mr, single=True), {}
                if rest == ["notes"] and m == "POST":
                    if not body.get("body"):
                        raise ctl_error(400, "body required")
                    note = s.add_note(proj, mr, body["body"], s.user(body.get("author") or "root"),
                                      system=bool(body.get("system", False)))
                    with s.lock:
                        return 201, s.note_json(proj, note), {}
                if not rest and m == "PATCH":
                    with s.lock:
                        try:
                            for k in ("title", "description"):
                                if k in body:
                                    setattr(mr, k, body[k])
                            if "state" in body:
                                if body["state"] not in ("opened", "closed", "merged", "locked"):
                                    raise ctl_error(400, "bad state")
                                mr.state = body["state"]
                                if mr.state == "closed":
                                    mr.closed_at = s.clock.now()
                                    mr.closed_by = s.user("root")
                            for k in ("merged_at", "created_at"):
                                if k in body:
                                    setattr(mr, k, parse_iso(body[k]) if body[k] else None)
                            for k in ("sha", "merge_commit_sha", "squash_commit_sha"):
                                if k in body:
                                    setattr(mr, k, body[k])
                            mr.updated_at = parse_iso(body["updated_at"]) if body.get("updated_at") \
                                else s.clock.now()
                        except ValueError as e:
                            raise ctl_error(400, "bad timestamp: %s" % e)
                        return 200, s.mr_json(mr, single=True), {}
        r = self.fleet_control_project(proj, m, parts, body)
        if r is not None:
            return r
        raise ctl_error(404, "no control route %s for project %d" % ("/".join(parts), proj.id))


# --------------------------------------------------------------------------
# Lifecycle

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def get_request(self):
        # Headers and body go out in two writes; with Nagle on, the body
        # waits for the client's (delayed, up to 40 ms) ACK of the headers
        # on every request after the first of a keep-alive connection.
        # GitLab's nginx sets TCP_NODELAY; so does the stand-in.
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr


def main(argv=None):
    global VERBOSE
    ap = argparse.ArgumentParser(description="GitLab stand-in for semver-tagger tests")
    ap.add_argument("--state-dir", help="keep state here (not removed on exit)")
    ap.add_argument("--watch-stdin", action="store_true",
                    help="exit when stdin reaches EOF")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="(default; accepted for compatibility)")
    args = ap.parse_args(argv)
    VERBOSE = args.verbose

    if args.state_dir:
        state_dir = os.path.abspath(args.state_dir)
        os.makedirs(state_dir, exist_ok=True)
        remove_state = False
    else:
        state_dir = tempfile.mkdtemp(prefix="gitlab-standin-")
        remove_state = True

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    orig_ppid = os.getppid()

    standin = None
    httpd = None
    try:
        httpd = Server(("127.0.0.1", 0), Handler)
        port = httpd.server_address[1]
        base_url = "http://127.0.0.1:%d" % port
        standin = Standin(state_dir, base_url)
        Handler.standin = standin
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()
        threading.Thread(target=standin.hook_worker, daemon=True).start()
        if args.watch_stdin:
            def watch():
                try:
                    while True:
                        r, _, _ = select.select([sys.stdin], [], [], 0.5)
                        if stop.is_set():
                            return
                        if r and not os.read(sys.stdin.fileno(), 4096):
                            break
                except (OSError, ValueError):
                    pass
                stop.set()
            threading.Thread(target=watch, daemon=True).start()
        sys.stdout.write(base_url + "\n")
        sys.stdout.flush()
        while not stop.wait(0.2):
            if os.getppid() != orig_ppid:
                break
    finally:
        if standin is not None:
            standin.stopping = True
            with standin.hook_cv:
                standin.hook_cv.notify_all()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if standin is not None:
            with standin.procs_lock:
                procs = list(standin.procs)
            for p in procs:
                try:
                    p.kill()
                except OSError:
                    pass
        if remove_state:
            for _ in range(10):
                shutil.rmtree(state_dir, ignore_errors=True)
                if not os.path.exists(state_dir):
                    break
                time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
