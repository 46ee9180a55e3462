"""The daemon (semver-tagger -c FILE) against the GitLab stand-in:
webhooks, polling, commit statuses on open MRs, signals, systemd notify,
/healthz and /metrics. Waits are generous upper bounds on outcomes, never
timing assertions, except "exits within 10 s" which is the spec itself."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

from harness import (DaemonTest, Project, TOKEN, WEBHOOK_SECRET, binary,
                     wait_for)


def statuses(project, sha=None):
    """The stand-in's commit statuses named semver-tagger, newest last."""
    out = [s for s in project.s.ctl("GET", project.c("/statuses"))
           if s.get("name") == "semver-tagger"]
    return [s for s in out if sha is None or s.get("sha") == sha]


class Webhooks(DaemonTest):
    def test_merge_webhook_releases(self):
        p = Project(self.standin)
        d = self.daemon([p])
        wait_for(lambda: d.cycles(p.path) >= 1, what="the first cycle")
        mr = p.mr("Add a feature", ["ImpactMinor"])
        r = d.send(p, mr["iid"], "merge")
        self.assertEqual(r["status"], 202)
        wait_for(lambda: p.tags() == ["0.1.0"], what="tag 0.1.0")
        self.assertEqual(p.refs()["refs/tags/0.1.0"], p.heads()["main"])
        wait_for(lambda: d.find_log("released 0.1.0 on main"),
                 what="the release log line")
        line = d.find_log("released 0.1.0 on main")[0]
        self.assertIn("group/app", line)
        self.assertIn("!%d" % mr["iid"], line)
        wait_for(lambda: d.metric("semver_tagger_releases_total",
                                  project=p.path) == 1, what="the metric")

    def test_label_added_to_merged_mr_releases(self):
        p = Project(self.standin)
        d = self.daemon([p])
        wait_for(lambda: d.cycles(p.path) >= 1, what="the first cycle")
        # GitLab's own project hook: every MR event reaches the daemon.
        self.standin.ctl("POST", p.c("/hooks"), {
            "url": d.hook_url(), "token": WEBHOOK_SECRET,
            "merge_requests_events": True, "push_events": True})
        mr = p.mr("Forgot the label", [])
        wait_for(lambda: d.metric("semver_tagger_cycles_total",
                                  project=p.path, result="refused") >= 1,
                 what="the refused cycle after the merge")
        self.assertEqual(p.tags(), [])
        wait_for(lambda: d.find_log("has no impact label"),
                 what="the refusal in the log")
        p.label(mr["iid"], ["ImpactPatch"])  # fires an update hook
        wait_for(lambda: p.tags() == ["0.0.1"], what="tag 0.0.1")

    def test_open_mr_gets_commit_status(self):
        p = Project(self.standin)
        p.tag("1.3.0", "main")
        d = self.daemon([p])
        self.standin.ctl("POST", p.c("/hooks"), {
            "url": d.hook_url(), "token": WEBHOOK_SECRET,
            "merge_requests_events": True, "push_events": False})
        mr = p.mr("A feature", [], merge=False)  # fires an open hook
        sha = mr["sha"]
        wait_for(lambda: statuses(p, sha), what="a status after open")
        st = statuses(p, sha)[-1]
        self.assertEqual(st["status"], "failed")
        self.assertEqual(st["description"], "no impact label: add "
                         "ImpactMajor, ImpactMinor or ImpactPatch")
        p.label(mr["iid"], ["ImpactMinor"])  # fires an update hook
        wait_for(lambda: statuses(p, sha)[-1]["status"] == "success",
                 what="success once labelled")
        self.assertEqual(statuses(p, sha)[-1]["description"],
                         "ImpactMinor: merging releases 1.4.0 on main")
        self.assertEqual(p.tags(), ["1.3.0"])  # a check releases nothing

    def test_open_mr_status_follows_a_release(self):
        p = Project(self.standin)
        p.tag("1.3.0", "main")
        d = self.daemon([p])
        self.standin.ctl("POST", p.c("/hooks"), {
            "url": d.hook_url(), "token": WEBHOOK_SECRET,
            "merge_requests_events": True, "push_events": False})
        waiting = p.mr("Waits for review", ["ImpactPatch"], merge=False)
        sha = waiting["sha"]
        wait_for(lambda: statuses(p, sha), what="the first verdict")
        self.assertEqual(statuses(p, sha)[-1]["description"],
                         "ImpactPatch: merging releases 1.3.1 on main")
        p.mr("Goes first", ["ImpactMinor"])  # merged: releases 1.4.0
        wait_for(lambda: "1.4.0" in p.tags(), what="the release")
        wait_for(lambda: statuses(p, sha)[-1]["description"] ==
                 "ImpactPatch: merging releases 1.4.1 on main",
                 what="the verdict to follow the release")

    def test_push_to_release_branch_reconciles(self):
        p = Project(self.standin)
        d = self.daemon([p])
        wait_for(lambda: d.cycles(p.path) >= 1, what="the first cycle")
        p.branch("release/9", "main")
        r = d.send(p, event="push", ref="refs/heads/release/9")
        self.assertEqual(r["status"], 202)
        r = d.send(p, event="push", ref="refs/heads/main")
        self.assertEqual(r["status"], 204)
        wait_for(lambda: d.cycles(p.path) >= 2, what="a second cycle")


