#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tests of the stand-in's many-project model (tests/forge/standin_fleet.py):
groups, listings, System/group hooks, labels, permissions, tokens,
pipelines."""

import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_standin import Receiver, StandinCase, wait_until  # noqa: E402


def enc(path):
    return urllib.parse.quote(path, safe="")


class FleetCase(StandinCase):
    n = 0

    def fresh(self, prefix):
        FleetCase.n += 1
        return "%s%d" % (prefix, FleetCase.n)

    def merged_mr(self, p, branch="feat", labels=None):
        self.commit(p["id"], branch, {branch + ".txt": "x\n"}, start="main")
        mr = self.open_mr(p["id"], branch, labels=labels or [])
        self.c.ctl("POST", "/projects/%d/merge_requests/%d/merge" % (p["id"], mr["iid"]), {},
                   expect=200)
        return mr


class TestGroups(FleetCase):
    def setUp(self):
        super().setUp()
        self.root = self.fresh("org")
        self.c.ctl("POST", "/groups", {"full_path": self.root + "/a/b"}, expect=201)
        self.tmpl = self.project(path_with_namespace=self.root + "/a/tmpl", topics=["release"])
        self.p_b = self.project(path_with_namespace=self.root + "/a/b/x", clone_of=self.tmpl["id"],
                                topics=["release", "java"])
        self.p_arch = self.project(path_with_namespace=self.root + "/a/b/old", archived=True,
                                   topics=["release"])
        self.p_other = self.project(path_with_namespace=self.root + "/c/y")

    def test_group_fields_and_parents(self):
        st, _, g, _ = self.c.api("GET", "/groups/" + enc(self.root + "/a/b"))
        self.assertEqual(st, 200)
        self.assertEqual((g["full_path"], g["path"]), (self.root + "/a/b", "b"))
        st, _, parent, _ = self.c.api("GET", "/groups/%d" % g["parent_id"])
        self.assertEqual(parent["full_path"], self.root + "/a")
        self.assertEqual(self.c.api("GET", "/groups/" + enc(self.root + "/zz"))[0], 404)
        self.assertEqual(self.c.api("GET", "/groups/%d" % g["id"], token=None)[0], 404)

    def test_projects_subgroups_archived_topic(self):
        base = "/groups/%s/projects?per_page=100" % enc(self.root + "/a")
        names = lambda js: sorted(p["path_with_namespace"] for p in js)  # noqa: E731
        _, _, js, _ = self.c.api("GET", base)
        self.assertEqual(names(js), [self.root + "/a/tmpl"])
        _, _, js, _ = self.c.api("GET", base + "&include_subgroups=true")
        self.assertEqual(len(js), 3)
        _, _, js, _ = self.c.api("GET", base + "&include_subgroups=true&archived=false")
        self.assertEqual(names(js), [self.root + "/a/b/x", self.root + "/a/tmpl"])
        _, _, js, _ = self.c.api("GET", base + "&include_subgroups=true&topic=release,java")
        self.assertEqual(names(js), [self.root + "/a/b/x"])
        x = [p for p in js][0]
        self.assertEqual((x["topics"], x["archived"], x["namespace"]["full_path"]),
                         (["release", "java"], False, self.root + "/a/b"))
        self.assertEqual(self.c.api("GET", base + "&order_by=bogus")[0], 400)

    def test_clone_of_copies_history(self):
        self.assertEqual(self.head(self.p_b), self.head(self.tmpl))
        self.commit(self.p_b["id"], "main", {"f": "1\n"})
        self.assertNotEqual(self.head(self.p_b), self.head(self.tmpl))

    def test_share_repo_of_serves_one_repository(self):
        shared = self.project(path_with_namespace=self.root + "/c/shared",
                              share_repo_of=self.tmpl["id"])
        self.assertEqual(shared["repo_path"], self.tmpl["repo_path"])
        self.commit(self.tmpl["id"], "main", {"g": "1\n"})
        self.assertEqual(self.head(shared), self.head(self.tmpl))

    def test_group_merge_requests(self):
        m1 = self.merged_mr(self.tmpl, "f1")
        self.merged_mr(self.p_arch, "f2")
        self.merged_mr(self.p_other, "f3")
        _, now = self.c.ctl("GET", "/clock")
        m4 = self.merged_mr(self.p_b, "f4")
        q = "/groups/%s/merge_requests?state=merged&order_by=updated_at&sort=asc&per_page=1" % \
            enc(self.root + "/a")
        st, hd, js, _ = self.c.api("GET", q)
        self.assertEqual(st, 200)
        self.assertEqual([(m["project_id"], m["iid"]) for m in js], [(self.tmpl["id"], m1["iid"])])
        self.assertEqual((hd["X-Total"], hd["X-Next-Page"]), ("2", "2"))
        st, hd, js, _ = self.c.api("GET", q + "&updated_after=" + enc(now["now"]))
        self.assertEqual([(m["project_id"], m["iid"]) for m in js], [(self.p_b["id"], m4["iid"])])
        self.assertEqual(self.c.api("GET", q + "&updated_after=yesterday")[0], 400)

    def test_topics_archive_rename_transfer_delete(self):
        pid = self.p_other["id"]
        self.c.ctl("PUT", "/projects/%d/attributes" % pid, {"topics": ["t"], "archived": True},
                   expect=200)
        _, _, js, _ = self.c.api("GET", "/projects/%d" % pid)
        self.assertEqual((js["topics"], js["archived"]), (["t"], True))
        self.c.ctl("POST", "/projects/%d/rename" % pid, {"path": "renamed"}, expect=200)
        self.c.ctl("POST", "/projects/%d/transfer" % pid, {"namespace": self.root + "/a"},
                   expect=200)
        _, _, js, _ = self.c.api("GET", "/projects/%d" % pid)
        self.assertEqual(js["path_with_namespace"], self.root + "/a/renamed")
        self.assertEqual(self.c.api("GET", "/projects/" + enc(self.root + "/c/y"))[0], 404)
        self.c.ctl("DELETE", "/projects/%d" % pid, expect=204)
        self.assertEqual(self.c.api("GET", "/projects/%d" % pid)[0], 404)


class TestHooks(FleetCase):
    def setUp(self):
        super().setUp()
        self.rx = Receiver()
        self.root = self.fresh("hk")
        self.c.ctl("POST", "/groups", {"full_path": self.root + "/sub"}, expect=201)

    def tearDown(self):
        self.rx.close()

    def events(self, header):
        return [(h, b) for h, b in self.rx.got if h.get("X-Gitlab-Event") == header]

    def test_system_hook_project_events(self):
        _, h = self.c.ctl("POST", "/system_hooks", {"url": self.rx.url, "token": "s3"},
                          expect=201)
        p = self.project(path_with_namespace=self.root + "/sub/new")
        self.c.ctl("POST", "/projects/%d/rename" % p["id"], {"path": "newer"}, expect=200)
        self.c.ctl("POST", "/projects/%d/transfer" % p["id"], {"namespace": self.root},
                   expect=200)
        self.c.ctl("PUT", "/projects/%d/attributes" % p["id"], {"archived": True}, expect=200)
        self.c.ctl("DELETE", "/projects/%d" % p["id"], expect=204)
        got = wait_until(lambda: len(self.events("System Hook")) >= 5 and self.events("System Hook"))
        evs = [b for _, b in got if b.get("project_id") == p["id"]]
        self.assertEqual([b["event_name"] for b in evs],
                         ["project_create", "project_rename", "project_transfer",
                          "project_update", "project_destroy"])
        self.assertEqual(evs[1]["old_path_with_namespace"], self.root + "/sub/new")
        self.assertEqual(evs[2]["path_with_namespace"], self.root + "/newer")
        self.assertNotIn("old_path_with_namespace", evs[0])
        self.assertEqual(got[0][0]["X-Gitlab-Token"], "s3")
        self.c.ctl("DELETE", "/system_hooks", expect=204)

    def test_group_hook_project_and_mr_events(self):
        self.c.ctl("POST", "/groups/%s/hooks" % enc(self.root),
                   {"url": self.rx.url, "merge_requests_events": True}, expect=201)
        p = self.project(path_with_namespace=self.root + "/sub/q")
        self.merged_mr(p, "feat", labels=["Impact::Minor"])
        wait_until(lambda: self.events("Project Hook") and self.events("Merge Request Hook"))
        ph = self.events("Project Hook")
        self.assertEqual((ph[0][1]["event_name"], ph[0][1]["project_id"]),
                         ("project_create", p["id"]))
        mh = self.events("Merge Request Hook")
        self.assertEqual(mh[-1][1]["project"]["id"], p["id"])
        _, _, hooks, _ = self.c.api("GET", "/groups/%s/hooks" % enc(self.root))
        self.assertEqual(hooks[0]["url"], self.rx.url)
        self.assertNotIn("token", hooks[0])


class TestLabelsAndPermissions(FleetCase):
    def test_group_and_project_labels(self):
        root = self.fresh("lb")
        p = self.project(path_with_namespace=root + "/sub/p")
        st, _, lab, _ = self.c.api("POST", "/groups/%s/labels" % enc(root),
                                   body={"name": "Impact::Major", "color": "#ff0000",
                                         "description": "breaking"})
        self.assertEqual((st, lab["name"], lab["description"]), (201, "Impact::Major", "breaking"))
        self.assertEqual(self.c.api("POST", "/groups/%s/labels" % enc(root),
                                    body={"name": "Impact::Major", "color": "#ff0000"})[0], 409)
        self.assertEqual(self.c.api("POST", "/projects/%d/labels" % p["id"],
                                    body={"name": "x"})[0], 400)
        st, _, _, _ = self.c.api("POST", "/projects/%d/labels" % p["id"],
                                 body={"name": "Impact::Patch", "color": "#00ff00"})
        self.assertEqual(st, 201)
        _, _, labs, _ = self.c.api("GET", "/projects/%d/labels" % p["id"])
        self.assertEqual({(x["name"], x["is_project_label"]) for x in labs},
                         {("Impact::Major", False), ("Impact::Patch", True)})
        self.assertEqual(self.c.api("POST", "/projects/%d/labels" % p["id"], token="ro",
                                    body={"name": "y", "color": "#000000"})[0], 403)

    def test_protected_refs_members_token(self):
        p = self.project()
        self.c.ctl("POST", "/projects/%d/protected_branches" % p["id"],
                   {"name": "release/*", "level": "no_push"}, expect=201)
        self.c.ctl("POST", "/projects/%d/protected_tags" % p["id"],
                   {"name": "*", "create_access_level": 60}, expect=201)
        _, _, pb, _ = self.c.api("GET", "/projects/%d/protected_branches" % p["id"])
        self.assertEqual((pb[0]["name"], pb[0]["push_access_levels"][0]["access_level"]),
                         ("release/*", 0))
        _, _, pt, _ = self.c.api("GET", "/projects/%d/protected_tags" % p["id"])
        self.assertEqual(pt[0]["create_access_levels"][0]["access_level"], 60)
        _, _, me, _ = self.c.api("GET", "/user")
        self.c.ctl("PUT", "/projects/%d/members" % p["id"],
                   {"username": me["username"], "access_level": 30}, expect=200)
        _, _, m, _ = self.c.api("GET", "/projects/%d/members/all/%d" % (p["id"], me["id"]))
        self.assertEqual(m["access_level"], 30)
        _, _, proj, _ = self.c.api("GET", "/projects/%d" % p["id"])
        self.assertEqual(self.c.api("GET", "/projects/%d/hooks" % p["id"])[0], 403)
        self.c.ctl("POST", "/tokens", {"token": "exp", "scopes": ["read_api"],
                                       "expires_at": "2099-01-31"}, expect=201)
        _, _, t, _ = self.c.api("GET", "/personal_access_tokens/self", token="exp")
        self.assertEqual((t["scopes"], t["expires_at"], t["active"]),
                         (["read_api"], "2099-01-31", True))
        self.c.ctl("POST", "/tokens", {"token": "old", "expires_at": "2001-01-01"}, expect=201)
        self.assertEqual(self.c.api("GET", "/user", token="old")[0], 401)
        self.assertEqual(self.c.api("GET", "/hooks")[0], 403)
        self.c.ctl("POST", "/tokens", {"token": "adm", "admin": True}, expect=201)
        self.assertEqual(self.c.api("GET", "/hooks", token="adm")[0], 200)


class TestPipelines(FleetCase):
    def test_status_on_head_pipeline_makes_no_new_pipeline(self):
        p = self.project()
        sha = self.commit(p["id"], "feat", {"a": "1\n"}, start="main")
        mr = self.open_mr(p["id"], "feat")
        _, pipe = self.c.ctl("POST", "/projects/%d/merge_requests/%d/pipeline" %
                             (p["id"], mr["iid"]), {}, expect=201)
        _, _, full, _ = self.c.api("GET", "/projects/%d/merge_requests/%d" % (p["id"], mr["iid"]))
        self.assertEqual((full["head_pipeline"]["id"], full["head_pipeline"]["sha"]),
                         (pipe["id"], sha))
        st, _, s1, _ = self.c.api("POST", "/projects/%d/statuses/%s" % (p["id"], sha),
                                  body={"state": "success", "name": "semver-tagger",
                                        "pipeline_id": pipe["id"]})
        self.assertEqual((st, s1["pipeline_id"]), (201, pipe["id"]))
        _, pipes = self.c.ctl("GET", "/projects/%d/pipelines" % p["id"])
        self.assertEqual(len(pipes), 1)
        # With ref = source branch instead: GitLab finds no pipeline for that
        # ref and makes an "external" one.
        st, _, s2, _ = self.c.api("POST", "/projects/%d/statuses/%s" % (p["id"], sha),
                                  body={"state": "success", "name": "semver-tagger",
                                        "ref": "feat"})
        _, pipes = self.c.ctl("GET", "/projects/%d/pipelines" % p["id"])
        self.assertEqual([x["source"] for x in pipes], ["merge_request_event", "external"])
        self.assertEqual(s2["pipeline_id"], pipes[1]["id"])


if __name__ == "__main__":
    unittest.main()
