"""Signed commits and tags (issue 15): semver-tagger --once against the
stand-in with a throw-away OpenPGP key (temporary GnuPG home) and an SSH
ed25519 key. Every commit and tag the tool pushes must pass git
verify-commit / verify-tag; the stand-in's "Reject unsigned commits" push
rule must refuse a run without a key before anything is pushed; bad keys
must fail naming the key, with nothing pushed."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import DaemonTest, OnceTest, Project, TOKEN, wait_for

EX_CONFIG = 78
BOT_NAME = "Semver Bot"
BOT_EMAIL = "semver-bot@example.com"  # the stand-in's email of semver-bot
POM = ("<?xml version=\"1.0\"?>\n<project>\n"
       "  <version>1.0.0-SNAPSHOT</version>\n</project>\n")
BUILDS = {
    "simple": {},
    "version-file": {"VERSION": "1.0.0-SNAPSHOT\n"},
    "maven": {"pom.xml": POM},
}


def run(*args, env=None, check=True, **kw):
    return subprocess.run(list(args), env=env, check=check,
                          capture_output=True, text=True, **kw)


class Keys:
    """Throw-away keys: OpenPGP in a temporary GnuPG home (one usable, one
    passphrase-protected, one expired), SSH ed25519 (plain and protected)."""

    def __init__(self):
        # short path: gpg-agent's socket lives in the home
        self.dir = tempfile.mkdtemp(prefix="st-keys-", dir="/tmp")
        self.gnupg = os.path.join(self.dir, "gnupg")
        os.mkdir(self.gnupg, 0o700)
        self.genv = dict(os.environ, GNUPGHOME=self.gnupg, LC_ALL="C")
        self.fpr = self.gpg_key(BOT_NAME, BOT_EMAIL, "")
        self.protected_fpr = self.gpg_key("Prot", "prot@example.com", "pw")
        self.expired_fpr = self.gpg_key("Old", "old@example.com", "",
                                        "--faked-system-time",
                                        "20200101T000000", expire="1d")
        # forget the passphrase the agent cached while generating
        run("gpgconf", "--kill", "gpg-agent", env=self.genv)
        self.ssh = os.path.join(self.dir, "bot_ed25519")
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", BOT_EMAIL,
            "-f", self.ssh)
        self.ssh_protected = os.path.join(self.dir, "prot_ed25519")
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "pw", "-f",
            self.ssh_protected)
        with open(self.ssh + ".pub") as f:
            pub = f.read().split()
        self.allowed = os.path.join(self.dir, "allowed_signers")
        with open(self.allowed, "w") as f:
            f.write('%s namespaces="git" %s %s\n' % (BOT_EMAIL, pub[0], pub[1]))

    def gpg_key(self, name, email, passphrase, *extra, expire="1y"):
        run("gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase",
            passphrase, *extra, "--quick-gen-key", "%s <%s>" % (name, email),
            "ed25519", "sign", expire, env=self.genv)
        out = run("gpg", "--with-colons", "--list-secret-keys", email,
                  env=self.genv).stdout
        return [l.split(":")[9] for l in out.splitlines()
                if l.startswith("fpr:")][0]

    def close(self):
        run("gpgconf", "--kill", "gpg-agent", env=self.genv, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


class SigningTest(OnceTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.keys = Keys()

    @classmethod
    def tearDownClass(cls):
        cls.keys.close()
        super().tearDownClass()

    def key_env(self, fmt):
        k = self.keys
        env = {"SEMVER_TAGGER_GIT_NAME": BOT_NAME,
               "SEMVER_TAGGER_GIT_EMAIL": BOT_EMAIL}
        if fmt == "openpgp":
            env.update(SEMVER_TAGGER_SIGNING_FORMAT="openpgp",
                       SEMVER_TAGGER_SIGNING_KEY=k.fpr,
                       SEMVER_TAGGER_GNUPG_HOME=k.gnupg)
        elif fmt == "ssh":
            env.update(SEMVER_TAGGER_SIGNING_FORMAT="ssh",
                       SEMVER_TAGGER_SIGNING_KEY=k.ssh)
        return env

    def verify_all(self, p, fmt):
        """Every commit and tag object the bot made verifies; returns how
        many of each were checked."""
        env = dict(os.environ, GIT_DIR=p.repo, GNUPGHOME=self.keys.gnupg,
                   LC_ALL="C")
        cfg = ["-c", "gpg.ssh.allowedSignersFile=" + self.keys.allowed]
        commits = run("git", "log", "--all", "--format=%H %ce",
                      env=env).stdout.split("\n")
        mine = [l.split()[0] for l in commits if l.endswith(" " + BOT_EMAIL)]
        for c in mine:
            r = run("git", *cfg, "verify-commit", c, env=env, check=False)
            self.assertEqual(r.returncode, 0, "commit %s: %s" % (c, r.stderr))
            head = run("git", "cat-file", "commit", c, env=env).stdout
            self.assertIn("BEGIN %s SIGNATURE" %
                          ("PGP" if fmt == "openpgp" else "SSH"), head)
        tags = run("git", "for-each-ref", "--format=%(objecttype) %(refname)",
                   "refs/tags", env=env).stdout.split("\n")
        tags = [t.split()[1] for t in tags if t.startswith("tag ")]
        for t in tags:
            r = run("git", *cfg, "verify-tag", t, env=env, check=False)
            self.assertEqual(r.returncode, 0, "%s: %s" % (t, r.stderr))
        lightweight = run("git", "for-each-ref", "--format=%(objecttype)",
                          "refs/tags", env=env).stdout.split()
        return len(mine), len(tags), lightweight

    def project(self, build, path="g/app"):
        files = BUILDS[build] or None
        return Project(self.standin, path=path, files=files)

    def once(self, p, build, fmt, **kw):
        env = dict(self.key_env(fmt), SEMVER_TAGGER_BUILD_SYSTEM=build)
        env.update(kw)
        r = self.run_once(p, **env)
        self.assertEqual(r.code, 0, r.err)
        return r


class SignedReleases(SigningTest):
    """simple, version-file and maven x OpenPGP and SSH x first release, a
    patch with forward merges, a cherry-pick release into an old line."""

    def scenario(self, build, fmt):
        p = self.project(build, path="g/%s-%s" % (build, fmt))
        # first release (and its branches, prep commits)
        p.mr("First", ["ImpactMinor"])
        self.once(p, build, fmt, STABLE_RELEASE="1")
        self.assertEqual(p.tags(), ["1.0.0"])
        p.mr("Second", ["ImpactMinor"])
        self.once(p, build, fmt)
        p.mr("Major", ["ImpactMajor"])
        self.once(p, build, fmt)
        # a patch on main: merged forward into the release branches
        p.mr("Fix", ["ImpactPatch"])
        self.once(p, build, fmt)
        # a cherry-pick release into the old major line
        p.mr("Backport", ["ImpactPatch"], target="release/1")
        self.once(p, build, fmt, branch="release/1")
        self.assertEqual(p.tags(), ["1.0.0", "1.1.0", "1.1.1", "2.0.0",
                                    "2.0.1"])
        commits, tags, types = self.verify_all(p, fmt)
        self.assertEqual(tags, 5)
        self.assertEqual(set(types), {"tag"})  # never lightweight
        if build != "simple":
            self.assertGreaterEqual(commits, 10)
        h = p.heads()
        self.assertTrue(p.is_ancestor("refs/tags/1.1.1", h["release/1"]))
        self.assertTrue(p.is_ancestor("refs/tags/2.0.1", h["release/2.0"]))
        return p

    def test_openpgp(self):
        for build in BUILDS:
            with self.subTest(build=build):
                self.scenario(build, "openpgp")

    def test_ssh(self):
        for build in BUILDS:
            with self.subTest(build=build):
                self.scenario(build, "ssh")


class Resume(SigningTest):
    def test_killed_after_tag_push_then_other_signature(self):
        # The tag's release commit was signed with OpenPGP by a run killed
        # right after the tag push; the next run signs with SSH (another
        # signature, same content): it adopts the tag's commit and
        # completes the release instead of reporting a conflict.
        p = self.project("version-file")
        p.mr("Feature", ["ImpactMinor"])
        env = dict(self.key_env("openpgp"),
                   SEMVER_TAGGER_BUILD_SYSTEM="version-file")
        r = self.run_once(p, SEMVER_TAGGER_FAILPOINT="after-tag-push", **env)
        self.assertEqual(r.code, -9, r.err)
        tag = p.refs()["refs/tags/0.1.0"]
        self.assertNotIn("release/0.1", p.heads())
        r = self.once(p, "version-file", "ssh")
        self.assertEqual(p.refs()["refs/tags/0.1.0"], tag)  # never moved
        self.assertTrue(p.is_ancestor(tag, p.heads()["release/0.1"]))
        self.assertEqual(p.show("main", "VERSION").strip(), "0.2.0-SNAPSHOT")


class PushRules(SigningTest):
    """The stand-in's push rules, read before the first push."""

    RECEIVE = "POST /:project.git/git-receive-pack"

    def counters(self):
        return self.standin.ctl("GET", "/__control__/counters")

    def rule(self, p, **fields):
        self.standin.ctl("PUT", p.c("/push_rule"), fields)

    def refused(self, p, build, fmt, rule, **kw):
        before = p.refs()
        self.standin.ctl("DELETE", "/__control__/counters")
        env = dict(self.key_env(fmt), SEMVER_TAGGER_BUILD_SYSTEM=build)
        env.update(kw)
        r = self.run_once(p, **env)
        self.assertEqual(r.code, EX_CONFIG, r.err)
        self.assertIn("push rule '%s'" % rule, r.err)
        self.assertIn("nothing pushed", r.err)
        self.assertEqual(p.refs(), before)
        c = self.counters()
        self.assertEqual(c.get(self.RECEIVE, 0), 0)
        self.assertEqual(c.get("GET /api/v4/projects/:id/push_rule"), 1)
        return r

    def test_unsigned_rule_no_key_refused_then_key_lands(self):
        p = self.project("version-file")
        self.rule(p, reject_unsigned_commits=True)
        p.mr("Feature", ["ImpactMinor"])
        r = self.refused(p, "version-file", None, "Reject unsigned commits")
        self.assertIn("signing_key", r.err)
        self.assertEqual(p.tags(), [])
        self.once(p, "version-file", "ssh")
        self.assertEqual(p.tags(), ["0.1.0"])
        commits, tags, _ = self.verify_all(p, "ssh")
        self.assertEqual((commits >= 3, tags), (True, 1))
        # a run with nothing to do pushes nothing and reads no rule
        self.standin.ctl("DELETE", "/__control__/counters")
        before = p.refs()
        self.once(p, "version-file", "ssh")
        self.assertEqual(p.refs(), before)
        self.assertNotIn("GET /api/v4/projects/:id/push_rule", self.counters())

    def test_simple_build_no_key_refused_too(self):
        p = self.project("simple")
        self.rule(p, reject_unsigned_commits=True)
        p.mr("Fix", ["ImpactPatch"])
        self.refused(p, "simple", None, "Reject unsigned commits")

    def test_commit_message_rules(self):
        p = self.project("version-file")
        p.mr("Feature", ["ImpactMinor"])
        self.rule(p, commit_message_regex="^(Merge|Set version) ")
        r = self.refused(p, "version-file", "ssh",
                         "Require expression in commit messages")
        self.assertIn("Prepare next development version", r.err)
        self.rule(p, commit_message_regex="^(Merge|Set version|Prepare) ",
                  commit_message_negative_regex="Prepare")
        self.refused(p, "version-file", "ssh",
                     "Reject expression in commit messages")
        self.rule(p, commit_message_negative_regex="")
        self.once(p, "version-file", "ssh")
        self.assertEqual(p.tags(), ["0.1.0"])

    def test_simple_build_messages_not_held_against_it(self):
        # A simple release tags an existing commit: a message rule its
        # (rare) merge commits would fail does not block it.
        p = self.project("simple")
        p.mr("Feature", ["ImpactMinor"])
        self.rule(p, commit_message_regex="^JIRA-[0-9]+ ")
        self.once(p, "simple", None)
        self.assertEqual(p.tags(), ["0.1.0"])
        self.assertEqual(p.heads()["release/0.1"], p.refs()["refs/tags/0.1.0"])

    def test_committer_check_needs_the_bot_identity(self):
        p = self.project("version-file")
        p.mr("Feature", ["ImpactMinor"])
        self.rule(p, commit_committer_check=True)
        r = self.refused(p, "version-file", None, "Reject unverified users",
                         SEMVER_TAGGER_GIT_NAME="semver-tagger",
                         SEMVER_TAGGER_GIT_EMAIL="semver-tagger@localhost")
        self.assertIn("'semver-tagger@localhost' is not a verified email "
                      "of semver-bot", r.err)
        self.assertIn("(semver-bot@example.com)", r.err)
        # a secondary email: verified only once confirmed
        self.standin.ctl("POST", "/__control__/users/semver-bot/emails",
                         {"email": "pending@corp.example", "confirmed": False})
        self.refused(p, "version-file", None, "Reject unverified users",
                     SEMVER_TAGGER_GIT_EMAIL="pending@corp.example")
        self.standin.ctl("POST", "/__control__/users/semver-bot/emails",
                         {"email": "release-bot@corp.example"})
        self.once(p, "version-file", None,
                  SEMVER_TAGGER_GIT_EMAIL="release-bot@corp.example")
        self.assertEqual(p.tags(), ["0.1.0"])  # and the hook agreed

    def test_committer_name_check(self):
        p = self.project("version-file")
        p.mr("Feature", ["ImpactMinor"])
        self.rule(p, commit_committer_name_check=True)
        r = self.refused(p, "version-file", None,
                         "Reject inconsistent user name",
                         SEMVER_TAGGER_GIT_NAME="semver-tagger")
        self.assertIn("set git_name to 'Semver Bot'", r.err)
        self.once(p, "version-file", None)  # git_name = the user's name
        self.assertEqual(p.tags(), ["0.1.0"])

    def test_refused_anyway_names_the_rule(self):
        # A Developer token cannot read push rules (403): the run goes on,
        # and GitLab's refusal is reported with the rule's name.
        self.standin.ctl("POST", "/__control__/tokens",
                         {"token": TOKEN, "username": "semver-bot",
                          "role": "developer"})
        p = self.project("version-file")
        self.rule(p, commit_message_negative_regex="Prepare")
        p.mr("Feature", ["ImpactMinor"])
        env = dict(self.key_env("ssh"),
                   SEMVER_TAGGER_BUILD_SYSTEM="version-file")
        r = self.run_once(p, **env)
        self.assertEqual(r.code, 65, r.err)  # refused by GitLab: a person acts
        self.assertIn("not readable", r.err)
        self.assertIn("push rule 'Reject expression in commit messages' "
                      "refused the push", r.err)
        self.assertIn("Commit message contains the forbidden pattern "
                      "'Prepare'", r.err)


