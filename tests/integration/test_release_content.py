"""What a release says (issue 16), against the GitLab stand-in: the
release object as a goal, categorised notes, CHANGELOG.md on every branch
a release touches, "Released in" notes, and --dotenv."""
import os
import re
import shutil
import unittest

from harness import OnceTest, Project

VF = {"SEMVER_TAGGER_BUILD_SYSTEM": "version-file"}


def counters(standin):
    return standin.ctl("GET", "/__control__/counters")


def reset_counters(standin):
    standin.ctl("DELETE", "/__control__/counters")


def mr_with(p, title, labels, description, target="main"):
    """p.mr() with a description."""
    p.n += 1
    source = "topic/%d" % p.n
    p.commit(source, {"f%d.txt" % p.n: "x%d\n" % p.n}, start=target)
    mr = p.s.ctl("POST", p.c("/merge_requests"), {
        "source_branch": source, "target_branch": target, "title": title,
        "labels": list(labels), "author": "alice",
        "description": description})
    return p.s.ctl("POST", p.c("/merge_requests/%d/merge" % mr["iid"]),
                   {"method": "merge"})


def versions(changelog):
    """The version headings of a changelog, top to bottom."""
    return re.findall(r"^## (\d+\.\d+\.\d+)", changelog, re.M)


def key(v):
    return tuple(int(x) for x in v.split("."))


