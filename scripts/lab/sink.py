#!/usr/bin/env python3
"""Webhook sink standing in for Slack: records JSON POST bodies, answers like Slack, scriptable failures.

Files in --dir:
  alerts.jsonl    one compacted JSON document per delivered (2xx) POST body
  requests.log    every request: time, status, path, body size (one line each)
  respond.json    written by `lab.sh sink respond`: {"code": C, "count": N|null, "retry_after": S|null};
                  the sink takes it over at the next POST and deletes it
Slack's rules: a body that is not a JSON object is answered 400 invalid_payload, one without
text/blocks/attachments 400 missing_text_or_fallback_or_attachments; success is 200 "ok".
Non-2xx answers count as not delivered: logged in requests.log, not in alerts.jsonl.
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20
REASONS = {400: "invalid_payload", 403: "invalid_token", 404: "no_service", 410: "channel_is_archived",
           429: "rate_limited", 500: "rollup_error", 502: "bad_gateway", 503: "service_unavailable"}


class Sink:
    """Response mode and the record files, shared by the handler threads."""

    def __init__(self, directory):
        self.dir = directory
        self.lock = threading.Lock()
        self.code, self.count, self.retry_after = 200, None, None
        os.makedirs(directory, exist_ok=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def take_control(self):
        """Adopt a respond.json written by lab.sh, if any (called with the lock held)."""
        ctl = self.path("respond.json")
        try:
            with open(ctl) as f:
                mode = json.load(f)
            os.unlink(ctl)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as e:
            print(f"sink: ignoring bad respond.json: {e}", file=sys.stderr, flush=True)
            return
        self.code = int(mode.get("code", 200))
        self.count = mode.get("count")
        self.retry_after = mode.get("retry_after")

    def next_response(self):
        """Return (code, retry_after) for this POST and consume one from the scripted count."""
        self.take_control()
        code, retry_after = self.code, self.retry_after
        if self.count is not None:
            self.count -= 1
            if self.count <= 0:
                self.code, self.count, self.retry_after = 200, None, None
        return code, retry_after

    def append(self, name, line):
        with open(self.path(name), "a", encoding="utf-8") as f:
            f.write(line + "\n")


def slack_check(body):
    """Return (compacted JSON line, None) for a valid Slack payload, else (None, error string)."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, "invalid_payload"
    if not isinstance(doc, dict):
        return None, "invalid_payload"
    if not any(k in doc for k in ("text", "blocks", "attachments")):
        return None, "missing_text_or_fallback_or_attachments"
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False), None


class Handler(BaseHTTPRequestHandler):
    server_version = "pgsteer-lab-sink"
    protocol_version = "HTTP/1.1"

    def answer(self, code, text, headers=None):
        data = (text + "\n" if code != 200 else text).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.answer(200, "pgsteer lab webhook sink: POST JSON here")

    def do_POST(self):
        sink = self.server.sink
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return self.answer(413, "payload_too_large")
        body = self.rfile.read(length)
        line, error = slack_check(body)
        with sink.lock:
            code, retry_after = sink.next_response()
            if code == 200 and error:
                code = 400
            headers = {}
            if code == 429 and retry_after is not None:
                headers["Retry-After"] = str(retry_after)
            delivered = 200 <= code < 300
            if delivered:
                sink.append("alerts.jsonl", line)
            now = time.time()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
            note = f" retry_after={retry_after}" if headers else ""
            sink.append("requests.log", f"{stamp} POST {self.path} {code}{note} bytes={len(body)}"
                        + ("" if delivered else " not-delivered"))
        self.answer(code, "ok" if delivered else (error or REASONS.get(code, "error")), headers)

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    server = ThreadingHTTPServer((args.listen, args.port), Handler)
    server.daemon_threads = True
    server.sink = Sink(args.dir)
    print(f"sink: listening on {args.listen}:{args.port}, recording to {args.dir}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
