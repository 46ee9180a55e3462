# SPDX-License-Identifier: MIT
"""The daemon's HTTP pages with a fleet-sized configuration: /metrics
whole (every project's series, the last family, a final newline) with
10,000 projects (the most a file may name). The projects' API is a
loopback port that accepts connections and never answers: the workers
wait (no CPU spent on 10,000 failing cycles beside the other suites),
which is all the pages need."""
import re
import shutil
import socket
import tempfile
import unittest

import harness as h

N = 10000  # the most [project] sections a file may have


class SilentApi:
    """Stands where the stand-in would: an API that never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.api = "http://127.0.0.1:%d/api/v4" % self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class MetricsAtScale(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="st-scale-")
        self.api = SilentApi()
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.stop()
        self.api.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_metrics_whole_with_10000_projects(self):
        names = ["fleet/p%05d" % i for i in range(N)]
        self.d = h.Daemon(self.api, self.tmp, [(n, {}) for n in names],
                          poll_interval=3600).start()
        status, body = self.d.get("/metrics")
        text = body.decode()
        # 16 MiB was the cap of every page: at ~1.8 KB per project the
        # exposition was cut mid-line after ~9,000 projects, with 200
        self.assertEqual(status, 200, text[:200])
        self.assertGreater(len(body), 16 * 1024 * 1024)
        self.assertTrue(text.endswith("\n"), text[-200:])
        got = set(re.findall(r'^semver_tagger_cycles_total\{project="'
                             r'([^"]+)",result="ok"\} ', text, re.M))
        missing = sorted(set(names) - got)
        self.assertEqual(missing[:5], [], "%d missing" % len(missing))
        self.assertEqual(len(got), N)
        # each family declared once (a second HELP/TYPE fails the scrape)
        types = re.findall(r"^# TYPE (\S+) ", text, re.M)
        dup = sorted({t for t in types if types.count(t) > 1})
        self.assertEqual(dup, [])
        self.assertIn("semver_tagger_webhook_requests_total", types)
        self.assertEqual(re.findall(r"^semver_tagger_projects (\d+)$",
                                    text, re.M), [str(N)])
        bad = [line for line in text.splitlines()
               if not line.startswith("#") and not re.match(
                   r'^[a-z_]+(\{[^{}]*\})? [-+0-9.eInfa]+$', line)]
        self.assertEqual(bad[:3], [])

if __name__ == "__main__":
    unittest.main()