class BadKeys(SigningTest):
    """A key that cannot sign fails the run naming it; nothing is pushed
    (nothing is even made)."""

    def bad(self, env, *needles):
        p = self.project("version-file", path="g/bad%d" % id(env))
        p.mr("Feature", ["ImpactMinor"])
        before = p.refs()
        env = dict(env, SEMVER_TAGGER_BUILD_SYSTEM="version-file",
                   SEMVER_TAGGER_GIT_EMAIL=BOT_EMAIL)
        r = self.run_once(p, **env)
        self.assertEqual(r.code, EX_CONFIG, r.err)
        for n in needles:
            self.assertIn(n, r.err)
        self.assertEqual(p.refs(), before)
        return r

    def ssh(self, key):
        return {"SEMVER_TAGGER_SIGNING_FORMAT": "ssh",
                "SEMVER_TAGGER_SIGNING_KEY": key}

    def pgp(self, key):
        return {"SEMVER_TAGGER_SIGNING_FORMAT": "openpgp",
                "SEMVER_TAGGER_SIGNING_KEY": key,
                "SEMVER_TAGGER_GNUPG_HOME": self.keys.gnupg}

    def test_missing_ssh_key(self):
        missing = os.path.join(self.keys.dir, "no_such_key")
        self.bad(self.ssh(missing), "SSH key " + missing,
                 "No such file or directory")

    def test_unreadable_ssh_key(self):
        self.bad(self.ssh(self.keys.dir), "SSH key " + self.keys.dir,
                 "not a regular file")
        if os.geteuid() != 0:  # root reads anything
            path = os.path.join(self.keys.dir, "unreadable")
            shutil.copy(self.keys.ssh, path)
            os.chmod(path, 0)
            self.bad(self.ssh(path), "SSH key " + path, "Permission denied")

    def test_not_a_key(self):
        path = os.path.join(self.keys.dir, "allowed_signers")
        self.bad(self.ssh(path), "not an OpenSSH private key")

    def test_protected_ssh_key(self):
        r = self.bad(self.ssh(self.keys.ssh_protected),
                     "SSH key " + self.keys.ssh_protected, "passphrase")
        self.assertNotIn("PRIVATE KEY", r.err)

    def test_protected_openpgp_key(self):
        self.bad(self.pgp(self.keys.protected_fpr),
                 "OpenPGP key " + self.keys.protected_fpr, "passphrase")

    def test_expired_openpgp_key(self):
        self.bad(self.pgp(self.keys.expired_fpr),
                 "OpenPGP key " + self.keys.expired_fpr,
                 "expired on 2020-01-02")

    def test_unknown_openpgp_key(self):
        self.bad(self.pgp("0123456789ABCDEF0123456789ABCDEF01234567"),
                 "no such secret key")

    def test_missing_gnupg_home(self):
        env = self.pgp(self.keys.fpr)
        env["SEMVER_TAGGER_GNUPG_HOME"] = "/nonexistent/gnupg"
        self.bad(env, "GnuPG home", "No such file or directory")

    def test_format_without_key(self):
        self.bad({"SEMVER_TAGGER_SIGNING_FORMAT": "ssh"},
                 "signing_format ssh needs signing_key")
        self.bad({"SEMVER_TAGGER_SIGNING_FORMAT": "openpgp"},
                 "signing_format openpgp needs signing_key")

    def test_bad_format_is_a_config_error(self):
        r = self.bad({"SEMVER_TAGGER_SIGNING_FORMAT": "x509"},
                     "signing_format 'x509'")
        self.assertIn("openpgp, ssh", r.err)