class Refusals(DaemonTest):
    """Deliveries that must not schedule anything. Triggers are counted
    synchronously before the answer, so the metric is exact right after
    the response."""

    def triggers(self, d, p):
        return d.metric("semver_tagger_triggers_total", project=p.path)

    def test_wrong_secret_is_401_and_no_cycle(self):
        p = Project(self.standin)
        mr = p.mr("Feature", ["ImpactMinor"])
        d = self.daemon([p])
        wait_for(lambda: d.cycles(p.path) >= 1, what="the first cycle")
        wait_for(lambda: not d.metric("semver_tagger_cycle_running",
                                      project=p.path), what="idle")
        self.assertEqual(p.tags(), ["0.1.0"])
        self.standin.ctl("DELETE", "/__control__/counters")
        for token in ("wrong", WEBHOOK_SECRET + "x", WEBHOOK_SECRET[:-1],
                      None):
            r = d.send(p, mr["iid"], "merge", token=token)
            self.assertEqual(r["status"], 401, token)
        self.assertEqual(self.triggers(d, p), 0)
        self.assertEqual(d.metric("semver_tagger_webhook_requests_total",
                                  result="unauthorized"), 4)
        self.assertEqual(d.cycles(p.path), 1)
        self.assertEqual(self.standin.ctl("GET", "/__control__/counters"),
                         {})

    def test_oversized_body_is_413(self):
        p = Project(self.standin)
        d = self.daemon([p])
        # The answer comes from the headers alone: no body byte is sent.
        status = d.raw(b"POST /webhook HTTP/1.1\r\nHost: x\r\n"
                       b"X-Gitlab-Token: " + WEBHOOK_SECRET.encode() +
                       b"\r\nX-Gitlab-Event: Merge Request Hook\r\n"
                       b"Content-Type: application/json\r\n"
                       b"Content-Length: 26214400\r\n\r\n")
        self.assertEqual(status, 413)
        self.assertEqual(self.triggers(d, p), 0)
        self.assertEqual(d.metric("semver_tagger_webhook_requests_total",
                                  result="too_large"), 1)
        # other junk: wrong path, wrong method, bad JSON
        self.assertEqual(d.request("GET", "/nope")[0], 404)
        self.assertEqual(d.request("GET", "/webhook")[0], 405)
        self.assertEqual(d.request("POST", "/webhook", b"{nope", {
            "X-Gitlab-Token": WEBHOOK_SECRET,
            "X-Gitlab-Event": "Merge Request Hook"})[0], 400)
        self.assertEqual(self.triggers(d, p), 0)

    def test_resend_same_idempotency_key_is_one_cycle(self):
        p = Project(self.standin)
        d = self.daemon([p])
        wait_for(lambda: d.cycles(p.path) >= 1, what="the first cycle")
        mr = p.mr("Fix", ["ImpactPatch"])
        first = d.send(p, mr["iid"], "merge")
        self.assertEqual(first["status"], 202)
        wait_for(lambda: p.tags() == ["0.0.1"], what="the release")
        wait_for(lambda: d.cycles(p.path) >= 2, what="the cycle")
        for _ in range(3):
            again = self.standin.ctl("POST", "/__control__/webhooks/resend",
                                     {"delivery": first["delivery"]})
            self.assertEqual(again["status"], 204)
            self.assertEqual(again["headers"]["Idempotency-Key"],
                             first["headers"]["Idempotency-Key"])
            self.assertNotEqual(again["headers"]["X-Gitlab-Webhook-UUID"],
                                first["headers"]["X-Gitlab-Webhook-UUID"])
        self.assertEqual(self.triggers(d, p), 1)
        self.assertEqual(d.metric("semver_tagger_webhook_requests_total",
                                  result="duplicate"), 3)
        self.assertEqual(d.cycles(p.path), 2)

    def test_test_button_is_2xx_and_no_cycle(self):
        p = Project(self.standin)
        mr = p.mr("Feature", ["ImpactMinor"])
        d = self.daemon([p])
        wait_for(lambda: d.cycles(p.path) >= 1, what="the first cycle")
        r = d.send(p, mr["iid"], test=True)
        self.assertEqual(r["status"], 204)
        self.assertNotIn("action", r["payload"]["object_attributes"])
        r = d.send(p, mr["iid"], "close")
        self.assertEqual(r["status"], 204)
        self.assertEqual(self.triggers(d, p), 0)
        self.assertEqual(d.cycles(p.path), 1)
        # an unknown project is ignored with a 2xx, too
        other = Project(self.standin, path="group/other")
        self.assertEqual(d.send(other, None, event="push",
                                ref="refs/heads/release/1")["status"], 204)


