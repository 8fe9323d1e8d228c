"""Shared mode's common ground: the Redis connection, every key's name, and the safe encoding of
what travels through Redis while a run trains (history deltas, the inside view).

Shared mode is on when ``RNNVIZ_REDIS_URL`` is set (``redis://host:6379/0``, ``rediss://`` for
TLS, ``redis://:password@host/0``); the connection comes from ``redis.Redis.from_url``. Every
key starts with ``rnnviz:``:

    rnnviz:jobs                 the job queue, a stream read by the consumer group
                                ``rnnviz-workers`` (``rnnviz.serve.worker`` says why a stream)
    rnnviz:workers              sorted set: worker id -> time of its last heartbeat
    rnnviz:trained              hash: config key -> trainings completed (the load test reads it)
    rnnviz:claim:<id>           the claim on a config: SET NX with an expiry, renewed by whoever
                                is working on it (the waiting servers, then the worker)
    rnnviz:job:<id>             hash: the job's state, step, metrics, error, lease, ...
    rnnviz:job:<id>:watchers    sorted set: server id -> last time that server's sessions
                                were seen watching (an entry not renewed for WATCHER_TTL_S,
                                e.g. of a server that died, no longer counts)
    rnnviz:job:<id>:events      stream: "started" and history deltas, in order
    rnnviz:job:<id>:result      the finished or stopped run's file (a short while)
    rnnviz:job:<id>:snapshot    the run so far, for a watcher who leaves while others stay
    rnnviz:run:<id>, rnnviz:runs:used, rnnviz:runs:size   the durable runs (``redis_store``)

``<id>`` is the first 24 hex digits of sha256 of the config's key. Nothing read from Redis is
trusted more than an upload: arrays travel as JSON with base64 bytes of a known dtype (never
pickle) and are checked on the way in; runs are run files read through ``load_run_bytes``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import time

import numpy as np
import redis

from rnnviz.studies.inside import InsideView
from rnnviz.studies.translation import AttentionView

REDIS_URL_ENV = "RNNVIZ_REDIS_URL"
STREAM = "rnnviz:jobs"
GROUP = "rnnviz-workers"
WORKERS = "rnnviz:workers"
TRAINED = "rnnviz:trained"

HEARTBEAT_S = 2.0  # how often a worker renews its heartbeat, its claim and its queue entry
CLAIM_TTL_S = 10  # a claim nobody renews frees itself after this
WORKER_ALIVE_S = 3 * HEARTBEAT_S  # a worker silent for longer counts as gone
RETRY_IDLE_MS = 8000  # a queue entry its worker has not touched for this long is taken over
WATCHER_TTL_S = 10.0  # a server's watcher entry counts this long after its last renewal
ORPHAN_GRACE_S = 12.0  # claim gone, nobody took the job over: its watchers give up after this
JOB_TTL_S = 600  # a job's keys outlive its end by this much (late joiners read the outcome)
MAX_ATTEMPTS = 2  # a job is retried once after its worker died
PAUSED = "training is paused: the shared store is unreachable"
WAITING = "waiting for a training worker"

UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
log = logging.getLogger("rnnviz.shared")


def redis_url() -> str | None:
    return os.environ.get(REDIS_URL_ENV) or None


def connect(url: str) -> redis.Redis:
    """A client for ``url`` that fails fast when Redis is gone (a page must not hang on it)."""
    try:
        return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3,
                                    health_check_interval=15)
    except ValueError as err:
        raise ValueError(f"{REDIS_URL_ENV} is not a Redis URL ({err}); use e.g. "
                         "redis://host:6379/0, rediss://host:6380/0 or "
                         "redis://:password@host:6379/0") from None


def where(client: redis.Redis) -> str:
    """``host:port/db`` of a client, without the password, for log lines."""
    kwargs = client.connection_pool.connection_kwargs
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


def config_id(cfg_key: str) -> str:
    return hashlib.sha256(cfg_key.encode("utf-8")).hexdigest()[:24]


def claim_key(job_id: str) -> str:
    return f"rnnviz:claim:{job_id}"


def job_key(job_id: str) -> str:
    return f"rnnviz:job:{job_id}"


def events_key(job_id: str) -> str:
    return f"rnnviz:job:{job_id}:events"


def watchers_key(job_id: str) -> str:
    return f"rnnviz:job:{job_id}:watchers"


def result_key(job_id: str) -> str:
    return f"rnnviz:job:{job_id}:result"


def snapshot_key(job_id: str) -> str:
    return f"rnnviz:job:{job_id}:snapshot"


def server_time(client: redis.Redis) -> float:
    """Redis's clock: every process compares heartbeats on the same clock."""
    seconds, micros = client.time()
    return seconds + micros / 1e6


def workers_alive(client: redis.Redis) -> int:
    return int(client.zcount(WORKERS, server_time(client) - WORKER_ALIVE_S, "+inf"))


def fresh_watchers(client, job_id: str, now: float) -> int:
    """Servers whose sessions watched the job within ``WATCHER_TTL_S`` of ``now`` (Redis's
    clock); ``client`` may be a pipeline (then the count comes with its results)."""
    return client.zcount(watchers_key(job_id), now - WATCHER_TTL_S, "+inf")


def text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def decoded(mapping: dict) -> dict[str, str]:
    return {text(k): text(v) for k, v in (mapping or {}).items()}


# ---------------------------------------------------------------- arrays as JSON

