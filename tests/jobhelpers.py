"""Shared by the tests of training jobs: a registry of its own and a patient wait."""

import time

from rnnviz.serve.jobs import JobRegistry
from rnnviz.serve.store import RunStore


def registry_in(folder, **kwargs) -> JobRegistry:
    """A job registry whose runs folder is ``folder`` (empty: nothing pre-trained)."""
    return JobRegistry(store=RunStore(folder), **kwargs)


def wait_until(predicate, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)
