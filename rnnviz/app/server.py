"""Start the real app on this machine for a test or a benchmark: ``streamlit run app.py`` on a
free localhost port, stopped afterwards whatever happens. Used by the browser tests and the
load test."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_server(app_dir: Path = ROOT, env: dict | None = None, timeout: float = 120,
                 log_path: Path | None = None):
    """Yields ``(url, process)`` once ``/_stcore/health`` answers ``ok``; the server's stdout
    and stderr go to ``log_path`` (default: a temporary file). Stopped as ``docker stop`` or
    Kubernetes stop a container: SIGTERM to the server alone, which stops its training workers
    itself; then whatever is left of its process group (all of it, after 15 s) is killed."""
    port = free_port()
    log = (open(log_path, "w+") if log_path is not None else  # closed below
           tempfile.NamedTemporaryFile("w+", prefix="rnnviz-server-", suffix=".log",
                                       delete=False))
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none",
         # naming the address keeps Streamlit from asking a service off this machine for its
         # external IP at start (and from warning where there is no internet)
         "--browser.serverAddress", "localhost"],
        cwd=app_dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, **(env or {})})
    process.log_path = log.name  # where its output goes, for a caller that reads it
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log.name, timeout)
        yield url, process
    finally:
        stop(process)
        log.close()


def wait_until_healthy(url: str, process: subprocess.Popen, log_name: str,
                       timeout: float = 120) -> None:
    """Return once the app at ``url`` answers ``ok`` on ``/_stcore/health``; a RuntimeError
    naming the log when ``process`` exits first or ``timeout`` seconds pass."""
    deadline = time.time() + timeout
    while True:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return
        if process.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"the app did not start; see {log_name}")
        time.sleep(0.3)


def stop(process: subprocess.Popen) -> None:
    """Stop a process started in a session of its own as ``docker stop`` or Kubernetes stop a
    container: SIGTERM to it alone (a server stops its training workers itself), then whatever
    is left of its process group (all of it, after 15 s) is killed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(15)
    # anything of the group still there (a server that hung, a worker it did not stop)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
