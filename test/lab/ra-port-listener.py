#!/usr/bin/env python3
"""Prints one JSON line per router advertisement that crosses a bridge port,
with its arrival time, source address, source MAC and router lifetime.
A packet socket on the port sees the frames the bridge takes in, which an
ICMPv6 socket there would not: so each line tells which VR sent the RA, even when
both VRs share the source address and MAC.
Usage: ra-port-listener.py IFNAME. Run inside the lab's namespace; ended by PID."""
import json
import socket
import struct
import sys
import time

ETH_P_ALL, ETH_P_IPV6 = 0x0003, 0x86DD
ICMPV6, ICMPV6_RA = 58, 134
PACKET_OUTGOING = 4


def main():
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((sys.argv[1], 0))
    print(json.dumps({'listening': True}), flush=True)
    while True:
        frame, address = sock.recvfrom(65535)
        # Only what arrives from the VR's side of the port, not what the bridge sends out of it.
        # ETH_P_ALL: a bridge port's frames reach only the taps that run before the bridge takes them.
        if address[2] == PACKET_OUTGOING or len(frame) < 14 + 40 + 16 or frame[12:14] != b'\x86\xdd':
            continue
        ip = frame[14:]
        if ip[6] != ICMPV6 or ip[40] != ICMPV6_RA:
            continue
        lifetime = struct.unpack_from('!H', ip, 40 + 6)[0]
        print(json.dumps({
            'atMs': time.time() * 1000,
            'from': socket.inet_ntop(socket.AF_INET6, ip[8:24]),
            'mac': frame[6:12].hex(':'),
            'routerLifetime': lifetime,
        }), flush=True)


if __name__ == '__main__':
    main()
