#!/usr/bin/env python3
"""A stand-in for systemd's notification socket, for tests.

Node cannot bind AF_UNIX datagram sockets, so tests run this instead:

    notify-receiver.py SOCKET_PATH [--on-ready PATH ...]

It binds SOCKET_PATH, prints "listening" once, then one JSON line per
datagram: {"time": unix seconds, "pid": sender pid, "text": payload,
"fds": count, "ready_paths": {PATH: exists}}. ready_paths is filled only for a
datagram containing READY=1: whether each --on-ready path existed at that
moment. systemd-notify v252 follows each message with a BARRIER=1 datagram
carrying a pipe fd and waits until the receiver closes it, so every received
fd is closed at once.
"""
import array
import json
import os
import socket
import sys
import time


def main() -> None:
    path = sys.argv[1]
    ready_paths = sys.argv[sys.argv.index("--on-ready") + 1:] if "--on-ready" in sys.argv else []
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind(path)
    print(json.dumps({"event": "listening"}), flush=True)
    fd_size = array.array("i").itemsize
    while True:
        data, ancillary, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(64 * fd_size) + socket.CMSG_SPACE(12))
        pid = None
        fds = 0
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                received = array.array("i")
                received.frombytes(payload[: len(payload) - (len(payload) % fd_size)])
                for fd in received:
                    os.close(fd)
                    fds += 1
            elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = int.from_bytes(payload[0:4], sys.byteorder)
        text = data.decode("utf-8", "replace")
        entry = {"time": time.time(), "pid": pid, "text": text, "fds": fds}
        if "READY=1" in text.split("\n"):
            entry["ready_paths"] = {p: os.path.exists(p) for p in ready_paths}
        print(json.dumps(entry), flush=True)


if __name__ == "__main__":
    main()
