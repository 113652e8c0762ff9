#!/usr/bin/env python3
"""Runs the conformance kit (check.py) against the reference server on a free loopback
port, with a bearer token (so the 401 check runs too).

  run_against_refserver.py [--break dedupe|versions|filter ...] [--expect-fail CHECK ...]

Without --expect-fail: exits 0 when every check passes. With --expect-fail (the server
broken on purpose with --break): exits 0 only when the kit exits non-zero and the checks
that failed are exactly those named, so the kit is shown to fail for the right reason.
Python 3 standard library only; the server is stopped however this ends.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REFSERVER = os.path.join(HERE, "..", "refserver", "refserver.py")
CHECK = os.path.join(HERE, "check.py")
START_DEADLINE_S = 20
KIT_DEADLINE_S = 240


def wait_for_port(server, port_file, log_path):
    """The port the server listens on, once it accepts connections; exits when the server
    dies or the deadline passes."""
    deadline = time.monotonic() + START_DEADLINE_S
    port = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("refserver exited with %d before listening:\n%s"
                     % (server.returncode, open(log_path).read()))
        if port is None and os.path.exists(port_file):
            port = int(open(port_file).read())
        if port is not None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                pass
        # The port file is written by the server once it listens; poll it briefly.
        time.sleep(0.02)
    sys.exit("refserver did not listen within %d s:\n%s" % (START_DEADLINE_S,
                                                              open(log_path).read()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--break", dest="breaks", action="append", default=[])
    parser.add_argument("--expect-fail", action="append", default=[], metavar="CHECK")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        port_file = os.path.join(tmp, "port")
        log_path = os.path.join(tmp, "refserver.log")
        token = "conformance-" + uuid.uuid4().hex
        argv = [sys.executable, REFSERVER, "--port", "0", "--port-file", port_file,
                "--db", os.path.join(tmp, "ref.db"), "--token", token]
        for b in args.breaks:
            argv += ["--break", b]
        with open(log_path, "w") as log:
            server = subprocess.Popen(argv, stdout=log, stderr=log)
        try:
            port = wait_for_port(server, port_file, log_path)
            try:
                kit = subprocess.run(
                    [sys.executable, CHECK, "--remote", "http://127.0.0.1:%d" % port,
                     "--token", token, "--timeout", "10", "--sse-timeout", "10"],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                    timeout=KIT_DEADLINE_S)
            except subprocess.TimeoutExpired:
                sys.exit("the kit did not finish within %d s" % KIT_DEADLINE_S)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        sys.stdout.write(kit.stdout)
        failed = sorted(set(re.findall(r"^FAIL ([a-z0-9_]+):", kit.stdout, re.M)))
        if not args.expect_fail:
            if kit.returncode != 0:
                print("refserver.log:\n" + open(log_path).read())
                sys.exit("the kit failed against the reference server (exit %d): %s"
                         % (kit.returncode, ", ".join(failed) or "no FAIL line"))
            print("ok: every check passed against the reference server")
            return 0
        expected = sorted(set(args.expect_fail))
        if kit.returncode == 0:
            sys.exit("the kit passed against the reference server broken with --break %s:"
                     " it does not catch that defect" % ",".join(args.breaks))
        if failed != expected:
            sys.exit("against --break %s the kit failed %s, expected exactly %s"
                     % (",".join(args.breaks), failed or "no check (but exited %d)"
                        % kit.returncode, expected))
        print("ok: --break %s is caught by %s" % (",".join(args.breaks), ", ".join(expected)))
        return 0


if __name__ == "__main__":
    sys.exit(main())
