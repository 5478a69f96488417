#!/usr/bin/env python3
"""Raw IPv6 datagrams of one next-header protocol, for lab tests of what the filter admits.

  raw-ip6.py listen PROTO          prints {"listening": true}, then one JSON line per datagram
                                   delivered to this host: {"from": SRC, "payload": TEXT}
  raw-ip6.py send PROTO SRC DST TEXT [IFNAME]
                                   sends TEXT from SRC to DST (IFNAME scopes a link-local DST)

A raw socket sees what the host's input path delivers, after the filter, so
a datagram the ruleset drops is never printed.
"""
import json
import socket
import sys


def listen(proto):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, proto)
    print(json.dumps({"listening": True}), flush=True)
    while True:
        data, addr = sock.recvfrom(65535)
        print(json.dumps({"from": addr[0].split("%")[0], "payload": data.decode("utf-8", "replace")}), flush=True)


def send(proto, source, destination, text, ifname=None):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, proto)
    scope = socket.if_nametoindex(ifname) if ifname else 0
    sock.bind((source, 0, 0, scope))
    sock.sendto(text.encode(), (destination, 0, 0, scope))


if __name__ == "__main__":
    if sys.argv[1] == "listen":
        listen(int(sys.argv[2]))
    else:
        send(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6] if len(sys.argv) > 6 else None)