ALLOWED_DTYPES = {"float32", "float64", "int64", "bool"}
MAX_ARRAY_BYTES = 32 * 2**20


def encode_array(array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array)
    if array.dtype.name not in ALLOWED_DTYPES:
        raise ValueError(f"arrays of {array.dtype} do not travel")
    return {"dtype": array.dtype.name, "shape": list(array.shape),
            "data": base64.b64encode(array.tobytes()).decode("ascii")}


def decode_array(value) -> np.ndarray:
    """An array from ``encode_array``'s JSON; ValueError for anything else."""
    if not isinstance(value, dict) or value.get("dtype") not in ALLOWED_DTYPES:
        raise ValueError("not an encoded array")
    shape = value.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ValueError("bad array shape")
    raw = base64.b64decode(str(value.get("data", "")), validate=True)
    dtype = np.dtype(value["dtype"])
    if len(raw) > MAX_ARRAY_BYTES or len(raw) != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError("array bytes do not fit its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _integer(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("expected a counter")
    return value


def encode_delta(delta: dict) -> str:
    """A ``History.delta`` as JSON."""
    start, *steps = delta["steps"]
    first_eval, val = delta["evals"]
    out = {"steps": [int(start), *map(encode_array, steps)],
           "evals": [int(first_eval), encode_array(val)]}
    if "probes" in delta:
        seen, probe_step, probe_grad = delta["probes"]
        out["probes"] = [int(seen), encode_array(probe_step), encode_array(probe_grad)]
    return json.dumps(out)


def decode_delta(payload: str | bytes) -> dict:
    """The delta ``History.extend`` takes; ValueError when the JSON is not one."""
    try:
        data = json.loads(payload)
        start, loss, metric, grad_norm, clipped = data["steps"]
        first_eval, val = data["evals"]
        delta = {"steps": (_integer(start), decode_array(loss), decode_array(metric),
                           decode_array(grad_norm), decode_array(clipped)),
                 "evals": (_integer(first_eval), decode_array(val))}
        if "probes" in data:
            seen, probe_step, probe_grad = data["probes"]
            delta["probes"] = (_integer(seen), decode_array(probe_step),
                               decode_array(probe_grad))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"not a history delta ({err})") from None
    return delta


def encode_inside(view: InsideView | AttentionView) -> str:
    if isinstance(view, AttentionView):  # a translation run's live view (studies.translation)
        return json.dumps({"kind": "attention", "step": view.step, "loss": view.loss,
                           "source": view.source, "target": view.target,
                           "output": view.output, "forced": view.forced,
                           "weights": None if view.weights is None
                           else encode_array(view.weights)})
    return json.dumps({"step": view.step, "cell": view.cell, "loss": view.loss,
                       "hidden": encode_array(view.hidden), "grad_h": encode_array(view.grad_h),
                       "gates": {name: encode_array(v) for name, v in view.gates.items()}})


def decode_inside(payload: str | bytes) -> InsideView | AttentionView:
    try:
        data = json.loads(payload)
        if isinstance(data, dict) and data.get("kind") == "attention":
            weights = data["weights"]
            return AttentionView(step=_integer(data["step"]), loss=float(data["loss"]),
                                 source=[str(t) for t in data["source"]],
                                 target=[str(t) for t in data["target"]],
                                 output=[str(t) for t in data["output"]],
                                 forced=[str(t) for t in data.get("forced", [])],
                                 weights=None if weights is None else decode_array(weights))
        gates = {str(name): decode_array(v) for name, v in dict(data["gates"]).items()}
        return InsideView(step=_integer(data["step"]), cell=str(data["cell"]),
                          hidden=decode_array(data["hidden"]),
                          grad_h=decode_array(data["grad_h"]), loss=float(data["loss"]),
                          gates=gates)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"not an inside view ({err})") from None


# ---------------------------------------------------------------- reachability


class Health:
    """Whether Redis answered lately. A process logs one line when Redis goes away and one when it
    comes back, however many calls fail in between; ``down`` tells a page to show its banner.
    ``check`` pings at most every ``retry_s`` seconds while Redis is down (so recovery needs no
    traffic) and every ``idle_s`` seconds while it is up (so an outage shows on the pages even
    when no job is running)."""

    def __init__(self, client: redis.Redis, retry_s: float = 2.0, idle_s: float = 5.0):
        self.client, self.retry_s, self.idle_s = client, retry_s, idle_s
        self.down = False
        self.up_since = self._checked = time.monotonic()  # since when Redis answers
        self._lock = threading.Lock()

    def failed(self, err: Exception) -> None:
        with self._lock:
            self._checked = time.monotonic()
            if not self.down:
                self.down = True
                log.error("shared store unreachable at %s (%s); %s", where(self.client),
                          type(err).__name__, PAUSED)

    def ok(self) -> None:
        with self._lock:
            self._checked = time.monotonic()
            if self.down:
                self.down = False
                self.up_since = self._checked
                log.info("shared store at %s reachable again; training resumes",
                            where(self.client))

    def check(self) -> bool:
        """True when Redis answers (pinging it when it has not been heard from for a while)."""
        with self._lock:
            due = time.monotonic() - self._checked >= (self.retry_s if self.down else self.idle_s)
            if due:
                self._checked = time.monotonic()  # one ping per interval, however many pages
        if due:
            try:
                self.client.ping()
                self.ok()
            except UNREACHABLE as err:
                self.failed(err)
        return not self.down
