#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""net-server's settings from a --config file and LIBNET_* variables (docs/guide.md §7).

Usage: config_test.py NET_SERVER NET_CLIENT [unittest args]
"""
import os
import re
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cli_test
from cli_test import DEADLINE
from mailbox_cli_test import Fixture, login


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBNET_")}
    env.update(extra)
    return env


def check(*args, **env):
    """net-server --check-config: (exit code, {setting: value}, stdout, stderr)."""
    r = subprocess.run([cli_test.SERVER, "--check-config", *args], capture_output=True,
                       text=True, timeout=DEADLINE, stdin=subprocess.DEVNULL,
                       env=clean_env(**env))
    settings = dict(re.findall(r"^([a-z0-9-]+) = (.*)$", r.stdout, re.M))
    return r.returncode, settings, r.stdout, r.stderr


class Config(Fixture):
    def test_flag_beats_environment_beats_file(self):
        conf = self.file("net.conf", "# limits\nmax-frame = 4096\nthreads = 2\n")
        code, got, out, err = check("--config", conf)
        self.assertEqual(code, 0, err)
        self.assertEqual((got["max-frame"], got["threads"]), ("4096", "2"))
        self.assertIn("configuration OK", out)
        code, got, _, err = check("--config", conf, LIBNET_MAX_FRAME="8192")
        self.assertEqual(code, 0, err)
        self.assertEqual((got["max-frame"], got["threads"]), ("8192", "2"))
        code, got, _, err = check("--config", conf, "--max-frame", "16384",
                                  LIBNET_MAX_FRAME="8192")
        self.assertEqual(code, 0, err)
        self.assertEqual((got["max-frame"], got["threads"]), ("16384", "2"))

    def test_switches_lists_and_tls_flags_come_from_anywhere(self):
        conf = self.file("net.conf", "exit-on-disconnect = true\nallow-ids = alice, bob\n"
                                     "tls-min-version = 1.3\n")
        code, got, _, err = check(LIBNET_CONFIG=conf, LIBNET_NO_CLIENT_TERM="1",
                                  LIBNET_TERM_IDS="alice")
        self.assertEqual(code, 0, err)
        self.assertEqual(got["exit-on-disconnect"], "true")
        self.assertEqual(got["no-client-term"], "true")
        self.assertEqual(got["allow-ids"], "alice, bob")
        self.assertEqual(got["term-ids"], "alice")
        self.assertEqual(got["tls-min-version"], "1.3")

    def test_mistakes_exit_2_and_name_the_source(self):
        bad = self.file("bad.conf", "max-frame = 4096\nmax-fraem = 1\n")
        code, _, _, err = check("--config", bad)
        self.assertEqual(code, 2)
        self.assertIn("bad.conf", err)
        self.assertIn("max-fraem", err)
        code, _, _, err = check("--config", os.path.join(self.dir.name, "missing.conf"))
        self.assertEqual(code, 2)
        self.assertIn("cannot read", err)
        code, _, _, err = check(LIBNET_MAX_FRAME="lots")
        self.assertEqual(code, 2)
        self.assertIn("environment", err)
        self.assertIn("max-frame", err)
        small = self.file("small.conf", "max-frame = 100\n")  # checked like the flag
        code, _, _, err = check("--config", small)
        self.assertEqual(code, 2)
        self.assertIn("--max-frame must be between", err)
        code, _, _, err = check("--allow-file", os.path.join(self.dir.name, "nope"))
        self.assertEqual(code, 2)  # files named by the settings are read too

    def test_unknown_variables_are_reported_and_secrets_not_printed(self):
        secrets = self.file("secrets", "alice:hunter2-secret\n")
        code, got, out, err = check("--secrets-file", secrets, "--cluster",
                                    "nats://user:natspass@127.0.0.1:4222",
                                    LIBNET_MAX_FRAMES="1")
        self.assertEqual(code, 0, err)
        self.assertIn("# ignored: LIBNET_MAX_FRAMES names no setting", out)
        self.assertEqual(got["secrets-file"], secrets)
        self.assertNotIn("hunter2", out)
        self.assertNotIn("natspass", out)
        self.assertEqual(got["cluster"], "nats://user:***@127.0.0.1:4222")

    def test_a_server_runs_with_its_file(self):
        conf = self.file("net.conf", "allow-ids = alice\nlog-level = info\n")
        srv, addr = self.server("--config", conf)
        code, _, err, _ = login(addr, "alice")
        self.assertEqual(code, 0, err)
        code, _, err, _ = login(addr, "mallory")
        self.assertEqual(code, 1)
        self.assertIn("not_allowed", err)
        self.stop(srv)


if __name__ == "__main__":
    cli_test.SERVER, cli_test.CLIENT = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
