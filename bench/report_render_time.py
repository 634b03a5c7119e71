#!/usr/bin/env python3
"""Times how long a `joulebench report` page takes to draw in headless Chromium.

Drives Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3 in, fd 4
out, NUL-separated JSON), so no port and no extra package is needed. For each of N fresh tabs it
navigates to the page and waits until <body data-done="1"> (set by report.js once every
vega-embed promise has settled), then reads data-render-ms: milliseconds from navigation start to
that moment, measured by the page's own clock (performance.now()). Prints one line per run and the
median. Name resolution is blocked (--host-resolver-rules) as in the tests.

Usage: report_render_time.py REPORT.html [RUNS] [CHROMIUM]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, chromium, profile):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def fds():
            # Copies first: a pipe end may itself be fd 3 or 4, and dup2 onto itself would
            # leave it close-on-exec.
            r, w = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--user-data-dir=" + profile, "--host-resolver-rules=MAP * ~NOTFOUND",
             "--remote-debugging-pipe", "about:blank"],
            # The pipe ends are not inheritable (PEP 446); dup2 makes fds 3 and 4 inheritable
            # copies, and close_fds=False keeps them (closing would run after preexec_fn).
            close_fds=False, preexec_fn=fds,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf = b""
        self.next_id = 0

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self.read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def read(self):
        while b"\0" not in self.buf:
            chunk = os.read(self.from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        self.proc.wait(timeout=30)


def main():
    page = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    chromium = sys.argv[3] if len(sys.argv) > 3 else "/usr/bin/chromium"
    times = []
    cpu_times = []
    with tempfile.TemporaryDirectory() as profile:
        b = Browser(chromium, profile)
        try:
            for i in range(runs):
                target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
                session = b.send("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
                b.send("Page.enable", session=session)
                b.send("Performance.enable", session=session)
                start = time.monotonic()
                b.send("Page.navigate", {"url": "file://" + page}, session=session)
                while True:
                    r = b.send("Runtime.evaluate", {
                        "expression": "document.body ? JSON.stringify(document.body.dataset) : '{}'",
                        "returnByValue": True}, session=session)
                    d = json.loads(r["result"]["value"])
                    if d.get("done") == "1":
                        break
                    if time.monotonic() - start > 120:
                        raise RuntimeError("the page did not finish in 120 s")
                    time.sleep(0.01)
                wall = (time.monotonic() - start) * 1000.0
                per_chart = b.send("Runtime.evaluate", {
                    "expression": "Array.from(document.querySelectorAll('.chart')).map("
                                  "e => e.dataset.chart + ':' + e.dataset.renderMs).join(' ')",
                    "returnByValue": True}, session=session)["result"]["value"]
                timing = b.send("Runtime.evaluate", {
                    "expression": "(() => { const n = performance.getEntriesByType('navigation')[0];"
                                  " return n ? n.domContentLoadedEventEnd.toFixed(0) : '?'; })()",
                    "returnByValue": True}, session=session)["result"]["value"]
                ms = float(d["renderMs"])
                times.append(ms)
                print(f"run {i + 1}: rendered in {ms:.0f} ms (page clock), {wall:.0f} ms seen by the "
                      f"driver; charts {d.get('chartsRendered')}/{d.get('chartsExpected')}, "
                      f"errors {d.get('errors')}")
                metrics = {m["name"]: m["value"] for m in
                           b.send("Performance.getMetrics", session=session)["metrics"]}
                cpu = metrics.get("ThreadTime", float("nan")) * 1000.0
                task = metrics.get("TaskDuration", float("nan")) * 1000.0
                cpu_times.append(cpu)
                print(f"  main thread: {cpu:.0f} ms CPU (ThreadTime), {task:.0f} ms in tasks; "
                      f"DOMContentLoaded at {timing} ms; per chart (ms from its start): {per_chart}")
                if d.get("errors") != "0":
                    print("  errors:", d.get("errorText"))
                b.send("Target.closeTarget", {"targetId": target})
        finally:
            b.close()
    print(f"median render time over {runs} runs: {statistics.median(times):.0f} ms "
          f"(min {min(times):.0f}, max {max(times):.0f}); main-thread CPU time: median "
          f"{statistics.median(cpu_times):.0f} ms (min {min(cpu_times):.0f})")


if __name__ == "__main__":
    main()