class Polling(DaemonTest):
    def test_polling_alone_catches_a_merge(self):
        p = Project(self.standin)
        d = self.daemon([p], poll_interval=1, listen=False)
        p.mr("Feature", ["ImpactMinor"])  # no hook registered, none sent
        wait_for(lambda: p.tags() == ["0.1.0"], what="tag 0.1.0")
        self.assertEqual(self.standin.ctl("GET", "/__control__/webhooks"),
                         [])

    def test_forge_down_does_not_delay_another_project(self):
        dead = socket.socket()
        dead.bind(("127.0.0.1", 0))  # bound, never listening: refused
        self.addCleanup(dead.close)
        down_api = "http://127.0.0.1:%d/api/v4" % dead.getsockname()[1]
        p = Project(self.standin)
        d = self.daemon([("down/app", {"api_url": down_api}), p])
        wait_for(lambda: d.metric("semver_tagger_cycle_running",
                                  project="down/app") == 1,
                 what="the down project's cycle to run")
        mr = p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(d.send(p, mr["iid"], "merge")["status"], 202)
        wait_for(lambda: p.tags() == ["0.1.0"], what="the healthy release")
        # released while the other project still waits for its forge
        self.assertEqual(d.metric("semver_tagger_cycle_running",
                                  project="down/app"), 1)
        self.assertEqual(d.metric("semver_tagger_cycles_total",
                                  project="down/app"), 0)


