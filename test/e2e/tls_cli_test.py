#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""End-to-end tests of TLS in net-server and net-client, with the certificates that the
recipe of docs/guide.md section 12.1 makes, run as written.

Usage: tls_cli_test.py NET_SERVER NET_CLIENT GUIDE_MD [unittest args]
Processes are run as in cli_test.py; every wait has a deadline, nothing sleeps.
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cli_test
from cli_test import DEADLINE, Proc, joined, start_server

GUIDE = None


def recipe():
    """The shell block after the tls-recipe marker of the guide."""
    with open(GUIDE) as f:
        text = f.read()
    m = re.search(r"<!-- tls-recipe[^>]*-->\s*```sh\n(.*?)```", text, re.S)
    if not m:
        raise AssertionError("docs/guide.md has no tls-recipe block")
    return m.group(1)


def login(addr, id_, *args, commands="/quit\n"):
    """One net-client session running `commands`: (exit code, stdout, stderr)."""
    r = subprocess.run([cli_test.CLIENT, "--server", addr, "--id", id_, *args],
                       capture_output=True, text=True, timeout=DEADLINE, input=commands)
    return r.returncode, r.stdout, r.stderr


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="libnet-tls-")
        r = subprocess.run(["bash", "-e", "-c", recipe()], cwd=cls.dir.name,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"the guide's recipe failed: {r.stderr}")

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def setUp(self):
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.kill()

    def f(self, name):
        return os.path.join(self.dir.name, name)

    def server(self, *args):
        srv, addr = start_server("--tls-cert", self.f("server.pem"),
                                 "--tls-key", self.f("server.key"), *args)
        self.procs.append(srv)
        return srv, addr

    def stop(self, srv):
        srv.p.terminate()
        self.assertEqual(srv.p.wait(timeout=DEADLINE), 0)

    def test_messages_over_tls_and_plain_text_refused(self):
        srv, addr = self.server()
        ca = ["--tls-ca", self.f("ca.pem")]
        bob = Proc([cli_test.CLIENT, "--server", addr, "--id", "bob", *ca])
        self.procs.append(bob)
        joined(srv, "bob")
        code, _, err = login(addr, "alice", *ca, commands="@bob hello over TLS\n/quit\n")
        self.assertEqual(code, 0, err)
        bob.stdout_line(lambda l: l == "[alice] hello over TLS", "the message")

        code, _, err = login(addr, "plain")
        self.assertEqual(code, 1)
        self.assertIn("tls_required (41)", err)
        srv.stderr_line(lambda l: "refused plain-text connection" in l, "the refusal")

        # The server's own certificate is no CA: verification fails, clearly.
        code, _, err = login(addr, "carol", "--tls-ca", self.f("server.pem"))
        self.assertEqual(code, 1)
        self.assertIn("TLS: certificate verify failed", err)
        bob.send("/quit\n")
        self.assertEqual(bob.p.wait(timeout=DEADLINE), 0)
        self.stop(srv)

    def test_client_certificates_and_identity(self):
        srv, addr = self.server("--tls-ca", self.f("ca.pem"), "--tls-verify-clients",
                                "--tls-map-identity")
        alice = ["--tls-ca", self.f("ca.pem"), "--tls-cert", self.f("alice.pem"),
                 "--tls-key", self.f("alice.key")]
        code, out, err = login(addr, "alice", *alice, commands="/who\n/quit\n")
        self.assertEqual(code, 0, err)
        self.assertIn("= alice (you)", out)
        code, _, err = login(addr, "mallory", *alice)
        self.assertEqual(code, 1)
        self.assertIn("not_permitted", err)
        srv.stderr_line(lambda l: "refused mallory: not a name of its TLS certificate" in l,
                        "the identity refusal")
        code, _, err = login(addr, "bob", "--tls-ca", self.f("ca.pem"))
        self.assertEqual(code, 1)
        self.assertIn("TLS: ", err)
        self.stop(srv)

    def test_bad_flags_exit_2_naming_the_problem(self):
        cases = [
            ([cli_test.SERVER, "--tls-cert", self.f("server.pem")], "--tls-key"),
            ([cli_test.SERVER, "--tls-cert", self.f("server.pem"), "--tls-key",
              self.f("server.key"), "--tls-verify-clients"], "--tls-ca"),
            ([cli_test.SERVER, "--tls-cert", self.f("missing.pem"), "--tls-key",
              self.f("server.key")], "missing.pem"),
            ([cli_test.SERVER, "--tls-cert", self.f("server.pem"), "--tls-key",
              self.f("alice.key")], "does not match"),
            ([cli_test.SERVER, "--tls-cert", self.f("server.pem"), "--tls-key",
              self.f("server.key"), "--tls-min-version", "1.1"], "1.2 or 1.3"),
            ([cli_test.SERVER, "--tls-cert", self.f("server.pem"), "--tls-key",
              self.f("server.key"), "--udp", "0"], "UDP has no encryption"),
            ([cli_test.CLIENT, "--server", "127.0.0.1:1", "--tls-ca", self.f("nope.pem")],
             "nope.pem"),
        ]
        for args, says in cases:
            r = subprocess.run(args, capture_output=True, text=True, timeout=DEADLINE,
                               stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(says, r.stderr, args)


if __name__ == "__main__":
    cli_test.SERVER, cli_test.CLIENT, GUIDE = sys.argv[1], sys.argv[2], sys.argv[3]
    unittest.main(argv=[sys.argv[0]] + sys.argv[4:], verbosity=2)
