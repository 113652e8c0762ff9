#!/usr/bin/env python3
"""Reference backend for syncd's remote protocol v1 (docs/PROTOCOL.md).

For tests and demos, not for production: one process, one SQLite file.
Python standard library only.

  refserver.py [--host 127.0.0.1] [--port 8787] [--db FILE] [--token TOKEN]
               [--port-file FILE] [--break dedupe|versions|filter ...]
               [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]
                [--tls-port N] [--tls-port-file FILE]]

With --tls-cert the same endpoints are also served over https on a second port (--tls-port,
0 for a free one, written to --tls-port-file); --tls-client-ca requires a client
certificate issued by that CA there. The plain port stays, for the test controls.

--port 0 picks a free port; --port-file writes the chosen port there once listening.
--break makes the server wrong on purpose, to show that tests/conformance/check.py
catches it: `dedupe` applies a repeated mutation id again instead of answering its first
result, `versions` keeps a document's first version on every later write, `filter`
ignores pull's collections filter.

Endpoints: POST /v1/push, GET /v1/pull, GET /v1/events (Server-Sent Events),
GET /v1/health, and POST /oauth/token: the refresh_token grant of RFC 6749 section 6
when --refresh-token is given, the client_credentials grant (section 4.4) when
--client-id and --client-secret are. Each grant issues a new access token, which replaces
the old one and works for --token-lifetime seconds (its expires_in); with
--rotate-refresh-token also a new refresh token, the old one spent. A wrong refresh token
is answered invalid_grant, a wrong client invalid_client. Test controls under /admin/ (no
auth): POST /admin/faults sets fault switches, GET /admin/applied lists every mutation
applied, in order, GET /admin/grants counts the grants (and their kinds), POST
/admin/revoke ends the access token, POST /admin/revoke_refresh_token ends the refresh
token and answers the one issued instead.
"""

import argparse
import json
import os
import socket
import sqlite3
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlparse

SCHEMA = """
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS documents (
  collection TEXT NOT NULL, doc_id TEXT NOT NULL,
  version INTEGER NOT NULL, data TEXT, deleted INTEGER NOT NULL,
  PRIMARY KEY (collection, doc_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS documents_by_version ON documents (version);
CREATE TABLE IF NOT EXISTS results (
  client_id TEXT NOT NULL, mutation_id TEXT NOT NULL, result TEXT NOT NULL,
  PRIMARY KEY (client_id, mutation_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS applied (
  version INTEGER PRIMARY KEY, client_id TEXT NOT NULL, mutation_id TEXT NOT NULL,
  collection TEXT NOT NULL, doc_id TEXT NOT NULL, op TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('version', 0);
"""

BREAKS = ("dedupe", "versions", "filter")

# A pull page ends early (has_more) once its documents pass this many bytes: syncd
# refuses an answer over http.max_response_bytes (64 MiB by default), and a page of 500
# documents of 512 KiB would be 256 MiB.
MAX_PAGE_BYTES = 16 << 20
MAX_FILTER_COLLECTIONS = 1000


def is_key(name):
    """A collection name as docs/PROTOCOL.md defines it: 1-256 bytes of printable UTF-8."""
    size = len(name.encode("utf-8", "surrogatepass"))
    if size < 1 or size > 256:
        return False
    for ch in name:
        code = ord(ch)
        if code < 0x20 or 0x7f <= code <= 0x9f or 0xd800 <= code <= 0xdfff:
            return False
    return True