class Credentials(SigningTest):
    def test_ssh_key_from_systemd_credentials(self):
        # $CREDENTIALS_DIRECTORY/signing-key wins over signing_key, like
        # the token's gitlab-token credential.
        creds = os.path.join(self.tmp, "creds")
        os.mkdir(creds, 0o700)
        shutil.copy(self.keys.ssh, os.path.join(creds, "signing-key"))
        p = self.project("version-file")
        self.standin.ctl("PUT", p.c("/push_rule"),
                         {"reject_unsigned_commits": True})
        p.mr("Feature", ["ImpactMinor"])
        env = dict(self.key_env("ssh"), CREDENTIALS_DIRECTORY=creds,
                   SEMVER_TAGGER_SIGNING_KEY="/nonexistent/key",
                   SEMVER_TAGGER_BUILD_SYSTEM="version-file")
        r = self.run_once(p, **env)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(p.tags(), ["0.1.0"])
        self.assertGreaterEqual(self.verify_all(p, "ssh")[0], 3)

    def test_openpgp_key_from_systemd_credentials(self):
        # An armoured secret key as the credential: imported into a
        # private temporary GnuPG home, removed after the run.
        creds = os.path.join(self.tmp, "creds")
        tmpdir = os.path.join(self.tmp, "t")
        os.mkdir(creds, 0o700)
        os.mkdir(tmpdir, 0o700)
        key = run("gpg", "--batch", "--armor", "--export-secret-keys",
                  self.keys.fpr, env=self.keys.genv).stdout
        with open(os.path.join(creds, "signing-key"), "w") as f:
            f.write(key)
        p = self.project("version-file")
        self.standin.ctl("PUT", p.c("/push_rule"),
                         {"reject_unsigned_commits": True})
        p.mr("Feature", ["ImpactMinor"])
        r = self.run_once(p, CREDENTIALS_DIRECTORY=creds, TMPDIR=tmpdir,
                          SEMVER_TAGGER_SIGNING_FORMAT="openpgp",
                          SEMVER_TAGGER_GIT_NAME=BOT_NAME,
                          SEMVER_TAGGER_GIT_EMAIL=BOT_EMAIL,
                          SEMVER_TAGGER_BUILD_SYSTEM="version-file")
        self.assertEqual(r.code, 0, r.err)
        self.assertNotIn("PGP PRIVATE KEY", r.err)
        self.assertEqual(p.tags(), ["0.1.0"])
        self.assertGreaterEqual(self.verify_all(p, "openpgp")[0], 3)
        self.assertEqual(os.listdir(tmpdir), [])
        # not a secret key: named, nothing pushed
        with open(os.path.join(creds, "signing-key"), "w") as f:
            f.write("hello\n")
        p.mr("Fix", ["ImpactPatch"])
        r = self.run_once(p, CREDENTIALS_DIRECTORY=creds, TMPDIR=tmpdir,
                          SEMVER_TAGGER_SIGNING_FORMAT="openpgp",
                          SEMVER_TAGGER_BUILD_SYSTEM="version-file")
        self.assertEqual(r.code, EX_CONFIG, r.err)
        self.assertIn("no OpenPGP secret key in the file", r.err)
        self.assertEqual(p.tags(), ["0.1.0"])
        self.assertEqual(os.listdir(tmpdir), [])


