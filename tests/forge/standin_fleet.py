# SPDX-License-Identifier: MIT
"""The stand-in's model of many projects (issue 13): groups and nested
subgroups, topics and archived projects, the group project and merge
request listings, System Hooks and group hooks with their project events,
group and project labels, protected branches and tags with access levels,
members' access levels, token self-information, project/group/system hook
listings, pipelines (a merge request's head pipeline, the pipeline a commit
status lands in).

Kept apart from standin.py so that file changes little; standin.py calls
into FleetModel and mixes FleetHandlers into its request handler. Field
names follow GitLab's REST v4 documentation (doc/api/groups.md,
merge_requests.md, labels.md, group_labels.md, protected_branches.md,
protected_tags.md, personal_access_tokens.md, projects.md hooks,
system_hooks.md, pipelines.md, commits.md statuses) and
lib/gitlab/hook_data/project_builder.rb for the project event payloads.
"""

import datetime
import os
import re
import shutil
import threading
import urllib.parse
import uuid

GROUP_ID_BASE = 5000
PIPELINE_ID_BASE = 700000
TOKEN_ID_BASE = 9000

ACCESS_NAMES = {0: "No access", 5: "Minimal access", 10: "Guest", 15: "Planner",
                20: "Reporter", 30: "Developer", 40: "Maintainer", 50: "Owner",
                60: "Admin"}

# Protected branch levels of the stand-in's push hook -> GitLab access levels.
BRANCH_LEVELS = {"no_force_push": 40, "no_push": 0}


def _std():
    # standin.py is the __main__ module when run as a script.
    import __main__ as m
    if not hasattr(m, "fmt_ms"):
        import standin as m
    return m


def truthy(v):
    if isinstance(v, bool):
        return v
    return str(v).lower() in ("true", "1", "yes", "t")


