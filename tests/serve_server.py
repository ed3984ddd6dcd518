"""Start ``enet serve`` as a real subprocess on 127.0.0.1 and talk HTTP to it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m enet.cli serve ARGS --port P``; stderr (JSON logs) kept in a file."""

    def __init__(self, args: list[str], log_path, env: dict | None = None, cwd=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full_env = {k: v for k, v in os.environ.items() if k != "ENET_ADMIN_TOKEN"}
        full_env.update(env or {})
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "enet.cli", "serve", *args,
                                      "--port", str(self.port)], stdout=self._log,
                                     stderr=subprocess.STDOUT, env=full_env, cwd=cwd)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()}")
            try:
                if httpx.get(self.url + "/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"server did not start: {self.log()}")
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def log(self) -> str:
        self._log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def metrics(self) -> dict[str, list]:
        """name -> [(labels, value)] of every sample on /metrics."""
        text = self.client.get("/metrics").text
        out: dict[str, list] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                out.setdefault(sample.name, []).append((sample.labels, sample.value))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def metric(samples: dict, name: str, **labels) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(v for lab, v in samples.get(name, [])
               if all(lab.get(k) == str(x) for k, x in labels.items()))


def wait_for_metric(server: Server, name: str, expected: float, timeout: float = 60,
                    **labels) -> dict:
    """Poll /metrics until ``metric(name, labels)`` equals ``expected``; the samples then.

    For what the server records after the response (the shadow, a disconnected client,
    the alias watcher): a request's answer does not mean it is counted yet. Fails with
    the last value seen after ``timeout`` seconds (generous: the machine may be loaded).
    """
    deadline = time.time() + timeout
    while True:
        samples = server.metrics()
        got = metric(samples, name, **labels)
        if got == expected:
            return samples
        if time.time() > deadline:
            raise AssertionError(f"{name}{labels} is {got} after {timeout} s; expected "
                                 f"{expected}")
        time.sleep(0.05)