class ReleaseObjectGoal(OnceTest):
    def test_killed_before_release_object_then_completed_once(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        p.mr("Fix the parser", ["ImpactPatch"])
        r = self.run_once(p, SEMVER_TAGGER_FAILPOINT="after-tag-push")
        self.assertEqual(r.code, -9, r.err)
        self.assertIn("1.0.1", p.tags())
        self.assertEqual(p.releases(), [])
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        rel = p.releases()
        self.assertEqual([x["tag_name"] for x in rel], ["1.0.1"])
        self.assertIn("Fix the parser", rel[0]["description"])
        self.assertIn("### Fixes", rel[0]["description"])
        # a third run creates nothing, and asks nothing about releases
        reset_counters(self.standin)
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        c = counters(self.standin)
        self.assertNotIn("POST /api/v4/projects/:id/releases", c)
        self.assertNotIn("GET /api/v4/projects/:id/releases/:tag_name", c)
        self.assertEqual(len(p.releases()), 1)
        # a lost state directory costs one read, never a second release
        os.remove(os.path.join(self.state, "projects", str(p.id),
                               "release-content.state"))
        reset_counters(self.standin)
        self.assertEqual(self.run_once(p).code, 0)
        c = counters(self.standin)
        self.assertEqual(c.get("GET /api/v4/projects/:id/releases/:tag_name"), 1)
        self.assertNotIn("POST /api/v4/projects/:id/releases", c)

    def test_releases_off(self):
        p = Project(self.standin)
        p.mr("Feature", ["ImpactMinor"])
        r = self.run_once(p, SEMVER_TAGGER_RELEASES="false")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.1.0"])
        self.assertEqual(p.releases(), [])


class Notes(OnceTest):
    ENV = dict(VF, SEMVER_TAGGER_RELEASE_SECTIONS=(
        "Security:~security, Bug fixes:~type::bug"),
        SEMVER_TAGGER_RELEASE_EXCLUDE_LABELS="skip-changelog")

    def test_categories_exclusion_override_and_huge_description(self):
        p = Project(self.standin, files={"VERSION": "1.0.0-SNAPSHOT\n"})
        p.tag("1.0.0", "main")
        p.mr("Fix overflow", ["ImpactPatch", "security"])
        p.mr("Fix typo", ["ImpactPatch", "type::bug"])
        mr_with(p, "Add export", ["ImpactMinor"],
                "Intro.\n\n## Release notes\n\nExports now stream.\n\n"
                "## Testing\n\nnot this\n")
        p.mr("Bump deps", ["ImpactPatch", "skip-changelog"])
        huge = "## Release notes\n" + ("0123456789" * 10 + "\n") * 20800
        self.assertGreater(len(huge), 2 * 1000 * 1000)
        mr_with(p, "Huge", ["ImpactPatch"], huge)
        r = self.run_once(p, **self.ENV)
        self.assertEqual(r.code, 0, r.err)
        rel = p.releases()
        self.assertEqual([x["tag_name"] for x in rel], ["1.1.0"])
        d = rel[0]["description"]
        heads = re.findall(r"^### (.*)$", d, re.M)
        self.assertEqual(heads, ["Security", "Bug fixes", "Features", "Fixes"])
        self.assertRegex(d, r"- Fix overflow \(\[!1\]\(http://[^)]*/-/"
                            r"merge_requests/1\) by @alice\)")
        self.assertIn("- Exports now stream.", d)
        self.assertNotIn("Add export", d)
        self.assertNotIn("not this", d)
        self.assertNotIn("Bump deps", d)
        self.assertLess(len(d), 100 * 1000)  # the huge text was cut
        self.assertIn("\u2026 ([!5]", d)
        # the same text in the changelog of the release commit
        log = p.show("refs/tags/1.1.0", "CHANGELOG.md")
        self.assertIn(d.rstrip("\n"), log)
        self.assertEqual(versions(log), ["1.1.0"])

    def test_too_long_notes_are_shortened_with_a_compare_link(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        block = "## Release notes\n" + ("x" * 99 + "\n") * 700  # 70 kB
        for i in range(16):
            mr_with(p, "Change %d" % i, ["ImpactPatch"], block)
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        rel = p.releases()
        self.assertEqual([x["tag_name"] for x in rel], ["1.0.1"])
        d = rel[0]["description"]
        self.assertLessEqual(len(d), 1000 * 1000)
        self.assertRegex(d, r"\[the full list of changes\]\(http://[^)]*"
                            r"/-/compare/1\.0\.0\.\.\.1\.0\.1\)")


class HostileAnswers(OnceTest):
    ROUTE = "GET /api/v4/projects/:id/merge_requests/:iid"

    def test_unreadable_description_pushes_nothing(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        mr_with(p, "Fix", ["ImpactPatch"], "## Release notes\n\nFixed.\n")
        self.standin.ctl("POST", "/__control__/faults", {
            "endpoint": self.ROUTE, "mode": "malformed_json", "count": 20})
        r = self.run_once(p)
        self.assertIn(r.code, (75, 76), r.err)
        self.assertIn("MR !1", r.err)
        self.assertEqual(p.tags(), ["1.0.0"])  # nothing from partial data
        self.standin.ctl("DELETE", "/__control__/faults")
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("- Fixed. (", p.releases()[0]["description"])

    def test_deleted_mr_falls_back_to_its_title(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        mr_with(p, "Fix the parser", ["ImpactPatch"],
                "## Release notes\n\nFixed.\n")
        self.standin.ctl("POST", "/__control__/faults", {
            "endpoint": self.ROUTE, "status": 404, "count": 20})
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("MR !1", r.err)
        self.assertIn("- Fix the parser (", p.releases()[0]["description"])


class Changelog(OnceTest):
    def check_sorted(self, p, branch):
        v = versions(p.show(branch, "CHANGELOG.md"))
        self.assertEqual(v, sorted(set(v), key=key, reverse=True),
                         "%s: %s" % (branch, v))
        return v

    def test_patch_minor_major_and_old_lines(self):
        p = Project(self.standin, files={"VERSION": "1.0.0-SNAPSHOT\n"})
        p.tag("1.0.0", "main")
        p.mr("Fix one", ["ImpactPatch"])
        self.assertEqual(self.run_once(p, **VF).code, 0)
        for b in ("main", "release/1", "release/1.0"):
            self.assertEqual(self.check_sorted(p, b), ["1.0.1"])
        self.assertEqual(versions(p.show("refs/tags/1.0.1", "CHANGELOG.md")),
                         ["1.0.1"])
        self.assertRegex(p.show("main", "CHANGELOG.md"),
                         r"^# Changelog\n\n## 1\.0\.1 \(\d{4}-\d\d-\d\d\)\n")
        p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(self.run_once(p, **VF).code, 0)
        for b in ("main", "release/1", "release/1.1"):
            self.assertEqual(self.check_sorted(p, b), ["1.1.0", "1.0.1"])
        self.assertEqual(self.check_sorted(p, "release/1.0"), ["1.0.1"])
        p.mr("Break", ["ImpactMajor"])
        self.assertEqual(self.run_once(p, **VF).code, 0)
        for b in ("main", "release/2", "release/2.0"):
            self.assertEqual(self.check_sorted(p, b),
                             ["2.0.0", "1.1.0", "1.0.1"])
        # a fix cherry-picked into the old major line
        p.mr("Backport", ["ImpactPatch"], target="release/1")
        r = self.run_once(p, branch="release/1", **VF)
        self.assertEqual(r.code, 0, r.err)
        for b in ("release/1", "release/1.1"):
            self.assertEqual(self.check_sorted(p, b),
                             ["1.1.1", "1.1.0", "1.0.1"])
        self.assertEqual(self.check_sorted(p, "main"),
                         ["2.0.0", "1.1.0", "1.0.1"])
        # and a direct patch on an older minor line
        p.mr("Old fix", ["ImpactPatch"], target="release/1.0")
        r = self.run_once(p, branch="release/1.0", **VF)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(self.check_sorted(p, "release/1.0"),
                         ["1.0.2", "1.0.1"])
        before = p.refs()
        self.assertEqual(self.run_once(p, **VF).code, 0)
        self.assertEqual(p.refs(), before)  # converged

    def test_changelog_off_and_custom_path(self):
        p = Project(self.standin, files={"VERSION": "0.1.0\n"})
        p.mr("Feature", ["ImpactMinor"])
        r = self.run_once(p, SEMVER_TAGGER_CHANGELOG="false", **VF)
        self.assertEqual(r.code, 0, r.err)
        self.assertNotIn("CHANGELOG.md", p.git("ls-tree", "--name-only",
                                                "main"))
        p.mr("Fix", ["ImpactPatch"])
        r = self.run_once(p, SEMVER_TAGGER_CHANGELOG_FILE="docs/NEWS.md", **VF)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(versions(p.show("main", "docs/NEWS.md")), ["0.1.1"])
        self.assertIn("Add 0.1.1 to the changelog",
                      p.git("log", "-1", "--format=%s", "main"))

    def test_bad_changelog_path_is_a_config_error(self):
        p = Project(self.standin)
        r = self.run_once(p, SEMVER_TAGGER_CHANGELOG_FILE="../x.md", **VF)
        self.assertEqual(r.code, 78, r.err)
        self.assertIn("changelog_file", r.err)

    def test_changelog_only_conflict_is_resolved(self):
        p = Project(self.standin, files={"VERSION": "0.1.0-SNAPSHOT\n",
                                          "CHANGELOG.md": "# Changelog\n"})
        p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(self.run_once(p, STABLE_RELEASE="1", **VF).code, 0)
        # someone edits the top of the changelog on the release branch ...
        log = p.show("release/1.0", "CHANGELOG.md")
        p.commit("release/1.0", {"CHANGELOG.md": log.replace(
            "# Changelog\n", "# Changelog\n\nMaintained until 2027.\n")})
        # ... where the next release's section goes too
        p.mr("Fix", ["ImpactPatch"])
        r = self.run_once(p, **VF)
        self.assertEqual(r.code, 0, r.err)
        tag = p.refs()["refs/tags/1.0.1"]
        self.assertTrue(p.is_ancestor(tag, "release/1.0"))
        text = p.show("release/1.0", "CHANGELOG.md")
        self.assertIn("Maintained until 2027.", text)
        self.assertEqual(versions(text), ["1.0.1", "1.0.0"])
        self.assertEqual(p.show("release/1.0", "VERSION").strip(),
                         "1.0.2-SNAPSHOT")


class CrashResume(OnceTest):
    """SIGKILL at each failpoint, then a re-run: every branch's changelog
    ends as in a run never interrupted (no section twice), and each MR
    gets its "released in" note once."""

    POINTS = ["after-plan", "after-tag-push", "after-first-released-note",
              "after-release-object", "after-branch-push"]

    def scenario(self, path, failpoint):
        p = Project(self.standin, path=path,
                    files={"VERSION": "1.0.0-SNAPSHOT\n"})
        p.tag("1.0.0", "main")
        p.mr("Fix", ["ImpactPatch"])
        self.assertEqual(self.run_once(p, **VF).code, 0)
        p.mr("Feature", ["ImpactMinor"])
        p.mr("Other fix", ["ImpactPatch"])
        if failpoint:
            r = self.run_once(p, SEMVER_TAGGER_FAILPOINT=failpoint, **VF)
            self.assertEqual(r.code, -9, r.err)
        r = self.run_once(p, **VF)
        self.assertEqual(r.code, 0, r.err)
        return p

    def logs(self, p):
        return {b: p.show(b, "CHANGELOG.md").replace(p.path, "<p>")
                for b in p.heads() if not b.startswith("topic/")}

    def released_notes(self, p):
        out = {}
        for n in p.notes():
            if "semver-tagger:released:" in n["body"]:
                out.setdefault(n["noteable_iid"], []).append(n["body"])
        return out

    maxDiff = None

    def test_killed_at_each_point(self):
        golden = self.scenario("g/golden", None)
        want = self.logs(golden)
        self.assertEqual(versions(want["main"]), ["1.1.0", "1.0.1"])
        self.assertEqual(sorted(self.released_notes(golden)), [1, 2, 3])
        for fp in self.POINTS:
            with self.subTest(failpoint=fp):
                p = self.scenario("g/" + fp, fp)
                self.assertEqual(self.logs(p), want)
                self.assertEqual(self.run_once(p, **VF).code, 0)  # third
                notes = self.released_notes(p)
                self.assertEqual(sorted(notes), [1, 2, 3])
                for iid, bodies in notes.items():
                    self.assertEqual(len(bodies), 1, (iid, bodies))
                self.assertIn("released in [1.1.0]", notes[3][0])
                self.assertEqual(sorted(r["tag_name"] for r in p.releases()),
                                 ["1.0.1", "1.1.0"])


class CrashResumeOldLine(CrashResume):
    """The same for a fix cherry-picked into an old major line, whose
    release is merged into release/1 and release/1.1."""

    POINTS = ["after-tag-push", "after-release-object", "after-branch-push"]

    def scenario(self, path, failpoint):
        p = Project(self.standin, path=path,
                    files={"VERSION": "1.0.0-SNAPSHOT\n"})
        p.tag("1.0.0", "main")
        p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(self.run_once(p, **VF).code, 0)
        p.mr("Break", ["ImpactMajor"])
        self.assertEqual(self.run_once(p, **VF).code, 0)
        p.mr("Backport", ["ImpactPatch"], target="release/1")
        if failpoint:
            r = self.run_once(p, SEMVER_TAGGER_FAILPOINT=failpoint, **VF)
            self.assertEqual(r.code, -9, r.err)
        r = self.run_once(p, **VF)
        self.assertEqual(r.code, 0, r.err)
        return p

    def test_killed_at_each_point(self):
        golden = self.scenario("o/golden", None)
        want = self.logs(golden)
        self.assertEqual(versions(want["release/1"]), ["1.1.1", "1.1.0"])
        self.assertEqual(versions(want["release/1.1"]), ["1.1.1", "1.1.0"])
        self.assertEqual(versions(want["main"]), ["2.0.0", "1.1.0"])
        for fp in self.POINTS:
            with self.subTest(failpoint=fp):
                p = self.scenario("o/" + fp, fp)
                self.assertEqual(self.logs(p), want)
                before = p.refs()
                self.assertEqual(self.run_once(p, **VF).code, 0)
                self.assertEqual(p.refs(), before)
                notes = self.released_notes(p)
                self.assertEqual(len(notes[3]), 1)


class ReleasedIn(OnceTest):
    def test_off_and_not_for_tags_made_by_people(self):
        p = Project(self.standin)
        p.mr("Old", ["ImpactMinor"])
        p.tag("0.1.0", "main", message="made by hand")
        p.mr("New", ["ImpactPatch"])
        r = self.run_once(p, SEMVER_TAGGER_RELEASED_NOTES="false")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual([n for n in p.notes()
                          if "semver-tagger:released" in n["body"]], [])
        # the adopted release (tag by a person) gets a release object
        # but its MRs get no notes; 0.1.1 is the tool's
        shutil.rmtree(self.state)
        self.assertEqual(self.run_once(p).code, 0)
        self.assertEqual(sorted(r["tag_name"] for r in p.releases()),
                         ["0.1.1"])


class RateLimits(OnceTest):
    def test_429_on_notes_is_waited_out_and_each_mr_noted_once(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        for i in range(4):
            p.mr("Fix %d" % i, ["ImpactPatch"])
        # GitLab's notes limiter: two refusals with Retry-After
        self.standin.ctl("POST", "/__control__/faults", {
            "endpoint": "POST /api/v4/projects/:id/merge_requests/:iid/notes",
            "status": 429, "retry_after": 1, "count": 2})
        r = self.run_once(p)
        self.assertEqual(r.code, 0, r.err)
        bodies = {}
        for n in p.notes():
            if "semver-tagger:released:1.0.1" in n["body"]:
                bodies.setdefault(n["noteable_iid"], []).append(n)
        self.assertEqual(sorted(bodies), [1, 2, 3, 4])
        self.assertTrue(all(len(v) == 1 for v in bodies.values()))
        route = "POST /api/v4/projects/:id/merge_requests/:iid/notes"
        reqs = [q for q in self.standin.ctl("GET", "/__control__/requests")
                if q["route"] == route]
        self.assertEqual(len(reqs), 4 + 2)
        self.assertEqual(sum(1 for q in reqs if q.get("status") == 429), 2)
        self.assertEqual([x["tag_name"] for x in p.releases()], ["1.0.1"])


class Dotenv(OnceTest):
    def test_ci_shaped_run(self):
        p = Project(self.standin)
        p.tag("v1.0.0", "main")
        p.mr("Add export", ["ImpactMinor"])
        env_file = os.path.join(self.tmp, "release.env")
        r = self.run_once(p, "--dotenv", env_file, branch="main",
                          SEMVER_TAGGER_TAG_PREFIX="v", CI="true",
                          GITLAB_CI="true", CI_PIPELINE_SOURCE="push")
        self.assertEqual(r.code, 0, r.err)
        with open(env_file) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines, [
            "SEMVER_TAGGER_RELEASED=true",
            "SEMVER_TAGGER_VERSION=1.1.0",
            "SEMVER_TAGGER_TAG=v1.1.0",
            "SEMVER_TAGGER_PREVIOUS=1.0.0",
            "SEMVER_TAGGER_NOTES=%s.notes.md" % env_file])
        with open(env_file + ".notes.md") as f:
            self.assertIn("Add export", f.read())
        # nothing new: not released, the version is the latest one
        r = self.run_once(p, "--dotenv", env_file, branch="main",
                          SEMVER_TAGGER_TAG_PREFIX="v")
        self.assertEqual(r.code, 0, r.err)
        with open(env_file) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[:4], ["SEMVER_TAGGER_RELEASED=false",
                                     "SEMVER_TAGGER_VERSION=1.1.0",
                                     "SEMVER_TAGGER_TAG=v1.1.0",
                                     "SEMVER_TAGGER_PREVIOUS="])

    def test_merge_request_pipeline_releases_nothing(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        mr = p.mr("Pending", ["ImpactMinor"], merge=False)
        env_file = os.path.join(self.tmp, "mr.env")
        r = self.run_once(p, "--dotenv", env_file,
                          CI_MERGE_REQUEST_IID=mr["iid"],
                          CI_MERGE_REQUEST_LABELS="ImpactMinor",
                          CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main")
        self.assertEqual(r.code, 0, r.err)
        with open(env_file) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[:4], ["SEMVER_TAGGER_RELEASED=false",
                                     "SEMVER_TAGGER_VERSION=1.0.0",
                                     "SEMVER_TAGGER_TAG=1.0.0",
                                     "SEMVER_TAGGER_PREVIOUS="])
        self.assertEqual(p.tags(), ["1.0.0"])


if __name__ == "__main__":
    unittest.main()