class FleetModel:
    """State the base stand-in does not keep; one per reset."""

    def __init__(self, standin):
        self.s = standin
        self.groups = {}          # id -> group dict
        self.groups_by_path = {}  # full_path -> group dict
        self.next_group_id = GROUP_ID_BASE
        self.system_hooks = []
        self.next_pipeline_id = PIPELINE_ID_BASE
        self.token_info = {}      # token string -> dict
        self.next_token_id = TOKEN_ID_BASE
        self.lock = threading.RLock()

    # ---- groups ------------------------------------------------------------

    def ensure_group(self, full_path):
        """The group at full_path, created with its parents when missing."""
        with self.lock:
            g = self.groups_by_path.get(full_path)
            if g is not None:
                return g
            parent = None
            if "/" in full_path:
                parent = self.ensure_group(full_path.rsplit("/", 1)[0])
            path = full_path.rsplit("/", 1)[-1]
            g = {"id": self.next_group_id, "name": path, "path": path,
                 "full_path": full_path, "full_name": " / ".join(full_path.split("/")),
                 "parent_id": parent["id"] if parent else None,
                 "description": "", "visibility": "private",
                 "created_at": self.s.clock.now(),
                 "labels": {}, "hooks": []}
            self.next_group_id += 1
            self.groups[g["id"]] = g
            self.groups_by_path[full_path] = g
            return g

    def find_group(self, seg):
        ident = urllib.parse.unquote(seg)
        with self.lock:
            if ident.isdigit():
                return self.groups.get(int(ident))
            return self.groups_by_path.get(ident)

    def ancestors(self, g):
        """g and its parents, nearest first."""
        out = []
        while g is not None:
            out.append(g)
            g = self.groups.get(g["parent_id"]) if g["parent_id"] else None
        return out

    def group_of(self, proj):
        return self.groups_by_path.get(proj.namespace)

    def in_group(self, proj, g, subgroups):
        if subgroups:
            return proj.namespace == g["full_path"] or \
                proj.namespace.startswith(g["full_path"] + "/")
        return proj.namespace == g["full_path"]

    def group_json(self, g):
        base = self.s.base_url
        return {"id": g["id"], "web_url": "%s/groups/%s" % (base, g["full_path"]),
                "name": g["name"], "path": g["path"], "description": g["description"],
                "visibility": g["visibility"], "share_with_group_lock": False,
                "require_two_factor_authentication": False, "two_factor_grace_period": 48,
                "project_creation_level": "developer", "auto_devops_enabled": None,
                "subgroup_creation_level": "maintainer", "emails_disabled": False,
                "emails_enabled": True, "mentions_disabled": None, "lfs_enabled": True,
                "default_branch": None, "default_branch_protection": 2,
                "avatar_url": None, "request_access_enabled": True,
                "full_name": g["full_name"], "full_path": g["full_path"],
                "created_at": _std().fmt_ms(g["created_at"]), "parent_id": g["parent_id"],
                "organization_id": 1, "shared_runners_setting": "enabled",
                "ldap_cn": None, "ldap_access": None, "marked_for_deletion_on": None,
                "archived": False}

    def namespace_json(self, proj):
        g = self.ensure_group(proj.namespace)
        return {"id": g["id"], "name": g["name"], "path": g["path"], "kind": "group",
                "full_path": g["full_path"], "parent_id": g["parent_id"], "avatar_url": None,
                "web_url": "%s/groups/%s" % (self.s.base_url, g["full_path"])}

    # ---- projects ----------------------------------------------------------

    @staticmethod
    def init_project(proj):
        proj.topics = []
        proj.archived = False
        proj.protected_tags = []     # [{"name", "create_access_level"}]
        proj.members = {}            # username -> access level
        proj.pipelines = []          # dicts, creation order
        proj.mr_head_pipeline = {}   # iid -> pipeline dict

    @staticmethod
    def repo_empty(repo_path):
        """No branch or tag, without running git (cheap for big listings)."""
        try:
            with open(os.path.join(repo_path, "packed-refs")) as f:
                if any(line[:1] not in ("#", "^") and line.strip() for line in f):
                    return False
        except OSError:
            pass
        for sub in ("refs/heads", "refs/tags"):
            for _root, _dirs, files in os.walk(os.path.join(repo_path, sub)):
                if files:
                    return False
        return True

    @staticmethod
    def copy_repo(src, dst):
        """A new bare repository with src's objects and refs (fast path for
        tests that create hundreds of projects)."""
        shutil.copytree(src, dst, symlinks=True)

    def project_created(self, proj, body):
        topics = body.get("topics") or []
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise _std().ctl_error(400, "topics must be a list of strings")
        proj.topics = list(topics)
        proj.archived = truthy(body.get("archived", False))
        self.ensure_group(proj.namespace)
        self.project_event(proj, "create")

    def access_level(self, proj, user):
        lv = proj.members.get(user.username)
        if lv is not None:
            return lv
        for g in self.ancestors(self.group_of(proj)):
            lv = g.get("members", {}).get(user.username)
            if lv is not None:
                return lv
        return 40  # tokens act as Maintainers unless a test says otherwise

    # ---- hooks -------------------------------------------------------------

    def project_event_payload(self, proj, event, old_path=None):
        m = _std()
        owner = self.s.user("root")
        now = m.fmt_ms(self.s.clock.now())
        d = {"event_name": "project_" + event,
             "created_at": m.fmt_ms(proj.created_at)[:19] + "Z",
             "updated_at": now[:19] + "Z",
             "name": proj.name, "path": proj.name,
             "path_with_namespace": proj.path_with_namespace,
             "project_id": proj.id,
             "owner_name": owner.name, "owner_email": "[REDACTED]",
             "owners": [{"name": owner.name, "email": "[REDACTED]"}],
             "project_visibility": proj.visibility}
        if event in ("rename", "transfer"):
            d["old_path_with_namespace"] = old_path
        return d

    def project_event(self, proj, event, old_path=None):
        """System Hooks get every project event; group hooks with project
        events get create and destroy of projects in their group or its
        subgroups (GitLab 17.x group webhook "Project events", header
        "Project Hook")."""
        payload = self.project_event_payload(proj, event, old_path)
        targets = [(h, "System Hook") for h in self.system_hooks]
        if event in ("create", "destroy"):
            for g in self.ancestors(self.groups_by_path.get(proj.namespace)):
                targets += [(h, "Project Hook") for h in g["hooks"] if h["project_events"]]
        self.enqueue(targets, payload)

    def enqueue(self, targets, payload):
        if not targets:
            return
        s = self.s
        event_uuid = str(uuid.uuid4())
        with s.hook_cv:
            for h, header in targets:
                s.hook_queue.append((h["url"], h["token"], header, payload, str(uuid.uuid4()),
                                     event_uuid))
            s.hook_cv.notify()

    def extra_hook_targets(self, proj, kind):
        """System and group hooks that also get a project's push and merge
        request events: (hook, X-Gitlab-Event) pairs. System hooks send
        "System Hook" whatever the event."""
        key = "merge_requests_events" if kind == "merge_request" else "push_events"
        own = {"merge_request": "Merge Request Hook", "push": "Push Hook"}[kind]
        out = [(h, "System Hook") for h in self.system_hooks if h[key]]
        for g in self.ancestors(self.groups_by_path.get(proj.namespace)):
            out += [(h, own) for h in g["hooks"] if h[key]]
        return out

    def new_hook(self, body, group=None):
        if not body.get("url"):
            raise _std().ctl_error(400, "url required")
        with self.s.lock:
            h = {"id": self.s.next_hook_id, "url": body["url"], "token": body.get("token"),
                 "merge_requests_events": truthy(body.get("merge_requests_events", False)),
                 "push_events": truthy(body.get("push_events", False)),
                 "project_events": truthy(body.get("project_events", True)),
                 "created_at": self.s.clock.now()}
            if group is not None:
                h["group_id"] = group["id"]
            self.s.next_hook_id += 1
        return h

    # ---- tokens ------------------------------------------------------------

    def token_created(self, tok, body):
        m = _std()
        scopes = body.get("scopes", ["api"])
        if not isinstance(scopes, list):
            raise m.ctl_error(400, "scopes must be a list")
        expires = body.get("expires_at", "2099-12-31")
        if expires is not None:
            try:
                datetime.date.fromisoformat(expires)
            except (TypeError, ValueError):
                raise m.ctl_error(400, "expires_at must be YYYY-MM-DD or null")
        with self.lock:
            self.token_info[tok.token] = {
                "id": self.next_token_id, "name": body.get("name") or "semver-tagger",
                "revoked": False, "created_at": m.fmt_ms(self.s.clock.now()),
                "description": None, "scopes": list(scopes), "user_id": tok.user.id,
                "last_used_at": None, "active": truthy(body.get("active", True)),
                "expires_at": expires, "admin": truthy(body.get("admin", False))}
            self.next_token_id += 1
        if not {"api", "write_api"} & set(scopes):
            tok.read_only = True

    def token_usable(self, token):
        """False for a revoked, inactive or expired token (GitLab: 401)."""
        info = self.token_info.get(token)
        if info is None:
            return True
        if info["revoked"] or not info["active"]:
            return False
        if info["expires_at"]:
            today = datetime.datetime.fromtimestamp(self.s.clock.now() / 1000,
                                                    tz=datetime.timezone.utc).date()
            if datetime.date.fromisoformat(info["expires_at"]) <= today:
                return False
        return True

    # ---- pipelines ---------------------------------------------------------

    def new_pipeline(self, proj, sha, ref, source, status="running"):
        with self.lock:
            p = {"id": self.next_pipeline_id, "iid": len(proj.pipelines) + 1,
                 "project_id": proj.id, "sha": sha, "ref": ref, "status": status,
                 "source": source, "created_at": self.s.clock.now()}
            self.next_pipeline_id += 1
            proj.pipelines.append(p)
            return p

    def status_pipeline(self, proj, sha, ref, pipeline_id, new_ref=None):
        """The pipeline a commit status lands in (doc/ci/ci_cd_for_external_repos/
        external_commit_statuses.md): the given pipeline_id when it is a
        pipeline of this sha, else the newest pipeline for sha and ref, else a
        new pipeline with source "external" (also when pipeline_id names a
        pipeline of another commit, gitlab-org/gitlab#443254)."""
        if pipeline_id is not None:
            # lib/api/commit_statuses.rb: newest_first(sha:), then
            # for_ref(ref) when given, then id(pipeline_id): both filter.
            for p in proj.pipelines:
                if p["id"] == pipeline_id and p["sha"] == sha and \
                        (ref is None or p["ref"] == ref):
                    return p
        else:
            for p in reversed(proj.pipelines):
                if p["sha"] == sha and (ref is None or p["ref"] == ref):
                    return p
        return self.new_pipeline(proj, sha, ref or new_ref, "external")

    def pipeline_json(self, proj, p, detail=False):
        m = _std()
        d = {"id": p["id"], "iid": p["iid"], "project_id": p["project_id"], "sha": p["sha"],
             "ref": p["ref"], "status": p["status"], "source": p["source"],
             "created_at": m.fmt_ms(p["created_at"]), "updated_at": m.fmt_ms(p["created_at"]),
             "web_url": "%s/%s/-/pipelines/%d" % (self.s.base_url, proj.path_with_namespace,
                                                  p["id"])}
        if detail:
            d.update({"before_sha": "0" * 40, "tag": False, "yaml_errors": None,
                      "user": self.s.user("root").basic(), "started_at": None,
                      "finished_at": None, "committed_at": None, "duration": None,
                      "queued_duration": None, "coverage": None,
                      "detailed_status": {"icon": "status_" + p["status"], "text": p["status"],
                                          "label": p["status"], "group": p["status"]}})
        return d

    def head_pipeline_json(self, proj, mr):
        p = proj.mr_head_pipeline.get(mr.iid)
        return self.pipeline_json(proj, p, detail=True) if p else None

    # ---- labels ------------------------------------------------------------

    def label_rest(self, lab, project_label, group=None):
        return {"id": lab["id"], "name": lab["title"], "description": lab.get("description"),
                "description_html": lab.get("description") or "",
                "text_color": "#FFFFFF", "color": lab["color"], "open_issues_count": 0,
                "closed_issues_count": 0, "open_merge_requests_count": 0,
                "subscribed": False, "priority": None, "is_project_label": project_label,
                "archived": False}

    def new_label(self, body, project=None, group=None):
        m = _std()
        name = body.get("name")
        color = body.get("color")
        if not isinstance(name, str) or not name.strip():
            raise m.api_error(400, error="name is missing")
        if not isinstance(color, str) or not color:
            raise m.api_error(400, error="color is missing")
        if "," in name or len(name) > 255:
            raise m.api_error(400, {"title": ["is invalid"]})
        if not re.fullmatch(r"#[0-9A-Fa-f]{3}([0-9A-Fa-f]{3})?", color):
            raise m.api_error(400, {"color": ["must be a valid color code"]})
        with self.s.lock:
            store = project.labels if project is not None else group["labels"]
            if name in store:
                raise m.api_error(409, "Label already exists")
            ts = self.s.clock.now()
            lab = {"id": self.s.next_label_id, "title": name, "color": color,
                   "project_id": project.id if project is not None else None,
                   "created_at": ts, "updated_at": ts, "template": False,
                   "description": body.get("description"),
                   "type": "ProjectLabel" if project is not None else "GroupLabel",
                   "group_id": group["id"] if group is not None else None}
            self.s.next_label_id += 1
            store[name] = lab
            return lab