class Health(DaemonTest):
    def test_healthz_and_metrics(self):
        p = Project(self.standin)
        bad_token = os.path.join(self.tmp, "bad-token")
        with open(bad_token, "w") as f:
            f.write("glpat-revoked\n")
        d = self.daemon([p])
        wait_for(lambda: d.cycles(p.path) >= 1, what="the first cycle")
        status, body = d.get("/healthz")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["status"], "ok")
        m = d.metrics()
        self.assertIn(("semver_tagger_up", ()), m)
        self.assertIn(("semver_tagger_cycle_duration_seconds_count",
                       (("project", p.path),)), m)
        self.assertGreater(d.metric("semver_tagger_api_requests_total",
                                    project=p.path), 0)
        self.assertGreater(d.metric(
            "semver_tagger_last_success_timestamp_seconds",
            project=p.path), 0)
        # a project whose token is refused: 503 naming it
        d.stop()
        d2 = self.daemon([p, ("group/app2", {"project": p.path,
                                             "token_file": bad_token})])
        wait_for(lambda: d2.get("/healthz")[0] == 503,
                 what="/healthz to turn 503")
        body = json.loads(d2.get("/healthz")[1])
        self.assertEqual(body["status"], "unhealthy")
        self.assertEqual([x["project"] for x in body["problems"]],
                         ["group/app2"])
        self.assertIn("auth", body["problems"][0]["reason"])
        self.assertEqual(d2.metric("semver_tagger_cycle_errors_total",
                                   project="group/app2", **{"class": "auth"}),
                         1)


