#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Call the GitLab stand-in's control API (or any path) from shell tests.

usage: standinctl.py URL METHOD PATH [JSON]
Prints the response body. Exit 0 on 2xx, 1 on another status, 2 when no
HTTP response arrived.
"""
import sys
import urllib.error
import urllib.request


def main(argv):
    if len(argv) not in (4, 5):
        sys.stderr.write(__doc__)
        return 2
    url, method, path = argv[1], argv[2].upper(), argv[3]
    data = argv[4].encode("utf-8") if len(argv) == 5 else None
    if data is None and method not in ("GET", "HEAD"):
        data = b""
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=120) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    except OSError as e:
        sys.stderr.write("standinctl: %s\n" % e)
        return 2
    sys.stdout.write(body.decode("utf-8", errors="replace"))
    if body and not body.endswith(b"\n"):
        sys.stdout.write("\n")
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
