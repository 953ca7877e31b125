#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""net-server --metrics: /metrics and /varz over HTTP, scraped with curl (docs/guide.md §7).

Usage: metrics_test.py NET_SERVER NET_CLIENT [unittest args]
Processes are run as in cli_test.py; every wait has a deadline, nothing sleeps.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import cli_test
from cli_test import DEADLINE, client, joined, start_server

MAX_CONNECTIONS = 16  # metrics_http's http_limits::max_connections

HELP = re.compile(r"# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*")
TYPE = re.compile(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)")
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(" + LABEL + r"(?:," + LABEL + r")*)?\})?"
                    r" ([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))(?: -?[0-9]+)?")


def curl(url, *args):
    """curl -sS --fail URL: (exit code, body, stderr)."""
    r = subprocess.run(["curl", "-sS", "--fail", "--max-time", str(DEADLINE), *args, url],
                       capture_output=True, text=True, timeout=DEADLINE + 5,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def status_of(url, *args):
    """The HTTP status curl got for `url`, as a string."""
    r = subprocess.run(["curl", "-sS", "-o", os.devnull, "-w", "%{http_code}", "--max-time",
                        str(DEADLINE), *args, url], capture_output=True, text=True,
                       timeout=DEADLINE + 5, stdin=subprocess.DEVNULL)
    return r.stdout


def parse_exposition(text):
    """{family: type}, [(name, {label: value}, value)]; fails on a line that does not parse,
    a family without TYPE or with two, or a sample before its family's TYPE."""
    types, helps, samples = {}, set(), []
    for line in text.splitlines():
        if m := HELP.fullmatch(line):
            assert m[1] not in helps, f"two HELP lines for {m[1]}"
            helps.add(m[1])
        elif m := TYPE.fullmatch(line):
            assert m[1] not in types, f"two TYPE lines for {m[1]}"
            types[m[1]] = m[2]
        elif m := SAMPLE.fullmatch(line):
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m[2] or ""))
            name = m[1]
            family = name
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
                    family = name[:-len(suffix)]
            assert family in types, f"sample {name} has no TYPE before it"
            samples.append((name, labels, float(m[3])))
        else:
            raise AssertionError(f"not a line of the text format: {line!r}")
    return types, samples


def value(samples, name, **labels):
    got = [v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in labels.items())]
    assert len(got) == 1, f"{name} {labels}: {got}"
    return got[0]


def check_histogram(test, samples, name):
    buckets = [(l["le"], v) for n, l, v in samples if n == name + "_bucket"]
    test.assertEqual(buckets[-1][0], "+Inf")
    bounds = [float(le) for le, _ in buckets]
    test.assertEqual(bounds, sorted(bounds))
    counts = [v for _, v in buckets]
    test.assertEqual(counts, sorted(counts), "buckets are not cumulative")
    test.assertEqual(counts[-1], value(samples, name + "_count"))
    return value(samples, name + "_count"), value(samples, name + "_sum")


