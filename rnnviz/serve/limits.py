"""What one training job may cost on a shared server, how many train at once, and what hardware
the server has.

A job's size is ``seq_len x hidden_size x num_layers x batch_size x steps``: the number of
hidden-unit updates it performs. Its run time grows about in proportion (measured on the
2-core development machine under load: ~140 s of one core per 10^9 for hidden sizes 32-128,
~190 s at 256). The app refuses a *new* job above ``max_job_size()`` (a run already finished
or in the runs folder still opens) with a message that says which knob to turn.

``RNNVIZ_MAX_JOB_SIZE`` sets the limit (default 500,000,000: about twelve times the default
lesson run, roughly a minute of one core; ``0`` or ``off`` removes it).
"""

from __future__ import annotations

import os

from rnnviz.core.config import RunConfig

DEFAULT_MAX_JOB_SIZE = 500_000_000
ENV = "RNNVIZ_MAX_JOB_SIZE"
DEFAULT_MAX_CONCURRENT_JOBS = 2
CONCURRENT_ENV = "RNNVIZ_MAX_CONCURRENT_JOBS"
FACTORS = (("seq_len", "sequence length"), ("hidden_size", "hidden units"),
           ("num_layers", "layers"), ("batch_size", "batch size"), ("steps", "training steps"))


class JobTooLarge(ValueError):
    """A job above the server's size limit; the message is for the person who asked."""


def max_concurrent_jobs() -> int:
    """How many runs one server process trains at once, Playground jobs and comparison runs
    together: ``RNNVIZ_MAX_CONCURRENT_JOBS`` (default 2, one per core of a small server; a value
    that is not a whole number falls back to the default). It is also the number of worker
    processes that train them (``rnnviz.serve.pool``)."""
    try:
        return max(1, int(os.environ.get(CONCURRENT_ENV, DEFAULT_MAX_CONCURRENT_JOBS)))
    except ValueError:
        return DEFAULT_MAX_CONCURRENT_JOBS


def max_job_size() -> int | None:
    """The limit from ``RNNVIZ_MAX_JOB_SIZE``; None when switched off. A value that is not a
    whole number falls back to the default (a typo must not remove the limit)."""
    raw = os.environ.get(ENV, "").strip().lower().replace("_", "").replace(",", "")
    if raw in ("0", "off", "none"):
        return None
    try:
        value = int(float(raw)) if raw else DEFAULT_MAX_JOB_SIZE
    except ValueError:
        return DEFAULT_MAX_JOB_SIZE
    return value if value > 0 else DEFAULT_MAX_JOB_SIZE


def job_size(cfg: RunConfig) -> int:
    size = 1
    for name, _ in FACTORS:
        size *= int(getattr(cfg, name))
    return size


def check_job(cfg: RunConfig, limit: int | None = None) -> None:
    """Raise JobTooLarge when training ``cfg`` would exceed the limit (``max_job_size()`` by
    default), saying by how much and what would fit."""
    limit = max_job_size() if limit is None else limit
    if limit is None:
        return
    size = job_size(cfg)
    if size <= limit:
        return
    product = " × ".join(f"{words} {getattr(cfg, name):,}" for name, words in FACTORS)
    others = size // cfg.steps
    fit = limit // others
    suggestion = (f"at most {fit:,} training steps with the other settings unchanged"
                  if fit >= 1 else "a shorter sequence, fewer hidden units or a smaller batch")
    raise JobTooLarge(
        f"This run is too large for this server: {product} = {size:,} unit updates, and the "
        f"limit here is {limit:,} (about {size / limit:.1f} times too many). Try {suggestion}. "
        f"Whoever runs the server can change the limit with {ENV}.")


def device_summary() -> str:
    """One sentence on the hardware this server trains on (for the Device field)."""
    import torch

    if torch.cuda.is_available():
        names = sorted({torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())})
        return (f"This server has a CUDA GPU ({', '.join(names)}): **auto** trains on it; "
                "**cpu** trains on the processor.")
    return ("This server has no CUDA GPU, so **auto** trains on the CPU (the models here are "
            "small: the CPU is quick for them); **cuda** is not available.")
