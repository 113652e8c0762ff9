#!/usr/bin/env python3
"""A backend that answers syncd badly on purpose, as each hostile-server test scripts it.

  hostile_server.py [--port 0] [--port-file FILE] --control SOCKET [--script JSON]

Listens on 127.0.0.1 only. Python standard library only, like tests/refserver/.

The script is a JSON object with one entry per endpoint ("health", "push", "pull",
"events", "token"), each {"mode": NAME, ...parameters}; an endpoint left out gets its
default (health: 200 {"ok":true}; push: 503; pull: an empty page that echoes the cursor;
events: 404; token: 400). With "hang": true at the top, every connection is accepted and
never read from or answered (a TLS handshake that never finishes).

Modes:
  fixed       {"status": 200, "headers": {...}, "body": "text", "body_hex": "ff00"}
              ("Location": "self" in headers means this server's own URL for the path)
  results     push only: answers 200 {"results": [...]} made from the request, with
              "kind": "empty" (no results), "missing" (the first half only), "unknown"
              (results for ids nobody sent), "extra" (every id plus unknown ones),
              "duplicate" (each id twice, differently), "rejected" (each id, with a
              100 KB error holding control bytes), "bad_version" (applied with
              version "abc")
  gzip_bomb   {"inflated_bytes": N}: Content-Encoding gzip, zeros, about N/1000 on the wire
  huge        {"bytes": N, "content_length": false}: N bytes of 'x' as fast as possible
  slow        {"body": "...", "bytes_per_second": 1}: the headers, then the body trickles
  headers_flood  endless distinct response headers
  same_cursor pull only: {"changes": [], "cursor": <the request's>, "has_more": true}
  bad_version pull only: one change with version "abc"
  random      events only: random bytes as fast as the client reads
  changed     events only: {"per_second": N}: `event: changed` N times a second
  long_line   events only: "data: " and then 'x' forever, no newline

Control: one command per line on the Unix socket SOCKET, answered with one line:
  script JSON   replace the script            -> ok
  stats         {"connections": n, "requests": {"/v1/push": n, ...}}
"""

import argparse
import json
import os
import socketserver
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ENDPOINTS = {"/v1/health": "health", "/v1/push": "push", "/v1/pull": "pull",
             "/v1/events": "events", "/oauth/token": "token"}
DEFAULTS = {
    "health": {"mode": "fixed", "status": 200, "body": '{"ok":true}'},
    "push": {"mode": "fixed", "status": 503, "body": '{"error":"hostile default"}'},
    "pull": {"mode": "page"},
    "events": {"mode": "fixed", "status": 404, "body": "{}"},
    "token": {"mode": "fixed", "status": 400, "body": '{"error":"invalid_grant"}'},
}


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = {}

    def count_connection(self):
        with self.lock:
            self.connections += 1

    def count_request(self, path):
        with self.lock:
            self.requests[path] = self.requests.get(path, 0) + 1

    def snapshot(self):
        with self.lock:
            return {"connections": self.connections, "requests": dict(self.requests)}


