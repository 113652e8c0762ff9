#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/ (run once; the files are checked in).

A seed starts with the steering bytes its target reads first (see each *_fuzz.cc),
then the text the target parses. Kept as a script so a seed's meaning is readable.
Seeds named found_* are inputs a fuzz run crashed on, kept as found (each has a unit
test named in its commit); this script does not write or remove them."""
import gzip
import json
import os
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def req(i, method, params):
    return json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params},
                      separators=(",", ":"))


# json_reader: flags (1 mark, 2 relaxed, 0x80 depth past the limit), depth byte.
write("json_reader", "object", b"\x00\x10" + b'{"a":[1,2.5,-3e2,true,null],"b":{"c":"\\u00e9"}}')
write("json_reader", "deep_marked", b"\x01\x03" + b'{"a":[[[[1]]]],"b":2}')
write("json_reader", "relaxed", b"\x02\x10" + b'{"a":1, // note\n "b":[1,2,],/* c */}')
write("json_reader", "past_limit", b"\x80" + b"[" * 1030 + b"]" * 1030)
write("json_reader", "big_numbers", b"\x00\x10" + b"[18446744073709551615,-9223372036854775808,1e308,5e-324]")

# frame_decoder: depth byte, then a frame.
write("frame_decoder", "request", b"\x04" + req(1, "get", {"collection": "notes", "id": "a"}).encode())
write("frame_decoder", "batch", b"\x04" + b'[{"jsonrpc":"2.0","id":"x","method":"status"},5,{"id":1.50}]')
write("frame_decoder", "big_id", b"\x04" + b'{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"status"}')
write("frame_decoder", "deep_params", b"\x00" + b'{"id":7,"params":{"data":[[[[[[1]]]]]]}}')

# rpc_dispatch: slice byte (0 whole batch), then a frame.
write("rpc_dispatch", "put", b"\x00" + req(1, "put", {"collection": "notes", "id": "z", "data": {"k": [1]}}).encode())
write("rpc_dispatch", "patch", b"\x00" + req(2, "patch", {"collection": "notes", "id": "a", "data": {"t": None, "u": {"v": 1}}}).encode())
write("rpc_dispatch", "get_list", b"\x00" + ("[" + req(3, "get", {"collection": "notes", "id": "a"}) + "," +
                                              req(4, "list", {"collection": "notes", "prefix": "", "limit": 2}) + "]").encode())
write("rpc_dispatch", "batch_sliced", b"\x01" + ("[" + req(5, "delete", {"collection": "notes", "id": "b"}) + "," +
                                                  req(6, "queue.list", {"state": "pending"}) + "," +
                                                  '{"jsonrpc":"2.0","method":"status"}' + "]").encode())
write("rpc_dispatch", "subscribe", b"\x00" + req(7, "subscribe", {"collection": "notes"}).encode())
write("rpc_dispatch", "conflicts", b"\x00" + req(8, "conflicts.list", {}).encode())
write("rpc_dispatch", "retry", b"\x00" + req(9, "queue.retry", {"all": True}).encode())
write("rpc_dispatch", "metrics", b"\x00" + b'{"jsonrpc":"2.0","id":"m","method":"metrics"}')

# merge_patch: target NUL patch (RFC 7386 appendix A cases among them).
write("merge_patch", "remove_and_add", b'{"a":"b","c":{"d":"e","f":"g"}}\x00{"a":"z","c":{"f":null}}')
write("merge_patch", "replace_array", b'{"a":[{"b":"c"}]}\x00{"a":[1]}')
write("merge_patch", "non_object_patch", b'{"a":"foo"}\x00"bar"')
wide_t = "{" + ",".join('"k%d":%d' % (i, i) for i in range(20)) + "}"
wide_p = "{" + ",".join('"k%d":%s' % (i, "null" if i % 3 == 0 else '{"x":1}') for i in range(0, 40, 2)) + "}"
write("merge_patch", "wide", (wide_t + "\0" + wide_p).encode())

# three_way_merge: tiebreak byte (bit 0: remote), base NUL local NUL remote; empty: absent.
write("three_way_merge", "both_sides", b"\x00" + b'{"a":1,"b":{"c":1}}\x00{"a":2,"b":{"c":1}}\x00{"a":1,"b":{"c":3}}')
write("three_way_merge", "conflict", b"\x01" + b'{"a":1}\x00{"a":2}\x00{"a":3}')
write("three_way_merge", "deleted_remote", b"\x00" + b'{"a":1}\x00{"a":1,"b":2}\x00')
write("three_way_merge", "no_base", b"\x00" + b'\x00{"x":{"y":1}}\x00{"x":{"z":2}}')

# config: a config file (comments and trailing commas allowed).
write("config", "full", """{
  // a comment
  "state_dir": "/var/lib/syncd", "remote": "https://example.org", "log_level": "debug",
  "ipc": {"max_frame_bytes": 2097152, "allowed_uids": [0, 1000]},
  "store": {"max_document_depth": 32, "synchronous": "normal"},
  "backoff": {"initial_ms": 500, "factor": 1.5, "max_ms": 10000},
  "conflicts": {"strategy": "merge", "collections": {"notes": {"strategy": "manual"}}},
}""")
write("config", "empty", "{}")
write("config", "duplicate", '{"remote": "http://a", "remote": "http://b"}')
write("config", "bad_range", '{"sync": {"max_inflight": 65}}')
# A factor with more digits than a stream's default 6: the dump must show it whole.
write("config", "factor_digits", '{"backoff": {"factor": 1.23456789}}')

# push_answer: mutations-sent byte (ids m0..m7), then the answer.
write("push_answer", "applied", b"\x02" + b'{"results":[{"id":"m1","status":"applied","version":"8"},'
      b'{"id":"m0","status":"applied","version":12}]}')
write("push_answer", "conflict", b"\x01" + b'{"results":[{"id":"m0","status":"conflict",'
      b'"current":{"version":"5","data":{"a":1}}}]}')
write("push_answer", "rejected", b"\x01" + b'{"results":[{"id":"m0","status":"rejected","error":"bad\\u0007 doc"}]}')
write("push_answer", "unknown_id", b"\x01" + b'{"results":[{"id":"zz","status":"applied","version":"1"}]}')

# pull_answer: max_document_depth byte (1 + b % 16), then the page.
write("pull_answer", "page", b"\x03" + b'{"changes":[{"collection":"notes","doc_id":"a","version":"3","data":{"t":1}},'
      b'{"collection":"notes","doc_id":"b","version":4,"deleted":true}],"cursor":"c1","has_more":false}')
write("pull_answer", "too_deep", b"\x01" + b'{"changes":[{"collection":"n","doc_id":"a","version":"1","data":{"a":{"b":{}}}}],'
      b'"cursor":7,"has_more":true}')
write("pull_answer", "duplicate", b"\x0f" + b'{"changes":[{"collection":"n","doc_id":"a","version":"1","data":{"a":1,"a":2}}],'
      b'"cursor":"x","has_more":false}')

# sse_parser: max-line byte, max-event byte, four piece sizes, then the stream.
write("sse_parser", "events", b"\x38\xf0\x01\x02\x07\x00" + b": hi\n\nevent: changed\ndata: {\"v\":\"4\"}\n\r\ndata: a\ndata: b\n\n")
write("sse_parser", "bom_cr", b"\x38\xf0\x01\x01\x01\x01" + b"\xef\xbb\xbfdata: x\r\rdata:y\r\n\r\n")
write("sse_parser", "unknown_field", b"\x38\xf0\x03\x00\x00\x00" + b"retry: 10\nid: 3\nfoo: bar\n\n")
write("sse_parser", "long_line", b"\x00\x00\x05\x05\x05\x05" + b"data: " + b"x" * 80 + b"\n\n")

# body_decoder: encoding byte (bit 0: gzip), wire piece, two output-piece bytes, body.
text = b'{"results":[]}' * 20
write("body_decoder", "gzip", b"\x01\x07\x10\x00" + gzip.compress(text))
write("body_decoder", "zlib_deflate", b"\x00\x03\x05\x00" + zlib.compress(text))
raw = zlib.compressobj(9, zlib.DEFLATED, -15)
write("body_decoder", "raw_deflate", b"\x00\x01\x00\x01" + raw.compress(text) + raw.flush())
write("body_decoder", "gzip_trailing", b"\x01\x40\xff\xff" + gzip.compress(b"ab") + b"junk")
write("body_decoder", "bomb", b"\x01\x40\x00\x40" + gzip.compress(b"\0" * (4 << 20)))
