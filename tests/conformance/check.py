#!/usr/bin/env python3
"""Conformance kit for syncd's remote protocol v1 (docs/PROTOCOL.md).

Checks that a server implements protocol v1 as syncd needs it:

  python3 tests/conformance/check.py --remote http://127.0.0.1:8787 [--token TOKEN]

Prints one line per check, `PASS name`, `FAIL name: why` or `SKIP name: why`, and
exits 1 when a check failed (2 on a usage error). It writes only to collections whose
names start with a random prefix made for the run (`--prefix` to choose it), so it can
run against a shared server; it never deletes anything it did not write. Every network
wait is bounded (`--timeout`). Python 3 standard library only.
"""

import argparse
import http.client
import json
import os
import socket
import ssl
import sys
import time
import uuid
from urllib.parse import quote, urlsplit

MAX_VERSION = 2 ** 64 - 1
MAX_CURSOR_BYTES = 1024
MAX_BODY_BYTES = 64 << 20  # http.max_response_bytes' default
# Statuses syncd takes for "the remote URL or a proxy is wrong", never "this content is
# refused" (docs/PROTOCOL.md, "Status codes").
NOT_A_REFUSAL = {401, 403, 404, 405, 407, 408, 410, 425, 429}


class Failed(Exception):
    pass


class Skipped(Exception):
    pass


def fail(message):
    raise Failed(message)


def show(value, limit=300):
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def version_number(value, what):
    """A version as the protocol allows it: a JSON string of 1-20 decimal digits without
    sign or leading zero (or a JSON number 0..2^64-1, which syncd also accepts)."""
    if isinstance(value, bool):
        fail("%s is %s: a version is a string of decimal digits" % (what, show(value)))
    if isinstance(value, int):
        if 0 <= value <= MAX_VERSION:
            return value
        fail("%s is the number %d: outside 0..2^64-1" % (what, value))
    if isinstance(value, str):
        if (1 <= len(value) <= 20 and value.isascii() and value.isdigit()
                and (len(value) == 1 or value[0] != "0")):
            return int(value)
        fail("%s is %s: a version is 1-20 decimal digits without sign or leading zero"
             % (what, show(value)))
    fail("%s is %s: a version is a JSON string of decimal digits" % (what, show(value)))


