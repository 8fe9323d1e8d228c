"""The load test's shared-mode set-up (``python -m rnnviz.app.loadtest --servers N --workers M``):
a real ``redis-server`` on a free port (its own folder, nothing saved), N app servers with
``RNNVIZ_REDIS_URL`` pointing at it, and M training workers (``python -m rnnviz worker``), all on
this machine and stopped afterwards whatever happens, the way an operator runs them: SIGTERM,
then a kill for whatever did not stop in time.

After the waves, ``trained_counts`` reads Redis's hash ``rnnviz:trained`` (config key ->
trainings completed, written by the workers), so the table can say how many times each distinct
configuration was trained: once, however many servers its sessions were spread over, is the
point of shared mode. Memory is the resident set size (RSS) of every process, read from /proc
before the first wave and after each.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rnnviz.app.server import free_port, local_server

TRAINED = "rnnviz:trained"  # hash: config key -> trainings completed (shared mode's contract)
WORKERS = "rnnviz:workers"  # sorted set: worker id -> last heartbeat
STOP_GRACE_S = 30  # a worker hands its running job back on SIGTERM; this long, then SIGKILL
# a log line that an operator would have to look at
_ALARM = re.compile(r"Traceback|Stack \(most recent call last\)|\b(WARNING|ERROR|CRITICAL)\b")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                kids = [int(k) for k in (task / "children").read_text().split()]
                found += kids
                todo += kids
        except OSError:  # a process that ended between two reads
            pass
    return found


@dataclass
class Cluster:
    """What the load test drives: the servers' URLs and every process it started."""

    redis_url: str
    urls: list[str] = field(default_factory=list)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)  # name -> process
    logs: dict[str, Path] = field(default_factory=dict)  # name -> its stdout and stderr

    def memory_mb(self) -> dict[str, float]:
        """RSS of each process, and of each server's own training processes (its local worker
        pool, for what a server still trains itself) as ``"<server> pool"``."""
        parts: dict[str, float] = {}
        for name, process in self.processes.items():
            with contextlib.suppress(OSError, RuntimeError):
                parts[name] = _rss_mb(process.pid)
            if name.startswith("server"):
                pool = 0.0
                for pid in _descendants(process.pid):
                    with contextlib.suppress(OSError, RuntimeError):
                        pool += _rss_mb(pid)
                parts[f"{name} pool"] = pool
        return parts

    def log_alarms(self) -> dict[str, list[str]]:
        """Per rnnviz process (servers and workers; Redis's own log speaks of the host), the
        lines of its log that carry a stack or a warning, each with the line before it (a
        stack's message)."""
        alarms = {}
        for name, path in self.logs.items():
            if name == "redis" or not path.exists():
                continue
            lines = path.read_text(errors="replace").splitlines()
            alarms[name] = [f"{lines[i - 1]}\n    {line}" if i else line
                            for i, line in enumerate(lines) if _ALARM.search(line)]
        return alarms


def _client(url: str):
    import redis  # shared mode's own dependency (requirements.txt); only this mode needs it
    return redis.Redis.from_url(url, socket_timeout=5)


@contextlib.contextmanager
def redis_server(folder: Path, timeout: float = 30):
    """``redis-server`` on a free localhost port, persisting nothing; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    log = open(folder / "redis.log", "w")  # noqa: SIM115  closed below
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if _client(url).ping():
                    break
            except Exception:  # noqa: BLE001  redis.ConnectionError until it listens
                pass
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"redis-server did not start; see {folder / 'redis.log'}")
            time.sleep(0.1)
        yield url, process
    finally:
        _stop(process, 10)
        log.close()


def _stop(process: subprocess.Popen, grace: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def worker_process(app_dir: Path, redis_url: str, log_path: Path):
    """One ``python -m rnnviz worker``; stopped with SIGTERM (it hands its job back)."""
    log = open(log_path, "w")  # noqa: SIM115  closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnviz", "worker"], cwd=app_dir, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "RNNVIZ_REDIS_URL": redis_url})
    try:
        yield process
    finally:
        _stop(process, STOP_GRACE_S)
        log.close()


def _wait_for_workers(cluster: Cluster, workers: int, timeout: float = 120) -> None:
    """Until every worker has said it is there (its heartbeat in ``rnnviz:workers``)."""
    deadline, client = time.time() + timeout, _client(cluster.redis_url)
    while client.zcard(WORKERS) < workers:
        dead = [n for n, p in cluster.processes.items() if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited; see {cluster.logs[dead[0]]}")
        if time.time() > deadline:
            print(f"  note: {client.zcard(WORKERS)} of {workers} workers registered in "
                  f"{timeout:.0f} s; going on", flush=True)
            return
        time.sleep(0.5)


@contextlib.contextmanager
def cluster(app_dir: Path, servers: int, workers: int, folder: Path):
    """Redis, ``workers`` training workers and ``servers`` app servers; yields a ``Cluster``."""
    with contextlib.ExitStack() as stack:
        redis_url, redis_process = stack.enter_context(redis_server(folder))
        result = Cluster(redis_url)
        result.processes["redis"] = redis_process
        result.logs["redis"] = folder / "redis.log"
        for index in range(1, workers + 1):
            name = f"worker-{index}"
            result.logs[name] = folder / f"{name}.log"
            result.processes[name] = stack.enter_context(
                worker_process(app_dir, redis_url, result.logs[name]))
        for index in range(1, servers + 1):
            name = f"server-{index}"
            result.logs[name] = folder / f"{name}.log"
            runs = folder / f"runs-{index}"
            runs.mkdir()
            url, process = stack.enter_context(local_server(
                app_dir, {"RNNVIZ_REDIS_URL": redis_url, "RNNVIZ_RUNS_DIR": str(runs)},
                log_path=result.logs[name]))
            result.urls.append(url)
            result.processes[name] = process
        _wait_for_workers(result, workers)
        yield result


def trained_counts(redis_url: str) -> dict[str, int]:
    """``HGETALL rnnviz:trained``: how many times each config key was trained."""
    raw = _client(redis_url).hgetall(TRAINED)
    return {key.decode(): int(value) for key, value in raw.items()}


def print_trained(expected_keys: set[str], counts: dict[str, int]) -> bool:
    """How many times each distinct config of the sessions was trained; True if each exactly
    once (and nothing else was trained)."""
    times = Counter(counts.get(key, 0) for key in expected_keys)
    extra = set(counts) - expected_keys
    print(f"\ntrainings per distinct config (Redis {TRAINED}): {len(expected_keys)} configs; "
          + ", ".join(f"{n} trained {k}x" for k, n in sorted(times.items())))
    for key in sorted(expected_keys):
        if counts.get(key, 0) != 1:
            print(f"  trained {counts.get(key, 0)}x: {key}")
    if extra:
        print(f"  {len(extra)} config(s) trained that no session asked for")
    return set(times) == {1} and not extra


def print_memory(names: list[str], readings: list[tuple[str, dict[str, float]]]) -> None:
    """RSS in MB, one row per process, one column per reading (before wave 1, after each)."""
    print("\nmemory (RSS, MB) per process:")
    print(f"{'process':>16} " + " ".join(f"{label:>10}" for label, _ in readings))
    for name in names:
        cells = [f"{parts[name]:>10.0f}" if name in parts else f"{'-':>10}"
                 for _, parts in readings]
        print(f"{name:>16} " + " ".join(cells))

