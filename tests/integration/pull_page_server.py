#!/usr/bin/env python3
"""A tiny protocol v1 server that answers the first pull with a page read from a file.

For tests of what syncd does with a pull answer the reference server cannot produce
(Python's json module refuses to nest 100,000 deep): the page file is sent byte for byte.
Loopback only, standard library only.

    pull_page_server.py --page FILE --port-file PATH

- GET /v1/health: 200 {}.
- GET /v1/pull?cursor=0: the page file. Any other cursor C: an empty page at cursor C.
  Every pull is logged to stderr as "pull cursor=C".
- Anything else (events, push): 404.
"""
import argparse
import http.server
import os
import sys
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/v1/health":
            return self.answer(200, b"{}")
        if url.path == "/v1/pull":
            cursor = urllib.parse.parse_qs(url.query).get("cursor", ["0"])[0]
            sys.stderr.write("pull cursor=%s\n" % cursor)
            sys.stderr.flush()
            if cursor == "0":
                return self.answer(200, self.server.page)
            empty = '{"changes":[],"cursor":"%s","has_more":false}' % cursor.replace('"', "")
            return self.answer(200, empty.encode())
        return self.answer(404, b'{"error":"not here"}')

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.answer(404, b'{"error":"not here"}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", required=True)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(args.page, "rb") as f:
        server.page = f.read()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
