#!/usr/bin/env python3
"""A TCP stream from server to client, one line every 20 ms, to see whether
a flow survives a failover of the router between them.
  tcp-push.py server ADDRESS PORT   sends lines to each client until it goes
  tcp-push.py client ADDRESS PORT   prints {"atMs": ...} per line received, {"closed": ...} at the end
Run inside the lab's namespaces; ended by PID."""
import json
import socket
import sys
import threading
import time


def serve(address, port):
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, port))
    listener.listen(8)
    print(json.dumps({'listening': True}), flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=push, args=(conn,), daemon=True).start()


def push(conn):
    n = 0
    try:
        while True:
            conn.sendall(f'{n}\n'.encode())
            n += 1
            time.sleep(0.02)
    except OSError:
        conn.close()


def receive(address, port):
    conn = socket.create_connection((address, port), timeout=60)
    print(json.dumps({'connected': True}), flush=True)
    buffer = b''
    while True:
        try:
            data = conn.recv(4096)
        except OSError as error:
            print(json.dumps({'closed': str(error)}), flush=True)
            return
        if not data:
            print(json.dumps({'closed': 'eof'}), flush=True)
            return
        buffer += data
        while b'\n' in buffer:
            _, buffer = buffer.split(b'\n', 1)
            print(json.dumps({'atMs': time.time() * 1000}), flush=True)


if __name__ == '__main__':
    mode, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    serve(address, port) if mode == 'server' else receive(address, port)
