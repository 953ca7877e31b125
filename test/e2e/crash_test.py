#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""Crash test of net-server's SQLite mailbox store.

Usage: crash_test.py NET_SERVER NET_CLIENT

A sender (this script, speaking the wire protocol; see wire.py) streams confirmed SENDs
from alice to bob, who is offline but has a durable mailbox because he registered once.
Meanwhile net-server is killed with SIGKILL at random moments and restarted on the same
port. A message counts as confirmed only when its STORED (durable) has arrived. Checked:
- after every kill, the database passes PRAGMA integrity_check and holds every body
  confirmed so far;
- at the end bob receives every confirmed body exactly once, and everything he receives
  is in strictly increasing order (unconfirmed bodies may be missing, never doubled).
Environment: LIBNET_CRASH_SEED (random schedule), LIBNET_CRASH_KILLS (default 8).
"""
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cli_test
import wire
from cli_test import Proc

SERVER = CLIENT = None
SERVERS = []  # every net-server started, killed at the end whatever happens
DEADLINE = cli_test.DEADLINE  # seconds any single expected event may take
WINDOW = 16                   # SENDs in flight at once


def fail(what):
    raise AssertionError(what)


def start_server(db, port):
    args = [SERVER, "--port", str(port), "--store", f"sqlite:{db}", "--sync", "full",
            "--log-level", "warn", "--mailbox-max", "1000000"]
    s = Proc(args, stdin=subprocess.DEVNULL)
    SERVERS.append(s)
    try:
        addr = s.stdout_line(what="address")
    except AssertionError:
        s.kill()
        fail(f"net-server did not start on port {port}: exit {s.p.returncode}, "
             f"stderr {s.err_lines + drain(s.err)}")
    return s, addr


def drain(q):
    out = []
    while not q.empty():
        line = q.get_nowait()
        if line is not None:
            out.append(line)
    return out


def body(n):
    return f"m{n:06d}"


def number(b):
    return int(b[1:])


class Sender(threading.Thread):
    """alice: keeps WINDOW confirmed SENDs to bob in flight and reconnects after a crash.
    A number is sent once only: what is in flight when the server dies is never resent."""

    def __init__(self, host, port):
        super().__init__(daemon=True)
        self.host, self.port = host, port
        self.cond = threading.Condition()
        self.confirmed = []  # numbers whose STORED arrived, in arrival order
        self.per_connection = []  # confirmations on each connection
        self.sent = 0  # SENDs whose write completed (one a crash cut off is not counted)
        self.failure = None
        self._stopping = False
        self.next_number = 1

    def wait_confirmed(self, n, timeout):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.confirmed) >= n or self.failure,
                                      timeout):
                fail(f"sender: fewer than {n} confirmations within {timeout}s "
                     f"(have {len(self.confirmed)})")
            if self.failure:
                fail(self.failure)

    def stop(self):
        with self.cond:
            self._stopping = True
        self.join(2 * DEADLINE)
        if self.is_alive():
            fail("sender did not stop")
        if self.failure:
            fail(self.failure)

    def run(self):
        try:
            while not self._stopping:
                conn = self._connect()
                if conn is None:
                    return
                self.per_connection.append(0)
                try:
                    self._pump(conn)
                except wire.Closed:
                    pass  # the server died: what was in flight stays unconfirmed
                finally:
                    conn.close()
        except Exception as e:  # reported by wait_confirmed() and stop()
            with self.cond:
                self.failure = f"sender: {e!r}"
                self.cond.notify_all()

    def _connect(self):
        """Registers as alice, retrying until a server is up (bounded); None if stopped."""
        end = time.monotonic() + DEADLINE
        while not self._stopping:
            try:
                conn = wire.Connection(self.host, self.port, timeout=DEADLINE)
            except OSError:
                conn = None
            if conn is not None:
                try:
                    conn.register("alice", DEADLINE)
                    return conn
                except wire.Closed:
                    conn.close()  # killed while registering
            if time.monotonic() > end:
                fail(f"could not register with {self.host}:{self.port} for {DEADLINE}s")
            time.sleep(0.01)  # retry pause while net-server restarts, not a synchronisation
        return None

    def _pump(self, conn):
        in_flight = {}  # ref -> number
        drain_end = None
        while True:
            if self._stopping:
                drain_end = drain_end or time.monotonic() + DEADLINE
                if not in_flight:
                    conn.send(wire.BYE)
                    return
                if time.monotonic() > drain_end:
                    fail(f"no STORED for {sorted(in_flight.values())} within {DEADLINE}s")
            while not self._stopping and len(in_flight) < WINDOW:
                n, self.next_number = self.next_number, self.next_number + 1
                conn.send(wire.SEND, to="bob", body=body(n), ref=n, flags=wire.FLAG_CONFIRM)
                in_flight[n] = n
                self.sent += 1
            got = conn.read(0.05)
            if got is not None:
                self._handle(conn, in_flight, *got)

    def _handle(self, conn, in_flight, frame_type, f):
        if frame_type == wire.STORED:
            n = in_flight.pop(f.get(wire.REF), None)
            if n is None:
                fail(f"STORED for a ref not in flight: {f}")
            if f.get(wire.TO) != b"bob" or f.get(wire.COUNT) != 1 or \
                    not f.get(wire.FLAGS, 0) & wire.STORED_DURABLE:
                fail(f"STORED for {body(n)} is not a durable store for offline bob: {f}")
            with self.cond:
                self.confirmed.append(n)
                self.per_connection[-1] += 1
                self.cond.notify_all()
        elif frame_type == wire.ERROR:
            fail(f"ERROR code {f.get(wire.CODE)} for ref {f.get(wire.REF)}: "
                 f"{f.get(wire.TEXT, b'').decode(errors='replace')}")
        elif frame_type == wire.PING:
            conn.send(wire.PONG, nonce=f.get(wire.NONCE, 0))
        elif frame_type in (wire.DELIVER, wire.TERM):
            fail(f"alice got frame type {frame_type}: {f}")


def check_db(db, confirmed, scratch):
    """Integrity and durability of the database a killed server left behind. A copy is
    opened, so the next server still finds the files (and the WAL) exactly as they were."""
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    for suffix in ("", "-wal", "-journal"):
        if os.path.exists(db + suffix):
            shutil.copy(db + suffix, os.path.join(scratch, "db" + suffix))
    con = sqlite3.connect(os.path.join(scratch, "db"))
    try:
        check = con.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            fail(f"integrity_check: {check}")
        rows = con.execute("SELECT seq, CAST(body AS TEXT) FROM messages "
                           "WHERE recipient = 'bob' ORDER BY seq").fetchall()
    finally:
        con.close()
    stored = [number(b) for _, b in rows]
    if stored != sorted(set(stored)):
        fail(f"bob's stored bodies are not in strictly increasing order: {stored}")
    missing = sorted(set(confirmed) - set(stored))
    if missing:
        fail(f"{len(missing)} confirmed bodies are not in the database, e.g. "
             f"{[body(n) for n in missing[:10]]}")
    return len(stored)


def peek_mailbox(host, port):
    """What waits in bob's mailbox, read without acknowledging it."""
    conn = wire.Connection(host, port)
    try:
        w = conn.register("bob", DEADLINE)
        want = wire.WELCOME_MAILBOX | wire.WELCOME_DURABLE
        if w.get(wire.FLAGS, 0) & want != want:
            fail(f"bob's WELCOME does not announce a durable mailbox: {w}")
        bodies, end = [], time.monotonic() + DEADLINE
        while len(bodies) < w.get(wire.PENDING, 0):
            got = conn.read(max(0.0, end - time.monotonic()))
            if got is None:
                fail(f"bob got {len(bodies)} of {w.get(wire.PENDING)} stored messages")
            frame_type, f = got
            if frame_type == wire.DELIVER:
                if f.get(wire.FROM) != b"alice" or not f.get(wire.FLAGS, 0) & wire.FLAG_MAILBOX:
                    fail(f"unexpected DELIVER from the mailbox: {f}")
                bodies.append(f[wire.BODY].decode())
        return bodies
    finally:
        conn.close()  # no ACK, no BYE: everything stays in the mailbox


