#!/usr/bin/env python3
"""Prints one JSON line per router advertisement received on an interface,
with its arrival time, without sending anything (rdisc6 would solicit one).
Usage: ra-listener.py IFNAME. Run inside the lab's namespace; ended by PID."""
import json
import socket
import struct
import sys
import time

ICMPV6_RA = 134
OPTION_PREFIX, OPTION_MTU = 3, 5


def parse(data):
    lifetime = struct.unpack_from('!H', data, 6)[0]
    ra = {'routerLifetime': lifetime, 'prefixes': [], 'mtu': None, 'options': []}
    offset = 16
    while offset + 2 <= len(data):
        kind, length = data[offset], data[offset + 1] * 8
        if length == 0:
            break
        option = data[offset:offset + length]
        ra['options'].append(kind)
        if kind == OPTION_PREFIX and length >= 32:
            valid, preferred = struct.unpack_from('!II', option, 4)
            address = socket.inet_ntop(socket.AF_INET6, option[16:32])
            ra['prefixes'].append({'prefix': f'{address}/{option[2]}', 'valid': valid, 'preferred': preferred})
        elif kind == OPTION_MTU and length >= 8:
            ra['mtu'] = struct.unpack_from('!I', option, 4)[0]
        offset += length
    return ra


def main():
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, sys.argv[1].encode())
    print(json.dumps({'listening': True}), flush=True)
    while True:
        data, sender = sock.recvfrom(65535)
        if len(data) >= 16 and data[0] == ICMPV6_RA:
            print(json.dumps({'atMs': time.time() * 1000, 'from': sender[0].split('%')[0], **parse(data)}), flush=True)


if __name__ == '__main__':
    main()