def _ms(v):
    return _std().parse_iso(v)


class FleetHandlers:
    """REST handlers mixed into standin.Handler."""

    # ---- groups ------------------------------------------------------------

    def group_for(self, seg):
        m = _std()
        tok = self.authenticate("rest_group")
        g = self.standin.fleet.find_group(seg)
        if tok is None or g is None:
            raise m.api_error(404, "404 Group Not Found")
        return g, tok

    def bool_param(self, name, default=None):
        v = self.q(name)
        if v is None or v == "":
            return default
        if v.lower() in ("true", "1", "yes", "t"):
            return True
        if v.lower() in ("false", "0", "no", "f"):
            return False
        raise _std().api_error(400, error="%s is invalid" % name)

    def rest_group(self, seg):
        g, _ = self.group_for(seg)
        return 200, self.standin.fleet.group_json(g), {}

    def rest_group_projects(self, seg):
        """GET /groups/:id/projects: include_subgroups (default false),
        archived (absent: both), topic (comma-separated, all must match),
        order_by created_at (default) or id, sort desc (default)."""
        s = self.standin
        f = s.fleet
        g, _ = self.group_for(seg)
        sub = self.bool_param("include_subgroups", False)
        archived = self.bool_param("archived", None)
        topics = [t.strip() for t in (self.q("topic") or "").split(",") if t.strip()]
        order_by = self.q("order_by", "created_at")
        if order_by not in ("id", "name", "path", "created_at", "updated_at",
                            "last_activity_at", "similarity", "star_count"):
            raise _std().api_error(400, error="order_by does not have a valid value")
        sort = self.q("sort", "desc")
        if sort not in ("asc", "desc"):
            raise _std().api_error(400, error="sort does not have a valid value")
        with s.lock:
            items = [p for p in s.projects.values()
                     if f.in_group(p, g, sub)
                     and (archived is None or p.archived == archived)
                     and all(t in p.topics for t in topics)]
            key = (lambda p: p.id) if order_by == "id" else \
                (lambda p: (p.path_with_namespace,)) if order_by in ("name", "path") else \
                (lambda p: (p.created_at, p.id))
            items.sort(key=key, reverse=sort == "desc")
            chunk, headers = self.paginate(items, "/api/v4/groups/%s/projects" % seg)
            body = [s.project_json(p) for p in chunk]
        return 200, body, headers

    def rest_group_mrs(self, seg):
        """GET /groups/:id/merge_requests: every project in the group and its
        subgroups; non_archived (default true) leaves archived projects out."""
        s = self.standin
        f = s.fleet
        m = _std()
        g, _ = self.group_for(seg)
        state = self.q("state", "all")
        if state not in ("opened", "closed", "locked", "merged", "all"):
            raise m.api_error(400, error="state does not have a valid value")
        order_by = self.q("order_by", "created_at")
        if order_by not in ("created_at", "updated_at", "merged_at", "title"):
            raise m.api_error(400, error="order_by does not have a valid value")
        sort = self.q("sort", "desc")
        if sort not in ("asc", "desc"):
            raise m.api_error(400, error="sort does not have a valid value")
        bounds = {}
        for name in ("updated_after", "updated_before"):
            v = self.q(name)
            if v is not None:
                try:
                    bounds[name] = _ms(v)
                except ValueError:
                    raise m.api_error(400, error="%s is invalid" % name)
        non_archived = self.bool_param("non_archived", True)
        with s.lock:
            items = []
            for p in s.projects.values():
                if not f.in_group(p, g, True) or (non_archived and p.archived):
                    continue
                for mr in p.mr_list:
                    if state != "all" and mr.state != state:
                        continue
                    if "updated_after" in bounds and mr.updated_at < bounds["updated_after"]:
                        continue
                    if "updated_before" in bounds and mr.updated_at > bounds["updated_before"]:
                        continue
                    items.append(mr)
            keyf = {"updated_at": lambda x: (x.updated_at, x.id),
                    "merged_at": lambda x: (x.merged_at or 0, x.id),
                    "title": lambda x: (x.title.lower(), x.id)}.get(
                        order_by, lambda x: (x.created_at, x.id))
            items.sort(key=keyf, reverse=sort == "desc")
            chunk, headers = self.paginate(items, "/api/v4/groups/%s/merge_requests" % seg)
            body = [s.mr_json(x) for x in chunk]
        return 200, body, headers

    # ---- labels ------------------------------------------------------------

    def rest_group_labels(self, seg):
        g, _ = self.group_for(seg)
        f = self.standin.fleet
        with self.standin.lock:
            labs = [f.label_rest(lab, False) for a in f.ancestors(g)
                    for lab in a["labels"].values()]
        labs.sort(key=lambda x: x["name"].lower())
        chunk, headers = self.paginate(labs, "/api/v4/groups/%s/labels" % seg)
        return 200, chunk, headers

    def rest_group_label_create(self, seg):
        g, tok = self.group_for(seg)
        if tok.read_only:
            raise _std().api_error(403, "403 Forbidden")
        lab = self.standin.fleet.new_label(self.json_body(), group=g)
        return 201, self.standin.fleet.label_rest(lab, False), {}

    def rest_project_labels(self, seg):
        """Project labels and (include_ancestor_groups, default true) the
        labels of the project's groups."""
        s = self.standin
        f = s.fleet
        proj, _ = self.project_for(seg, "rest_project_labels")
        with s.lock:
            labs = [f.label_rest(lab, True) for lab in proj.labels.values()]
            if self.bool_param("include_ancestor_groups", True):
                for g in f.ancestors(f.group_of(proj)):
                    labs += [f.label_rest(lab, False) for lab in g["labels"].values()]
        labs.sort(key=lambda x: x["name"].lower())
        chunk, headers = self.paginate(labs, "/api/v4/projects/%s/labels" % seg)
        return 200, chunk, headers

    def rest_project_label_create(self, seg):
        proj, _ = self.project_for(seg, "rest_project_label_create", write=True)
        lab = self.standin.fleet.new_label(self.json_body(), project=proj)
        return 201, self.standin.fleet.label_rest(lab, True), {}

    # ---- permissions -------------------------------------------------------

    def maintainer_only(self, proj, tok):
        if self.standin.fleet.access_level(proj, tok.user) < 40:
            raise _std().api_error(403, "403 Forbidden")

    def rest_protected_branches(self, seg):
        proj, tok = self.project_for(seg, "rest_protected_branches")
        out = []
        for i, p in enumerate(proj.protected):
            lv = p.get("push_access_level", BRANCH_LEVELS.get(p["level"], 40))
            out.append({"id": 100 + i, "name": p["name"],
                        "push_access_levels": [{"id": 200 + i, "access_level": lv,
                                                "access_level_description": ACCESS_NAMES.get(lv, "Custom"),
                                                "deploy_key_id": None, "user_id": None,
                                                "group_id": None}],
                        "merge_access_levels": [{"id": 300 + i, "access_level": 40,
                                                 "access_level_description": "Maintainers",
                                                 "user_id": None, "group_id": None}],
                        "allow_force_push": False, "unprotect_access_levels": [],
                        "code_owner_approval_required": False, "inherited": False})
        chunk, headers = self.paginate(out, "/api/v4/projects/%s/protected_branches" % seg)
        return 200, chunk, headers

    def rest_protected_tags(self, seg):
        proj, tok = self.project_for(seg, "rest_protected_tags")
        out = []
        for i, t in enumerate(proj.protected_tags):
            lv = t["create_access_level"]
            out.append({"name": t["name"],
                        "create_access_levels": [{"id": 400 + i, "access_level": lv,
                                                  "access_level_description": ACCESS_NAMES.get(lv, "Custom"),
                                                  "user_id": None, "group_id": None,
                                                  "deploy_key_id": None}]})
        chunk, headers = self.paginate(out, "/api/v4/projects/%s/protected_tags" % seg)
        return 200, chunk, headers

    def rest_member(self, seg, uid):
        proj, tok = self.project_for(seg, "rest_member")
        s = self.standin
        user = next((u for u in s.users.values() if str(u.id) == uid), None)
        if user is None:
            raise _std().api_error(404, "404 Not found")
        lv = s.fleet.access_level(proj, user)
        if lv <= 0:
            raise _std().api_error(404, "404 Not found")
        d = user.basic()
        d.update({"access_level": lv, "created_at": "2024-01-01T00:00:00.000Z",
                  "expires_at": None, "membership_state": "active"})
        return 200, d, {}

    def rest_token_self(self):
        s = self.standin
        tok = self.authenticate("rest_token_self")
        if tok is None:
            raise _std().api_error(401, "401 Unauthorized")
        info = s.fleet.token_info.get(tok.token)
        if info is None:
            info = {"id": 1, "name": "token", "revoked": False, "created_at": None,
                    "description": None, "scopes": ["api"], "user_id": tok.user.id,
                    "last_used_at": None, "active": True, "expires_at": None}
        return 200, {k: v for k, v in info.items() if k != "admin"}, {}

    # ---- hooks -------------------------------------------------------------

    @staticmethod
    def hook_rest(h, extra):
        m = _std()
        d = {"id": h["id"], "url": h["url"], "created_at": m.fmt_ms(h.get("created_at", 0)),
             "push_events": h["push_events"], "tag_push_events": h.get("push_events", False),
             "merge_requests_events": h["merge_requests_events"],
             "repository_update_events": False, "enable_ssl_verification": True,
             "alert_status": "executable", "disabled_until": None,
             "url_variables": [], "custom_webhook_template": None}
        d.update(extra)
        return d

    def rest_project_hooks(self, seg):
        proj, tok = self.project_for(seg, "rest_project_hooks")
        self.maintainer_only(proj, tok)
        out = [self.hook_rest(h, {"project_id": proj.id, "issues_events": False,
                                  "note_events": False, "pipeline_events": False})
               for h in proj.hooks]
        chunk, headers = self.paginate(out, "/api/v4/projects/%s/hooks" % seg)
        return 200, chunk, headers

    def rest_group_hooks(self, seg):
        g, tok = self.group_for(seg)
        if g.get("members", {}).get(tok.user.username, 50) < 50:
            raise _std().api_error(403, "403 Forbidden")
        out = [self.hook_rest(h, {"group_id": g["id"], "project_events": h["project_events"]})
               for h in g["hooks"]]
        chunk, headers = self.paginate(out, "/api/v4/groups/%s/hooks" % seg)
        return 200, chunk, headers

    def rest_system_hooks(self):
        s = self.standin
        tok = self.authenticate("rest_system_hooks")
        if tok is None:
            raise _std().api_error(401, "401 Unauthorized")
        info = s.fleet.token_info.get(tok.token) or {}
        if not info.get("admin"):
            raise _std().api_error(403, "403 Forbidden")
        out = [self.hook_rest(h, {}) for h in s.fleet.system_hooks]
        chunk, headers = self.paginate(out, "/api/v4/hooks")
        return 200, chunk, headers

    # ---- pipelines ---------------------------------------------------------

    def rest_pipelines(self, seg):
        proj, _ = self.project_for(seg, "rest_pipelines")
        f = self.standin.fleet
        with self.standin.lock:
            items = sorted(proj.pipelines, key=lambda p: p["id"], reverse=True)
            chunk, headers = self.paginate(items, "/api/v4/projects/%s/pipelines" % seg)
            return 200, [f.pipeline_json(proj, p) for p in chunk], headers

    # ---- control -----------------------------------------------------------

    def fleet_control(self, m, parts, body):
        """/__control__/groups..., /__control__/system_hooks; None if not ours."""
        s = self.standin
        f = s.fleet
        err = _std().ctl_error
        if parts == ["groups"] and m == "POST":
            path = body.get("full_path")
            if not isinstance(path, str) or not re.fullmatch(r"[A-Za-z0-9_.][A-Za-z0-9_.\-]*(/[A-Za-z0-9_.][A-Za-z0-9_.\-]*)*", path):
                raise err(400, "full_path missing or invalid")
            g = f.ensure_group(path)
            return 201, f.group_json(g), {}
        if parts[:1] == ["groups"] and len(parts) >= 2:
            g = f.find_group(parts[1])
            if g is None:
                raise err(404, "no group %s" % parts[1])
            rest = parts[2:]
            if rest == ["hooks"] and m == "POST":
                h = f.new_hook(body, group=g)
                g["hooks"].append(h)
                return 201, h, {}
            if rest == ["members"] and m == "PUT":
                g.setdefault("members", {})[body.get("username") or "root"] = \
                    int(body.get("access_level", 40))
                return 200, {"ok": True}, {}
            if rest == ["labels"] and m == "GET":
                return 200, [f.label_rest(x, False) for x in g["labels"].values()], {}
        if parts == ["system_hooks"] and m == "DELETE":
            f.system_hooks = []
            return 204, None, {}
        if parts == ["system_hooks"] and m == "POST":
            h = f.new_hook(body)
            f.system_hooks.append(h)
            return 201, h, {}
        return None

    def fleet_control_project(self, proj, m, parts, body):
        """Per-project control routes of this module; None if not ours."""
        s = self.standin
        f = s.fleet
        err = _std().ctl_error
        if parts == ["attributes"] and m == "PUT":
            with s.lock:
                if "topics" in body:
                    proj.topics = list(body["topics"])
                if "archived" in body:
                    proj.archived = truthy(body["archived"])
            f.project_event(proj, "update")
            return 200, s.project_json(proj), {}
        if parts in (["rename"], ["transfer"]) and m == "POST":
            return self.fleet_move(proj, parts[0], body)
        if parts == [] and m == "DELETE":
            with s.lock:
                s.projects.pop(proj.id, None)
                s.projects_by_path.pop(proj.path_with_namespace, None)
            f.project_event(proj, "destroy")
            return 204, None, {}
        if parts == ["members"] and m == "PUT":
            proj.members[body.get("username") or "root"] = int(body.get("access_level", 40))
            return 200, {"ok": True}, {}
        if parts == ["protected_tags"] and m == "POST":
            name = body.get("name")
            if not name:
                raise err(400, "name required")
            with s.lock:
                proj.protected_tags = [t for t in proj.protected_tags if t["name"] != name]
                proj.protected_tags.append({"name": name, "create_access_level":
                                            int(body.get("create_access_level", 40))})
            return 201, {"name": name}, {}
        if parts == ["protected_branches", "access"] and m == "PUT":
            for p in proj.protected:
                if p["name"] == body.get("name"):
                    p["push_access_level"] = int(body.get("push_access_level", 40))
                    return 200, dict(p), {}
            raise err(404, "no protected branch %r" % body.get("name"))
        if parts == ["pipelines"] and m == "GET":
            with s.lock:
                return 200, [f.pipeline_json(proj, p) for p in proj.pipelines], {}
        if len(parts) == 3 and parts[0] == "merge_requests" and parts[2] == "pipeline" \
                and m == "POST":
            if not parts[1].isdigit() or int(parts[1]) not in proj.mrs:
                raise err(404, "no merge request !%s" % parts[1])
            mr = proj.mrs[int(parts[1])]
            ref = body.get("ref") or "refs/merge-requests/%d/head" % mr.iid
            p = f.new_pipeline(proj, body.get("sha") or mr.sha, ref,
                               body.get("source") or "merge_request_event")
            proj.mr_head_pipeline[mr.iid] = p
            return 201, f.pipeline_json(proj, p), {}
        return None

    def fleet_move(self, proj, how, body):
        s = self.standin
        f = s.fleet
        err = _std().ctl_error
        if how == "rename":
            new = proj.namespace + "/" + (body.get("path") or "")
        else:
            new = (body.get("namespace") or "") + "/" + proj.name
        if not re.fullmatch(r"[A-Za-z0-9_.][A-Za-z0-9_.\-]*(/[A-Za-z0-9_.][A-Za-z0-9_.\-]*)+", new):
            raise err(400, "bad new path %r" % new)
        with s.lock:
            if new in s.projects_by_path:
                raise err(409, "project %s exists" % new)
            old = proj.path_with_namespace
            s.projects_by_path.pop(old, None)
            proj.path_with_namespace = new
            proj.name = new.rsplit("/", 1)[-1]
            proj.namespace = new.rsplit("/", 1)[0]
            s.projects_by_path[new] = proj
        f.ensure_group(proj.namespace)
        f.project_event(proj, how, old_path=old)
        return 200, s.project_json(proj), {}


