"""The state directory's caches (project facts, MR cache) never decide a
release on their own (issue 8, docs/performance.md): a stale cached
project is caught by the fetch or the MR listing and asked for again."""
import json
import os

from harness import OnceTest, Project


def counters(standin):
    return standin.ctl("GET", "/__control__/counters")


def reset_counters(standin):
    standin.ctl("DELETE", "/__control__/counters")


class ProjectCache(OnceTest):
    def cache_file(self, p):
        return os.path.join(self.state, "projects", str(p.id),
                            "project.cache")

    def test_steady_state_is_one_api_request(self):
        p = Project(self.standin)
        p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(self.run_once(p).code, 0)
        self.assertEqual(p.tags(), ["0.1.0"])
        reset_counters(self.standin)
        r = self.run_once(p, "--json")
        self.assertEqual(r.code, 0, r.err)
        c = counters(self.standin)
        api = {k: v for k, v in c.items() if " /api/" in k}
        self.assertEqual(api, {"GET /api/v4/projects/:id/merge_requests": 1})
        self.assertNotIn("POST /:project.git/git-upload-pack", c)
        self.assertEqual(r.json["api_requests"], 1)

    def test_renamed_project_cache_is_not_trusted(self):
        # The cache says the project lives at the path where another
        # project now is (a rename, then a new project at the old path):
        # fetching there works and its HEAD is "main" too. The MR listing
        # (by id) shows the real path; the tool asks again and releases
        # the right repository.
        other = Project(self.standin, path="group/app")
        other.mr("Other's change", ["ImpactMajor"])
        p = Project(self.standin, path="group/app-renamed")
        p.mr("Fix", ["ImpactPatch"])
        self.assertEqual(self.run_once(p).code, 0)
        self.assertEqual(p.tags(), ["0.0.1"])
        with open(self.cache_file(p)) as f:
            magic = f.readline()
            cached = json.loads(f.read())
        for k in ("http_url_to_repo", "web_url"):
            cached[k] = cached[k].replace("group/app-renamed", "group/app")
        cached["path_with_namespace"] = "group/app"
        with open(self.cache_file(p), "w") as f:
            f.write(magic + json.dumps(cached))
        p.mr("Feature", ["ImpactMinor"])
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.0.1", "0.1.0"])
        self.assertEqual(other.tags(), [])
        with open(self.cache_file(p)) as f:
            f.readline()
            self.assertIn("group/app-renamed.git",
                          json.loads(f.read())["http_url_to_repo"])

    def test_cached_default_branch_checked_against_head(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        self.assertEqual(self.run_once(p).code, 0)
        with open(self.cache_file(p)) as f:
            magic = f.readline()
            cached = json.loads(f.read())
        # a branch that exists, but is not the default branch
        p.branch("develop", "main")
        cached["default_branch"] = "develop"
        with open(self.cache_file(p), "w") as f:
            f.write(magic + json.dumps(cached))
        p.mr("Feature", ["ImpactMinor"])
        reset_counters(self.standin)
        r = self.run_once(p, "--json")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(r.json["default_branch"], "main")
        self.assertEqual(p.tags(), ["0.0.1", "0.1.0"])
        self.assertEqual(counters(self.standin)
                         .get("GET /api/v4/projects/:id"), 1)

    def test_damaged_caches_cost_requests_not_releases(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        self.assertEqual(self.run_once(p).code, 0)
        d = os.path.join(self.state, "projects", str(p.id))
        for name in ("project.cache", "merge-requests.cache"):
            with open(os.path.join(d, name), "r+b") as f:
                f.seek(40)
                f.write(b"\x00garbage\x00")
        p.mr("Feature", ["ImpactMinor"])
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.0.1", "0.1.0"])
