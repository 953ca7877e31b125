# SPDX-License-Identifier: BSL-1.0
"""A cluster of nats-server processes on loopback for tests (as test/cluster/nats_cluster.hpp).

JetStream on, the $SYS disconnect advisories imported into the application account, the
configuration in a temporary directory, free ports. Ready once every server's monitoring
endpoint names a JetStream meta leader.
"""
import ctypes
import json
import signal
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request


def _die_with_parent():
    """In the child: killed when the test dies, however it dies (Linux's PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NatsCluster:
    def __init__(self, size=3):
        self.dir = tempfile.mkdtemp(prefix="libnet-nats-")
        self.nodes = [{"client": free_port(), "route": free_port(), "http": free_port(),
                       "proc": None} for _ in range(size)]

    def __enter__(self):
        for i in range(len(self.nodes)):
            self._write_config(i)
            self._start(i)
        for i in range(len(self.nodes)):
            self._wait_ready(i)
        return self

    def __exit__(self, *exc):
        for i in range(len(self.nodes)):
            self.kill(i, terminate=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, i):
        return f"nats://127.0.0.1:{self.nodes[i]['client']}"

    def urls(self):
        return ",".join(self.url(i) for i in range(len(self.nodes)))

    def kill(self, i, terminate=False):
        p = self.nodes[i]["proc"]
        if p and p.poll() is None:
            p.terminate() if terminate else p.kill()
            p.wait()
        self.nodes[i]["proc"] = None

    def restart(self, i):
        self._start(i)
        self._wait_ready(i)

    def _write_config(self, i):
        n = self.nodes[i]
        routes = ", ".join(f"nats://127.0.0.1:{m['route']}" for m in self.nodes)
        with open(f"{self.dir}/n{i}.conf", "w") as f:
            f.write(f"server_name: n{i}\nlisten: 127.0.0.1:{n['client']}\n"
                    f"http: 127.0.0.1:{n['http']}\n"
                    f"jetstream {{ store_dir: \"{self.dir}/js{i}\" }}\n")
            if len(self.nodes) > 1:
                f.write(f"cluster {{ name: test, listen: 127.0.0.1:{n['route']}, "
                        f"routes: [{routes}] }}\n")
            f.write('accounts {\n'
                    '  SYS: { users: [{user: sys, password: sys}],\n'
                    '         exports: [{stream: "$SYS.ACCOUNT.APP.DISCONNECT"}] }\n'
                    '  APP: { jetstream: enabled, users: [{user: app, password: app}],\n'
                    '         imports: [{stream: {account: SYS, '
                    'subject: "$SYS.ACCOUNT.APP.DISCONNECT"}}] }\n'
                    '}\nsystem_account: SYS\nno_auth_user: app\n')

    def _start(self, i):
        log = open(f"{self.dir}/n{i}.log", "a")
        self.nodes[i]["proc"] = subprocess.Popen(
            ["nats-server", "-c", f"{self.dir}/n{i}.conf"], stdout=log, stderr=log,
            preexec_fn=_die_with_parent)

    def _wait_ready(self, i):
        """Polls the monitoring endpoint: a process coming up has no event to await."""
        url = f"http://127.0.0.1:{self.nodes[i]['http']}/jsz"
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    jsz = json.load(r)
                if len(self.nodes) == 1 or jsz.get("meta_cluster", {}).get("leader"):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"nats-server {i} not ready within 20 s; see {self.dir}")
