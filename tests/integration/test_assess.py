"""semver-tagger --assess against the stand-in (issue 13): every broken
permission gets named with its fix, the exit status says whether the
projects can be released, and nothing is ever written to GitLab."""

import json
import os
import subprocess
import unittest

from harness import TOKEN, OnceTest, Project, binary

LABELS = ("ImpactMajor", "ImpactMinor", "ImpactPatch")


class AssessTest(OnceTest):
    def setUp(self):
        super().setUp()
        self.tokfile = os.path.join(self.tmp, "token")
        with open(self.tokfile, "w") as f:
            f.write(TOKEN + "\n")

    def good_project(self, path="grp/app"):
        p = Project(self.standin, path)
        for name in LABELS:
            self.api("POST", "/projects/%d/labels" % p.id,
                     {"name": name, "color": "#428bca"})
        self.standin.ctl("POST", p.c("/hooks"),
                         {"url": "http://127.0.0.1:9/webhook"})
        return p

    def api(self, method, path, body):
        import urllib.request
        import urllib.error
        req = urllib.request.Request(self.standin.api + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("PRIVATE-TOKEN", TOKEN)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def config(self, extra="", projects=("grp/app",)):
        path = os.path.join(self.tmp, "semver-tagger.conf")
        with open(path, "w") as f:
            f.write("[global]\napi_url = %s\ntoken_file = %s\n%s\n" %
                    (self.standin.api, self.tokfile, extra))
            for p in projects:
                f.write('[project "%s"]\n' % p)
        return path

    def assess(self, conf, *args):
        self.standin.ctl("DELETE", "/__control__/counters")
        proc = subprocess.run([binary(), "--assess", "-c", conf] + list(args),
                              capture_output=True, text=True, timeout=120,
                              env={"PATH": os.environ.get("PATH", "/bin"),
                                   "HOME": self.tmp})
        self.assertNotIn(TOKEN, proc.stdout + proc.stderr)
        reqs = self.standin.ctl("GET", "/__control__/requests")
        self.assertTrue(reqs)
        self.assertEqual([r["route"] for r in reqs if r["method"] != "GET"], [],
                         "--assess must post nothing")
        return proc

    def problems(self, proc):
        js = json.loads(proc.stdout)
        return [(p["check"], p["severity"], p["problem"], p["fix"])
                for pr in js["projects"] for p in pr["problems"]]

    def test_all_good_exits_0(self):
        self.good_project()
        proc = self.assess(self.config(), "--json")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        js = json.loads(proc.stdout)
        self.assertTrue(js["releasable"])
        self.assertEqual(js["projects"][0]["project"], "grp/app")
        self.assertEqual(js["projects"][0]["problems"], [])
        table = self.assess(self.config())
        self.assertEqual(table.returncode, 0)
        self.assertRegex(table.stdout, r"grp/app\s+ok")

    def assert_one_error(self, proc, check, *needles):
        self.assertEqual(proc.returncode, 65, proc.stdout + proc.stderr)
        errs = [p for p in self.problems(proc) if p[1] == "error"]
        self.assertEqual(len(errs), 1, errs)
        self.assertEqual(errs[0][0], check)
        for n in needles:
            self.assertIn(n, errs[0][2] + " -> " + errs[0][3])
        return errs[0]

    def test_token_without_api_scope(self):
        self.good_project()
        self.standin.ctl("POST", "/__control__/tokens",
                         {"token": TOKEN, "username": "semver-bot",
                          "scopes": ["read_api", "read_repository"],
                          "name": "ro-token"})
        self.assert_one_error(self.assess(self.config(), "--json"), "token",
                              "ro-token", "not api", "api scope")

    def test_expired_token(self):
        self.good_project()
        self.standin.ctl("POST", "/__control__/tokens",
                         {"token": TOKEN, "username": "semver-bot",
                          "expires_at": "2001-02-03"})
        self.assert_one_error(self.assess(self.config(), "--json"), "token",
                              "GitLab refuses the token", "create a new access token")

    def test_token_expiring_soon_is_a_warning(self):
        import datetime
        self.good_project()
        soon = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
        self.standin.ctl("POST", "/__control__/tokens",
                         {"token": TOKEN, "username": "semver-bot", "expires_at": soon})
        proc = self.assess(self.config(), "--json")
        self.assertEqual(proc.returncode, 0)
        self.assertIn(("token", "warning"), [p[:2] for p in self.problems(proc)])

    def test_role_too_low(self):
        p = self.good_project()
        self.standin.ctl("PUT", p.c("/members"),
                         {"username": "semver-bot", "access_level": 20})
        self.assert_one_error(self.assess(self.config(), "--json"), "role",
                              "semver-bot is Reporter", "Maintainer role")

    def test_protected_tags_for_maintainers_and_developer_role(self):
        p = self.good_project()
        self.standin.ctl("POST", p.c("/protected_tags"),
                         {"name": "v*", "create_access_level": 40})
        self.standin.ctl("PUT", p.c("/members"),
                         {"username": "semver-bot", "access_level": 30})
        # main and release/* are protected with Maintainer push as well
        proc = self.assess(self.config("tag_prefix = v"), "--json")
        self.assertEqual(proc.returncode, 65)
        errs = [p for p in self.problems(proc) if p[1] == "error"]
        self.assertIn("tag v1.0.0 is protected (create allowed: Maintainer) "
                      "and semver-bot is Developer", [e[2] for e in errs])
        self.assertTrue(any("branch main is protected" in e[2] for e in errs))
        self.assertTrue(any("branch release/1 is protected" in e[2] for e in errs))

    def test_protected_tag_no_one(self):
        p = self.good_project()
        self.standin.ctl("POST", p.c("/protected_tags"),
                         {"name": "*", "create_access_level": 0})
        self.assert_one_error(self.assess(self.config(), "--json"), "role",
                              "tag 1.0.0 is protected (create allowed: no one)",
                              "Protected tags allow Maintainers to create")

    def test_release_branches_no_one_may_push(self):
        p = self.good_project()
        p.protect("release/*", "no_push")
        self.standin.ctl("PUT", p.c("/protected_branches/access"),
                         {"name": "release/*", "push_access_level": 0})
        proc = self.assess(self.config(), "--json")
        self.assertEqual(proc.returncode, 65)
        errs = [e[2] for e in self.problems(proc) if e[1] == "error"]
        self.assertEqual(sorted(errs), [
            "branch release/1 is protected (push allowed: no one) and semver-bot is Maintainer",
            "branch release/1.0 is protected (push allowed: no one) and semver-bot is Maintainer"])

    def push_rule(self, p, **rule):
        self.standin.ctl("PUT", p.c("/push_rule"), rule)

    def test_push_rule_unsigned_commits(self):
        p = self.good_project()
        self.push_rule(p, reject_unsigned_commits=True)
        self.assert_one_error(self.assess(self.config(), "--json"), "push-rule",
                              "rejects unsigned commits", "signing key")

    def test_push_rule_commit_message_regex(self):
        p = self.good_project()
        self.push_rule(p, commit_message_regex="^(feat|fix|chore): ")
        self.assert_one_error(self.assess(self.config(), "--json"), "push-rule",
                              "pattern '^(feat|fix|chore): ' rejects "
                              "semver-tagger's commit \"Release 1.2.0\"")
        self.push_rule(p, commit_message_regex="^(Release|Prepare|Merge) ")
        self.assertEqual(self.assess(self.config(), "--json").returncode, 0)

    def test_push_rule_committer_check(self):
        p = self.good_project()
        self.push_rule(p, commit_committer_check=True)
        self.assert_one_error(self.assess(self.config(), "--json"), "push-rule",
                              "checks the committer (email)",
                              "semver-tagger <semver-tagger@localhost>", "git_email")

    def test_push_rule_branch_names(self):
        p = self.good_project()
        self.push_rule(p, branch_name_regex="^(main|feature/.*)$")
        self.assert_one_error(self.assess(self.config(), "--json"), "push-rule",
                              "rejects branch release/1")

    def test_missing_labels(self):
        p = Project(self.standin, "grp/app")
        self.standin.ctl("POST", p.c("/hooks"), {"url": "http://127.0.0.1:9/webhook"})
        self.api("POST", "/projects/%d/labels" % p.id, {"name": "ImpactMajor", "color": "#ff0000"})
        proc = self.assess(self.config(), "--json")
        self.assertEqual(proc.returncode, 65)
        errs = [e for e in self.problems(proc) if e[1] == "error"]
        self.assertEqual([e[0] for e in errs], ["labels", "labels"])
        self.assertIn("no label for minor impact", errs[0][2])
        self.assertIn("create label 'ImpactMinor'", errs[0][3])

    def test_group_labels_count(self):
        p = Project(self.standin, "grp/sub/app")
        self.standin.ctl("POST", p.c("/hooks"), {"url": "http://127.0.0.1:9/webhook"})
        for name in LABELS:
            self.assertEqual(self.api("POST", "/groups/grp/labels",
                                      {"name": name, "color": "#ff0000"}), 201)
        proc = self.assess(self.config(projects=("grp/sub/app",)), "--json")
        self.assertEqual(proc.returncode, 0, proc.stdout)

    def test_no_webhook_is_a_warning_group_hook_counts(self):
        p = Project(self.standin, "grp/app")
        for name in LABELS:
            self.api("POST", "/projects/%d/labels" % p.id, {"name": name, "color": "#428bca"})
        proc = self.assess(self.config(), "--json")
        self.assertEqual(proc.returncode, 0)
        self.assertIn(("webhook", "warning"), [e[:2] for e in self.problems(proc)])
        self.standin.ctl("POST", "/__control__/groups/grp/hooks",
                         {"url": "http://127.0.0.1:9/webhook", "merge_requests_events": True})
        proc = self.assess(self.config(), "--json")
        self.assertEqual(self.problems(proc), [])

    def test_group_discovery_and_project_filter(self):
        self.good_project("team/a")
        self.good_project("team/sub/b")
        arch = self.good_project("team/old")
        self.standin.ctl("PUT", arch.c("/attributes"), {"archived": True})
        conf = self.config('[group "team"]\n', projects=())
        proc = self.assess(conf, "--json")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        names = sorted(p["project"] for p in json.loads(proc.stdout)["projects"])
        self.assertEqual(names, ["team/a", "team/sub/b"])
        proc = self.assess(conf, "--json", "--project", "team/sub/b")
        self.assertEqual([p["project"] for p in json.loads(proc.stdout)["projects"]],
                         ["team/sub/b"])
        proc = self.assess(conf, "--project", "team/nope")
        self.assertEqual(proc.returncode, 78)


if __name__ == "__main__":
    unittest.main()
