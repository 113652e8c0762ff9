#!/usr/bin/env python3
"""A TCP proxy on loopback that tests control, to simulate a network going bad.

  faultproxy.py --upstream PORT [--port 0] [--port-file FILE] --control SOCKET

Listens on 127.0.0.1:PORT and forwards to 127.0.0.1:UPSTREAM. A line-oriented control
channel on the Unix socket SOCKET takes one command per line and answers "ok ..." or
"error ...":

  pass            forward normally (the start state)
  refuse          stop listening: new connections are refused (ECONNREFUSED)
  blackhole       accept connections, swallow what they send, never answer
  reset_after N   forward, but reset each connection after N bytes toward the client
  latency MS      delay every forwarded chunk by MS milliseconds (0 to stop)
  cut             reset every open connection now (the mode stays)
  stats           one JSON line: connections accepted, open, bytes each way

Python standard library only; loopback only.
"""

import argparse
import asyncio
import json
import os
import socket
import struct
import sys


class Proxy:
    def __init__(self, upstream_port, port):
        self.upstream_port = upstream_port
        self.port = port
        self.mode = "pass"
        self.reset_after = None
        self.latency_ms = 0
        self.server = None
        self.open = set()  # (client_writer, upstream_writer or None)
        self.stats = {"accepted": 0, "bytes_up": 0, "bytes_down": 0, "resets": 0}

    async def listen(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", self.port,
                                                 reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop_listening(self):
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    @staticmethod
    def abort(writer):
        if writer is None:
            return
        sock = writer.get_extra_info("socket")
        try:
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        writer.transport.abort()

    async def handle(self, reader, writer):
        self.stats["accepted"] += 1
        pair = [writer, None]
        key = id(pair)
        self.open.add((key, writer))
        try:
            if self.mode == "blackhole":
                while await reader.read(65536):
                    pass
                return
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            except OSError:
                self.abort(writer)
                return
            pair[1] = up_writer
            self.open.add((key + 1, up_writer))
            sent_down = [0]

            async def pipe(src, dst, direction):
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    if self.latency_ms:
                        await asyncio.sleep(self.latency_ms / 1000.0)
                    if direction == "down" and self.reset_after is not None:
                        room = self.reset_after - sent_down[0]
                        if room <= len(data):
                            dst.write(data[:max(room, 0)])
                            await dst.drain()
                            self.stats["resets"] += 1
                            self.abort(writer)
                            self.abort(up_writer)
                            return
                        sent_down[0] += len(data)
                    self.stats["bytes_" + direction] += len(data)
                    dst.write(data)
                    await dst.drain()
                if dst.can_write_eof():
                    try:
                        dst.write_eof()
                    except OSError:
                        pass

            await asyncio.gather(pipe(reader, up_writer, "up"), pipe(up_reader, writer, "down"),
                                 return_exceptions=True)
        finally:
            self.open.discard((key, writer))
            if pair[1] is not None:
                self.open.discard((key + 1, pair[1]))
                pair[1].close()
            writer.close()

    async def command(self, line):
        words = line.split()
        if not words:
            return "error empty command"
        name, args = words[0], words[1:]
        if name == "pass":
            self.mode, self.reset_after = "pass", None
            if self.server is None:
                await self.listen()
        elif name == "refuse":
            self.mode = "refuse"
            await self.stop_listening()
        elif name == "blackhole":
            self.mode = "blackhole"
            if self.server is None:
                await self.listen()
        elif name == "reset_after" and len(args) == 1 and args[0].isdigit():
            self.mode, self.reset_after = "pass", int(args[0])
            if self.server is None:
                await self.listen()
        elif name == "latency" and len(args) == 1 and args[0].isdigit():
            self.latency_ms = int(args[0])
        elif name == "cut":
            for _, w in list(self.open):
                self.stats["resets"] += 1
                self.abort(w)
        elif name == "stats":
            return json.dumps(dict(self.stats, open=len(self.open), mode=self.mode))
        else:
            return "error unknown command %r" % line
        return "ok " + self.mode

    async def control(self, reader, writer):
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write((await self.command(line.decode().strip()) + "\n").encode())
            await writer.drain()
        writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", default="")
    parser.add_argument("--control", required=True)
    args = parser.parse_args()
    proxy = Proxy(args.upstream, args.port)
    await proxy.listen()
    if os.path.exists(args.control):
        os.unlink(args.control)
    control = await asyncio.start_unix_server(proxy.control, args.control)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % proxy.port)
        os.rename(args.port_file + ".tmp", args.port_file)
    sys.stderr.write("faultproxy: 127.0.0.1:%d -> 127.0.0.1:%d\n" % (proxy.port, args.upstream))
    sys.stderr.flush()
    async with control:
        await control.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