class SignedDaemon(SigningTest, DaemonTest):
    def test_global_key_and_project_override(self):
        k = self.keys
        a = self.project("version-file", path="g/ssh")
        b = self.project("version-file", path="g/pgp")
        for p in (a, b):
            self.standin.ctl("PUT", p.c("/push_rule"),
                             {"reject_unsigned_commits": True})
            p.mr("Feature", ["ImpactMinor"])
        glob = ("git_name = %s\ngit_email = %s\nsigning_format = ssh\n"
                "signing_key = %s\nbuild_system = version-file\n"
                % (BOT_NAME, BOT_EMAIL, k.ssh))
        d = self.daemon([a, (b.path, {"signing_format": "openpgp",
                                      "signing_key": k.fpr,
                                      "gnupg_home": k.gnupg})],
                        global_extra=glob)
        for p in (a, b):
            wait_for(lambda p=p: d.cycles(p.path) >= 1, 120,
                     "a cycle of " + p.path)
        self.assertEqual(a.tags(), ["0.1.0"], d.logs())
        self.assertEqual(b.tags(), ["0.1.0"], d.logs())
        self.assertGreaterEqual(self.verify_all(a, "ssh")[0], 3)
        self.assertGreaterEqual(self.verify_all(b, "openpgp")[0], 3)


if __name__ == "__main__":
    unittest.main()
