#!/usr/bin/env python3
"""Load a web page every INTERVAL seconds, each load in its own thread, until STOPFILE exists or
MAX seconds pass (bounded: at most MAX/INTERVAL loads). One line per load in OUT:
  start_ms status duration_ms rows pgbouncer attempts [error]
A load succeeds when the answer is 200 and the page has the users table with EXPECT rows.

usage: pageload.py URL OUT EXPECT STOPFILE [INTERVAL=0.3] [MAX=120] [TIMEOUT=20]
"""
import os
import re
import sys
import threading
import time
import urllib.request

url, out, expect, stopfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
interval = float(sys.argv[5]) if len(sys.argv) > 5 else 0.3
max_s = float(sys.argv[6]) if len(sys.argv) > 6 else 120
timeout = float(sys.argv[7]) if len(sys.argv) > 7 else 20
lock = threading.Lock()
lines = []
t0 = time.monotonic()


def one(start):
    t = time.monotonic()
    status, rows, pgb, attempts, err = 0, 0, "-", 1, ""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            status = r.status
            body = r.read().decode("utf-8", "replace").replace("<!-- -->", "")
        rows = len(re.findall(r'<tr data-user-id="', body))
        m = re.search(r'id="pgbouncer">([^<]*)<', body)
        pgb = m.group(1) if m else "-"
        m = re.search(r'id="attempts">([0-9]+)<', body)
        attempts = int(m.group(1)) if m else 1
        if rows != expect:
            err = "rows=%d" % rows
    except urllib.error.HTTPError as e:
        status, err = e.code, "http %d" % e.code
    except Exception as e:  # noqa: BLE001 - every failure is one failed page load
        err = type(e).__name__ + ":" + str(e).replace(" ", "_")[:80]
    ms = int((time.monotonic() - t) * 1000)
    with lock:
        lines.append("%d %d %d %d %s %d %s" % (start, status, ms, rows, pgb, attempts, err))


threads = []
n = 0
while time.monotonic() - t0 < max_s and not os.path.exists(stopfile):
    start = int((time.monotonic() - t0) * 1000)
    th = threading.Thread(target=one, args=(start,))
    th.start()
    threads.append(th)
    n += 1
    time.sleep(max(0.0, t0 + n * interval - time.monotonic()))
for th in threads:
    th.join()
lines.sort(key=lambda l: int(l.split()[0]))
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
