"""semver-tagger --once against the GitLab stand-in: one scenario per
workflow of the spec, each asserting on the refs and files of the served
bare repository."""
import json
import re
import os
import subprocess
import threading
import unittest

from harness import OnceTest, Project, TOKEN, binary

EX_DATAERR = 65


class FirstReleases(OnceTest):
    def test_first_release_from_no_tags(self):
        p = Project(self.standin)
        p.mr("Fix a bug", ["ImpactPatch"])
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        main = p.heads()["main"]
        self.assertEqual(p.tags(), ["0.0.1"])
        self.assertEqual(p.refs()["refs/tags/0.0.1"], main)
        self.assertEqual(p.heads()["release/0"], main)
        self.assertEqual(p.heads()["release/0.0"], main)
        self.assertIn("0.0.1", r.err + r.out)

    def test_mr_commit_missing_from_repository_is_not_new(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        # An MR record whose commit the repository does not have (an
        # imported MR, a deleted fork): not reachable, said at debug level.
        sha = "ab" * 20
        p.s.ctl("POST", p.c("/merge_requests/bulk"), {"merge_requests": [
            {"title": "Imported", "labels": [], "merge_commit_sha": sha}]})
        r = self.run_once(p, "-v")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.0.1"])
        self.assertIn("commit %s is not in the repository" % sha[:12], r.err)

    def test_nothing_new_is_nothing_to_do(self):
        p = Project(self.standin)
        p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(self.run_once(p).code, 0)
        before = p.refs()
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.refs(), before)

    def test_zero_x_rules(self):
        p = Project(self.standin)
        p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(self.run_once(p).code, 0)
        self.assertEqual(p.tags(), ["0.1.0"])
        p.mr("Breaking", ["ImpactMajor"])  # in 0.x: a minor bump
        self.assertEqual(self.run_once(p).code, 0)
        p.mr("Fix", ["Impact::Patch"])
        self.assertEqual(self.run_once(p).code, 0)
        self.assertEqual(p.tags(), ["0.1.0", "0.2.0", "0.2.1"])
        heads = p.heads()
        self.assertEqual(heads["release/0"], heads["main"])
        self.assertEqual(heads["release/0.2"], heads["main"])
        self.assertEqual(heads["release/0.1"], p.refs()["refs/tags/0.1.0"])

    def test_stable_release(self):
        p = Project(self.standin)
        p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(self.run_once(p).code, 0)
        r = self.run_once(p, STABLE_RELEASE="true")  # nothing new: 1.0.0
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.1.0", "1.0.0"])
        self.assertEqual(p.heads()["release/1"], p.heads()["main"])
        self.assertEqual(p.heads()["release/1.0"], p.heads()["main"])
        r = self.run_once(p, STABLE_RELEASE="1")  # changes nothing now
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.1.0", "1.0.0"])
        p.mr("Fix", ["ImpactPatch"])
        self.assertEqual(self.run_once(p, STABLE_RELEASE="yes").code, 0)
        self.assertEqual(p.tags(), ["0.1.0", "1.0.0", "1.0.1"])