def parse_collections(query):
    """The `collections` parameter of a pull from the raw query string: None when absent
    (all collections), else the list of names. The value is split at literal commas
    first, then each name is percent-decoded, so a name may hold a comma as %2C. Raises
    ValueError for an empty value, an empty name, a name that is not a valid collection
    name, or the parameter given twice."""
    values = [part[len("collections="):] for part in query.split("&")
              if part.startswith("collections=")]
    if any(part == "collections" for part in query.split("&")):
        raise ValueError("collections needs a value (leave it out to pull every collection)")
    if not values:
        return None
    if len(values) > 1:
        raise ValueError("collections given more than once (separate the names with commas)")
    if values[0] == "":
        raise ValueError("collections is empty (leave it out to pull every collection)")
    names = []
    for raw in values[0].split(","):
        try:
            name = unquote_plus(raw, errors="strict")
        except UnicodeDecodeError:
            raise ValueError("a collection name in the filter is not UTF-8")
        if not is_key(name):
            raise ValueError("collection name %r in the filter is not 1-256 bytes of printable UTF-8"
                             % name[:40])
        names.append(name)
    if len(names) > MAX_FILTER_COLLECTIONS:
        raise ValueError("more than %d collections in the filter" % MAX_FILTER_COLLECTIONS)
    return sorted(set(names))


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


