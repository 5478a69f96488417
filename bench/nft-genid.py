"""Prints the nf_tables ruleset generation id of this network namespace.

One NFT_MSG_GETGEN request over NETLINK_NETFILTER (include/uapi/linux/
netfilter/nf_tables.h); the kernel bumps the id on every committed
transaction, so an unchanged id proves nothing in nf_tables changed.
Benchmark helper for bench/firewall.bench.ts; not part of the product.
"""
import socket
import struct

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_GETGEN = 16
NLM_F_REQUEST = 1
NFTA_GEN_ID = 1

sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
sock.bind((0, 0))
nfgenmsg = struct.pack('!BBH', socket.AF_UNSPEC, 0, 0)
header = struct.pack('=IHHII', 16 + len(nfgenmsg), (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, NLM_F_REQUEST, 1, 0)
sock.send(header + nfgenmsg)
reply = sock.recv(8192)
length = struct.unpack_from('=I', reply, 0)[0]
offset = 16 + 4
while offset < length:
    attr_length, attr_type = struct.unpack_from('=HH', reply, offset)
    if attr_length < 4:
        break
    if attr_type & 0x7FFF == NFTA_GEN_ID:
        print(struct.unpack_from('!I', reply, offset + 4)[0])
    offset += (attr_length + 3) & ~3