class Signals(DaemonTest):
    def test_sighup_good_and_bad_config(self):
        a = Project(self.standin)
        b = Project(self.standin, path="group/b")
        d = self.daemon([a])
        wait_for(lambda: d.cycles(a.path) >= 1, what="the first cycle")
        d.write_config([a, b])
        d.kill(signal.SIGHUP)
        wait_for(lambda: d.find_log("configuration reloaded: 2 projects"),
                 what="the reload")
        mr = b.mr("Feature", ["ImpactMinor"])
        self.assertEqual(d.send(b, mr["iid"], "merge")["status"], 202)
        wait_for(lambda: b.tags() == ["0.1.0"], what="b's release")
        # a broken file: rejected, the running configuration kept
        d.write_config(None, raw="[global]\npoll_interval = soon\n")
        d.kill(signal.SIGHUP)
        wait_for(lambda: d.find_log("reload failed"), what="the rejection")
        self.assertIn("poll_interval", d.find_log("reload failed")[0])
        self.assertIsNone(d.proc.poll())
        mr = a.mr("Fix", ["ImpactPatch"])
        self.assertEqual(d.send(a, mr["iid"], "merge")["status"], 202)
        wait_for(lambda: a.tags() == ["0.0.1"], what="a's release")
        self.assertEqual(d.metric("semver_tagger_config_reloads_total",
                                  result="ok"), 1)
        self.assertEqual(d.metric("semver_tagger_config_reloads_total",
                                  result="failed"), 1)
        self.assertEqual(d.metric("semver_tagger_projects"), 2)

    def test_sigterm_during_a_cycle_exits_within_10s(self):
        p = Project(self.standin)
        d = self.daemon([p])
        wait_for(lambda: d.cycles(p.path) >= 1, what="the first cycle")
        # the next listing hangs for a minute
        self.standin.ctl("POST", "/__control__/faults", {
            "endpoint": "GET /api/v4/projects/:id/merge_requests",
            "mode": "delay", "delay_ms": 60000, "count": 10})
        mr = p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(d.send(p, mr["iid"], "merge")["status"], 202)
        wait_for(lambda: d.metric("semver_tagger_cycle_running",
                                  project=p.path) == 1, what="the cycle")
        code, took = d.stop(signal.SIGTERM)
        self.assertEqual(code, 0, d.logs())
        self.assertLess(took, 10.0)
        self.assertTrue(d.find_log("abandoned"), d.logs())
        self.assertTrue(d.find_log("stopped"))

    def test_sd_notify_ready_watchdog_stopping(self):
        sock_path = os.path.join(self.tmp, "notify.sock")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(sock_path)
        ns.settimeout(30)
        self.addCleanup(ns.close)
        p = Project(self.standin)
        d = self.daemon([p], start=False, extra_env={
            "NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "400000"})
        d.start()
        seen = []

        def until(word):
            while True:
                msg = ns.recv(4096).decode()
                seen.append(msg)
                if word in msg.split("\n"):
                    return msg
        ready = until("READY=1")
        self.assertIn("STATUS=1 project, webhooks on port %d" % d.port,
                      ready)
        until("WATCHDOG=1")
        d.kill(signal.SIGTERM)
        until("STOPPING=1")
        d.proc.wait(timeout=10)
        self.assertEqual(d.proc.returncode, 0)

    def test_socket_activation(self):
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        self.addCleanup(ls.close)
        p = Project(self.standin)
        d = self.daemon([p], start=False, listen="socket")
        fd = ls.fileno()
        # what systemd does: the socket as fd 3, LISTEN_PID = our pid
        cmd = [sys.executable, "-c",
               "import os, sys; os.dup2(int(sys.argv[1]), 3); "
               "os.environ.update(LISTEN_PID=str(os.getpid()), "
               "LISTEN_FDS='1'); os.execv(sys.argv[2], sys.argv[2:])",
               str(fd), binary(), "-c", d.conf]
        d.start(cmd=cmd, pass_fds=(fd,))
        self.assertEqual(d.port, ls.getsockname()[1])
        self.assertTrue(d.find_log("socket systemd passed"))
        status, body = d.get("/healthz")
        self.assertIn(status, (200, 503))
        mr = p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(d.send(p, mr["iid"], "merge")["status"], 202)
        wait_for(lambda: p.tags() == ["0.1.0"], what="the release")


class Engine(DaemonTest):
    """The typed engine boundary and the worker processes (issue 12)."""

    def forged_mr_hook(self, d, p, iid, mutate):
        """The stand-in's own payload for MR iid (delivered nowhere),
        changed by mutate, then sent to the daemon with the right secret:
        a webhook whose facts lie."""
        real = self.standin.ctl("POST", "/__control__/webhooks/send", {
            "url": "http://127.0.0.1:9/hook", "project": p.id, "iid": iid,
            "action": "open", "timeout": 2})
        payload = real["payload"]
        mutate(payload)
        key = "forged-%d-%f" % (iid, time.monotonic())
        status, _ = d.request("POST", "/webhook",
                              json.dumps(payload).encode(), {
                                  "Content-Type": "application/json",
                                  "X-Gitlab-Event": "Merge Request Hook",
                                  "X-Gitlab-Token": WEBHOOK_SECRET,
                                  "X-Gitlab-Instance": self.standin.url,
                                  "Idempotency-Key": key,
                                  "X-Gitlab-Event-UUID": key})
        return status

    def test_project_key_differs_from_section_name(self):
        real = Project(self.standin, path="group/real")
        d = self.daemon([("alpha/staging", {"project": "group/real"})])
        self.standin.ctl("DELETE", "/__control__/counters")
        mr = real.mr("Feature", ["ImpactMinor"])
        d.kill(signal.SIGHUP)  # a reload triggers every project
        wait_for(lambda: real.tags() == ["0.1.0"], what="group/real released")
        wait_for(lambda: d.find_log("alpha/staging: released 0.1.0 on main"),
                 what="the release, logged under the section name")
        reqs = self.standin.ctl("GET", "/__control__/requests")
        self.assertTrue(reqs)
        for r in reqs:
            self.assertNotIn("alpha", r["path"] + (r.get("query") or ""), r)
            self.assertNotIn("staging", r["path"], r)
        self.assertTrue(any("group%2Freal" in r["path"] or
                            "group/real" in r["path"] for r in reqs))
        projects = os.listdir(os.path.join(self.tmp, "state", "projects"))
        self.assertEqual(projects, ["group%2Freal"])
        self.assertIn("!%d" % mr["iid"],
                      d.find_log("released 0.1.0 on main")[0])

    def test_lying_mr_webhook_posts_nothing_on_payload_sha(self):
        # Regression test for issue 14 item 4 as well: an MR hook's
        # last_commit.id, labels and url are not facts.
        p = Project(self.standin)
        p.tag("1.3.0", "main")
        d = self.daemon([p])
        mr = p.mr("Unlabelled", [], merge=False)
        fake = "d" * 40

        def lie(payload):
            oa = payload["object_attributes"]
            oa["last_commit"]["id"] = fake
            oa["url"] = "https://evil.example/phish"
            major = {"id": 999, "title": "ImpactMajor", "color": "#ff0000",
                     "project_id": p.id, "created_at": oa["created_at"],
                     "updated_at": oa["updated_at"], "template": False,
                     "description": None, "type": "ProjectLabel",
                     "group_id": None}
            oa["labels"] = [major]
            payload["labels"] = [major]

        self.assertEqual(self.forged_mr_hook(d, p, mr["iid"], lie), 202)
        wait_for(lambda: statuses(p), what="a status from the API's facts")
        sts = statuses(p)
        self.assertEqual([s["sha"] for s in sts], [mr["sha"]])
        self.assertEqual(sts[-1]["status"], "failed")
        self.assertEqual(sts[-1]["target_url"], mr["web_url"])
        self.assertFalse(any(s["status"] == "success" for s in sts))
        self.assertFalse(statuses(p, fake))

    def test_refusal_polled_ten_times_is_logged_once(self):
        p = Project(self.standin)
        mr = p.mr("No label", [])
        d = self.daemon([p], poll_interval=1)
        wait_for(lambda: d.metric("semver_tagger_cycles_total",
                                  project=p.path, result="refused") >= 10,
                 timeout=120, what="ten refused polls")
        blocked = d.find_log("release blocked")
        self.assertEqual(len(blocked), 1, d.logs())
        self.assertIn("!%d" % mr["iid"], blocked[0])
        self.assertEqual(d.find_log("error:"), [], d.logs())
        self.assertEqual(len(d.find_log("has no impact label")), 1)
        p.label(mr["iid"], ["ImpactPatch"])
        wait_for(lambda: p.tags() == ["0.0.1"], what="the release")
        wait_for(lambda: d.find_log("no longer blocked"), what="cleared")
        self.assertEqual(len(d.find_log("no longer blocked")), 1)
        self.assertEqual(len(d.find_log("release blocked")), 1)

    def test_labels_with_commas_and_a_20k_label_list_survive(self):
        p = Project(self.standin)
        p.tag("1.3.0", "main")
        d = self.daemon([(p.path, {"label_minor": "Minor,Change"})])
        filler = ["filler-%03d-%s" % (i, "x" * 90) for i in range(210)]
        self.assertGreater(sum(len(f) + 1 for f in filler), 20 * 1024)
        mr = p.mr("Big", filler + ["Minor,Change"], merge=False)
        self.assertEqual(d.send(p, mr["iid"], "open")["status"], 202)
        wait_for(lambda: statuses(p, mr["sha"]), what="the verdict")
        st = statuses(p, mr["sha"])[-1]
        self.assertEqual(st["status"], "success", st)
        self.assertEqual(st["description"],
                         "ImpactMinor: merging releases 1.4.0 on main")

    def worker_pids(self, d):
        pids = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read()
            except (OSError, ValueError, IndexError):
                continue
            if ppid == d.proc.pid and b"--internal-worker" in cmd:
                pids.append(int(pid))
        return pids

    def test_worker_killed_mid_cycle_is_replaced_and_converges(self):
        p = Project(self.standin)
        d = self.daemon([p])
        wait_for(lambda: d.cycles(p.path) >= 1, what="the first cycle")
        self.standin.ctl("POST", "/__control__/faults", {
            "endpoint": "GET /api/v4/projects/:id/merge_requests",
            "mode": "delay", "delay_ms": 60000, "count": 1})
        mr = p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(d.send(p, mr["iid"], "merge")["status"], 202)
        wait_for(lambda: d.metric("semver_tagger_cycle_running",
                                  project=p.path) == 1, what="the cycle")
        wait_for(lambda: not self.standin.ctl("GET", "/__control__/faults"),
                 what="the cycle to hang in the listing")
        before = self.worker_pids(d)
        self.assertTrue(before)
        for pid in before:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: p.tags() == ["0.1.0"], what="the release")
        wait_for(lambda: d.find_log("released 0.1.0 on main"),
                 what="the release, logged")
        self.assertTrue(d.find_log("engine worker died"), d.logs())
        after = self.worker_pids(d)
        self.assertTrue(after)
        self.assertFalse(set(before) & set(after))
        self.assertIsNone(d.proc.poll())

    def test_sigterm_mid_cycle_then_next_start_converges(self):
        p = Project(self.standin)
        d = self.daemon([p])
        wait_for(lambda: d.cycles(p.path) >= 1, what="the first cycle")
        self.standin.ctl("POST", "/__control__/faults", {
            "endpoint": "GET /api/v4/projects/:id/merge_requests",
            "mode": "delay", "delay_ms": 60000, "count": 1})
        mr = p.mr("Feature", ["ImpactMinor"])
        self.assertEqual(d.send(p, mr["iid"], "merge")["status"], 202)
        wait_for(lambda: not self.standin.ctl("GET", "/__control__/faults"),
                 what="the cycle to hang in the listing")
        pid, ws = d.proc.pid, self.worker_pids(d)
        self.assertTrue(ws)
        code, took = d.stop(signal.SIGTERM)
        self.assertEqual(code, 0, d.logs())
        self.assertLess(took, 10.0)
        self.assertTrue(d.find_log("reconciliation abandoned"), d.logs())
        self.assertEqual(p.tags(), [], d.logs())
        for q in ws + [pid]:  # no worker outlives the daemon
            self.assertFalse(os.path.exists("/proc/%d" % q), q)
        d2 = self.daemon([p])
        wait_for(lambda: p.tags() == ["0.1.0"], what="the next start")
        wait_for(lambda: d2.find_log("released 0.1.0 on main"),
                 what="the release, logged")


class Usage(unittest.TestCase):
    def test_example_config_is_valid(self):
        src = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        path = os.path.join(src, "config", "semver-tagger.conf")
        r = subprocess.run([binary(), "--check-config", "-c", path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 projects", r.stdout)

    def test_missing_config_is_a_config_error(self):
        r = subprocess.run([binary(), "-c", "/nonexistent/semver.conf"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("/nonexistent/semver.conf", r.stderr)


class QuickPoll(DaemonTest):
    """A steady poll answered by the quick check (issue 12): one REST
    request and one ref advertisement in the worker, no fetch child;
    anything that moved runs the full cycle."""

    def converged(self, p, n=2, **kw):
        d = self.daemon([p], poll_interval=1, args=("-vv",), **kw)
        wait_for(lambda: d.metric("semver_tagger_polls_unchanged_total",
                                  project=p.path) >= n,
                 what="polls answered by the quick check")
        return d

    def quick_polls(self, d, p):
        return d.metric("semver_tagger_polls_unchanged_total",
                        project=p.path)

    def test_steady_polls_cost_one_rest_and_one_info_refs(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        mr = p.mr("Feature", ["ImpactMinor"])
        d = self.converged(p)
        self.assertEqual(p.tags(), ["1.0.0", "1.1.0"])
        self.standin.ctl("DELETE", "/__control__/counters")
        n0 = self.quick_polls(d, p)
        wait_for(lambda: self.quick_polls(d, p) >= n0 + 4,
                 what="four more quick polls")
        reqs = self.standin.ctl("GET", "/__control__/requests")
        routes = [r["route"] for r in reqs]
        refs = [r for r in reqs if r["route"] == "GET /:project.git/info/refs"]
        lists = [r for r in reqs if r["route"] ==
                 "GET /api/v4/projects/:id/merge_requests"]
        # nothing but the two requests of a quick check: no fetch (no
        # upload-pack POST), no project GET, no second info/refs
        self.assertEqual(set(routes), {refs[0]["route"], lists[0]["route"]},
                         routes)
        self.assertGreaterEqual(len(refs), 3)
        self.assertLessEqual(abs(len(refs) - len(lists)), 1, routes)
        for r in refs:  # the token goes with the first request
            self.assertEqual(r["auth"], "basic", r)
            self.assertEqual(r["status"], 200, r)
        for r in lists:
            self.assertIn("updated_after=", r["query"], r)
            self.assertIn("state=merged", r["query"], r)
        self.assertTrue(d.find_log("poll unchanged (quick check"))
        self.assertEqual(p.tags(), ["1.0.0", "1.1.0"])
        self.assertEqual(len(d.find_log("released 1.1.0")), 1)
        self.assertIn("!%d" % mr["iid"], d.find_log("released 1.1.0")[0])

    def test_label_on_merged_mr_is_seen_by_the_next_poll(self):
        p = Project(self.standin)
        p.tag("1.3.0", "main")
        mr = p.mr("Forgot the label", [])
        d = self.converged(p)
        self.assertEqual(p.tags(), ["1.3.0"])
        self.assertEqual(len(d.find_log("has no impact label")), 1)
        # the status page still says why (the quick polls repeat the
        # refused cycle's status and message)
        status, body = d.get("/status.json")
        self.assertEqual(status, 200)
        proj = [x for x in json.loads(body)["projects"]
                if x["name"] == p.path][0]
        self.assertEqual(proj["last_result"], "refused")
        self.assertIn("block the release", proj["error"] or "")
        heads = p.heads()
        p.label(mr["iid"], ["ImpactPatch"])  # no hook: only polls see it
        self.assertEqual(p.heads(), heads)   # no ref moved
        wait_for(lambda: p.tags() == ["1.3.0", "1.3.1"], what="tag 1.3.1")
        self.assertEqual(p.refs()["refs/tags/1.3.1"], p.heads()["main"])
        wait_for(lambda: d.find_log("quick check: full cycle (merged MRs "
                                    "changed)"), what="the reason logged")
        wait_for(lambda: d.find_log("no longer blocked"),
                 what="the refusal to clear")

    def test_direct_push_is_seen_by_the_next_poll(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        d = self.converged(p)
        full = len(d.find_log("reconciled in"))
        p.branch("feature/x", "main")  # no MR, no hook
        wait_for(lambda: d.find_log("quick check: full cycle (refs "
                                    "changed)"), what="the full cycle")
        wait_for(lambda: len(d.find_log("reconciled in")) > full,
                 what="the full reconciliation")
        n = self.quick_polls(d, p)
        wait_for(lambda: self.quick_polls(d, p) > n,
                 what="quick polls again once converged")

    def fault_then_full_cycle(self, fault, why):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        d = self.converged(p)
        full = len(d.find_log("reconciled in"))
        fault = dict(fault, path="/%s.git/info/refs" % p.path, count=1)
        self.standin.ctl("POST", "/__control__/faults", fault)
        wait_for(lambda: d.find_log("quick check: full cycle (%s" % why),
                 what="the full cycle after a bad advertisement")
        wait_for(lambda: len(d.find_log("reconciled in")) > full,
                 what="the full reconciliation")
        self.assertEqual(p.tags(), ["1.0.0"])
        self.assertEqual(d.proc.poll(), None)
        self.assertFalse(d.find_log("worker died"))
        n = self.quick_polls(d, p)
        wait_for(lambda: self.quick_polls(d, p) > n,
                 what="quick polls again")
        return d

    def test_html_advertisement_runs_the_full_cycle(self):
        self.fault_then_full_cycle({"mode": "html"},
                                   "ref advertisement failed: info/refs: "
                                   "content type")

    def test_truncated_advertisement_runs_the_full_cycle(self):
        self.fault_then_full_cycle({"mode": "truncated_json"},
                                   "ref advertisement failed: ref "
                                   "advertisement: truncated")

    def test_advertisement_error_status_runs_the_full_cycle(self):
        self.fault_then_full_cycle({"mode": "status", "status": 502},
                                   "ref advertisement failed")

    def test_reload_runs_the_full_cycle(self):
        p = Project(self.standin)
        p.tag("1.0.0", "main")
        d = self.converged(p)
        d.write_config([(p.path, {"tag_prefix": "v"})])
        d.kill(signal.SIGHUP)
        wait_for(lambda: d.find_log("reconciling (reload)"),
                 what="the full cycle after the reload")
        n = self.quick_polls(d, p)
        wait_for(lambda: self.quick_polls(d, p) > n,
                 what="quick polls again under the new settings")


if __name__ == "__main__":
    unittest.main()