def raw_request(port, data):
    """Sends `data` on a new connection; returns all it gets until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
        s.sendall(data)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
        return got


class Metrics(cli_test.Processes):

    def server(self, *args):
        srv, addr = start_server("--metrics", "127.0.0.1:0", *args)
        self.track(srv)
        line = srv.stdout_line(lambda l: l.startswith("metrics "), "'metrics HOST:PORT'")
        return srv, addr, "http://" + line.split()[1]

    def stop(self, srv):
        srv.p.send_signal(signal.SIGTERM)
        code, _, err = srv.finish()
        self.assertEqual(code, 0, err)

    def test_two_clients_and_a_message_then_scrapes(self):
        srv, addr, url = self.server()
        bob = self.track(client(addr, "bob"))
        joined(srv, "bob")
        alice = self.track(client(addr, "alice"))
        alice.send("/wait bob 5\n@bob hello\n")
        self.assertEqual(bob.stdout_line(lambda l: l.startswith("[")), "[alice] hello")

        code, text, err = curl(url + "/metrics")
        self.assertEqual(code, 0, err)
        types, samples = parse_exposition(text)
        self.assertTrue(all(l.get("node") == addr for _, l, _ in samples), "node label")
        self.assertEqual(value(samples, "libnet_server_online"), 2)
        self.assertGreaterEqual(value(samples, "libnet_server_routed_total"), 1)
        self.assertEqual(value(samples, "libnet_server_registrations_total"), 2)
        self.assertEqual(value(samples, "libnet_server_connections_open"), 2)
        self.assertEqual(value(samples, "libnet_build_info", version="0.1.0"), 1)
        self.assertEqual(types["libnet_server_routed_total"], "counter")
        self.assertEqual(types["libnet_server_online"], "gauge")
        self.assertEqual(types["libnet_server_errors_total"], "counter")
        for name, type_ in types.items():
            self.assertTrue(type_ != "counter" or name.endswith("_total"), name)
        count, total = check_histogram(self, samples,
                                       "libnet_server_registration_latency_seconds")
        self.assertEqual(count, 2)
        self.assertGreater(total, 0)
        self.assertLess(total, DEADLINE)
        check_histogram(self, samples, "libnet_server_store_commit_latency_seconds")

        code, body, err = curl(url + "/varz")
        self.assertEqual(code, 0, err)
        varz = json.loads(body)
        self.assertEqual((varz["node"], varz["version"]), (addr, "0.1.0"))
        self.assertEqual(varz["gauges"]["online"], 2)
        self.assertGreaterEqual(varz["counters"]["routed"], 1)
        h = varz["histograms"]["registration_latency"]
        self.assertEqual((h["count"], sum(h["counts"])), (2, 2))
        self.assertEqual(len(h["counts"]), len(h["bounds_us"]) + 1)

        alice.send("@nobody are you there\n/quit\n")
        self.assertEqual(alice.finish()[0], 0)
        _, text, _ = curl(url + "/metrics")
        _, samples = parse_exposition(text)
        self.assertEqual(value(samples, "libnet_server_errors_total", code="no_such_client"), 1)
        self.stop(srv)

    def test_content_types_statuses_and_keep_alive(self):
        srv, _, url = self.server()
        r = subprocess.run(["curl", "-sS", "--fail", "-o", os.devnull, "-o", os.devnull, "-w",
                            "%{content_type} %{num_connects}\n", url + "/metrics",
                            url + "/varz"], capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(r.returncode, 0, r.stderr)
        first, second = r.stdout.splitlines()
        self.assertTrue(first.startswith("text/plain; version=0.0.4"), first)
        self.assertEqual(first.split()[-1], "1")
        self.assertEqual(second, "application/json 0")  # the same connection again
        self.assertEqual(status_of(url + "/nope"), "404")
        self.assertEqual(curl(url + "/nope")[0], 22)  # --fail
        self.assertEqual(status_of(url + "/metrics?x=1"), "200")
        self.assertEqual(status_of(url + "/metrics", "-X", "POST", "-d", "x"), "405")
        self.assertEqual(status_of(url + "/varz", "-I"), "405")
        self.stop(srv)

    def test_malformed_and_oversized_requests_get_400_and_are_closed(self):
        srv, _, url = self.server()
        port = int(url.rpartition(":")[2])
        for data in (b"NOT HTTP AT ALL\r\n\r\n",
                     b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
                     b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"):
            with self.subTest(data=data[:30]):
                got = raw_request(port, data)  # returns only once the server has closed
                self.assertTrue(got.startswith(b"HTTP/1.1 400 "), got[:100])
        self.assertEqual(curl(url + "/metrics")[0], 0)
        self.stop(srv)

    def test_connections_beyond_the_limit_get_503_and_idle_ones_do_not_delay_exit(self):
        srv, _, url = self.server()
        port = int(url.rpartition(":")[2])
        idle = [socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
                for _ in range(MAX_CONNECTIONS)]
        try:
            got = raw_request(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(got == b"" or got.startswith(b"HTTP/1.1 503 "), got[:100])
            idle[0].sendall(b"GET /varz HTTP/1.1\r\nHost: x\r\n\r\n")  # still served
            self.assertTrue(idle[0].recv(65536).startswith(b"HTTP/1.1 200 OK"))
            self.stop(srv)  # with 16 connections open: they are closed, not waited for
            self.assertEqual(idle[1].recv(100), b"")
        finally:
            for s in idle:
                s.close()

    def test_a_durable_store_measures_its_commits(self):
        with tempfile.TemporaryDirectory(prefix="libnet-e2e-") as d:
            srv, addr, url = self.server("--store", "sqlite:" + os.path.join(d, "m.db"))
            carol = self.track(client(addr, "carol"))  # a durable store: she has a mailbox now
            carol.send("/quit\n")
            self.assertEqual(carol.finish()[0], 0)
            bob = self.track(client(addr, "bob"))
            bob.send("@carol for later\n/quit\n")
            self.assertEqual(bob.finish()[0], 0)
            _, samples = parse_exposition(curl(url + "/metrics")[1])
            count, total = check_histogram(self, samples,
                                           "libnet_server_store_commit_latency_seconds")
            self.assertGreaterEqual(count, 1)
            self.assertGreater(total, 0)
            self.assertEqual(value(samples, "libnet_server_stored_offline_total"), 1)
            self.assertEqual(value(samples, "libnet_server_pending"), 1)
            self.stop(srv)

    def test_bad_address_exits_2_and_a_port_in_use_exits_1(self):
        for bad in ("9100", "localhost:", "127.0.0.1:70000", "127.0.0.1:x"):
            with self.subTest(metrics=bad):
                r = subprocess.run([cli_test.SERVER, "--port", "0", "--metrics", bad],
                                   capture_output=True, text=True, timeout=DEADLINE,
                                   stdin=subprocess.DEVNULL)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--metrics", r.stderr)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            where = "127.0.0.1:%d" % taken.getsockname()[1]
            r = subprocess.run([cli_test.SERVER, "--port", "0", "--metrics", where],
                               capture_output=True, text=True, timeout=DEADLINE,
                               stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"net-server: cannot serve metrics on {where}: ", r.stderr)
        self.assertEqual(r.stdout, "")


if __name__ == "__main__":
    cli_test.SERVER, cli_test.CLIENT = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
