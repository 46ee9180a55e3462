"""The repository settings file (.gitlab/semver-tagger.conf, issue 13) in
the daemon: read from the mirror, over the daemon's settings, taking
effect on the next cycle after it lands; a bad or hostile file blocks only
its project with file:line:key, in the log, /metrics and as a failed
status on the commit that changed it."""

from harness import DaemonTest, Project, wait_for

CONF = ".gitlab/semver-tagger.conf"


class RepoFile(DaemonTest):
    def cycle(self, d, p, n):
        """Trigger a reconciliation with a merge webhook and wait for it."""
        before = d.cycles(p.path)
        mr = p.mr("Change %d" % n, ["ImpactPatch"])
        d.send(p, mr["iid"], "merge")
        wait_for(lambda: d.cycles(p.path) > before, what="a cycle of " + p.path)

    def test_version_file_from_the_first_release(self):
        p = Project(self.standin, "grp/vf", files={
            "VERSION": "1.0.0-SNAPSHOT\n",
            CONF: "# release settings\nbuild_system = version-file\n"})
        p.mr("Feature", ["ImpactMinor"])
        self.daemon([p])
        wait_for(lambda: p.tags() == ["0.1.0"], what="tag 0.1.0")
        self.assertEqual(p.show("0.1.0", "VERSION").strip(), "0.1.0")
        wait_for(lambda: p.show("main", "VERSION").strip() == "0.2.0-SNAPSHOT",
                 what="the prep commit")

    def test_switch_and_bad_files_block_only_their_project(self):
        p = Project(self.standin, "grp/switch", files={"VERSION": "0.0.0\n"})
        other = Project(self.standin, "grp/other")
        d = self.daemon([p, other])
        wait_for(lambda: d.cycles(p.path) >= 1 and d.cycles(other.path) >= 1,
                 what="the first cycles")
        p.commit("main", {CONF: "build_system = version-file\n"})
        self.cycle(d, p, 1)   # fetches the change: still the old settings
        self.assertEqual(p.tags(), ["0.0.1"])
        self.cycle(d, p, 2)   # the next cycle follows the file
        wait_for(lambda: "0.0.2" in p.tags(), what="tag 0.0.2")
        self.assertEqual(p.show("0.0.2", "VERSION").strip(), "0.0.2")
        self.assertEqual(p.show("0.0.1", "VERSION").strip(), "0.0.0")

        bad = p.commit("main", {CONF: "build_system = version-file\n"
                                      "api_url = http://127.0.0.1:1/api/v4\n"},
                       message="point the API elsewhere")
        self.cycle(d, p, 3)
        self.cycle(d, p, 4)
        want = CONF + ":2: key 'api_url' is not allowed in a repository file"
        wait_for(lambda: d.find_log(want), what="the refusal in the log")
        wait_for(lambda: [s["status"] for s in p.s.ctl("GET", p.c("/statuses"))
                          if s["sha"] == bad and s["name"] == "semver-tagger"] == ["failed"],
                 what="the failed status on the commit that changed the file")
        tags = p.tags()
        self.assertEqual(tags, ["0.0.1", "0.0.2", "0.0.3"])  # 0.0.3: the cycle that fetched it
        self.assertGreaterEqual(d.metric("semver_tagger_cycle_errors_total",
                                         project=p.path, **{"class": "config"}), 1)
        # the other project still releases
        mr = other.mr("Fix", ["ImpactPatch"])
        d.send(other, mr["iid"], "merge")
        wait_for(lambda: other.tags() == ["0.0.1"], what="the other project's release")

        p.commit("main", {CONF: "token_file = /etc/shadow\n"})
        self.cycle(d, p, 5)
        self.cycle(d, p, 6)
        wait_for(lambda: d.find_log(CONF + ":1: key 'token_file' is not allowed"),
                 what="the token refusal")
        p.commit("main", {CONF: "\n\nbuild_system = gradle\n"})
        self.cycle(d, p, 7)
        self.cycle(d, p, 8)
        wait_for(lambda: d.find_log(CONF + ":3: build_system 'gradle' is not one of"),
                 what="file:line of a broken value")
        self.assertNotIn("/etc/shadow", p.s.ctl("GET", "/__control__/requests").__repr__())