def gzip_unit():
    """The gzip header with 1 MiB of zeros, then the bytes of each further MiB.

    After Z_FULL_FLUSH the compressor starts afresh, so every further MiB of zeros
    compresses to the same bytes: a bomb of any size costs one MiB of compression."""
    zeros = b"\0" * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    unit = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    assert unit == again
    return first, unit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile/1"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        self.server.stats.count_connection()

    def handle(self):
        if self.server.script.get("hang"):
            # Accepted, never read, never answered: a TLS ClientHello waits forever.
            while not self.server.stopping:
                time.sleep(0.05)
            return
        super().handle()

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def start(self, status, headers, content_length=None):
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() == "location" and value == "self":
                value = "http://127.0.0.1:%d%s" % (self.server.server_address[1], self.path)
            self.send_header(name, value)
        if content_length is None:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(content_length))
        self.end_headers()

    def send_bytes(self, status, body, headers=None):
        self.start(status, dict({"Content-Type": "application/json"}, **(headers or {})), len(body))
        self.wfile.write(body)

    def dispatch(self):
        url = urlparse(self.path)
        endpoint = ENDPOINTS.get(url.path)
        self.server.stats.count_request(url.path)
        body = self.read_body() if self.command == "POST" else b""
        if endpoint is None:
            self.send_bytes(404, b'{"error":"no such endpoint"}')
            return
        spec = self.server.script.get(endpoint, DEFAULTS[endpoint])
        mode = spec.get("mode", "fixed")
        try:
            getattr(self, "mode_" + mode)(spec, url, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = dispatch
    do_POST = dispatch

    def mode_fixed(self, spec, url, body):
        data = bytes.fromhex(spec["body_hex"]) if "body_hex" in spec else spec.get("body", "").encode()
        self.send_bytes(spec.get("status", 200), data, spec.get("headers"))

    def mode_page(self, spec, url, body):
        cursor = parse_qs(url.query).get("cursor", ["0"])[0]
        self.send_json({"changes": [], "cursor": cursor, "has_more": False})

    def mode_same_cursor(self, spec, url, body):
        cursor = parse_qs(url.query).get("cursor", ["0"])[0]
        self.send_json({"changes": [], "cursor": cursor, "has_more": True})

    def mode_bad_version(self, spec, url, body):
        change = {"collection": "c", "doc_id": "bad", "version": "abc", "data": {"x": 1},
                  "deleted": False}
        self.send_json({"changes": [change], "cursor": "77", "has_more": False})

    def send_json(self, obj):
        self.send_bytes(200, json.dumps(obj).encode())

    def mode_results(self, spec, url, body):
        ids = [m["id"] for m in json.loads(body)["mutations"]]
        kind = spec["kind"]
        applied = [{"id": i, "status": "applied", "version": str(n + 1)} for n, i in enumerate(ids)]
        unknown = [{"id": "unknown-%d" % n, "status": "applied", "version": "9"} for n in range(3)]
        if kind == "empty":
            results = []
        elif kind == "missing":
            results = applied[: len(ids) // 2]
        elif kind == "unknown":
            results = unknown
        elif kind == "extra":
            results = applied + unknown
        elif kind == "duplicate":
            results = applied + [{"id": i, "status": "rejected", "error": "twice"} for i in ids]
        elif kind == "rejected":
            error = "refused\x00\x1b[31m " + "x" * 100000
            results = [{"id": i, "status": "rejected", "error": error} for i in ids]
        elif kind == "bad_version":
            results = [{"id": i, "status": "applied", "version": "abc"} for i in ids]
        else:
            raise ValueError("unknown results kind %r" % kind)
        self.send_json({"results": results})

    def mode_gzip_bomb(self, spec, url, body):
        first, unit = self.server.gzip
        self.start(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
        self.wfile.write(first)
        for _ in range(max(spec.get("inflated_bytes", 1 << 30) >> 20, 1) - 1):
            self.wfile.write(unit)

    def mode_huge(self, spec, url, body):
        total = spec.get("bytes", 200 * 1000 * 1000)
        self.start(200, {"Content-Type": "application/json"},
                   total if spec.get("content_length") else None)
        chunk = b"x" * 65536
        sent = 0
        while sent < total:
            piece = chunk[: min(len(chunk), total - sent)]
            self.wfile.write(piece)
            sent += len(piece)

    def mode_slow(self, spec, url, body):
        data = spec.get("body", '{"results":[]}').encode()
        self.start(200, {"Content-Type": "application/json"}, len(data))
        self.wfile.flush()
        for i in range(len(data)):
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
            time.sleep(1.0 / spec.get("bytes_per_second", 1))

    def mode_headers_flood(self, spec, url, body):
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        n = 0
        while not self.server.stopping:
            self.wfile.write(b"X-Flood-%d: %s\r\n" % (n, b"y" * 1000))
            n += 1
        self.close_connection = True

    def stream_start(self):
        self.start(200, {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})

    def mode_random(self, spec, url, body):
        self.stream_start()
        while not self.server.stopping:
            self.wfile.write(os.urandom(65536))

    def mode_changed(self, spec, url, body):
        self.stream_start()
        interval = 1.0 / spec.get("per_second", 100)
        n = 0
        while not self.server.stopping:
            n += 1
            self.wfile.write(b'event: changed\ndata: {"version":"%d"}\n\n' % n)
            self.wfile.flush()
            time.sleep(interval)

    def mode_long_line(self, spec, url, body):
        self.stream_start()
        self.wfile.write(b"data: ")
        chunk = b"x" * 65536
        while not self.server.stopping:
            self.wfile.write(chunk)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class Control(socketserver.StreamRequestHandler):
    def handle(self):
        server = self.server.http
        for raw in self.rfile:
            line = raw.decode(errors="replace").strip()
            name, _, arg = line.partition(" ")
            if name == "script":
                try:
                    server.script = json.loads(arg)
                    answer = "ok"
                except ValueError as e:
                    answer = "error %s" % e
            elif name == "stats":
                answer = json.dumps(server.stats.snapshot())
            else:
                answer = "error unknown command %r" % line
            self.wfile.write((answer + "\n").encode())
            self.wfile.flush()


class ControlServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", default="")
    parser.add_argument("--control", required=True)
    parser.add_argument("--script", default="{}")
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.script = json.loads(args.script)
    server.stats = Stats()
    server.gzip = gzip_unit()
    server.stopping = False
    if os.path.exists(args.control):
        os.unlink(args.control)
    control = ControlServer(args.control, Control)
    control.http = server
    threading.Thread(target=control.serve_forever, daemon=True).start()
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.rename(args.port_file + ".tmp", args.port_file)
    sys.stderr.write("hostile: listening on 127.0.0.1:%d\n" % server.server_address[1])
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stopping = True


if __name__ == "__main__":
    main()
