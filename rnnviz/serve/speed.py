"""How fast this server trains, measured, and what that says about a job's wait.

Every estimate a page prints comes from here, never from a fixed phrase: a running job's own
rate (steps done over seconds since its first step), and before a job's first step the rate of
the jobs this server finished recently, in unit updates per second (sequence length x hidden
units x layers x batch size per step, ``limits.job_size``), so that a longer or wider run is
estimated as slower in proportion. With nothing measured yet there is no estimate, and the page
says so rather than guess.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque

from rnnviz.core.config import RunConfig
from rnnviz.serve.limits import job_size

RECENT = 20  # finished jobs remembered
MIN_MEASURED_S = 0.5  # a job's own rate is used once it has trained this long


class Speed:
    """Unit updates per second of the jobs this server finished recently (thread-safe)."""

    def __init__(self) -> None:
        self._rates: deque[float] = deque(maxlen=RECENT)
        self._lock = threading.Lock()

    def record(self, cfg: RunConfig, steps: int, seconds: float) -> None:
        """A job of ``cfg`` trained ``steps`` steps in ``seconds`` of training."""
        if steps > 0 and seconds > 0:
            with self._lock:
                self._rates.append(job_size(cfg) / cfg.steps * steps / seconds)

    def units_per_s(self) -> float | None:
        """The median rate of the recent jobs, or None before the first one finished."""
        with self._lock:
            return statistics.median(self._rates) if self._rates else None

    def seconds_for(self, cfg: RunConfig, steps: int | None = None) -> float | None:
        """How long ``steps`` (default: all) of ``cfg`` take at the recent rate, or None."""
        rate = self.units_per_s()
        if rate is None:
            return None
        steps = cfg.steps if steps is None else steps
        return job_size(cfg) / cfg.steps * steps / rate


def own_rate(step: int, started: float, now: float | None = None) -> float | None:
    """Steps per second of a job that took its first step at ``started`` (``time.time()``)
    and has done ``step`` steps; None until it has trained long enough to tell."""
    if not started or step <= 0:
        return None
    elapsed = (time.time() if now is None else now) - started
    return step / elapsed if elapsed >= MIN_MEASURED_S else None


def seconds_left(cfg: RunConfig, step: int, started: float, speed: Speed,
                 now: float | None = None) -> tuple[float | None, str]:
    """``(seconds, basis)``: the time the rest of a job needs, from its own rate once it has
    one, else from the server's recent jobs; ``basis`` says which ("at this run's measured
    480 steps/s", "at the speed of this server's recent runs"), and seconds is None with
    nothing measured."""
    rate = own_rate(step, started, now)
    if rate is not None:
        return (cfg.steps - step) / rate, f"at this run's measured {rate:,.0f} steps/s"
    seconds = speed.seconds_for(cfg, cfg.steps - step)
    if seconds is not None:
        return seconds, "at the speed of this server's recent runs"
    return None, "no run has finished on this server yet to measure its speed"


def duration_words(seconds: float) -> str:
    """``12 s``, ``about 2 min``: rounded as far as such an estimate deserves."""
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"about {max(1, round(seconds)):d} s"
    return f"about {round(seconds / 60):d} min"
