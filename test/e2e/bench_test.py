#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""End-to-end tests of net-bench against a spawned net-server: small runs of each
subcommand succeed with one well-formed result line, failures exit 1, bad usage exits 2.

Usage: bench_test.py NET_SERVER NET_BENCH [unittest args]
Every wait has a deadline; nothing sleeps to synchronise. Takes about 2 s, and bench/race.sh's
smallest run with its plot about 5 s more.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

SERVER = BENCH = None
DEADLINE = 20.0

STORM_KEYS = ("bench", "server", "clients", "directory", "seconds", "connect_seconds",
              "connected", "registered", "complete", "connect_failed", "resets", "errors",
              "bytes_in", "frames_in")
ROUTE_KEYS = ("bench", "server", "clients", "window", "size", "seconds", "msgs", "msg_per_s",
              "bytes_in", "mb_per_s", "frames_in", "setup_seconds", "resets", "errors")
PINGPONG_KEYS = ("bench", "server", "size", "count", "seconds", "rtt_p50_us", "rtt_p99_us",
                 "round_trips_per_s")


def bench(*args):
    r = subprocess.run([BENCH, *args], capture_output=True, text=True, timeout=DEADLINE,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def parse_result(test, out):
    """The one stdout line as a dict; fails the test unless it is key=value pairs."""
    lines = out.splitlines()
    test.assertEqual(len(lines), 1, f"expected one result line, got {lines}")
    pairs = [field.split("=", 1) for field in lines[0].split(" ")]
    test.assertTrue(all(len(p) == 2 and p[0] and p[1] for p in pairs), lines[0])
    return dict(pairs)


def start_server(*args):
    """A net-server on a free port, and that port."""
    server = subprocess.Popen([SERVER, "--port", "0", "--log-level", "warn", *args],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    port = server.stdout.readline().strip().rpartition(":")[2]
    if not port.isdigit():
        server.kill()
        raise AssertionError(f"net-server did not print HOST:PORT: {port!r}")
    return server, port


def stop_server(server):
    server.terminate()
    server.wait(timeout=DEADLINE)
    server.stdout.close()


class AgainstNetServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server, cls.port = start_server()

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.server)

    def run_ok(self, *args, keys):
        code, out, err = bench(*args, "--port", self.port, "--timeout", "15")
        self.assertEqual(code, 0, err)
        result = parse_result(self, out)
        self.assertEqual(tuple(result), keys)
        return result

    def test_storm_every_client_sees_every_id(self):
        r = self.run_ok("storm", "--clients", "50", "--id-prefix", "s", keys=STORM_KEYS)
        self.assertEqual((r["complete"], r["connected"], r["resets"], r["errors"]),
                         ("50", "50", "0", "0"))
        # Each client: WELCOME, DIRECTORY, then a JOINED for each client after it that
        # was not already in its snapshot (joins are announced in batches).
        frames = int(r["frames_in"])
        self.assertGreaterEqual(frames, 50 + 50)
        self.assertLessEqual(frames, 50 + 50 + 50 * 49 // 2)

    def test_storm_reports_the_servers_memory(self):
        r = self.run_ok("storm", "--clients", "20", "--id-prefix", "m", "--hold", "0.2",
                        "--server-pid", str(self.server.pid),
                        keys=STORM_KEYS + ("server_rss_before_kb", "server_rss_kb",
                                           "server_rss_per_client_b"))
        self.assertGreater(int(r["server_rss_kb"]), 0)

    def test_storm_without_the_directory(self):
        r = self.run_ok("storm", "--clients", "50", "--no-directory", "--id-prefix", "n",
                        keys=STORM_KEYS)
        self.assertEqual((r["complete"], r["directory"]), ("50", "0"))

    def test_route_moves_messages(self):
        r = self.run_ok("route", "--clients", "4", "--seconds", "1", "--id-prefix", "r",
                        keys=ROUTE_KEYS)
        self.assertGreater(int(r["msgs"]), 0)
        self.assertEqual(r["errors"], "0")

    def test_pingpong_measures_round_trips(self):
        r = self.run_ok("pingpong", "--count", "200", "--id-prefix", "p", keys=PINGPONG_KEYS)
        self.assertEqual(r["count"], "200")
        self.assertGreater(float(r["rtt_p99_us"]), 0)

class Failures(unittest.TestCase):
    def test_version(self):
        code, out, err = bench("--version")
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"^net-bench \d+\.\d+\.\d+ \(libnet ")

    def test_nobody_listening_exits_1(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = str(s.getsockname()[1])  # closed again: connections are refused
        code, out, err = bench("storm", "--clients", "5", "--port", port)
        self.assertEqual(code, 1)
        self.assertIn("refused", err)
        self.assertGreaterEqual(int(parse_result(self, out)["connect_failed"]), 1)

    def test_a_full_server_fails_the_storm(self):
        server, port = start_server("--max-clients", "10")
        try:
            code, out, err = bench("storm", "--clients", "20", "--port", port, "--timeout", "15")
        finally:
            stop_server(server)
        self.assertEqual(code, 1, err)
        self.assertIn("server_full", err)
        self.assertGreater(int(parse_result(self, out)["errors"]), 0)

    def test_bad_arguments_exit_2_with_a_message(self):
        cases = [[], ["frobnicate"], ["storm", "--clients", "0"], ["storm", "--clients", "x"],
                 ["storm", "--window", "4"], ["route", "--size", "-1"],
                 ["route", "--seconds", "0"], ["route", "--seconds", "9", "--timeout", "5"],
                 ["pingpong", "--count", "0"], ["storm", "--port", "70000"],
                 ["storm", "--id-prefix", "a b"], ["storm", "--nats", "--no-directory"],
                 ["storm", "stray"], ["storm", "--hold", "-1"], ["route", "--hold", "1"]]
        for args in cases:
            with self.subTest(args=args):
                code, out, err = bench(*args)
                self.assertEqual(code, 2, err)
                self.assertEqual(out, "")
                self.assertIn("net-bench: ", err)

    def test_help_exits_0(self):
        for args in (["--help"], ["storm", "--help"], ["route", "--help"],
                     ["pingpong", "--help"]):
            with self.subTest(args=args):
                code, out, _ = bench(*args)
                self.assertEqual(code, 0)
                self.assertIn("--", out)


RACE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "race.sh")


@unittest.skipUnless(shutil.which("nats-server") and shutil.which("gnuplot"),
                     "race.sh's plot needs nats-server and gnuplot (scripts/bootstrap)")
class Race(unittest.TestCase):
    def test_race_prints_ratios_and_draws_its_plot(self):
        build = os.path.dirname(os.path.dirname(os.path.abspath(BENCH)))
        with tempfile.TemporaryDirectory(prefix="libnet-race-") as d:
            png = os.path.join(d, "race.png")
            env = dict(os.environ, ROUNDS="1", DURATION="1", STORM="50", CLIENTS="4",
                       PLOT=png)
            r = subprocess.run(["bash", RACE, build], capture_output=True, text=True,
                               timeout=120, env=env, stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 0, r.stderr)
            for test in ("route64", "route1k", "storm", "storm-nodir"):
                self.assertRegex(r.stdout, rf"(?m)^{test} .* [0-9.]+$")
            self.assertIn(f"plot: {png}", r.stdout)
            with open(png, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
            self.assertGreater(os.path.getsize(png), 5000)


if __name__ == "__main__":
    SERVER, BENCH = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