class Faults:
    """Switches tests flip through POST /admin/faults. Each one-shot counter counts down."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.status = None  # answer this HTTP status to the next `status_count` requests
        self.status_count = 0
        self.status_path = None  # only to requests for this path, when set
        self.retry_after = None
        self.delay_ms = 0  # before answering any /v1/ request
        self.drop_count = 0  # close the connection mid-body after applying a push
        self.garbage_count = 0  # answer 200 with a body that is not JSON after applying
        self.reject_ids = {}  # mutation id -> error message, answered "rejected"
        self.reject_push_with_ids = {}  # mutation id -> message: refuse the whole push 400
        self.clock_offset_s = 0  # added to the time every answer's Date header gives

    def update(self, spec):
        with self.lock:
            if spec.get("reset"):
                self.reset()
            if "status" in spec:
                self.status = spec["status"]
                self.status_count = spec.get("count", 1)
                self.retry_after = spec.get("retry_after")
                self.status_path = spec.get("path")
            if "delay_ms" in spec:
                self.delay_ms = spec["delay_ms"]
            if "drop_mid_body" in spec:
                self.drop_count = spec["drop_mid_body"]
            if "clock_offset_s" in spec:
                self.clock_offset_s = spec["clock_offset_s"]
            if "garbage" in spec:
                self.garbage_count = spec["garbage"]
            for mid, message in spec.get("reject", {}).items():
                self.reject_ids[mid] = message
            for mid, message in spec.get("refuse_push", {}).items():
                self.reject_push_with_ids[mid] = message

    def take_status(self, path):
        with self.lock:
            if self.status is None or self.status_count <= 0:
                return None, None
            if self.status_path is not None and self.status_path != path:
                return None, None
            self.status_count -= 1
            status, retry_after = self.status, self.retry_after
            if self.status_count == 0:
                self.status = None
            return status, retry_after

    def take_garbage(self):
        with self.lock:
            if self.garbage_count > 0:
                self.garbage_count -= 1
                return True
            return False

    def take_drop(self):
        with self.lock:
            if self.drop_count > 0:
                self.drop_count -= 1
                return True
            return False


class Store:
    def __init__(self, path, breaks=()):
        self.breaks = set(breaks)
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.version = self.db.execute("SELECT value FROM meta WHERE key='version'").fetchone()[0]

    def push(self, client_id, mutations, reject_ids):
        """Applies a batch in one transaction; returns the list of results."""
        with self.lock:
            db = self.db
            ids = [m["id"] for m in mutations]
            known = {}
            # --break dedupe: earlier results are not looked up, so a repeated id is
            # worked again as if it were new.
            for i in range(0, len(ids) if "dedupe" not in self.breaks else 0, 500):
                chunk = ids[i:i + 500]
                q = "SELECT mutation_id, result FROM results WHERE client_id=? AND mutation_id IN (%s)" % (
                    ",".join("?" * len(chunk)))
                for mid, result in db.execute(q, [client_id] + chunk):
                    known[mid] = json.loads(result)
            docs = {}
            keys = list({(m["collection"], m["doc_id"]) for m in mutations if m["id"] not in known})
            for i in range(0, len(keys), 300):
                chunk = keys[i:i + 300]
                q = "SELECT collection, doc_id, version, data, deleted FROM documents WHERE " + " OR ".join(
                    ["(collection=? AND doc_id=?)"] * len(chunk))
                params = [x for key in chunk for x in key]
                for coll, did, version, data, deleted in db.execute(q, params):
                    docs[(coll, did)] = [version, data, deleted]
            results, new_results, applied, doc_writes = [], [], [], {}
            version = self.version
            for m in mutations:
                mid = m["id"]
                if mid in known:
                    results.append(known[mid])
                    continue
                result = self._apply_one(client_id, m, docs, reject_ids, version + 1,
                                         "versions" in self.breaks)
                if result["status"] == "applied":
                    version += 1
                    key = (m["collection"], m["doc_id"])
                    doc_writes[key] = docs[key]
                    applied.append((version, client_id, mid, m["collection"], m["doc_id"], m["op"]))
                known[mid] = result
                results.append(result)
                new_results.append((client_id, mid, json.dumps(result, separators=(",", ":"))))
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)"
                           if "dedupe" in self.breaks else "INSERT INTO results VALUES (?, ?, ?)",
                           new_results)
            db.executemany("INSERT INTO applied VALUES (?, ?, ?, ?, ?, ?)", applied)
            db.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?)",
                           [(k[0], k[1], v[0], v[1], v[2]) for k, v in doc_writes.items()])
            db.execute("UPDATE meta SET value=? WHERE key='version'", (version,))
            db.execute("COMMIT")
            if version != self.version:
                self.version = version
                self.changed.notify_all()
            return results

    @staticmethod
    def _apply_one(client_id, m, docs, reject_ids, next_version, keep_versions=False):
        mid = m["id"]
        if mid in reject_ids:
            return {"id": mid, "status": "rejected", "error": reject_ids[mid]}
        op = m.get("op")
        if op not in ("put", "patch", "delete"):
            return {"id": mid, "status": "rejected", "error": "unknown op %r" % (op,)}
        # What is malformed whatever the document's state is rejected before versions
        # are compared (docs/PROTOCOL.md, "Rejected").
        if op in ("put", "patch") and not isinstance(m.get("data"), dict):
            return {"id": mid, "status": "rejected", "error": "%s needs an object as data" % op}
        base = m.get("base_version")
        if base is not None and not isinstance(base, str):
            return {"id": mid, "status": "rejected", "error": "base_version must be a string or null"}
        key = (m["collection"], m["doc_id"])
        current = docs.get(key)
        exists = current is not None and not current[2]
        if base is None:
            ok = not exists
        else:
            ok = current is not None and str(current[0]) == str(base)
        if not ok:
            cur = {"version": str(current[0]) if current else None,
                   "data": json.loads(current[1]) if exists else None,
                   "deleted": not exists}
            return {"id": mid, "status": "conflict", "current": cur}
        if op == "put":
            data, deleted = json.dumps(m["data"], separators=(",", ":")), 0
        elif op == "patch":
            if not exists:
                return {"id": mid, "status": "rejected", "error": "patch of a missing document"}
            data = json.dumps(merge_patch(json.loads(current[1]), m.get("data")), separators=(",", ":"))
            deleted = 0
        else:
            data, deleted = None, 1
        if keep_versions and current is not None:
            next_version = current[0]  # --break versions: the version never moves
        docs[key] = [next_version, data, deleted]
        return {"id": mid, "status": "applied", "version": str(next_version)}

    def pull(self, cursor, limit, collections=None):
        """Changes after `cursor` in version order: every document whose latest version is
        newer, at that version. With `collections` (a list of names) only documents of
        those; the cursor is then the version of the page's last change, so it never
        passes a change of the collections asked for that the page did not hold."""
        if "filter" in self.breaks:
            collections = None
        where, params = "version > ?", [cursor]
        if collections is not None:
            where += " AND collection IN (%s)" % ",".join("?" * len(collections))
            params += collections
        with self.lock:
            rows = self.db.execute(
                "SELECT collection, doc_id, version, data, deleted FROM documents WHERE " + where +
                " ORDER BY version LIMIT ?", params + [limit + 1]).fetchall()
            newest = self.version
        more = len(rows) > limit
        rows = rows[:limit]
        size = 0
        for i, row in enumerate(rows):
            size += len(row[3] or "")
            if size > MAX_PAGE_BYTES and i + 1 < len(rows):
                rows, more = rows[:i + 1], True
                break
        changes = [{"collection": c, "doc_id": d, "version": str(v),
                    "data": json.loads(data) if data is not None else None, "deleted": bool(deleted)}
                   for c, d, v, data, deleted in rows]
        if collections is not None and not more:
            # Every change of these collections up to `newest` (read in the same lock as
            # the rows) is in the page: the cursor moves there, past what was written to
            # other collections.
            next_cursor = str(max(cursor, newest))
        elif rows:
            next_cursor = str(rows[-1][2])
        else:
            next_cursor = str(cursor)
        return {"changes": changes, "cursor": next_cursor, "has_more": more}

    def applied_log(self):
        with self.lock:
            rows = self.db.execute(
                "SELECT version, client_id, mutation_id, collection, doc_id, op FROM applied "
                "ORDER BY version").fetchall()
        return [{"version": v, "client_id": c, "id": i, "collection": coll, "doc_id": d, "op": op}
                for v, c, i, coll, d, op in rows]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "syncd-refserver/1"
    # Headers and body leave in one write (the handler flushes after each request), and
    # no Nagle: a small write waiting for a delayed ACK cost 40 ms per request.
    wbufsize = -1
    disable_nagle_algorithm = True

    @property
    def state(self):
        """What every listener of this server shares (the plain and the TLS one)."""
        return self.server.state

    def log_message(self, fmt, *args):
        if self.state.verbose:
            sys.stderr.write("refserver: " + (fmt % args) + "\n")

    def date_time_string(self, timestamp=None):
        """The Date header, on a clock set off by the clock_offset_s fault."""
        now = time.time() if timestamp is None else timestamp
        return super().date_time_string(now + self.state.faults.clock_offset_s)

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def authorized(self):
        if not self.state.auth_required:
            return True
        # Every token granted works until its own expiry (a refresh does not end the one
        # requests in flight carry), until /admin/revoke ends them all.
        given = self.headers.get("Authorization", "")
        if given.startswith("Bearer "):
            with self.state.grant_lock:
                expires = self.state.valid_tokens.get(given[len("Bearer "):])
            if expires is not None and time.monotonic() < expires:
                return True
        with self.state.grant_lock:
            self.state.unauthorized += 1
        # Drain the body, or its bytes would be read as the next request on this
        # keep-alive connection.
        self.read_body()
        self.send_json(401, {"error": "missing or wrong bearer token"},
                       {"WWW-Authenticate": 'Bearer realm="syncd"'})
        return False

    def fault_gate(self):
        faults = self.state.faults
        if faults.delay_ms:
            time.sleep(faults.delay_ms / 1000.0)
        status, retry_after = faults.take_status(urlparse(self.path).path)
        if status is not None:
            self.read_body()
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            self.send_json(status, {"error": "injected fault %d" % status}, headers)
            return False
        return True

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/v1/health":
            self.send_json(200, {"ok": True, "version": str(self.state.store.version)})
        elif url.path == "/v1/pull":
            if not self.authorized() or not self.fault_gate():
                return
            q = parse_qs(url.query)
            try:
                cursor = int(q.get("cursor", ["0"])[0] or 0)
                limit = max(1, min(int(q.get("limit", ["500"])[0]), 10000))
            except ValueError:
                self.send_json(400, {"error": "cursor and limit must be integers"})
                return
            try:
                collections = parse_collections(url.query)
            except ValueError as e:
                self.send_json(400, {"error": "bad collections filter: %s" % e})
                return
            self.send_json(200, self.state.store.pull(cursor, limit, collections))
        elif url.path == "/v1/events":
            if not self.authorized():
                return
            self.serve_events()
        elif url.path == "/admin/applied":
            self.send_json(200, {"applied": self.state.store.applied_log()})
        elif url.path == "/admin/grants":
            with self.state.grant_lock:
                self.send_json(200, {"grants": self.state.grants, "kinds": self.state.grant_kinds,
                                     "unauthorized": self.state.unauthorized})
        else:
            self.send_json(404, {"error": "no such endpoint"})

    def grant_token(self):
        form = parse_qs(self.read_body().decode(errors="replace"))
        state = self.state
        if not state.refresh_token and not state.client_secret:
            self.send_json(404, {"error": "no token endpoint"})
            return
        grant = form.get("grant_type", [""])[0]
        if grant == "client_credentials" and state.client_secret:
            if (form.get("client_id", [""])[0] != state.client_id or
                    form.get("client_secret", [""])[0] != state.client_secret):
                self.send_json(401, {"error": "invalid_client",
                                     "error_description": "unknown client or wrong secret"})
                return
        elif grant == "refresh_token" and state.refresh_token:
            if form.get("refresh_token", [""])[0] != state.refresh_token:
                self.send_json(400, {"error": "invalid_grant",
                                     "error_description": "refresh token revoked or unknown"})
                return
        else:
            self.send_json(400, {"error": "unsupported_grant_type"})
            return
        with state.grant_lock:
            state.grants += 1
            state.grant_kinds.append(grant)
            state.token = "%saccess-%d" % (state.token_prefix, state.grants)
            state.valid_tokens[state.token] = time.monotonic() + state.token_lifetime
        answer = {"access_token": state.token, "token_type": "Bearer",
                  "expires_in": state.token_lifetime}
        if self.state.rotate_refresh_token:
            # The old refresh token is spent: only the one issued now works next time.
            self.state.refresh_token = "%srefresh-%d" % (self.state.token_prefix, self.state.grants)
            answer["refresh_token"] = self.state.refresh_token
        self.send_json(200, answer)

    def serve_events(self):
        store = self.state.store
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        seen = store.version
        try:
            self.wfile.write(b": connected\n\n")
            self.wfile.flush()
            while not self.state.stopping:
                with store.changed:
                    store.changed.wait_for(lambda: store.version != seen or self.state.stopping, 15)
                    current = store.version
                if current != seen:
                    seen = current
                    self.wfile.write(("event: changed\ndata: {\"version\":\"%d\"}\n\n" % current).encode())
                else:
                    self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def do_POST(self):
        url = urlparse(self.path)
        if url.path == "/oauth/token":
            self.grant_token()
            return
        if url.path == "/admin/revoke_refresh_token":
            # The refresh token stops working (invalid_grant); a new one is issued to the
            # test, as an administrator would hand it out.
            self.read_body()
            self.state.refresh_token = "%sreissued-%d" % (self.state.token_prefix,
                                                          self.state.grants)
            self.send_json(200, {"refresh_token": self.state.refresh_token})
            return
        if url.path == "/admin/revoke":
            # The access token in use stops working: the next request gets a 401.
            self.read_body()
            with self.state.grant_lock:
                self.state.token = "revoked-%d" % self.state.grants
                self.state.valid_tokens.clear()
            self.send_json(200, {"ok": True})
            return
        if url.path == "/admin/faults":
            try:
                self.state.faults.update(json.loads(self.read_body() or b"{}"))
            except (ValueError, AttributeError) as e:
                self.send_json(400, {"error": str(e)})
                return
            self.send_json(200, {"ok": True})
            return
        if url.path != "/v1/push":
            self.read_body()
            self.send_json(404, {"error": "no such endpoint"})
            return
        if not self.authorized() or not self.fault_gate():
            return
        # One push at a time from reading its body to writing its answer: threads
        # parsing big bodies side by side only fight over the GIL.
        with self.state.push_lock:
            self.handle_push()

    def handle_push(self):
        try:
            request = json.loads(self.read_body())
            client_id = request["client_id"]
            mutations = request["mutations"]
            if not isinstance(client_id, str) or not isinstance(mutations, list):
                raise ValueError("client_id must be a string and mutations a list")
            for m in mutations:
                if not isinstance(m, dict):
                    raise ValueError("a mutation is not an object")
                for field in ("id", "collection", "doc_id", "op"):
                    if not isinstance(m.get(field), str):
                        raise ValueError("mutation field %s must be a string" % field)
        except (ValueError, KeyError, TypeError) as e:
            self.send_json(400, {"error": "bad push: %s" % e})
            return
        faults = self.state.faults
        for m in mutations:
            if m["id"] in faults.reject_push_with_ids:
                self.send_json(400, {"error": faults.reject_push_with_ids[m["id"]]})
                return
        results = self.state.store.push(client_id, mutations, dict(faults.reject_ids))
        if faults.take_drop():
            # Applied, but the answer is lost: headers and half a body, then a reset.
            body = json.dumps({"results": results}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            # An abortive close (RST), as a crashed server or a cut link would leave.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if faults.take_garbage():
            body = b"<html>502 proxy says hello</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_json(200, {"results": results})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs of parallel clients (1 s retries)


class State:
    """The documents, faults and tokens every listener serves."""


def write_port_file(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def tls_context(args):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    if args.tls_client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(args.tls_client_ca)
    return context


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--db", default=":memory:")
    parser.add_argument("--token", default="")
    parser.add_argument("--refresh-token", default="")
    parser.add_argument("--rotate-refresh-token", action="store_true")
    parser.add_argument("--client-id", default="", help="with --client-secret: the "
                        "client_credentials grant (RFC 6749 section 4.4) at /oauth/token")
    parser.add_argument("--client-secret", default="")
    parser.add_argument("--token-lifetime", type=float, default=3600,
                        help="seconds a granted access token works (its expires_in)")
    parser.add_argument("--token-prefix", default="",
                        help="begins every token issued (for a test that greps for them)")
    parser.add_argument("--port-file", default="")
    parser.add_argument("--tls-cert", default="", help="also serve https with this certificate")
    parser.add_argument("--tls-key", default="")
    parser.add_argument("--tls-client-ca", default="",
                        help="on https, require a client certificate issued by this CA")
    parser.add_argument("--tls-port", type=int, default=0)
    parser.add_argument("--tls-port-file", default="")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--break", dest="breaks", action="append", default=[], choices=BREAKS,
                        help="be wrong on purpose (for the conformance kit's own tests)")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the reference server listens on loopback only")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        parser.error("--tls-client-ca needs --tls-cert and --tls-key")
    state = State()
    state.store = Store(args.db, args.breaks)
    state.faults = Faults()
    state.token = args.token
    state.push_lock = threading.Lock()
    state.refresh_token = args.refresh_token
    state.rotate_refresh_token = args.rotate_refresh_token
    state.client_id = args.client_id
    state.client_secret = args.client_secret
    state.token_lifetime = args.token_lifetime
    state.token_prefix = args.token_prefix
    state.grant_lock = threading.Lock()
    state.grant_kinds = []
    state.unauthorized = 0  # requests answered 401
    state.auth_required = bool(args.token or args.refresh_token or args.client_secret)
    # token -> monotonic expiry; the --token given never expires.
    state.valid_tokens = {args.token: float("inf")} if args.token else {}
    state.grants = 0
    state.verbose = args.verbose
    state.stopping = False
    server = Server((args.host, args.port), Handler)
    server.state = state
    tls_server = None
    if args.tls_cert:
        tls_server = Server((args.host, args.tls_port), Handler)
        tls_server.state = state
        tls_server.socket = tls_context(args).wrap_socket(tls_server.socket, server_side=True,
                                                          do_handshake_on_connect=False)
    # The TLS port first: a test that reads the plain port file may then use both.
    if tls_server and args.tls_port_file:
        write_port_file(args.tls_port_file, tls_server.server_address[1])
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    if args.breaks:
        sys.stderr.write("refserver: broken on purpose: %s\n" % ", ".join(args.breaks))
    sys.stderr.write("refserver: listening on http://%s:%d\n" % (args.host, port))
    if tls_server:
        sys.stderr.write("refserver: listening on https://%s:%d%s\n" %
                         (args.host, tls_server.server_address[1],
                          " (client certificates required)" if args.tls_client_ca else ""))
        threading.Thread(target=tls_server.serve_forever, daemon=True).start()
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        state.stopping = True
        with state.store.changed:
            state.store.changed.notify_all()


if __name__ == "__main__":
    main()