def receive_as_bob(addr, expected):
    """bob logs in with net-client: returns the bodies it prints, once `expected` came."""
    bob = Proc([CLIENT, "--server", addr, "--id", "bob"])
    try:
        got = []
        while len(got) < expected:
            line = bob.stdout_line(lambda l: l.startswith("["), "message")
            if not line.startswith("[alice] "):
                fail(f"bob printed {line!r}")
            got.append(line[len("[alice] "):])
        bob.send("/quit\n")
        code, out, err = bob.finish()
        if code != 0:
            fail(f"net-client bob exited {code}: {err}")
        return [l[len("[alice] "):] for l in out if l.startswith("[alice] ")]
    finally:
        bob.kill()


def crash_loop(db, scratch, port, sender, rng, kills):
    """Kills net-server `kills` times under the sender's stream and restarts it on the same
    port, checking the database each time it is down."""
    sender.wait_confirmed(1, DEADLINE)  # bob's mailbox is committed
    for k in range(kills):
        # The random moment of the crash (the schedule, not a synchronisation).
        time.sleep(rng.uniform(0.05, 0.4))
        SERVERS[-1].kill()
        with sender.cond:
            confirmed = list(sender.confirmed)
        rows = check_db(db, confirmed, scratch)
        print(f"kill {k + 1}: {len(confirmed)} confirmed, {rows} in the database, "
              f"{sender.sent} sent", flush=True)
        start_server(db, port)
    sender.wait_confirmed(len(sender.confirmed) + 1, DEADLINE)  # the last one works too