ROUTES = [
    ("GET", r"/api/v4/groups/([^/]+)", "GET /api/v4/groups/:id", "rest_group"),
    ("GET", r"/api/v4/groups/([^/]+)/projects", "GET /api/v4/groups/:id/projects", "rest_group_projects"),
    ("GET", r"/api/v4/groups/([^/]+)/merge_requests", "GET /api/v4/groups/:id/merge_requests", "rest_group_mrs"),
    ("GET", r"/api/v4/groups/([^/]+)/labels", "GET /api/v4/groups/:id/labels", "rest_group_labels"),
    ("POST", r"/api/v4/groups/([^/]+)/labels", "POST /api/v4/groups/:id/labels", "rest_group_label_create"),
    ("GET", r"/api/v4/groups/([^/]+)/hooks", "GET /api/v4/groups/:id/hooks", "rest_group_hooks"),
    ("GET", r"/api/v4/projects/([^/]+)/labels", "GET /api/v4/projects/:id/labels", "rest_project_labels"),
    ("POST", r"/api/v4/projects/([^/]+)/labels", "POST /api/v4/projects/:id/labels", "rest_project_label_create"),
    ("GET", r"/api/v4/projects/([^/]+)/protected_branches", "GET /api/v4/projects/:id/protected_branches", "rest_protected_branches"),
    ("GET", r"/api/v4/projects/([^/]+)/protected_tags", "GET /api/v4/projects/:id/protected_tags", "rest_protected_tags"),
    ("GET", r"/api/v4/projects/([^/]+)/members/all/([0-9]+)", "GET /api/v4/projects/:id/members/all/:user_id", "rest_member"),
    ("GET", r"/api/v4/projects/([^/]+)/hooks", "GET /api/v4/projects/:id/hooks", "rest_project_hooks"),
    ("GET", r"/api/v4/projects/([^/]+)/pipelines", "GET /api/v4/projects/:id/pipelines", "rest_pipelines"),
    ("GET", r"/api/v4/personal_access_tokens/self", "GET /api/v4/personal_access_tokens/self", "rest_token_self"),
    ("GET", r"/api/v4/hooks", "GET /api/v4/hooks", "rest_system_hooks"),
]