class Workflow(OnceTest):
    def released(self, p, *labels_per_mr):
        for labels in labels_per_mr:
            p.mr("Change", labels)
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        return r

    def test_patch_minor_major_branch_effects(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        self.released(p, ["ImpactPatch"])
        h = p.heads()
        self.assertEqual(p.refs()["refs/tags/1.0.1"], h["main"])
        self.assertEqual(h["release/1"], h["main"])
        self.assertEqual(h["release/1.0"], h["main"])
        self.released(p, ["ImpactMinor"])
        h = p.heads()
        self.assertEqual(p.refs()["refs/tags/1.1.0"], h["main"])
        self.assertEqual(h["release/1"], h["main"])
        self.assertEqual(h["release/1.1"], h["main"])
        self.assertEqual(h["release/1.0"], p.refs()["refs/tags/1.0.1"])
        self.released(p, ["ImpactMajor"])
        h = p.heads()
        self.assertEqual(p.refs()["refs/tags/2.0.0"], h["main"])
        self.assertEqual(h["release/2"], h["main"])
        self.assertEqual(h["release/2.0"], h["main"])
        self.assertEqual(h["release/1"], p.refs()["refs/tags/1.1.0"])
        self.assertEqual(h["release/1.1"], p.refs()["refs/tags/1.1.0"])

    def test_several_mrs_highest_wins(self):
        p = Project(self.standin)
        p.tag("1.2.3", "main")
        self.released(p, ["ImpactPatch"], ["ImpactMinor"], ["ImpactPatch"])
        self.assertEqual(p.tags(), ["1.2.3", "1.3.0"])

    def test_feature_branch_merges_bring_inner_mrs(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        p.branch("feature/big", "main")
        p.mr("Inner minor", ["ImpactMinor"], target="feature/big")
        p.mr("Inner patch", ["ImpactPatch"], target="feature/big")
        p.s.ctl("POST", p.c("/merge_requests"), {
            "source_branch": "feature/big", "target_branch": "main",
            "title": "Land the feature", "labels": ["ImpactPatch"]})
        r = self.run_once(p, "--json")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["1.0.0"])  # nothing merged to main yet
        # merge the outer MR (the last one opened)
        outer = max(m["iid"] for m in self.open_mrs(p))
        p.s.ctl("POST", p.c("/merge_requests/%d/merge" % outer),
                {"method": "merge"})
        r = self.run_once(p, "--json")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["1.0.0", "1.1.0"])
        b = r.branch("main")
        self.assertEqual(sorted(m["iid"] for m in b["merge_requests"]),
                         [1, 2, 3])
        self.assertEqual(b["impact"], "minor")

    def open_mrs(self, p):
        import urllib.request
        req = urllib.request.Request(
            "%s/projects/%d/merge_requests?state=opened" % (self.standin.api,
                                                            p.id))
        req.add_header("PRIVATE-TOKEN", TOKEN)
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read())

    def test_squash_and_fast_forward_merges(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        p.mr("Squashed", ["ImpactMinor"], method="squash")
        self.assertEqual(self.run_once(p).code, 0)
        self.assertEqual(p.tags(), ["1.0.0", "1.1.0"])
        p.mr("Fast-forwarded", ["ImpactPatch"], method="ff")
        self.assertEqual(self.run_once(p).code, 0)
        self.assertEqual(p.tags(), ["1.0.0", "1.1.0", "1.1.1"])
        p.mr("ff squash", ["ImpactPatch"], method="ff_squash")
        self.assertEqual(self.run_once(p).code, 0)
        self.assertEqual(p.tags()[-1], "1.1.2")


class MissingLabels(OnceTest):
    def test_missing_label_then_labelled(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        p.mr("Labelled", ["ImpactPatch"])
        bad = p.mr("Forgot the label", ["bug"])
        before = p.refs()
        r = self.run_once(p, "--json")
        self.assertEqual(r.code, EX_DATAERR, r.err)
        self.assertEqual(p.refs(), before)  # nothing pushed
        errors = r.branch("main")["errors"]
        self.assertEqual([(e["kind"], e["iid"]) for e in errors],
                         [("missing-impact", bad["iid"])])
        self.assertIn(bad["web_url"], r.err)
        self.assertIn("Forgot the label", r.err)
        r = self.run_once(p)  # again: still refused, note not repeated
        self.assertEqual(r.code, EX_DATAERR)
        notes = [n for n in p.notes() if not n["system"]]
        self.assertEqual(len(notes), 1, notes)
        self.assertEqual(notes[0]["noteable_iid"], bad["iid"])
        self.assertIn("ImpactPatch", notes[0]["body"])
        p.label(bad["iid"], ["bug", "ImpactMinor"])
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["1.0.0", "1.1.0"])


class Backports(OnceTest):
    def history(self, p):
        """Releases 1.0.0, 1.1.0, 1.2.0, 2.0.0 made by the tool itself."""
        p.mr("one", ["ImpactMinor"])
        self.assertEqual(self.run_once(p, STABLE_RELEASE="1").code, 0)
        for labels in (["ImpactMinor"], ["ImpactMinor"], ["ImpactMajor"]):
            p.mr("change", labels)
            self.assertEqual(self.run_once(p).code, 0)
        self.assertEqual(p.tags(), ["1.0.0", "1.1.0", "1.2.0", "2.0.0"])

    def test_cherry_pick_into_older_major(self):
        p = Project(self.standin)
        self.history(p)
        p.mr("Backported fix", ["ImpactPatch"], target="release/1")
        r = self.run_once(p, branch="release/1")
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("1.2.1", p.tags())
        h = p.heads()
        tag = p.refs()["refs/tags/1.2.1"]
        self.assertEqual(h["release/1"], tag)
        self.assertEqual(h["release/1.2"], tag)
        self.assertEqual(h["release/2"], p.refs()["refs/tags/2.0.0"])

    def test_minor_into_older_major_creates_minor_branch(self):
        p = Project(self.standin)
        self.history(p)
        p.mr("Backported feature", ["ImpactMinor"], target="release/1")
        self.assertEqual(self.run_once(p, branch="release/1").code, 0)
        tag = p.refs()["refs/tags/1.3.0"]
        self.assertEqual(p.heads()["release/1.3"], tag)
        self.assertEqual(p.heads()["release/1"], tag)

    def test_direct_patch_into_older_minor(self):
        p = Project(self.standin)
        self.history(p)
        p.mr("Old fix", ["ImpactPatch"], target="release/1.1")
        self.assertEqual(self.run_once(p, branch="release/1.1").code, 0)
        tag = p.refs()["refs/tags/1.1.1"]
        self.assertEqual(p.heads()["release/1.1"], tag)
        self.assertEqual(p.heads()["release/1"], p.refs()["refs/tags/1.2.0"])

    def test_refusals(self):
        p = Project(self.standin)
        self.history(p)
        cases = [
            ("release/1", ["ImpactMajor"], "forbidden-impact"),
            ("release/1.1", ["ImpactMinor"], "forbidden-impact"),
            ("release/2", ["ImpactPatch"], "latest-branch"),
            ("release/1.2", ["ImpactPatch"], "latest-branch"),
        ]
        for branch, labels, kind in cases:
            with self.subTest(branch=branch):
                mr = p.mr("Wrong place", labels, target=branch)
                before = p.refs()
                r = self.run_once(p, "--json", branch=branch)
                self.assertEqual(r.code, EX_DATAERR, r.err)
                self.assertEqual(p.refs(), before)
                errs = r.branch(branch)["errors"]
                self.assertEqual(errs[0]["kind"], kind)
                self.assertEqual(errs[0]["iid"], mr["iid"])


class BuildSystems(OnceTest):
    def test_version_file_release_and_prep(self):
        p = Project(self.standin, files={"VERSION": "1.0.0-SNAPSHOT\n"})
        p.mr("Feature", ["ImpactMinor"])
        r = self.run_once(p, SEMVER_TAGGER_BUILD_SYSTEM="version-file")
        self.assertEqual(r.code, 0, r.err)
        tag = p.refs()["refs/tags/0.1.0"]
        self.assertEqual(p.show(tag, "VERSION").strip(), "0.1.0")
        self.assertEqual(p.show("main", "VERSION").strip(), "0.2.0-SNAPSHOT")
        self.assertEqual(p.show("release/0", "VERSION").strip(),
                         "0.2.0-SNAPSHOT")
        self.assertEqual(p.show("release/0.1", "VERSION").strip(),
                         "0.1.1-SNAPSHOT")
        self.assertTrue(p.is_ancestor(tag, "release/0.1"))
        self.assertTrue(p.is_ancestor(tag, "release/0"))
        # the tag's commit is a child of main's head at release time
        before = p.refs()
        self.assertEqual(self.run_once(
            p, SEMVER_TAGGER_BUILD_SYSTEM="version-file").code, 0)
        self.assertEqual(p.refs(), before)  # converged: nothing more

    def test_version_file_already_holding_version_tags_head(self):
        p = Project(self.standin, files={"VERSION": "0.0.1"})
        p.mr("Fix", ["ImpactPatch"])
        main = p.heads()["main"]
        r = self.run_once(p, SEMVER_TAGGER_BUILD_SYSTEM="version-file")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.refs()["refs/tags/0.0.1"], main)

    def test_maven(self):
        pom = ("<?xml version=\"1.0\"?>\n<project>\n  <parent>\n"
               "    <version>9.9.9</version>\n  </parent>\n"
               "  <version>1.0.0-SNAPSHOT</version>\n  <modules>\n"
               "    <module>core</module>\n  </modules>\n</project>\n")
        core = ("<project>\n  <parent><version>1.0.0-SNAPSHOT</version>"
                "</parent>\n  <version>1.0.0-SNAPSHOT</version>\n"
                "  <dependencies><dependency><version>3.1</version>"
                "</dependency></dependencies>\n</project>\n")
        p = Project(self.standin, files={"pom.xml": pom,
                                          "core/pom.xml": core})
        p.tag("0.9.0", "main")
        p.mr("Feature", ["ImpactMajor"])
        r = self.run_once(p, STABLE_RELEASE="true",
                          SEMVER_TAGGER_BUILD_SYSTEM="maven")
        self.assertEqual(r.code, 0, r.err)
        tag = p.refs()["refs/tags/1.0.0"]
        self.assertEqual(p.show(tag, "pom.xml"),
                         pom.replace("<version>1.0.0-SNAPSHOT", "<version>1.0.0"))
        self.assertIn("<version>9.9.9</version>", p.show(tag, "pom.xml"))
        self.assertIn("<version>3.1</version>", p.show(tag, "core/pom.xml"))
        self.assertIn("  <version>1.0.0</version>\n", p.show(tag, "core/pom.xml"))
        self.assertIn("<version>1.1.0-SNAPSHOT</version>",
                      p.show("main", "pom.xml"))


