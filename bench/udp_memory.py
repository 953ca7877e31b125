#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""Memory of an idle UDP session against an idle TCP one (docs/performance.md, "UDP").

Starts a net-server (heartbeats off, so idle means idle), registers N clients over TCP and
reads the server's resident memory before and after, then does the same over UDP with
raw datagrams (INIT, COOKIE, INIT with the cookie, ACCEPT, HELLO in packet 0, WELCOME
acknowledged). Clients ask for no directory, so nothing else is sent to them.

usage: bench/udp_memory.py NET_SERVER [N]   (N: 2000)
"""
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "e2e"))
import wire  # noqa: E402

HELLO_NO_DIRECTORY = 0x0002
PREFIX = "warm-"  # ids of the warm-up clients; then "" for the measured ones


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def hello(i, kind):
    kind = PREFIX + kind
    return wire.encode(wire.HELLO, version=wire.PROTOCOL_VERSION, client_id=f"{kind}{i}",
                       flags=HELLO_NO_DIRECTORY)


def tcp_clients(addr, n):
    socks = []
    for i in range(n):
        s = socket.create_connection(addr)
        s.sendall(hello(i, "t"))
        socks.append(s)
    for s in socks:  # WELCOME: registered
        s.settimeout(5)
        if len(s.recv(65536)) == 0:
            raise RuntimeError("a TCP client was refused")
    return socks


def udp_clients(addr, n):
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.connect(addr)
        nonce = i + 1
        s.send(struct.pack(">BBQB", 1, 1, nonce, 0).ljust(64, b"\0"))
        cookie = s.recv(2048)[10:30]
        s.send((struct.pack(">BBQB", 1, 1, nonce, 20) + cookie).ljust(64, b"\0"))
        accept = s.recv(2048)
        cid = struct.unpack(">Q", accept[10:18])[0]
        # DATA: cid, flags packet|ack, ack (next 0, window 256, delay 0, no ranges), pn 0.
        s.send(struct.pack(">BQB", 4, cid, 0x03) + struct.pack(">IHHB", 0, 256, 0, 0)
               + struct.pack(">I", 0) + hello(i, "u"))
        socks.append((s, cid))
    for s, cid in socks:  # WELCOME in packet 0: acknowledge it
        while True:
            d = s.recv(2048)
            if d[0] == 4 and d[9] & 0x02:
                break
        s.send(struct.pack(">BQB", 4, cid, 0x01) + struct.pack(">IHHB", 1, 256, 0, 0))
    return socks


def main():
    server = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    p = subprocess.Popen([server, "--port", "0", "--udp", "0", "--heartbeat-ms", "0",
                          "--log-level", "warn"], stdout=subprocess.PIPE, text=True)
    try:
        tcp = p.stdout.readline().strip().rpartition(":")
        udp = p.stdout.readline().split()[1].rpartition(":")
        tcp_addr, udp_addr = (tcp[0], int(tcp[2])), (udp[0], int(udp[2]))
        # Warm up both paths, so that what grows later is per session.
        warm = tcp_clients(tcp_addr, 50) + [s for s, _ in udp_clients(udp_addr, 50)]
        time.sleep(0.5)
        global PREFIX
        PREFIX = ""
        results = {}
        for kind, opener, addr in (("TCP", tcp_clients, tcp_addr), ("UDP", udp_clients, udp_addr)):
            before = rss_kib(p.pid)
            held = opener(addr, n)
            time.sleep(0.5)
            after = rss_kib(p.pid)
            results[kind] = (after - before) * 1024 / n
            print(f"{kind}: {n} idle clients: server RSS +{after - before} KiB, "
                  f"{results[kind]:.0f} B per session")
            warm += held
        print(f"UDP/TCP per idle session: {results['UDP'] / results['TCP']:.2f}")
    finally:
        p.terminate()
        p.communicate()


if __name__ == "__main__":
    main()