def read_mailbox(db, addr):
    """Starts net-server once more and returns what bob receives, checking that net-client
    prints exactly what the mailbox holds and acknowledges all of it."""
    host, _, port = addr.rpartition(":")
    start_server(db, port)
    stored = peek_mailbox(host, port)
    delivered = receive_as_bob(addr, len(stored))
    if delivered != stored:
        fail(f"net-client printed {len(delivered)} messages, the mailbox held "
             f"{len(stored)}; printed {delivered[:5]}..., held {stored[:5]}...")
    again = wire.Connection(host, port)
    pending = again.register("bob", DEADLINE).get(wire.PENDING, 0)
    again.close()
    if pending != 0:
        fail(f"{pending} messages still wait for bob after net-client read them")
    return [number(b) for b in delivered]


def check_delivery(numbers, confirmed, next_number):
    if numbers != sorted(set(numbers)):
        dups = sorted({n for n in numbers if numbers.count(n) > 1})
        fail(f"bob's messages are duplicated ({[body(n) for n in dups[:10]]}) or out of order")
    missing = sorted(set(confirmed) - set(numbers))
    if missing:
        fail(f"{len(missing)} confirmed messages never arrived, e.g. "
             f"{[body(n) for n in missing[:10]]}")
    if numbers and numbers[-1] >= next_number:
        fail(f"bob got {body(numbers[-1])}, which was never sent")


def run(tmp, rng, kills):
    db, scratch = os.path.join(tmp, "db"), os.path.join(tmp, "check")
    _, addr = start_server(db, 0)
    # bob registers once: from then on the store keeps a mailbox for him.
    code, _, err = Proc([CLIENT, "--server", addr, "--id", "bob"]).finish()
    if code != 0:
        fail(f"bob's first login failed: {err}")
    host, _, port = addr.rpartition(":")
    sender = Sender(host, port)
    sender.start()
    try:
        crash_loop(db, scratch, port, sender, rng, kills)
    finally:
        sender.stop()
    srv = SERVERS[-1]
    srv.p.send_signal(signal.SIGTERM)
    code, _, err = srv.finish()
    if code != 0:
        fail(f"net-server exited {code} on SIGTERM: {err}")
    check_db(db, sender.confirmed, scratch)
    numbers = read_mailbox(db, addr)
    check_delivery(numbers, sender.confirmed, sender.next_number)
    return sender, numbers


def main():
    global SERVER, CLIENT
    SERVER, CLIENT = sys.argv[1], sys.argv[2]
    seed = int(os.environ.get("LIBNET_CRASH_SEED", "1234"))
    kills = int(os.environ.get("LIBNET_CRASH_KILLS", "8"))
    print(f"crash_test: seed {seed} (LIBNET_CRASH_SEED), {kills} kills", flush=True)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="libnet-crash-") as tmp:
            sender, numbers = run(tmp, random.Random(seed), kills)
    except AssertionError as e:
        print(f"crash_test: FAILED (seed {seed}): {e}", file=sys.stderr)
        return 1
    finally:
        for s in SERVERS:
            s.kill()
    confirmed = len(sender.confirmed)
    print(f"crash_test: {kills} kills, {sender.sent} sent, {confirmed} confirmed, "
          f"{len(numbers)} delivered ({len(numbers) - confirmed} unconfirmed ones among them), "
          f"confirmations per connection {sender.per_connection}, "
          f"{time.monotonic() - started:.1f}s: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