class MergeConflicts(OnceTest):
    def test_conflict_outside_version_files_fails_that_branch_only(self):
        p = Project(self.standin, files={"README.md": "one\n"})
        p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(self.run_once(p, STABLE_RELEASE="1").code, 0)
        # Someone commits straight to the latest minor branch ...
        p.commit("release/1.0", {"README.md": "hotfix\n"})
        stuck = p.heads()["release/1.0"]
        # ... and main changes the same line.
        p.mr("Reword", ["ImpactPatch"], files={"README.md": "two\n"})
        r = self.run_once(p)
        self.assertEqual(r.code, EX_DATAERR, r.err)
        self.assertIn("1.0.1", p.tags())  # the tag stands
        tag = p.refs()["refs/tags/1.0.1"]
        self.assertEqual(p.heads()["release/1"], tag)  # other goals ran
        self.assertEqual(p.heads()["release/1.0"], stuck)
        self.assertIn("release/1.0", r.err)
        self.assertIn("README.md", r.err)


class Safety(OnceTest):
    def test_dry_run_changes_nothing(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        p.mr("Feature", ["ImpactMinor"])
        before = p.refs()
        r = self.run_once(p, "--dry-run", "--json")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.refs(), before)
        b = r.branch("main")
        self.assertEqual(b["next"], "1.1.0")
        self.assertEqual(b["latest"], "1.0.0")
        self.assertEqual([g["kind"] for g in b["goals"]][:1], ["tag"])
        self.assertEqual(p.notes(), [])

    def test_dry_run_refusal_exits_65(self):
        p = Project(self.standin)
        p.mr("No label", [])
        r = self.run_once(p, "--dry-run")
        self.assertEqual(r.code, EX_DATAERR)
        self.assertEqual(p.notes(), [])

    def test_existing_tag_elsewhere_is_a_conflict(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        p.mr("Feature", ["ImpactMinor"])
        # A tag named like the next release that is not a release (it
        # names a tree): the tool must not touch it, nor tag around it.
        p.git("tag", "1.1.0", "main^{tree}")
        before = p.refs()
        r = self.run_once(p)
        self.assertEqual(r.code, EX_DATAERR, r.err)
        self.assertEqual(p.refs(), before)
        self.assertIn("1.1.0", r.err)

    def test_two_runs_at_once_make_one_tag(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        p.mr("Feature", ["ImpactMinor"])
        results = []

        def run(n):
            env = self.env(p)
            env["SEMVER_TAGGER_STATE_DIR"] = self.state + str(n)
            results.append(subprocess.run([binary(), "--once"], env=env,
                                          capture_output=True, text=True))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in results:
            self.assertIn(r.returncode, (0, 75), r.stderr)
        self.assertEqual(p.tags(), ["1.0.0", "1.1.0"])
        h = p.heads()
        self.assertEqual(h["release/1.1"], p.refs()["refs/tags/1.1.0"])


class CrashResume(OnceTest):
    """A run killed (SIGKILL) at each labelled point of a release, then
    re-run, ends with the same refs as a run never interrupted."""

    POINTS = ["after-plan", "after-tag-push", "after-release-object",
              "after-branch-push"]
    ENV = {"SEMVER_TAGGER_BUILD_SYSTEM": "version-file"}

    def scenario(self, path, failpoint):
        p = Project(self.standin, path=path,
                    files={"VERSION": "1.0.0-SNAPSHOT\n"})
        p.tag("1.0.0", "main")
        p.mr("Fix", ["ImpactPatch"])
        self.assertEqual(self.run_once(p, **self.ENV).code, 0)
        p.mr("Feature", ["ImpactMinor"])
        if failpoint:
            r = self.run_once(p, SEMVER_TAGGER_FAILPOINT=failpoint,
                              **self.ENV)
            self.assertEqual(r.code, -9, r.err)
        r = self.run_once(p, **self.ENV)
        self.assertEqual(r.code, 0, r.err)
        return p

    def shape(self, p):
        """Each ref as (tree, subject) along its history: commit ids
        differ between projects (times), trees and messages do not."""
        out = {}
        for ref in sorted(p.refs()):
            if ref.startswith("refs/heads/topic/"):
                continue
            log = p.git("log", "--first-parent", "--format=%T %s", "-n", "12",
                        ref)
            out[ref] = re.sub(r"\b[0-9a-f]{40}\b", "<sha>", log)
        return out

    maxDiff = None

    def test_killed_at_each_point(self):
        golden = self.shape(self.scenario("g/golden", None))
        self.assertIn("refs/tags/1.1.0", golden)
        for fp in self.POINTS:
            with self.subTest(failpoint=fp):
                p = self.scenario("g/" + fp, fp)
                self.assertEqual(self.shape(p), golden)
                before = p.refs()
                self.assertEqual(self.run_once(p, **self.ENV).code, 0)
                self.assertEqual(p.refs(), before)  # a third run: nothing


class MergeRequestPipeline(OnceTest):
    def test_validation_before_merge(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        mr = p.mr("Pending", ["ImpactMinor"], merge=False)
        r = self.run_once(p, CI_MERGE_REQUEST_IID=mr["iid"],
                          CI_MERGE_REQUEST_LABELS="ImpactMinor,docs",
                          CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main")
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("1.1.0", r.out + r.err)
        self.assertEqual(p.tags(), ["1.0.0"])
        r = self.run_once(p, CI_MERGE_REQUEST_IID=mr["iid"],
                          CI_MERGE_REQUEST_LABELS="docs",
                          CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main")
        self.assertEqual(r.code, EX_DATAERR)
        self.assertIn("impact label", r.err)



# --- the repository settings file in --once (issue 13) ---
CONF = ".gitlab/semver-tagger.conf"
EX_CONFIG = 78


class RepoFileOnce(OnceTest):
    """--once applies .gitlab/semver-tagger.conf by the daemon's rule:
    read from the mirror (a first run fetches it first), over the CI and
    file settings; a bad or hostile file exits 78 naming file:line:key,
    with a failed status on the commit that changed it (not in
    --dry-run)."""

    def statuses(self, p, sha):
        return [s["status"] for s in p.s.ctl("GET", p.c("/statuses"))
                if s["sha"] == sha and s["name"] == "semver-tagger"]

    def test_version_file_from_the_first_run(self):
        p = Project(self.standin, files={
            "VERSION": "1.0.0-SNAPSHOT\n",
            CONF: "# release settings\nbuild_system = version-file\n"})
        p.mr("Feature", ["ImpactMinor"])
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.1.0"])
        self.assertEqual(p.show("0.1.0", "VERSION").strip(), "0.1.0")
        self.assertEqual(p.show("main", "VERSION").strip(), "0.2.0-SNAPSHOT")

    def test_switch_takes_effect_on_the_run_after_the_one_that_fetched_it(self):
        p = Project(self.standin, files={"VERSION": "0.0.0\n"})
        p.mr("Fix", ["ImpactPatch"])
        self.assertEqual(self.run_once(p).code, 0)
        p.commit("main", {CONF: "build_system = version-file\n"})
        p.mr("Fix 2", ["ImpactPatch"])
        r = self.run_once(p)  # fetches the change: the old settings
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.show("0.0.2", "VERSION").strip(), "0.0.0")
        p.mr("Fix 3", ["ImpactPatch"])
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.0.1", "0.0.2", "0.0.3"])
        self.assertEqual(p.show("0.0.3", "VERSION").strip(), "0.0.3")

    def test_broken_file_exits_78_naming_file_line_with_a_failed_status(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        bad = p.commit("main", {CONF: "\n\nbuild_system = gradle\n"},
                       message="a build system we do not know")
        r = self.run_once(p, "--dry-run")
        self.assertEqual(r.code, EX_CONFIG, r.err)
        self.assertIn(CONF + ":3: build_system 'gradle' is not one of", r.err)
        self.assertEqual(self.statuses(p, bad), [], "--dry-run posts nothing")
        r = self.run_once(p, "--json")
        self.assertEqual(r.code, EX_CONFIG, r.err)
        self.assertIn(CONF + ":3:", r.err)
        js = json.loads(r.out)
        self.assertEqual(js["exit_code"], EX_CONFIG)
        self.assertIn(CONF + ":3: build_system 'gradle'", js["error"])
        self.assertEqual(self.statuses(p, bad), ["failed"])
        self.assertEqual(p.tags(), [])

    def test_keys_that_could_send_the_token_elsewhere_are_refused(self):
        for n, (text, line, key) in enumerate((
                ("build_system = version-file\napi_url = http://127.0.0.1:1/api/v4\n",
                 2, "api_url"),
                ("token_file = /etc/shadow\n", 1, "token_file"),
                ("# x\ntoken_env = HOME\n", 2, "token_env"))):
            p = Project(self.standin, "grp/hostile%d" % n, files={CONF: text})
            p.mr("Fix", ["ImpactPatch"])
            r = self.run_once(p)
            self.assertEqual(r.code, EX_CONFIG, r.err)
            self.assertIn("%s:%d: key '%s' is not allowed in a repository file"
                          % (CONF, line, key), r.err)
            self.assertEqual(p.tags(), [])
        self.assertNotIn("/etc/shadow", repr(self.standin.ctl("GET", "/__control__/requests")))

    def test_state_directory_not_ours_is_refused_before_the_file_is_read(self):
        p = Project(self.standin)
        p.mr("Fix", ["ImpactPatch"])
        self.assertEqual(self.run_once(p).code, 0)
        bad = p.commit("main", {CONF: "api_url = http://127.0.0.1:1/api/v4\n"})
        p.mr("Fix 2", ["ImpactPatch"])
        self.assertEqual(self.run_once(p).code, 0)  # fetches the file
        pdir = os.path.join(self.state, "projects", str(p.id))
        os.chmod(pdir, 0o777)
        r = self.run_once(p)
        self.assertEqual(r.code, EX_CONFIG, r.err)
        self.assertIn(pdir, r.err)
        self.assertIn("chmod go-w", r.err)
        self.assertNotIn("api_url", r.err, "the planted mirror was not read")
        self.assertEqual(self.statuses(p, bad), [])
        os.chmod(pdir, 0o700)
        r = self.run_once(p)
        self.assertEqual(r.code, EX_CONFIG, r.err)
        self.assertIn(CONF + ":1: key 'api_url' is not allowed", r.err)

    def test_merge_request_pipeline_follows_the_files_label_patterns(self):
        p = Project(self.standin, files={CONF: "label_minor = kind/feature\n"})
        p.tag("1.0.0", "main")
        mr = p.mr("Pending", ["kind/feature"], merge=False)
        env = dict(CI_MERGE_REQUEST_IID=mr["iid"],
                   CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main")
        r = self.run_once(p, CI_MERGE_REQUEST_LABELS="kind/feature", **env)
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("1.1.0", r.out + r.err)
        # the file's pattern replaces the default one
        r = self.run_once(p, CI_MERGE_REQUEST_LABELS="ImpactMinor", **env)
        self.assertEqual(r.code, EX_DATAERR, r.err)
        self.assertEqual(p.tags(), ["1.0.0"])
# --- end the repository settings file in --once ---


if __name__ == "__main__":
    unittest.main()
