#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""net-server clusters on NATS, with processes killed and stopped.

Usage: cluster_test.py NET_SERVER

Starts a 3-server nats-server cluster with JetStream on loopback (nats_cluster.py) and
net-server nodes on it, and speaks the wire protocol as clients (wire.py). Checked:
- a net-server killed with SIGKILL: an observer on another node gets LEFT(lost) for each
  of its clients within 1 s, and their ids can be registered again at once;
- a net-server stopped with SIGSTOP: its clients leave everywhere; after SIGCONT the
  stopped node ends the session whose id was taken elsewhere meanwhile (ERROR id_taken)
  instead of keeping a second owner, and claims the other id again, which stays online;
- one of the three nats-servers killed: the service goes on; observers see no LEFT for
  clients that stayed and no second JOINED; messages still cross nodes.
"""
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import wire
from cli_test import Proc
from nats_cluster import NatsCluster

SERVER = None
PROCS = []
LOST = 2


def fail(what):
    raise AssertionError(what)


def start_node(urls, node_id):
    p = Proc([SERVER, "--port", "0", "--cluster", urls, "--node-id", node_id,
              "--log-level", "warn"], stdin=subprocess.DEVNULL)
    PROCS.append(p)
    host, port = p.stdout_line(what="address").rsplit(":", 1)
    return p, host, int(port)


def client(host, port, client_id):
    c = wire.Connection(host, port)
    c.register(client_id, 10.0)
    return c


def next_frame(c, timeout, want):
    """The next frame whose type is in `want`, answering PINGs meanwhile."""
    end = time.monotonic() + timeout
    while (left := end - time.monotonic()) > 0:
        got = c.read(left)
        if got is None:
            return None
        frame_type, f = got
        if frame_type == wire.PING:
            c.send(wire.PONG, nonce=f[wire.NONCE])
            continue
        if frame_type in want:
            return frame_type, f
    return None


def refused_as_taken(host, port, client_id):
    """Registering `client_id` there must fail with id_taken: it has an owner."""
    try:
        client(host, port, client_id)
    except RuntimeError as e:
        if "code 35" not in str(e):
            fail(f"expected id_taken for {client_id!r}, got {e}")
        return
    fail(f"a second owner of {client_id!r} registered")


def ident(f):
    return f[wire.CLIENT_ID].decode()


def wait_joined(c, ids, timeout=10.0):
    ids = set(ids)
    while ids:
        got = next_frame(c, timeout, {wire.JOINED, wire.LEFT})
        if got is None:
            fail(f"no JOINED for {sorted(ids)}")
        if got[0] == wire.LEFT:
            fail(f"unexpected LEFT {ident(got[1])}")
        ids.discard(ident(got[1]))


def test_sigkill(nats):
    a, ha, pa = start_node(nats.urls(), "a")
    b, hb, pb = start_node(nats.urls(), "b")
    watcher = client(ha, pa, "watcher")
    victims = [client(hb, pb, f"v{i}") for i in range(3)]
    wait_joined(watcher, [f"v{i}" for i in range(3)])
    b.p.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    left = {}
    while len(left) < 3:
        got = next_frame(watcher, 5.0, {wire.LEFT, wire.JOINED})
        if got is None or got[0] != wire.LEFT:
            fail(f"after SIGKILL: expected LEFT, got {got}")
        reason = got[1][wire.REASON]
        if reason != LOST:
            fail(f"LEFT {ident(got[1])} with reason {reason}, expected lost")
        left[ident(got[1])] = time.monotonic() - killed
    worst = max(left.values())
    print(f"SIGKILL: LEFT(lost) for 3 clients after {worst * 1000:.0f} ms at most")
    if worst > 1.0:
        fail(f"LEFT(lost) took {worst:.3f} s, more than 1 s")
    again = client(ha, pa, "v0")  # the id is free again
    again.close()
    for v in victims:
        v.close()
    watcher.close()
    a.kill()
    b.kill()


def test_sigstop(nats):
    a, ha, pa = start_node(nats.urls(), "a")
    b, hb, pb = start_node(nats.urls(), "b")
    watcher = client(ha, pa, "watcher")
    stale = client(hb, pb, "frozen")
    kept = client(hb, pb, "kept")
    wait_joined(watcher, ["frozen", "kept"])
    b.p.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    gone = set()
    while len(gone) < 2:
        got = next_frame(watcher, 5.0, {wire.LEFT})
        if got is None:
            fail(f"the stopped node's clients did not leave: only {sorted(gone)}")
        if got[1][wire.REASON] != LOST:
            fail(f"LEFT {ident(got[1])} with reason {got[1][wire.REASON]}, expected lost")
        gone.add(ident(got[1]))
    # No advisory for a hung process: the heartbeats find it (4 x 200 ms by default).
    took = time.monotonic() - stopped
    print(f"SIGSTOP: LEFT(lost) after {took * 1000:.0f} ms (heartbeats)")
    if took > 1.5:
        fail(f"LEFT(lost) took {took:.3f} s")
    owner = client(ha, pa, "frozen")  # one id gets a new owner; "kept" stays free
    b.p.send_signal(signal.SIGCONT)
    end = time.monotonic() + 5.0
    fenced = False
    while time.monotonic() < end and not fenced:
        try:
            got = next_frame(stale, end - time.monotonic(), {wire.ERROR})
        except wire.Closed:
            fenced = True
            break
        if got is not None:
            code = got[1][wire.CODE]
            if code != 35:
                fail(f"stale session got ERROR {code}, expected id_taken (35)")
            fenced = True
    if not fenced:
        fail("after SIGCONT the stale session on the stopped node is still open")
    # The new owner stays: nobody else can take it.
    refused_as_taken(hb, pb, "frozen")
    # The free id was claimed again: everyone sees "kept" join once more, and it is
    # reachable across nodes as before.
    wait_joined(watcher, ["kept"])
    watcher.send(wire.SEND, to=b"kept", body=b"still there?")
    got = next_frame(kept, 5.0, {wire.DELIVER})
    if got is None or got[1][wire.BODY] != b"still there?":
        fail(f"the client claimed again got {got}")
    refused_as_taken(ha, pa, "kept")
    print("SIGSTOP/SIGCONT: the id taken elsewhere was fenced (id_taken), the free one "
          "claimed again; one owner throughout")
    kept.close()
    owner.close()
    watcher.close()
    a.kill()
    b.kill()


def test_nats_server_dies(nats):
    a, ha, pa = start_node(nats.url(0) + "," + nats.url(1) + "," + nats.url(2), "a")
    b, hb, pb = start_node(nats.url(1) + "," + nats.url(2) + "," + nats.url(0), "b")
    on_a = client(ha, pa, "on-a")
    on_b = client(hb, pb, "on-b")
    wait_joined(on_a, ["on-b"])
    nats.kill(0)  # a's NATS server
    # Nobody leaves, nobody joins twice, for longer than the nodes' failure detection.
    for c in (on_a, on_b):
        got = next_frame(c, 2.0, {wire.LEFT, wire.JOINED})
        if got is not None:
            kind = "LEFT" if got[0] == wire.LEFT else "JOINED"
            fail(f"after a NATS server died: spurious {kind} {ident(got[1])}")
    # Messages still cross nodes, and registrations work once JetStream has recovered.
    on_a.send(wire.SEND, to="on-b", body=b"still here")
    got = next_frame(on_b, 10.0, {wire.DELIVER})
    if got is None or got[1][wire.BODY] != b"still here":
        fail(f"no DELIVER across nodes after a NATS server died: {got}")
    end = time.monotonic() + 15.0
    while True:
        try:
            late = client(ha, pa, "late")
            break
        except RuntimeError as e:
            if time.monotonic() > end:
                fail(f"no registration after a NATS server died: {e}")
    wait_joined(on_b, ["late"])
    print("NATS server killed: no spurious LEFT or JOINED, messages and registrations go on")
    for c in (on_a, on_b, late):
        c.close()
    a.kill()
    b.kill()
    nats.restart(0)


def main():
    global SERVER
    SERVER = sys.argv[1]
    with NatsCluster(3) as nats:
        try:
            for test in (test_sigkill, test_sigstop, test_nats_server_dies):
                test(nats)
        finally:
            for p in PROCS:
                p.kill()
    print("cluster_test: all passed")


if __name__ == "__main__":
    main()
