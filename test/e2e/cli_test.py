#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""End-to-end tests of the net-server and net-client binaries.

Usage: cli_test.py NET_SERVER NET_CLIENT [unittest args]
Every wait has a deadline; nothing sleeps to synchronise.
"""
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SERVER = CLIENT = None
DEADLINE = 10.0


class Proc:
    """A child process whose stdout and stderr lines are collected as they come."""

    def __init__(self, args, stdin=subprocess.PIPE):
        self.p = subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1)
        self.out, self.err = queue.Queue(), queue.Queue()
        self.out_lines, self.err_lines = [], []
        for stream, q in ((self.p.stdout, self.out), (self.p.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, q), daemon=True).start()

    @staticmethod
    def _pump(stream, q):
        for line in stream:
            q.put(line.rstrip("\n"))
        q.put(None)

    def _wait_line(self, q, seen, pred, what):
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            try:
                line = q.get(timeout=end - time.monotonic())
            except queue.Empty:
                break
            if line is None:
                break
            seen.append(line)
            if pred(line):
                return line
        raise AssertionError(f"no {what} line within {DEADLINE}s; saw {seen}")

    def stdout_line(self, pred=lambda l: True, what="stdout"):
        return self._wait_line(self.out, self.out_lines, pred, what)

    def stderr_line(self, pred, what="stderr"):
        return self._wait_line(self.err, self.err_lines, pred, what)

    def send(self, text):
        self.p.stdin.write(text)
        self.p.stdin.flush()

    def finish(self, close_stdin=True):
        """Waits for exit; returns (code, all stdout lines, all stderr lines)."""
        if self.p.stdin and close_stdin:
            try:
                self.p.stdin.close()
            except BrokenPipeError:
                pass
        code = self.p.wait(timeout=DEADLINE)
        for q, seen in ((self.out, self.out_lines), (self.err, self.err_lines)):
            while (line := q.get(timeout=DEADLINE)) is not None:
                seen.append(line)
        self._close()
        return code, self.out_lines, self.err_lines

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self._close()

    def _close(self):
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                if f:
                    f.close()
            except OSError:
                pass


def start_server(*args):
    s = Proc([SERVER, "--port", "0", *args], stdin=subprocess.DEVNULL)
    addr = s.stdout_line(what="address")
    host, _, port = addr.rpartition(":")
    if not (host and port.isdigit()):
        s.kill()
        raise AssertionError(f"first line is not HOST:PORT: {addr!r}")
    return s, addr


def client(addr, id_=None, stdin=subprocess.PIPE):
    args = [CLIENT, "--server", addr] + (["--id", id_] if id_ else [])
    return Proc(args, stdin=stdin)


def joined(server, id_):
    server.stderr_line(lambda l: f"joined {id_} " in l, f"'joined {id_}'")


class Arguments(unittest.TestCase):
    def run_exit(self, args):
        r = subprocess.run(args, capture_output=True, text=True, timeout=DEADLINE,
                           stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout, r.stderr

    def test_help_documents_every_option(self):
        code, out, _ = self.run_exit([SERVER, "--help"])
        self.assertEqual(code, 0)
        for opt in ("--host", "--port", "--threads", "--expect", "--teardown-at",
                    "--exit-on-disconnect", "--idle-timeout", "--no-client-term",
                    "--max-frame", "--log-level", "--backlog", "--frame-timeout"):
            self.assertIn(opt, out)
        code, out, _ = self.run_exit([CLIENT, "--help"])
        self.assertEqual(code, 0)
        for word in ("--server", "--id", "--listen", "--mesh", "@ID text", "/link ID", "/who",
                     "/who ID", "--no-directory", "/term", "/quit"):
            self.assertIn(word, out)

    def test_bad_arguments_exit_2_with_a_message(self):
        cases = [
            [SERVER, "--threads", "0"], [SERVER, "--port", "abc"], [SERVER, "--bogus"],
            [SERVER, "--log-level", "loud"], [SERVER, "--max-frame", "10"],
            [SERVER, "--max-frame", "1023"], [SERVER, "--term-ids", ""],
            [SERVER, "--term-ids", "a b"],
            [CLIENT], [CLIENT, "--server", "localhost"], [CLIENT, "--server", "h:99999"],
            [CLIENT, "--server", "127.0.0.1:1", "--id", "has space"],
            [CLIENT, "--server", "127.0.0.1:1", "--mesh"],
            [CLIENT, "--server", "127.0.0.1:1", "--listen", "x:y"],
            [CLIENT, "--server", "127.0.0.1:1", "--listen", "70000"],
            [CLIENT, "--server", "127.0.0.1:1", "--no-directory", "--listen", "0"],
            [SERVER, "--backlog", "0"], [SERVER, "--frame-timeout", "x"],
        ]
        for args in cases:
            with self.subTest(args=args[1:]):
                code, _, err = self.run_exit(args)
                self.assertEqual(code, 2)
                self.assertTrue(err.strip(), "no message on stderr")

    def test_unreachable_server_exits_1(self):
        s, addr = start_server()
        s.p.send_signal(signal.SIGTERM)
        self.assertEqual(s.finish()[0], 0)
        code, _, err = self.run_exit([CLIENT, "--server", addr, "--id", "x"])
        self.assertEqual(code, 1)
        self.assertIn("cannot register", "\n".join(err.splitlines()))


class Processes(unittest.TestCase):
    """Kills every process it tracked when a test ends, passed or not."""

    def setUp(self):
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.kill()

    def track(self, p):
        self.procs.append(p)
        return p


class Session(Processes):

    def test_routed_broadcast_errors_and_term(self):
        srv, addr = start_server()
        self.track(srv)
        bob = self.track(client(addr, "bob"))
        joined(srv, "bob")
        alice = self.track(client(addr, "alice"))
        alice.send("/wait bob 5\n@bob hello bob\n* hi all\n@nobody are you there\n/who\n/quit\n")
        code, out, err = alice.finish()
        self.assertEqual(code, 0, err)
        self.assertEqual(out.count("+ bob"), 1, out)
        self.assertIn("= alice (you)", out)
        self.assertIn("= bob", out)
        self.assertTrue(any("no_such_client" in l and "nobody" in l for l in err), err)

        self.assertEqual(bob.stdout_line(), "+ alice")
        self.assertEqual(bob.stdout_line(), "[alice] hello bob")
        self.assertEqual(bob.stdout_line(), "[alice] hi all")
        self.assertEqual(bob.stdout_line(), "- alice")
        bob.send("/term\n")
        code, _, err = bob.finish()
        self.assertEqual(code, 0, err)
        self.assertTrue(any("terminated (requested) by bob" in l for l in err), err)
        code, _, err = srv.finish()
        self.assertEqual(code, 0)
        self.assertTrue(any("TERM from bob" in l for l in err), err)
        self.assertTrue(any("stats:" in l and "routed=1" in l for l in err), err)

    def test_mesh_clients_talk_over_a_direct_link(self):
        srv, addr = start_server()
        self.track(srv)
        mesh = ["--listen", "127.0.0.1:0", "--mesh"]
        bob = self.track(Proc([CLIENT, "--server", addr, "--id", "bob", *mesh]))
        joined(srv, "bob")
        alice = self.track(Proc([CLIENT, "--server", addr, "--id", "alice", *mesh]))
        # bob joined first, so bob dials alice; both report the link.
        bob.stdout_line(lambda l: l == "~+ alice", "'~+ alice'")
        alice.stdout_line(lambda l: l == "~+ bob", "'~+ bob'")
        alice.send("@bob over the link\n/who\n")
        bob.stdout_line(lambda l: l == "[alice] (direct) over the link", "a direct message")
        alice.stdout_line(lambda l: l == "= bob (linked)", "'= bob (linked)'")
        bob.send("@alice back\n/quit\n")
        alice.stdout_line(lambda l: l == "[bob] (direct) back", "a direct reply")
        self.assertEqual(bob.finish()[0], 0)
        alice.send("/quit\n")
        code, _, err = alice.finish()
        self.assertEqual(code, 0, err)
        srv.p.send_signal(signal.SIGTERM)
        self.assertEqual(srv.finish()[0], 0)

    def test_duplicate_id_is_refused(self):
        srv, addr = start_server()
        self.track(srv)
        first = self.track(client(addr, "carol"))
        joined(srv, "carol")
        code, _, err = client(addr, "carol", stdin=subprocess.DEVNULL).finish()
        self.assertEqual(code, 1)
        self.assertTrue(any("already online" in l for l in err), err)
        first.send("/quit\n")
        self.assertEqual(first.finish()[0], 0)
        srv.p.send_signal(signal.SIGTERM)
        self.assertEqual(srv.finish()[0], 0)

    def test_without_the_directory_who_asks_the_server(self):
        srv, addr = start_server()
        self.track(srv)
        quiet = self.track(Proc([CLIENT, "--server", addr, "--id", "quiet", "--no-directory"]))
        joined(srv, "quiet")
        bob = self.track(client(addr, "bob"))
        joined(srv, "bob")
        # bob sees quiet in its directory; quiet hears of nobody but can ask.
        bob.stdout_line(lambda l: l == "+ quiet", "'+ quiet'")
        quiet.send("/who bob\n/who nobody\n@bob hi\n")
        quiet.stdout_line(lambda l: l == "= bob", "'= bob'")
        quiet.stdout_line(lambda l: l == "nobody is not online", "'nobody is not online'")
        bob.stdout_line(lambda l: l == "[quiet] hi", "'[quiet] hi'")
        quiet.send("/quit\n")
        code, out, err = quiet.finish()
        self.assertEqual(code, 0, err)
        self.assertFalse([l for l in out if l.startswith(("+ ", "- "))], out)  # told nothing
        bob.stdout_line(lambda l: l == "- quiet", "'- quiet'")
        bob.send("/quit\n")
        self.assertEqual(bob.finish()[0], 0)
        srv.p.send_signal(signal.SIGTERM)
        self.assertEqual(srv.finish()[0], 0)

    def test_commands_from_a_file_and_teardown(self):
        srv, addr = start_server("--teardown-at", "2")
        self.track(srv)
        with tempfile.TemporaryFile("w+") as script:
            script.write("/wait dave 5\n@dave from a file\n")
            script.seek(0)
            erin = self.track(client(addr, "erin", stdin=script))
            joined(srv, "erin")
            dave = self.track(client(addr, "dave"))
            # Teardown fires at dave's registration: both are told and exit 0.
            for p in (erin, dave):
                code, _, err = p.finish()
                self.assertEqual(code, 0, err)
                self.assertTrue(any("terminated (teardown)" in l for l in err), err)
        self.assertEqual(srv.finish()[0], 0)

    def test_server_shutdown_and_lost_server(self):
        srv, addr = start_server()
        self.track(srv)
        frank = self.track(client(addr, "frank"))
        joined(srv, "frank")
        srv.p.send_signal(signal.SIGUSR1)
        srv.stderr_line(lambda l: "stats:" in l and "online=1" in l, "stats")
        srv.p.send_signal(signal.SIGTERM)
        code, _, err = frank.finish(close_stdin=False)  # stdin stays open: no /quit
        self.assertEqual(code, 0, err)
        self.assertTrue(any("terminated (shutdown)" in l for l in err), err)
        self.assertEqual(srv.finish()[0], 0)

        srv2, addr2 = start_server()
        self.track(srv2)
        gina = self.track(client(addr2, "gina"))
        gina.send("/who\n")  # answered only once gina itself has registered
        gina.stdout_line(lambda l: l == "= gina (you)", "/who")
        srv2.kill()  # no TERM: the process is just gone
        code, _, err = gina.finish(close_stdin=False)
        self.assertEqual(code, 1)
        self.assertTrue(any("connection lost" in l for l in err), err)

    def test_version(self):
        for program, name in ((SERVER, "net-server"), (CLIENT, "net-client")):
            r = subprocess.run([program, "--version"], capture_output=True, text=True,
                               timeout=DEADLINE)
            self.assertEqual(r.returncode, 0, r.stderr)
            first = r.stdout.splitlines()[0]
            self.assertRegex(first, "^" + name + r" \d+\.\d+\.\d+ \(libnet \d+\.\d+\.\d+, "
                             r"Boost 1\.\d+\.\d+, OpenSSL 3")
            self.assertIn("Boost Software License", r.stdout)

    def test_registering_is_reported_on_stderr(self):
        srv, addr = start_server()
        self.track(srv)
        amy = self.track(client(addr, "amy"))
        amy.stderr_line(lambda l: l == f"net-client: registered as amy with {addr} (1 online)",
                        "the registration line")
        amy.send("/quit\n")
        self.assertEqual(amy.finish()[0], 0)

    def test_barrier_holds_the_first_client_until_the_last_arrives(self):
        srv, addr = start_server("--barrier", "2")
        self.track(srv)
        first = self.track(client(addr, "first"))
        joined(srv, "first")
        second = self.track(client(addr, "second"))
        srv.stderr_line(lambda l: "barrier open: 2 clients online" in l, "the barrier opening")
        # The first client's connect completed at the opening, with both online.
        first.stderr_line(lambda l: l == f"net-client: registered as first with {addr} (2 online)",
                          "first's registration line")
        first.stdout_line(lambda l: l == "+ second", "'+ second'")
        second.stdout_line(lambda l: l == "+ first", "'+ first'")
        for c in (first, second):
            c.send("/quit\n")
            self.assertEqual(c.finish()[0], 0)

    def test_a_udp_client_talks_to_a_tcp_client(self):
        srv, addr = start_server("--udp", "0")
        self.track(srv)
        udp_line = srv.stdout_line(what="UDP address")
        self.assertRegex(udp_line, r"^udp 127\.0\.0\.1:\d+$")
        udp_addr = "udp://" + udp_line.split()[1]
        bob = self.track(client(addr, "bob"))
        joined(srv, "bob")
        alice = self.track(client(udp_addr, "alice"))
        alice.stderr_line(
            lambda l: l == f"net-client: registered as alice with {udp_addr} (2 online)",
            "alice's registration line")
        bob.stdout_line(lambda l: l == "+ alice", "'+ alice'")
        alice.send("@bob over udp\n")
        bob.stdout_line(lambda l: l == "[alice] over udp", "the message over UDP")
        bob.send("@alice " + "x" * 3000 + "\n")  # fragmented on the way
        alice.stdout_line(lambda l: l == "[bob] " + "x" * 3000, "the long reply")
        alice.send("/quit\n")
        self.assertEqual(alice.finish()[0], 0)
        bob.stdout_line(lambda l: l == "- alice", "'- alice'")
        bob.send("/quit\n")
        self.assertEqual(bob.finish()[0], 0)
        code = subprocess.run([CLIENT, "--server", "udp://127.0.0.1:1", "--tls"],
                              capture_output=True, timeout=DEADLINE).returncode
        self.assertEqual(code, 2)

    def test_log_lines_carry_rfc3339_time_and_level(self):
        rfc3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
        for fmt in ("text", "json"):
            srv, addr = start_server("--log-format", fmt)
            self.track(srv)
            c = self.track(client(addr, "logged"))
            joined(srv, "logged")
            c.send("/quit\n")
            self.assertEqual(c.finish()[0], 0)
            srv.p.send_signal(signal.SIGTERM)
            code, _, err = srv.finish()
            self.assertEqual(code, 0, err)
            self.assertTrue(any("joined logged" in l for l in err), err)
            records = []
            for line in err:
                if fmt == "text":
                    self.assertRegex(line, "^" + rfc3339 + r" (debug|info|warn|error) net-server: ")
                    continue
                record = json.loads(line)
                records.append(record)
                self.assertEqual(list(record)[:4], ["time", "level", "program", "msg"], line)
                self.assertRegex(record["time"], "^" + rfc3339 + "$")
                self.assertIn(record["level"], ("debug", "info", "warn", "error"))
                self.assertEqual(record["program"], "net-server")
                self.assertTrue(all(isinstance(v, str) for v in record.values()), line)
                if not record["msg"].startswith("stats: "):  # the library's lines
                    self.assertIn("event", record, line)
            if fmt == "text":  # the sentence alone, as before
                joined_line = r" info net-server: joined logged from 127\.0\.0\.1:\d+ \(1 online\)$"
                self.assertTrue(any(re.search(joined_line, l) for l in err), err)
                continue
            joins = [r for r in records if r.get("event") == "client.joined"]
            self.assertEqual(len(joins), 1, err)
            self.assertEqual(joins[0]["id"], "logged")
            self.assertEqual(joins[0]["online"], "1")
            self.assertEqual(joins[0]["msg"],
                             f"joined logged from {joins[0]['address']} (1 online)")
            lefts = [r for r in records if r.get("event") == "client.left"]
            self.assertEqual([(r["id"], r["reason"]) for r in lefts], [("logged", "bye")], err)
        code = subprocess.run([SERVER, "--log-format", "xml"], capture_output=True,
                              timeout=DEADLINE).returncode
        self.assertEqual(code, 2)

    def test_wait_takes_whole_seconds_only(self):
        srv, addr = start_server()
        self.track(srv)
        for bad in ("/wait bob x", "/wait bob -1", "/wait bob 0", "/wait bob 1 2", "/wait"):
            c = self.track(client(addr, "w"))
            c.send(bad + "\n/quit\n")
            code, _, err = c.finish()
            self.assertEqual(code, 0, err)
            self.assertIn("net-client: /wait ID [S]: S must be whole seconds from 1 to 86400",
                          err, bad)

    def test_sigint_leaves_with_bye_and_exits_0(self):
        srv, addr = start_server()
        self.track(srv)
        watcher = self.track(client(addr, "watcher"))
        joined(srv, "watcher")
        ctl = self.track(client(addr, "ctl"))
        joined(srv, "ctl")
        ctl.p.send_signal(signal.SIGINT)
        code, _, err = ctl.finish(close_stdin=False)
        self.assertEqual(code, 0, err)
        srv.stderr_line(lambda l: "left ctl (bye" in l, "'left ctl (bye'")
        watcher.stdout_line(lambda l: l == "- ctl", "'- ctl'")

    def test_multithreaded_server_routes_between_clients(self):
        srv, addr = start_server("--threads", "2", "--exit-on-disconnect")
        self.track(srv)
        rx = self.track(client(addr, "rx"))
        joined(srv, "rx")
        tx = self.track(client(addr, "tx"))
        lines = "".join(f"@rx m{i}\n" for i in range(200))
        tx.send("/wait rx 5\n" + lines + "/quit\n")
        self.assertEqual(tx.finish()[0], 0)
        got = [rx.stdout_line(lambda l: l.startswith("[tx]")) for _ in range(200)]
        self.assertEqual(got, [f"[tx] m{i}" for i in range(200)])
        code, _, err = rx.finish()  # tx left: exit-on-disconnect terminates rx too
        self.assertEqual(code, 0, err)
        self.assertEqual(srv.finish()[0], 0)


if __name__ == "__main__":
    SERVER, CLIENT = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
