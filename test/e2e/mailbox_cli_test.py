#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""End-to-end tests of net-server's access control and mailboxes, through net-client.

Usage: mailbox_cli_test.py NET_SERVER NET_CLIENT [unittest args]
Processes are run as in cli_test.py; every wait has a deadline, nothing sleeps.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cli_test
from cli_test import DEADLINE, Proc, client, joined, start_server


def run_exit(args, stdin_text=None):
    """Runs to the end: (exit code, stdout, stderr, seconds taken)."""
    start = time.monotonic()
    r = subprocess.run(args, capture_output=True, text=True, timeout=DEADLINE,
                       input=stdin_text, stdin=None if stdin_text else subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr, time.monotonic() - start


def login(addr, id_, *args, commands="/quit\n"):
    """One net-client session running `commands`: (exit code, stdout, stderr, seconds)."""
    return run_exit([cli_test.CLIENT, "--server", addr, "--id", id_, *args], commands)


def messages(lines):
    return [l for l in lines if l.startswith("[")]


class Fixture(cli_test.Processes):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.TemporaryDirectory(prefix="libnet-e2e-")

    def tearDown(self):
        super().tearDown()
        self.dir.cleanup()

    def file(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w", newline="") as f:
            f.write(text)
        return path

    def server(self, *args, port=None):
        """net-server on a free port, or on `port` (a restart)."""
        if port is None:
            srv, addr = start_server(*args)
        else:
            srv = Proc([cli_test.SERVER, "--port", port, *args], stdin=subprocess.DEVNULL)
            addr = srv.stdout_line(what="address")
        self.track(srv)
        return srv, addr

    def stop(self, srv):
        srv.p.send_signal(signal.SIGTERM)
        code, _, err = srv.finish()
        self.assertEqual(code, 0, err)
        return err


class Access(Fixture):
    def test_help_documents_the_new_options(self):
        code, out, _, _ = run_exit([cli_test.SERVER, "--help"])
        self.assertEqual(code, 0)
        for opt in ("--allow-ids", "--allow-file", "--secrets-file", "--auth-delay-ms", "--store",
                    "--sync", "--mailbox-max", "--mailbox-max-bytes", "--ttl"):
            self.assertIn(opt, out)
        code, out, _, _ = run_exit([cli_test.CLIENT, "--help"])
        self.assertEqual(code, 0)
        for word in ("--secret", "--secret-file", "--pull", "!ID text", "/get"):
            self.assertIn(word, out)

    def test_allow_ids_refuse_everyone_else(self):
        srv, addr = self.server("--allow-ids", "alice, bob")
        code, _, err, _ = login(addr, "alice")
        self.assertEqual(code, 0, err)
        code, _, err, _ = login(addr, "mallory")
        self.assertEqual(code, 1)
        self.assertIn("not_allowed", err)
        # An id the server would assign is not on the list either.
        code, _, err, _ = run_exit([cli_test.CLIENT, "--server", addr], "/quit\n")
        self.assertEqual(code, 1)
        self.assertIn("not_allowed", err)
        err = self.stop(srv)
        self.assertTrue(any("refused mallory" in l for l in err), err)
        self.assertTrue(any("refused=2" in l for l in err), err)

    def test_allow_file_skips_comments_and_blank_lines(self):
        path = self.file("allow", "# the team\n\n  alice  \n#bob\ncarol\r\n")
        srv, addr = self.server("--allow-file", path)
        for id_ in ("alice", "carol"):
            code, _, err, _ = login(addr, id_)
            self.assertEqual(code, 0, f"{id_}: {err}")
        code, _, err, _ = login(addr, "bob")
        self.assertEqual(code, 1)
        self.assertIn("not_allowed", err)
        self.stop(srv)

    def test_secrets_file(self):
        secret = "pa:ss word"  # split at the first ':' only; spaces are part of it
        path = self.file("secrets", f"# secrets\nalice:{secret}\n")
        srv, addr = self.server("--secrets-file", path, "--auth-delay-ms", "200")
        code, _, err, _ = login(addr, "alice", "--secret", secret)
        self.assertEqual(code, 0, err)
        code, _, err, _ = login(addr, "alice", "--secret-file", self.file("mine", secret + "\n"))
        self.assertEqual(code, 0, err)
        for wrong in (["--secret", "pa"], ["--secret", secret + " "], []):
            with self.subTest(args=wrong):
                code, _, err, took = login(addr, "alice", *wrong)
                self.assertEqual(code, 1)
                self.assertIn("auth_failed", err)
                self.assertGreaterEqual(took, 0.2, "answered before --auth-delay-ms")
        # Without an allow list, ids that have no secret need none.
        code, _, err, _ = login(addr, "carol")
        self.assertEqual(code, 0, err)
        err = self.stop(srv)
        self.assertTrue(all("pa:ss" not in l for l in err), err)

    def test_sighup_reads_the_files_again_and_keeps_who_may_stay(self):
        allow = self.file("allow", "alice\nbob\n")
        secrets = self.file("secrets", "carol:c1\n")
        srv, addr = self.server("--allow-file", allow, "--secrets-file", secrets)
        alice = self.track(client(addr, "alice"))
        joined(srv, "alice")
        bob = self.track(client(addr, "bob"))
        joined(srv, "bob")

        self.file("allow", "alice\nerin\n")
        self.file("secrets", "carol:c2\n")
        srv.p.send_signal(signal.SIGHUP)
        srv.stderr_line(lambda l: "closed bob: no longer allowed" in l, "bob closed")
        code, _, err = bob.finish(close_stdin=False)  # EOF on stdin would leave with exit 0
        self.assertEqual(code, 1, err)
        self.assertTrue(any("not_allowed" in l for l in err), err)
        for id_, args in (("erin", []), ("carol", ["--secret", "c2"])):
            code, _, err, _ = login(addr, id_, *args)
            self.assertEqual(code, 0, f"{id_}: {err}")
        for id_, args, why in (("bob", [], "not_allowed"), ("carol", ["--secret", "c1"], "auth_failed")):
            code, _, err, _ = login(addr, id_, *args)
            self.assertEqual(code, 1, id_)
            self.assertIn(why, err)

        # A file with a mistake, or an empty list, keeps the rules in force.
        for text in ("alice\nbad id\n", "# nobody\n"):
            self.file("allow", text)
            srv.p.send_signal(signal.SIGHUP)
            srv.stderr_line(lambda l: "keeping the current allow list" in l, "reload refused")
            code, _, err, _ = login(addr, "erin")
            self.assertEqual(code, 0, err)
        alice.send("/quit\n")
        code, _, err = alice.finish()
        self.assertEqual(code, 0, err)
        self.stop(srv)

    def test_bad_files_and_stores_exit_2(self):
        allow = self.file("allow", "alice\n\nbad id\n")
        no_colon = self.file("s1", "alice:s3cret-one\nbob s3cret-two\n")
        twice = self.file("s2", "alice:s3cret-one\n# x\nalice:s3cret-two\n")
        empty = self.file("s3", "alice:\r\n")
        bad_id = self.file("s4", "bad id:s3cret-one\n")
        cases = [
            (["--allow-file", allow], f"{allow}:3:"),
            (["--secrets-file", no_colon], f"{no_colon}:2:"),
            (["--secrets-file", twice], f"{twice}:3:"),
            (["--secrets-file", empty], f"{empty}:1:"),
            (["--secrets-file", bad_id], f"{bad_id}:1:"),
            (["--allow-file", os.path.join(self.dir.name, "missing")], "missing"),
            (["--allow-ids", "alice,bad id"], "bad id"),
            (["--allow-ids", ","], "--allow-ids"),
            (["--store", "bogus"], "--store"),
            (["--store", "sqlite:"], "--store"),
            (["--sync", "sometimes"], "--sync"),
            (["--mailbox-max", "0"], "--mailbox-max"),
        ]
        for args, where in cases:
            with self.subTest(args=args):
                code, out, err, _ = run_exit([cli_test.SERVER, "--port", "0", *args])
                self.assertEqual(code, 2, err)
                self.assertEqual(out, "", "printed an address")
                self.assertIn(where, err)
                self.assertNotIn("s3cret", err)


class Reconnect(Fixture):
    def test_a_client_with_reconnect_survives_kill_9_of_its_server(self):
        db = os.path.join(self.dir.name, "mail.db")
        srv, addr = self.server("--store", f"sqlite:{db}")
        port = addr.rsplit(":", 1)[1]
        alice = self.track(Proc([cli_test.CLIENT, "--server", addr, "--id", "alice",
                                 "--reconnect"]))
        joined(srv, "alice")
        bob = self.track(Proc([cli_test.CLIENT, "--server", addr, "--id", "bob",
                               "--reconnect"]))
        joined(srv, "bob")
        alice.stdout_line(lambda l: l == "+ bob", "'+ bob'")
        code, _, err, _ = login(addr, "carol", commands="!alice before\n/quit\n")
        self.assertEqual(code, 0, err)
        self.assertEqual(alice.stdout_line(lambda l: l.startswith("["), "a message"),
                         "[carol] before")

        srv.p.kill()  # SIGKILL: no TERM, the connections just break
        srv.finish()
        alice.stderr_line(lambda l: "reconnecting in" in l and "(attempt 1)" in l,
                          "alice reconnecting")
        bob.send("@alice typed while away\n")  # waits for the next connection
        srv, _ = self.server("--store", f"sqlite:{db}", port=port)
        alice.stderr_line(lambda l: "reconnected as alice after" in l, "alice back")
        self.assertEqual(alice.stdout_line(lambda l: l.startswith("["), "a message"),
                         "[bob] typed while away")
        # The mailbox resumed after "before": it does not come a second time.
        code, _, err, _ = login(addr, "carol", commands="!alice after\n/quit\n")
        self.assertEqual(code, 0, err)
        self.assertEqual(alice.stdout_line(lambda l: l.startswith("["), "a message"),
                         "[carol] after")
        for p in (alice, bob):
            p.send("/quit\n")
            code, _, err = p.finish()
            self.assertEqual(code, 0, err)
        self.stop(srv)

    def test_without_reconnect_a_lost_server_ends_the_client(self):
        srv, addr = self.server()
        alice = self.track(client(addr, "alice"))
        # Registered on alice's side, not only queued on the server's.
        alice.stderr_line(lambda l: "registered as alice" in l, "alice registered")
        srv.p.kill()
        srv.finish()
        code, _, err = alice.finish(close_stdin=False)
        self.assertEqual(code, 1, err)
        self.assertTrue(any("connection lost" in l for l in err), err)


class Mailbox(Fixture):
    def test_offline_messages_arrive_once_across_two_logins(self):
        srv, addr = self.server("--allow-ids", "alice,bob")  # listed ids have mailboxes
        code, out, err, _ = login(addr, "alice", commands="@bob one\n!bob two\n/quit\n")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines(), ["(stored for bob)", "ok bob (stored)"])

        code, out, err, _ = login(addr, "bob")
        self.assertEqual(code, 0, err)
        self.assertEqual(messages(out.splitlines()), ["[alice] one", "[alice] two"])

        # Stored messages come before live ones: if "three" is the first bob prints,
        # nothing was delivered a second time.
        bob = self.track(client(addr, "bob"))
        joined(srv, "bob")
        code, _, err, _ = login(addr, "alice", commands="@bob three\n/quit\n")
        self.assertEqual(code, 0, err)
        self.assertEqual(bob.stdout_line(lambda l: l.startswith("["), "a message"),
                         "[alice] three")
        bob.send("/quit\n")
        code, out, err = bob.finish()
        self.assertEqual(code, 0, err)
        self.assertEqual(messages(out), ["[alice] three"])
        self.stop(srv)

    def test_confirmed_sends_survive_a_restart_with_sqlite(self):
        db = os.path.join(self.dir.name, "db")
        srv, addr = self.server("--store", f"sqlite:{db}")
        code, _, err, _ = login(addr, "bob")  # from now on bob has a mailbox
        self.assertEqual(code, 0, err)
        code, out, err, _ = login(addr, "alice", commands="!bob kept\n!bob safe\n/quit\n")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines(), ["ok bob (stored)", "ok bob (stored)"])
        self.stop(srv)

        port = addr.rpartition(":")[2]
        srv, addr = self.server("--store", f"sqlite:{db}", port=port)
        bob = self.track(client(addr, "bob"))
        self.assertEqual(bob.stdout_line(lambda l: l.startswith("["), "a message"), "[alice] kept")
        self.assertEqual(bob.stdout_line(lambda l: l.startswith("["), "a message"), "[alice] safe")
        # bob is online now: a confirmed send is delivered, not stored.
        code, out, err, _ = login(addr, "alice", commands="/wait bob 5\n!bob live\n/quit\n")
        self.assertEqual(code, 0, err)
        self.assertIn("ok bob", out.splitlines())
        self.assertEqual(bob.stdout_line(lambda l: l.startswith("["), "a message"), "[alice] live")
        bob.send("/quit\n")
        self.assertEqual(bob.finish()[0], 0)
        code, out, err, _ = login(addr, "bob")
        self.assertEqual(code, 0, err)
        self.assertEqual(messages(out.splitlines()), [], "delivered twice")
        self.stop(srv)

    def test_pull_mode_waits_for_get(self):
        srv, addr = self.server("--allow-ids", "alice,bob")
        code, _, err, _ = login(addr, "alice", commands="@bob m1\n@bob m2\n!bob m3\n/quit\n")
        self.assertEqual(code, 0, err)
        # "/who" marks where each /get's answer ends: /get prints before the next command.
        code, out, err, _ = login(addr, "bob", "--pull",
                                  commands="/who\n/get 2\n/who\n/get\n/who\n/get\n/who\n/quit\n")
        self.assertEqual(code, 0, err)
        lines = [l for l in out.splitlines() if l.startswith("[") or l == "= bob (you)"]
        self.assertEqual(lines, ["= bob (you)", "[alice] m1", "[alice] m2", "= bob (you)",
                                 "[alice] m3", "= bob (you)", "= bob (you)"])
        code, out, err, _ = login(addr, "bob", "--pull", commands="/get\n/quit\n")
        self.assertEqual(code, 0, err)
        self.assertEqual(messages(out.splitlines()), [], "fetched twice")
        self.assertIn("(mailbox empty)", out.splitlines())
        for bad in ("0", "-1", "2x", "100001", "1 2"):
            code, out, err, _ = login(addr, "bob", "--pull", commands=f"/get {bad}\n/quit\n")
            self.assertEqual(code, 0, err)
            self.assertIn("/get N: N must be a whole number from 1 to 100000", err, bad)
            self.assertNotIn("(mailbox empty)", out, bad)
        self.stop(srv)


if __name__ == "__main__":
    cli_test.SERVER, cli_test.CLIENT = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
