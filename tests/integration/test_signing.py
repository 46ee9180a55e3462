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

from harness import OnceTest, Project, TOKEN

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


if __name__ == "__main__":
    unittest.main()
