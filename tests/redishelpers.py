"""What the shared-mode tests share: a real ``redis-server`` of their own (on a free port, in a
temporary folder, no persistence), ``rnnviz worker`` processes started as an operator would, and
a second app server process (``tests.registry_process``) whose JSON lines say what its page
would draw."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from rnnviz.app.server import free_port
from rnnviz.core.config import RunConfig
from rnnviz.serve import shared
from tests.conftest import ROOT

REDIS_SERVER = shutil.which("redis-server")
needs_redis = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not installed (apt-get install redis-server)")


class RedisServer:
    """``redis-server --port N --save '' --appendonly no`` in ``folder``; stop and start again
    on the same port (an outage, and a Redis that comes back empty; with ``persistent`` its
    append-only file brings the data back, as an operator's Redis does)."""

    def __init__(self, folder: Path, persistent: bool = False, password: str = ""):
        self.folder, self.port, self.persistent = folder, free_port(), persistent
        self.password = password
        self.url = f"redis://{':' + password + '@' if password else ''}127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.persistent else "no", "--dir", str(self.folder),
             *(["--requirepass", self.password] if self.password else [])],
            stdout=open(self.folder / "redis.log", "a"), stderr=subprocess.STDOUT)
        client = self.client()
        deadline = time.time() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                assert time.time() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password or None)


def running_redis(folder: Path):
    """The body of a ``redis_server`` fixture: a fresh Redis per test, stopped after it."""
    server = RedisServer(folder).start()
    yield server
    server.stop()


def env_for(url: str) -> dict:
    return {**os.environ, shared.REDIS_URL_ENV: url, "PYTHONPATH": str(ROOT)}


class Link:
    """A TCP path to a Redis that a test can cut: the processes connected through it (``url``)
    lose Redis, as in a network outage, while the others still reach it. ``cut()`` closes every
    connection and refuses new ones until ``mend()``."""

    def __init__(self, server: RedisServer):
        self.upstream = ("127.0.0.1", server.port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        self.open = True
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                near, _ = self.listener.accept()
            except OSError:  # closed
                return
            with self.lock:
                if not self.open:
                    near.close()
                    continue
                far = socket.create_connection(self.upstream)
                self.pairs.append((near, far))
            for a, b in ((near, far), (far, near)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            self.open = False
            for pair in self.pairs:
                for end in pair:
                    with contextlib.suppress(OSError):
                        end.shutdown(socket.SHUT_RDWR)
                    end.close()
            self.pairs.clear()

    def mend(self) -> None:
        with self.lock:
            self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


class Workers:
    """``python -m rnnviz worker`` processes; ``logs[name]`` is each one's stderr file."""

    def __init__(self, url: str, folder: Path):
        self.url, self.folder = url, folder
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, wait: bool = True, url: str | None = None) -> subprocess.Popen:
        """Start a worker (reaching Redis at ``url``, the test's Redis by default)."""
        process = subprocess.Popen(
            [sys.executable, "-m", "rnnviz", "worker", "--name", name], cwd=ROOT,
            env=env_for(url or self.url), stdout=subprocess.DEVNULL,
            stderr=open(self.log(name), "a"))
        self.processes[name] = process
        if wait:
            client = redis.Redis.from_url(self.url)
            deadline = time.time() + 60
            while client.zscore(shared.WORKERS, name) is None:
                assert process.poll() is None, self.log(name).read_text()
                assert time.time() < deadline, "the worker did not join"
                time.sleep(0.1)
        return process

    def log(self, name: str) -> Path:
        return self.folder / f"worker-{name}.log"

    def stop_all(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
            process.wait(10)


def running_workers(server: RedisServer, folder: Path):
    """The body of a ``workers`` fixture: every worker a test started is killed after it."""
    pool = Workers(server.url, folder)
    yield pool
    pool.stop_all()


class ServerProcess:
    """A second app server: ``tests.registry_process`` submitting ``cfg``; ``lines()`` yields
    what it prints, one dict a line."""

    def __init__(self, url: str, cfg, folder: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.registry_process", url, cfg.to_json(), str(folder)],
            cwd=ROOT, env=env_for(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)

    def lines(self, timeout: float = 120):
        deadline = time.time() + timeout
        for line in self.process.stdout:
            assert time.time() < deadline, "the server process took too long"
            yield json.loads(line)
        self.process.wait(10)
        assert self.process.returncode in (0, -signal.SIGKILL), self.process.stderr.read()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def wait_until(predicate, timeout: float = 60, message: str = "timed out") -> float:
    """Seconds it took for ``predicate()`` to hold."""
    started = time.time()
    while not predicate():
        assert time.time() - started < timeout, message
        time.sleep(0.05)
    return time.time() - started


# ---------------------------------------------------------------- shared by the shared-mode tests


def long_run(seed: int, steps: int) -> RunConfig:
    return RunConfig(seq_len=10, hidden_size=8, eval_every=10, probe_every=10, device="cpu",
                     steps=steps, seed=seed)


def job_state(server, cfg: RunConfig) -> dict:
    """The job's hash in Redis, decoded."""
    return shared.decoded(server.client().hgetall(shared.job_key(shared.config_id(cfg.key))))
