"""The daemon's preflight (issue 13, item 6): before a project's first
release the daemon runs the --assess checks on a worker; a project the
bot cannot release is not released (no tag ever pushed), said once in the
log, counted in /metrics and listed in /healthz, and assessed again at
each poll until it passes; the assessment itself only reads (GET)."""

import json
import urllib.request

from harness import TOKEN, DaemonTest, Project, wait_for

LABELS = ("ImpactMajor", "ImpactMinor", "ImpactPatch")
TOKEN_SELF = "GET /api/v4/personal_access_tokens/self"
BLOCKED = "preflight: not released until fixed"


class PreflightDaemon(DaemonTest):
    def project(self, path="grp/app"):
        p = Project(self.standin, path)
        for name in LABELS:  # so the daemon's label pass writes nothing
            req = urllib.request.Request(
                "%s/projects/%d/labels" % (self.standin.api, p.id),
                method="POST", data=json.dumps({"name": name, "color": "#428bca"}).encode(),
                headers={"PRIVATE-TOKEN": TOKEN, "Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=30).close()
        return p

    def requests(self):
        return self.standin.ctl("GET", "/__control__/requests")

    def healthz(self, d):
        status, body = d.get("/healthz")
        return status, json.loads(body)

    def gauge(self, d, p, severity):
        return d.metric("semver_tagger_assessment_problems", project=p.path,
                        severity=severity)

    def test_unreleasable_project_blocked_said_once_then_released_when_fixed(self):
        p = self.project()
        p.mr("Feature", ["ImpactMinor"])
        # no role may create any tag: the release would push nothing
        # (or, with a release branch, fail half-way)
        self.standin.ctl("POST", p.c("/protected_tags"),
                         {"name": "*", "create_access_level": 0})
        self.standin.ctl("DELETE", "/__control__/counters")
        d = self.daemon([p], poll_interval=1)
        wait_for(lambda: d.metric("semver_tagger_cycles_total", project=p.path,
                                  result="refused") >= 3,
                 what="three polls refused by the preflight")
        self.assertEqual(p.tags(), [])
        lines = d.find_log(BLOCKED)
        self.assertEqual(len(lines), 1, d.logs())
        self.assertIn("grp/app: ", lines[0])
        self.assertIn("role: tag 1.0.0 is protected (create allowed: no one)",
                      lines[0])
        self.assertIn("fix: in Settings > Repository > Protected tags allow "
                      "Maintainers to create", lines[0])
        # the line ends with its last problem's fix (the webhook warning)
        self.assertTrue(lines[0].endswith("or a System Hook)"), lines[0])
        self.assertEqual(self.gauge(d, p, "error"), 1)
        status, h = self.healthz(d)
        # refused for a reason a person must fix: healthy, but named
        self.assertEqual(status, 200, h)
        self.assertEqual([b["project"] for b in h["preflight"]], ["grp/app"])
        self.assertIn("tag 1.0.0 is protected", h["preflight"][0]["reason"])
        self.assertEqual(h["preflight"][0]["errors"], 1)
        reqs = self.requests()
        self.assertGreaterEqual(
            len([r for r in reqs if r["route"] == TOKEN_SELF]), 3,
            "assessed again at every poll")
        self.assertEqual([r["route"] for r in reqs if r["method"] != "GET"], [],
                         "the preflight only reads")

        # the protection fixed on GitLab: the next poll passes and releases
        self.standin.ctl("POST", p.c("/protected_tags"),
                         {"name": "*", "create_access_level": 40})
        wait_for(lambda: p.tags() == ["0.1.0"], what="the release after the fix")
        wait_for(lambda: d.find_log("grp/app: preflight: assessment passed"),
                 what="the all-clear")
        self.assertEqual(self.gauge(d, p, "error"), 0)
        self.assertEqual(self.healthz(d)[1]["preflight"], [])
        # passed: later polls do not assess again, nor say it again
        n = len([r for r in self.requests() if r["route"] == TOKEN_SELF])
        c = d.cycles(p.path)
        wait_for(lambda: d.cycles(p.path) >= c + 2, what="two more polls")
        self.assertEqual(len([r for r in self.requests()
                              if r["route"] == TOKEN_SELF]), n)
        self.assertEqual(len(d.find_log("assessment passed")), 1, d.logs())
        self.assertEqual(len(d.find_log(BLOCKED)), 1, d.logs())

    def test_clean_project_releases_and_a_reload_keeps_the_pass(self):
        p = self.project()
        mr = p.mr("Feature", ["ImpactMinor"])
        self.standin.ctl("DELETE", "/__control__/counters")
        d = self.daemon([p])
        wait_for(lambda: p.tags() == ["0.1.0"], what="the release")
        reqs = self.requests()
        first = [i for i, r in enumerate(reqs) if r["route"] == TOKEN_SELF]
        self.assertEqual(len(first), 1, "assessed once, before the release")
        writes = [i for i, r in enumerate(reqs) if r["method"] != "GET"]
        self.assertTrue(writes)
        self.assertLess(first[0], writes[0], "the preflight comes first")
        self.assertEqual(d.find_log(BLOCKED), [])
        self.assertEqual(self.gauge(d, p, "error"), 0)
        # a reload with the same settings: reconciled, not assessed again
        c = d.cycles(p.path)
        d.kill(__import__("signal").SIGHUP)
        wait_for(lambda: d.cycles(p.path) > c, what="the reload's cycle")
        self.assertEqual(len([r for r in self.requests()
                              if r["route"] == TOKEN_SELF]), 1)
        self.assertTrue(mr)

    def test_refused_token_makes_healthz_unhealthy(self):
        p = self.project()
        p.mr("Feature", ["ImpactMinor"])
        self.standin.ctl("POST", "/__control__/tokens",
                         {"token": TOKEN, "username": "semver-bot",
                          "scopes": ["read_api", "read_repository"],
                          "name": "ro-token"})
        d = self.daemon([p])
        wait_for(lambda: d.find_log(BLOCKED), what="the preflight's refusal")
        line = d.find_log(BLOCKED)[0]
        self.assertIn("token: token 'ro-token' has scopes", line)
        status, h = wait_for(lambda: (lambda s: s if s[0] == 503 else None)(
            self.healthz(d)), what="/healthz 503")
        self.assertEqual([x["project"] for x in h["problems"]], ["grp/app"])
        self.assertIn("preflight: token", h["problems"][0]["reason"])
        self.assertEqual([b["project"] for b in h["preflight"]], ["grp/app"])
        self.assertEqual(p.tags(), [])

    def test_a_refused_write_makes_the_next_cycle_assess_again(self):
        p = self.project()
        p.mr("Fix", ["ImpactPatch"])
        d = self.daemon([p], poll_interval=1)
        wait_for(lambda: p.tags() == ["0.0.1"], what="the first release")
        assessed = len([r for r in self.requests() if r["route"] == TOKEN_SELF])
        self.assertEqual(assessed, 1)
        # the permissions change, the settings do not: the next release's
        # branch push is refused, and the preflight is asked again
        self.standin.ctl("PUT", p.c("/push_rule"), {"branch_name_regex": "^main$"})
        p.mr("Feature", ["ImpactMinor"])
        wait_for(lambda: d.find_log(BLOCKED), what="the preflight naming it")
        line = d.find_log(BLOCKED)[0]
        self.assertIn("push-rule: ", line)
        self.assertIn("^main$", line)
        c = d.cycles(p.path)
        wait_for(lambda: d.cycles(p.path) >= c + 2, what="two more polls")
        self.assertEqual(len(d.find_log(BLOCKED)), 1, d.logs())
        self.assertEqual(self.gauge(d, p, "error"), 1)
        self.standin.ctl("PUT", p.c("/push_rule"), {"branch_name_regex": ""})
        wait_for(lambda: "0.1.0" in p.tags(), what="the release after the fix")
        wait_for(lambda: p.heads().get("release/0.1"), what="its branch")
        self.assertEqual(self.gauge(d, p, "error"), 0)

    def test_group_projects_are_assessed_each_on_its_own(self):
        good = self.project("plat/good")
        bad = self.project("plat/sub/bad")
        for p in (good, bad):
            p.mr("Fix", ["ImpactPatch"])
        self.standin.ctl("PUT", bad.c("/push_rule"), {"reject_unsigned_commits": True})
        d = self.daemon([], global_extra='[group "plat"]\n')
        wait_for(lambda: good.tags() == ["0.0.1"], what="the good project's release")
        wait_for(lambda: d.find_log("plat/sub/bad: " + BLOCKED),
                 what="the other project held back")
        self.assertIn("push-rule:", d.find_log(BLOCKED)[0])
        self.assertEqual(len(d.find_log(BLOCKED)), 1, d.logs())
        self.assertEqual(bad.tags(), [])
        self.assertEqual(self.gauge(d, bad, "error"), 1)
        self.assertEqual(self.gauge(d, good, "error"), 0)
        status, h = self.healthz(d)
        self.assertEqual(status, 200, h)
        self.assertEqual([b["project"] for b in h["preflight"]], ["plat/sub/bad"])


if __name__ == "__main__":
    import unittest
    unittest.main()