class Remote:
    def __init__(self, url, token, timeout):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("--remote must be an http:// or https:// URL, not %r" % url)
        if parts.query or parts.fragment:
            raise ValueError("--remote must not have a query or fragment")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout

    def connect(self, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def headers(self, token, extra):
        headers = {"Connection": "close"}
        token = self.token if token is True else token
        if token:
            headers["Authorization"] = "Bearer " + token
        headers.update(extra or {})
        return headers

    def request(self, method, path, body=None, token=True, extra=None):
        """One request on a connection of its own; returns (status, headers, body).
        `token` True sends the kit's token, None no Authorization, a string that one.
        Redirects are not followed (syncd never follows them)."""
        conn = self.connect()
        try:
            headers = self.headers(token, extra)
            if body is not None:
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                headers.setdefault("Content-Type", "application/json")
            conn.request(method, self.base + path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read(MAX_BODY_BYTES + 1)
            if len(data) > MAX_BODY_BYTES:
                fail("%s %s: answer longer than %d bytes (http.max_response_bytes)"
                     % (method, path, MAX_BODY_BYTES))
            return response.status, response.headers, data
        except (OSError, http.client.HTTPException) as e:
            fail("%s %s: %s" % (method, path, describe_error(e, self.timeout)))
        finally:
            conn.close()

    def json_request(self, method, path, body=None):
        status, headers, data = self.request(method, path, body)
        if status != 200:
            fail("%s %s answered HTTP %d: %s" % (method, path, status, excerpt(data)))
        if "gzip" in (headers.get("Content-Encoding") or ""):
            fail("%s %s: gzip body although the kit did not ask for it" % (method, path))
        try:
            return json.loads(data)
        except ValueError as e:
            fail("%s %s: the answer is not JSON (%s): %s" % (method, path, e, excerpt(data)))

    def push(self, client_id, mutations):
        """Pushes `mutations`; checks the answer's shape (one result per mutation, each of
        a known status with its fields) and returns {mutation id: result}."""
        answer = self.json_request("POST", "/v1/push",
                                   {"client_id": client_id, "mutations": mutations})
        if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
            fail("push answer has no results array: %s" % show(answer))
        by_id = {}
        for r in answer["results"]:
            if not isinstance(r, dict) or not isinstance(r.get("id"), str):
                fail("a push result is not an object with a string id: %s" % show(r))
            if r["id"] in by_id:
                fail("two results for mutation %s" % r["id"])
            check_result_shape(r)
            by_id[r["id"]] = r
        sent = [m["id"] for m in mutations]
        unknown = set(by_id) - set(sent)
        if unknown:
            fail("results for mutations not sent: %s" % sorted(unknown))
        missing = [mid for mid in sent if mid not in by_id]
        if missing:
            fail("no result for %d of the %d mutations sent (%s first)"
                 % (len(missing), len(sent), missing[0]))
        return by_id

    def pull(self, cursor=None, limit=None, collections=None):
        """One pull page, its shape checked."""
        params = []
        if cursor is not None:
            params.append("cursor=" + quote(str(cursor), safe=""))
        if limit is not None:
            params.append("limit=%d" % limit)
        if collections is not None:
            params.append("collections=" + ",".join(quote(c, safe="") for c in collections))
        path = "/v1/pull" + ("?" + "&".join(params) if params else "")
        page = self.json_request("GET", path)
        if not isinstance(page, dict):
            fail("pull answer is not an object: %s" % show(page))
        if not isinstance(page.get("changes"), list):
            fail("pull answer has no changes array: %s" % show(page))
        if not isinstance(page.get("has_more"), bool):
            fail("pull answer has no boolean has_more: %s" % show(page))
        c = page.get("cursor")
        if isinstance(c, bool) or not isinstance(c, (str, int)):
            fail("pull answer's cursor is %s: a cursor is a string" % show(c))
        if not 1 <= len(str(c).encode()) <= MAX_CURSOR_BYTES:
            fail("pull answer's cursor is empty or longer than %d bytes" % MAX_CURSOR_BYTES)
        for change in page["changes"]:
            if not isinstance(change, dict):
                fail("a pulled change is not an object: %s" % show(change))
            for key in ("collection", "doc_id"):
                if not isinstance(change.get(key), str) or not change[key]:
                    fail("a pulled change has no string %s: %s" % (key, show(change)))
            version_number(change.get("version"), "pulled change %s/%s's version"
                           % (change["collection"], change["doc_id"]))
            if not isinstance(change.get("deleted"), bool):
                fail("pulled change %s/%s has no boolean deleted"
                     % (change["collection"], change["doc_id"]))
            if change["deleted"]:
                if change.get("data") is not None:
                    fail("pulled change %s/%s is deleted but has data"
                         % (change["collection"], change["doc_id"]))
            elif not isinstance(change.get("data"), dict):
                fail("pulled change %s/%s is not deleted and its data is not an object: %s"
                     % (change["collection"], change["doc_id"], show(change.get("data"))))
        if page["has_more"]:
            if not page["changes"]:
                fail("a page with has_more true has no changes (it would be asked for again"
                     " for ever)")
            if cursor is not None and str(c) == str(cursor):
                fail("a page with has_more true did not move the cursor from %s" % show(cursor))
        return page


def check_result_shape(r):
    status = r.get("status")
    what = "result of %s" % r["id"]
    if status == "applied":
        version_number(r.get("version"), "applied %s's version" % what)
    elif status == "conflict":
        current = r.get("current")
        if not isinstance(current, dict):
            fail("conflict %s has no current object: %s" % (what, show(r)))
        if "version" not in current or "data" not in current or "deleted" not in current:
            fail("conflict %s: current needs version, data and deleted: %s" % (what, show(r)))
        if current["version"] is not None:
            version_number(current["version"], "conflict %s's current.version" % what)
        if not isinstance(current["deleted"], bool):
            fail("conflict %s: current.deleted is not a boolean: %s" % (what, show(r)))
        if current["deleted"]:
            if current["data"] is not None:
                fail("conflict %s: current is deleted but has data: %s" % (what, show(r)))
        elif not isinstance(current["data"], dict):
            fail("conflict %s: current.data is not an object: %s" % (what, show(r)))
        elif current["version"] is None:
            fail("conflict %s: a current document with data has no version: %s" % (what, show(r)))
    elif status == "rejected":
        if not isinstance(r.get("error"), str) or not r["error"]:
            fail("rejected %s has no error message: %s" % (what, show(r)))
    else:
        fail("%s has unknown status %s" % (what, show(status)))


def describe_error(e, timeout, flag="--timeout"):
    if isinstance(e, socket.timeout):
        return "no answer within %g s (%s)" % (timeout, flag)
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    return "%s: %s" % (type(e).__name__, e)


def excerpt(data, limit=200):
    text = data[:limit].decode("utf-8", "replace")
    return repr(text) + ("..." if len(data) > limit else "")


class Kit:
    def __init__(self, remote, prefix, sse_timeout, drain_timeout):
        self.remote = remote
        self.prefix = prefix
        self.client_id = "conformance-" + uuid.uuid4().hex
        self.sse_timeout = sse_timeout
        self.drain_timeout = drain_timeout

    # -- helpers ---------------------------------------------------------------------

    def coll(self, name):
        return "%s_%s" % (self.prefix, name)

    @staticmethod
    def mutation(collection, doc_id, op, base=None, data=None, mid=None):
        return {"id": mid or str(uuid.uuid4()), "collection": collection, "doc_id": doc_id,
                "op": op, "base_version": base, "data": data}

    def push_one(self, m):
        return self.remote.push(self.client_id, [m])[m["id"]]

    def applied(self, m, step):
        """Pushes `m`, which must be applied; returns its version (the wire value)."""
        r = self.push_one(m)
        if r["status"] != "applied":
            fail("%s: %s %s/%s (base_version %s) was answered %s, expected applied"
                 % (step, m["op"], m["collection"], m["doc_id"], show(m["base_version"]), show(r)))
        return r["version"]

    def newer(self, later, earlier, step):
        if version_number(later, step) <= version_number(earlier, step):
            fail("%s: version %s is not newer than the document's previous version %s"
                 % (step, show(later), show(earlier)))

    def pull_all(self, collections=None, cursor=None, limit=100, between_pages=None):
        """Pages from `cursor` until has_more is false; checks each page's limit and
        cursor. Returns (changes in order, final cursor, pages)."""
        changes, pages = [], 0
        deadline = time.monotonic() + self.drain_timeout
        while True:
            page = self.remote.pull(cursor, limit, collections)
            pages += 1
            if len(page["changes"]) > limit:
                fail("a pull with limit=%d answered %d changes" % (limit, len(page["changes"])))
            changes += page["changes"]
            cursor = page["cursor"]
            if not page["has_more"]:
                return changes, cursor, pages
            if between_pages:
                between_pages(pages)
            if time.monotonic() > deadline:
                raise TimeoutError("paging did not end within %g s (--drain-timeout)"
                                   % self.drain_timeout)

    @staticmethod
    def latest(changes, collections):
        """{(collection, doc_id): change} with the newest version seen of each."""
        out = {}
        for c in changes:
            if c["collection"] not in collections:
                continue
            key = (c["collection"], c["doc_id"])
            if key not in out or int(c["version"]) >= int(out[key]["version"]):
                out[key] = c
        return out

    @staticmethod
    def expect_state(seen, key, version, data, step):
        c = seen.get(key)
        if c is None:
            fail("%s: %s/%s is missing from the pulled changes" % (step, key[0], key[1]))
        if int(c["version"]) != version_number(version, step):
            fail("%s: %s/%s was pulled at version %s, its last write is version %s"
                 % (step, key[0], key[1], show(c["version"]), show(version)))
        if data is None:
            if not c["deleted"]:
                fail("%s: %s/%s was deleted but is pulled as %s" % (step, key[0], key[1], show(c)))
        elif c["deleted"] or c["data"] != data:
            fail("%s: %s/%s was pulled as %s, expected data %s"
                 % (step, key[0], key[1], show(c), show(data)))

    def expect_conflict(self, r, version, data, step):
        if r["status"] != "conflict":
            fail("%s: answered %s, expected a conflict" % (step, show(r)))
        cur = r["current"]
        if (cur["version"] is None) != (version is None) or (
                version is not None and version_number(cur["version"], step) != version_number(
                    version, step)):
            fail("%s: the conflict's current.version is %s, the document's is %s"
                 % (step, show(cur["version"]), show(version)))
        if data is None:
            if not cur["deleted"] or cur["data"] is not None:
                fail("%s: current should be deleted with data null: %s" % (step, show(cur)))
        elif cur["deleted"] or cur["data"] != data:
            fail("%s: current.data is %s, the document is %s" % (step, show(cur), show(data)))

    # -- checks ----------------------------------------------------------------------

    def check_health(self):
        status, _, data = self.remote.request("GET", "/v1/health", token=None)
        if status != 200:
            fail("GET /v1/health without a token answered HTTP %d (%s); syncd takes only 200"
                 " as healthy" % (status, excerpt(data)))

    def check_auth_401(self):
        if not self.remote.token:
            status, _, data = self.remote.request("GET", "/v1/pull?limit=1", token=None)
            if status == 401:
                fail("the server answered 401 without a token: give its token with --token")
            raise Skipped("no --token given and the server answers without one; give --token to"
                          " check that requests without a valid token get 401")
        coll = self.coll("auth")
        m = self.mutation(coll, "a", "put", None, {"x": 1})
        body = {"client_id": self.client_id, "mutations": [m]}
        wrong = "wrong-" + uuid.uuid4().hex
        for token, how in ((None, "without a token"), (wrong, "with a wrong token")):
            for method, path, payload in (("POST", "/v1/push", body),
                                          ("GET", "/v1/pull?limit=1", None)):
                status, _, data = self.remote.request(method, path, payload, token=token)
                if status != 401:
                    fail("%s %s %s answered HTTP %d (%s), expected 401"
                         % (method, path, how, status, excerpt(data)))
            status = self.events_status(token)
            if status != 401:
                fail("GET /v1/events %s answered HTTP %d, expected 401" % (how, status))
        # Filtered again here: a server that ignores the filter fails collections_filter.
        changes = [x for x in self.pull_all([coll])[0] if x["collection"] == coll]
        if changes:
            fail("a push refused with 401 was applied: %s" % show(changes[0]))

    def events_status(self, token):
        conn = self.remote.connect()
        try:
            conn.request("GET", self.remote.base + "/v1/events",
                         headers=self.remote.headers(token, {"Accept": "text/event-stream"}))
            return conn.getresponse().status
        except (OSError, http.client.HTTPException) as e:
            fail("GET /v1/events: %s" % describe_error(e, self.remote.timeout))
        finally:
            conn.close()

    def check_versions(self):
        coll = self.coll("versions")
        steps = [("put", None, {"n": 1}, "put with base_version null of a new document"),
                 ("put", True, {"n": 2}, "put on the last version"),
                 ("patch", True, {"m": 3}, "patch on the last version"),
                 ("delete", True, None, "delete on the last version"),
                 ("put", None, {"n": 5}, "put with base_version null of a deleted document")]
        last = None
        for op, base, data, step in steps:
            v = self.applied(self.mutation(coll, "d", op, last if base else None, data), step)
            if last is not None:
                self.newer(v, last, step)
            last = v
        gone = self.applied(self.mutation(coll, "e", "put", None, {"e": 1}), "put of a second doc")
        gone = self.applied(self.mutation(coll, "e", "delete", gone), "delete of a second doc")
        seen = self.latest(self.pull_all([coll])[0], {coll})
        self.expect_state(seen, (coll, "d"), last, {"n": 5}, "pull after the writes")
        self.expect_state(seen, (coll, "e"), gone, None, "a deleted document is pulled as deleted")

    def check_dedupe(self):
        coll = self.coll("dedupe")
        first = self.mutation(coll, "d", "put", None, {"a": 1})
        r1 = self.push_one(first)
        if r1["status"] != "applied":
            fail("the first push of a new document was answered %s" % show(r1))
        r = self.push_one(first)
        if r != r1:
            fail("mutation %s sent again was answered %s; its first result was %s"
                 % (first["id"], show(r), show(r1)))
        v2 = self.applied(self.mutation(coll, "d", "put", r1["version"], {"a": 2}),
                          "a put on the first version")
        other = self.mutation(coll, "e", "put", None, {"e": 1})
        results = self.remote.push(self.client_id, [first, other])
        if results[first["id"]] != r1:
            fail("mutation %s sent again after a later write, in a batch, was answered %s; its"
                 " first result was %s" % (first["id"], show(results[first["id"]]), show(r1)))
        if results[other["id"]]["status"] != "applied":
            fail("a new mutation next to a repeated one was answered %s"
                 % show(results[other["id"]]))
        # A conflict is remembered as well: the answer stays the first one even after the
        # document moved on.
        loser = self.mutation(coll, "d", "put", None, {"a": "lost"})
        r4 = self.push_one(loser)
        self.expect_conflict(r4, v2, {"a": 2}, "base_version null on an existing document")
        v3 = self.applied(self.mutation(coll, "d", "put", v2, {"a": 3}), "a put on version 2")
        r = self.push_one(loser)
        if r != r4:
            fail("conflicted mutation %s sent again was answered %s; its first result was %s"
                 % (loser["id"], show(r), show(r4)))
        seen = self.latest(self.pull_all([coll])[0], {coll})
        self.expect_state(seen, (coll, "d"), v3, {"a": 3}, "pull after repeated ids")

    def check_base_version_null_conflict(self):
        coll = self.coll("basenull")
        v1 = self.applied(self.mutation(coll, "d", "put", None, {"x": 1}), "a new document")
        for op, data in (("put", {"x": 2}), ("patch", {"y": 2}), ("delete", None)):
            r = self.push_one(self.mutation(coll, "d", op, None, data))
            self.expect_conflict(r, v1, {"x": 1},
                                 "%s with base_version null of an existing document" % op)
        seen = self.latest(self.pull_all([coll])[0], {coll})
        self.expect_state(seen, (coll, "d"), v1, {"x": 1}, "the conflicting writes were applied")

    def check_conflict_current(self):
        coll = self.coll("conflict")
        v1 = self.applied(self.mutation(coll, "d", "put", None, {"s": 1}), "a new document")
        v2 = self.applied(self.mutation(coll, "d", "put", v1, {"s": 2}), "a put on its version")
        for op, data in (("put", {"s": 3}), ("patch", {"t": 3}), ("delete", None)):
            r = self.push_one(self.mutation(coll, "d", op, v1, data))
            self.expect_conflict(r, v2, {"s": 2}, "%s on a stale base_version" % op)
        v3 = self.applied(self.mutation(coll, "d", "delete", v2), "a delete on the last version")
        r = self.push_one(self.mutation(coll, "d", "put", v2, {"s": 4}))
        self.expect_conflict(r, v3, None, "put on a stale base_version of a deleted document")
        r = self.push_one(self.mutation(coll, "never", "put", v1, {"s": 5}))
        self.expect_conflict(r, None, None,
                             "put with a base_version of a document that never existed")
        seen = self.latest(self.pull_all([coll])[0], {coll})
        self.expect_state(seen, (coll, "d"), v3, None, "the conflicting writes were applied")
        if (coll, "never") in seen:
            fail("a conflicting put created %s/never: %s" % (coll, show(seen[(coll, "never")])))

    def check_rejected(self):
        coll = self.coll("rejected")
        v1 = self.applied(self.mutation(coll, "d", "put", None, {"r": 1}), "a new document")
        cases = [
            (self.mutation(coll, "missing", "patch", None, {"p": 1}),
             "patch of a document that does not exist"),
            (self.mutation(coll, "arr", "put", None, [1, 2]), "put whose data is an array"),
            (self.mutation(coll, "str", "put", None, "text"), "put whose data is a string"),
            (self.mutation(coll, "d", "patch", v1, 5), "patch whose data is a number"),
            (self.mutation(coll, "d", "frobnicate", v1, {"r": 2}), "unknown op"),
        ]
        results = self.remote.push(self.client_id, [m for m, _ in cases])
        for m, what in cases:
            r = results[m["id"]]
            if r["status"] != "rejected":
                fail("%s was answered %s, expected rejected" % (what, show(r)))
        seen = self.latest(self.pull_all([coll])[0], {coll})
        self.expect_state(seen, (coll, "d"), v1, {"r": 1}, "rejected mutations changed nothing")
        extra = sorted(k[1] for k in seen if k[1] != "d")
        if extra:
            fail("rejected mutations created documents: %s" % extra)

    def check_malformed_push(self):
        coll = self.coll("malformed")
        good = self.mutation(coll, "d", "put", None, {"ok": 1})
        bodies = [(b"{not json", "a body that is not JSON"),
                  ({"client_id": self.client_id}, "a body without mutations"),
                  ({"mutations": [good]}, "a body without client_id"),
                  ({"client_id": self.client_id, "mutations": [good, 5]},
                   "a mutation that is not an object"),
                  ({"client_id": self.client_id, "mutations": [dict(good, id=7)]},
                   "a mutation whose id is not a string"),
                  ({"client_id": self.client_id,
                    "mutations": [{k: v for k, v in good.items() if k != "collection"}]},
                   "a mutation without collection")]
        for body, what in bodies:
            status, _, data = self.remote.request("POST", "/v1/push", body)
            if not 400 <= status <= 499 or status in NOT_A_REFUSAL:
                fail("a push with %s answered HTTP %d (%s); expected 400 (syncd dead-letters a"
                     " mutation only on a 4xx that refuses content)" % (what, status,
                                                                        excerpt(data)))
        changes = [x for x in self.pull_all([coll])[0] if x["collection"] == coll]
        if changes:
            fail("a refused push was applied: %s" % show(changes[0]))

    def check_batch_results(self):
        coll = self.coll("batch")
        batch = [self.mutation(coll, "a", "put", None, {"i": 1}),
                 self.mutation(coll, "b", "put", None, {"i": 1}),
                 self.mutation(coll, "a", "put", None, {"i": 2}),
                 self.mutation(coll, "missing", "patch", None, {"i": 3}),
                 self.mutation(coll, "c", "put", None, {"i": 1})]
        results = self.remote.push(self.client_id, batch)  # one result per mutation
        for m in (batch[0], batch[1], batch[4]):
            if results[m["id"]]["status"] != "applied":
                fail("%s/%s in a batch was answered %s" % (coll, m["doc_id"],
                                                          show(results[m["id"]])))
        self.expect_conflict(results[batch[2]["id"]], results[batch[0]["id"]]["version"],
                             {"i": 1}, "a second put of a document in one batch (mutations are"
                             " applied in array order)")
        if results[batch[3]["id"]]["status"] != "rejected":
            fail("a patch of a missing document in a batch was answered %s"
                 % show(results[batch[3]["id"]]))

    def check_pull_paging(self):
        coll = self.coll("paging")
        try:
            _, start, pages = self.pull_all(limit=1000)
        except TimeoutError as e:
            raise Skipped("the server's history could not be paged through to its end: %s" % e)
        versions = {}
        for i in range(5):
            versions[i] = self.applied(self.mutation(coll, "d%d" % i, "put", None, {"i": i}),
                                       "put d%d" % i)

        def write_while_paging(page):
            if page == 1:  # after the first page: one document seen, one not yet
                versions[0] = self.applied(
                    self.mutation(coll, "d0", "put", versions[0], {"i": 0, "again": True}),
                    "update d0 while paging")
                versions[5] = self.applied(self.mutation(coll, "d5", "put", None, {"i": 5}),
                                           "put d5 while paging")

        limit = 2
        changes, end, pages = self.pull_all(cursor=start, limit=limit,
                                            between_pages=write_while_paging)
        if pages < 3:
            fail("7 writes after the cursor came in %d pages of limit=%d" % (pages, limit))
        seen = self.latest(changes, {coll})
        for i, v in versions.items():
            data = {"i": 0, "again": True} if i == 0 else {"i": i}
            self.expect_state(seen, (coll, "d%d" % i), v, data,
                              "paging with limit=%d, writing between pages" % limit)
        page = self.remote.pull(end, limit)
        mine = [c for c in page["changes"] if c["collection"] == coll]
        if mine:
            fail("the cursor of the last page gave again %s" % show(mine[0]))
        v6 = self.applied(self.mutation(coll, "d6", "put", None, {"i": 6}), "put d6")
        seen = self.latest(self.pull_all(cursor=end, limit=limit)[0], {coll})
        if set(seen) != {(coll, "d6")}:
            fail("from the last page's cursor, after one more write, the pull gave %s"
                 % sorted(k[1] for k in seen))
        self.expect_state(seen, (coll, "d6"), v6, {"i": 6}, "a write after the last page")
        page = self.remote.pull(start, 1)
        if len(page["changes"]) != 1 or not page["has_more"]:
            fail("pull limit=1 after 8 writes answered %d changes, has_more %s"
                 % (len(page["changes"]), page["has_more"]))

    def check_collections_filter(self):
        a, b, c = self.coll("fa"), self.coll("fb, with comma+space"), self.coll("fc")
        want = {a, b}
        writes = [(a, "1"), (c, "1"), (b, "1"), (c, "2"), (a, "2"), (c, "3"), (b, "2"), (c, "4")]
        versions = {}
        for coll, doc in writes:
            versions[(coll, doc)] = self.applied(self.mutation(coll, doc, "put", None,
                                                               {"doc": doc}), "put %s/%s"
                                                 % (coll, doc))
        data = {key: {"doc": key[1]} for key in versions}

        def write_while_paging(page):
            if page == 1:
                for key in ((c, "5"), (a, "3")):
                    versions[key] = self.applied(self.mutation(key[0], key[1], "put", None,
                                                               {"doc": key[1]}), "put while paging")
                    data[key] = {"doc": key[1]}
                key = (a, "1")
                versions[key] = self.applied(self.mutation(a, "1", "put", versions[key],
                                                           {"doc": "1", "again": True}),
                                             "update while paging")
                data[key] = {"doc": "1", "again": True}

        changes, end, _ = self.pull_all([a, b], limit=1, between_pages=write_while_paging)
        others = [x for x in changes if x["collection"] not in want]
        if others:
            fail("a pull with collections=%s gave a change of %s" % (show([a, b]),
                                                                     show(others[0]["collection"])))
        seen = self.latest(changes, want)
        for key in versions:
            if key[0] in want:
                self.expect_state(seen, key, versions[key], data[key],
                                  "filtered paging with limit=1, writing between pages")
        v = self.applied(self.mutation(c, "6", "put", None, {"doc": "6"}), "put outside")
        v = self.applied(self.mutation(b, "3", "put", None, {"doc": "3"}), "put inside")
        changes, _, _ = self.pull_all([a, b], cursor=end, limit=1)
        if [(x["collection"], x["doc_id"]) for x in changes] != [(b, "3")]:
            fail("from a filtered cursor, after a write outside and one inside the filter, the"
                 " pull gave %s" % show([(x["collection"], x["doc_id"]) for x in changes]))
        self.expect_state(self.latest(changes, want), (b, "3"), v, {"doc": "3"},
                          "a write after the last filtered page")
        only_b = self.latest(self.pull_all([b])[0], {a, b, c})
        if {k[0] for k in only_b} != {b} or len(only_b) != 3:
            fail("a pull with collections=%s (a name with a comma, URL-encoded) gave %s"
                 % (show([b]), show(sorted(only_b))))
        none = self.pull_all([self.coll("nothing_here")])[0]
        if none:
            fail("a pull of a collection never written gave %s" % show(none[0]))

    def check_sse_changed(self):
        conn = self.remote.connect(timeout=self.sse_timeout)
        deadline = time.monotonic() + self.sse_timeout
        try:
            try:
                conn.request("GET", self.remote.base + "/v1/events",
                             headers=self.remote.headers(True, {"Accept": "text/event-stream"}))
                # The response keeps reading from this socket after http.client lets go
                # of it (a stream ends with the connection); its timeout bounds each read.
                sock = conn.sock
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                fail("GET /v1/events: %s" % describe_error(e, self.sse_timeout, "--sse-timeout"))
            if response.status != 200:
                fail("GET /v1/events answered HTTP %d: %s"
                     % (response.status, excerpt(response.read(200))))
            kind = response.headers.get("Content-Type") or ""
            if not kind.startswith("text/event-stream"):
                fail("GET /v1/events has Content-Type %r, not text/event-stream" % kind)
            self.applied(self.mutation(self.coll("sse"), "d", "put", None, {"s": 1}),
                         "a push while the stream is open")
            event, has_data = "", False
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    fail("no `changed` event within %g s of a push (--sse-timeout)"
                         % self.sse_timeout)
                sock.settimeout(left)
                try:
                    raw = response.readline(4097)
                except (OSError, http.client.HTTPException) as e:
                    fail("reading /v1/events: %s" % describe_error(e, self.sse_timeout, "--sse-timeout"))
                if not raw:
                    fail("the event stream ended before a `changed` event")
                if len(raw) > 4096:
                    fail("a line of the event stream is longer than 4 KiB (syncd ends the"
                         " stream)")
                line = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace")
                if line == "":
                    if event == "changed":
                        if not has_data:
                            fail("a `changed` event without a data line: an event with no"
                                 " data is never dispatched (SSE), so syncd ignores it")
                        return
                    event, has_data = "", False
                    continue
                if line.startswith(":"):
                    continue
                field = line.split(":", 1)[0]
                value = line[len(field) + 1:].lstrip(" ") if ":" in line else ""
                if field == "event":
                    event = value
                elif field == "data":
                    has_data = True
                elif field not in ("id", "retry"):
                    fail("the event stream has a line with field %r: syncd takes only event,"
                         " data, id and retry and ends the stream on others" % field)
        finally:
            conn.close()


CHECKS = ["health", "auth_401", "versions", "dedupe", "base_version_null_conflict",
          "conflict_current", "rejected", "malformed_push", "batch_results", "pull_paging",
          "collections_filter", "sse_changed"]


def main():
    parser = argparse.ArgumentParser(
        description="Check that a server implements syncd's protocol v1 (docs/PROTOCOL.md).")
    parser.add_argument("--remote", required=True, help="the server's base URL, as syncd's"
                        " `remote` (e.g. http://127.0.0.1:8787)")
    parser.add_argument("--token", default=os.environ.get("SYNCD_CONFORMANCE_TOKEN", ""),
                        help="bearer token (or SYNCD_CONFORMANCE_TOKEN); without one the 401"
                        " check is skipped")
    parser.add_argument("--prefix", default="", help="collection name prefix (default: random)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--sse-timeout", type=float, default=10.0,
                        help="seconds to wait for `changed` after a push")
    parser.add_argument("--drain-timeout", type=float, default=60.0,
                        help="seconds to page through the server's history")
    parser.add_argument("--only", action="append", choices=CHECKS, help="run only this check")
    args = parser.parse_args()
    try:
        remote = Remote(args.remote, args.token, args.timeout)
    except ValueError as e:
        parser.error(str(e))
    prefix = args.prefix or "conformance_" + uuid.uuid4().hex[:12]
    kit = Kit(remote, prefix, args.sse_timeout, args.drain_timeout)
    sys.stderr.write("conformance: %s, collections %s_*, client_id %s\n"
                     % (args.remote, prefix, kit.client_id))
    failed = 0
    for name in args.only or CHECKS:
        try:
            getattr(kit, "check_" + name)()
            print("PASS %s" % name, flush=True)
        except Skipped as e:
            print("SKIP %s: %s" % (name, e), flush=True)
        except Failed as e:
            failed += 1
            print("FAIL %s: %s" % (name, e), flush=True)
        except Exception as e:  # a defect of the kit: named, and a failure
            failed += 1
            print("FAIL %s: the kit hit %s: %s" % (name, type(e).__name__, e), flush=True)
    sys.stderr.write("conformance: %d of %d checks failed\n" % (failed, len(args.only or CHECKS)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
