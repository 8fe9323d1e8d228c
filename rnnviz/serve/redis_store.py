"""Durable runs in shared mode: every finished run is written through to Redis, so a run trained
for one server opens on every other, and after a restart of any server or worker.

Keys: ``rnnviz:run:<id>`` holds the run file's bytes (``store.run_file_bytes``: safetensors plus
JSON, never pickle); ``rnnviz:runs:used`` (sorted set, id -> last use) orders them for eviction;
``rnnviz:runs:size`` (hash, id -> bytes) sums the budget ``RNNVIZ_REDIS_RUNS_BYTES`` (default
512 MB). When a write takes the total over it, the least recently used runs go first
(``ZPOPMIN``: two servers evicting at once never pick the same run). Everything read back goes
through ``store.load_run_bytes`` and must carry exactly the config it is looked up for; a blob
that is not such a run is logged, deleted and costs a retrain, never a crash.

Why Redis (with persistence) rather than the runs folder on a ReadWriteMany volume: shared mode
needs Redis already (the queue, the claims, live progress), so durable runs add no second
system to operate; many clusters have no RWX storage class at all, and where there is one
(NFS, EFS, CephFS) renames, locks and access times, which an LRU budget across servers needs,
are weak or slow on it. Runs are small (10 kB to 7 MB) and bounded by the budget, which must fit
under the Redis's ``maxmemory`` with room for the queue and the live jobs; use
``maxmemory-policy noeviction`` (an evicting Redis could drop a job's keys, not just old runs:
the budget here does the evicting). Durability is Redis's: run it with ``appendonly yes`` (or RDB
snapshots) on a persistent volume, as deploy/ does; without persistence a Redis restart loses
the runs, not their correctness.
"""

from __future__ import annotations

import logging
import os

import redis

from rnnviz.core.config import RunConfig
from rnnviz.core.runs import MAX_RUN_BYTES
from rnnviz.core.train import Run
from rnnviz.serve import shared
from rnnviz.serve.store import load_run_bytes, run_file_bytes

RUNS_BYTES_ENV = "RNNVIZ_REDIS_RUNS_BYTES"
DEFAULT_RUNS_BYTES = 512 * 2**20
USED = "rnnviz:runs:used"
SIZES = "rnnviz:runs:size"
log = logging.getLogger("rnnviz.shared")


def run_key(run_id: str) -> str:
    return f"rnnviz:run:{run_id}"


def budget_from_env() -> int:
    value = os.environ.get(RUNS_BYTES_ENV, "")
    try:
        budget = int(value) if value else DEFAULT_RUNS_BYTES
    except ValueError:
        raise ValueError(f"{RUNS_BYTES_ENV} must be a number of bytes, not {value!r}") from None
    if budget <= 0:
        raise ValueError(f"{RUNS_BYTES_ENV} must be positive")
    return budget


class RedisRunStore:
    """``load(cfg)``, ``save(run)``, ``nbytes`` and ``ids()`` over the runs kept in Redis."""

    def __init__(self, client: redis.Redis, budget_bytes: int | None = None):
        self.client = client
        self.budget_bytes = budget_bytes or budget_from_env()

    def load(self, cfg: RunConfig) -> Run | None:
        """The stored run of exactly ``cfg``, or None. Connection errors propagate (the caller
        knows whether Redis is reachable); a bad payload is logged and deleted."""
        run_id = shared.config_id(cfg.key)
        key = run_key(run_id)
        size = self.client.strlen(key)
        if not size:
            return None
        try:
            if size > MAX_RUN_BYTES:
                raise ValueError(f"larger than {MAX_RUN_BYTES / 1e6:.0f} MB")
            data = self.client.get(key)
            if data is None:  # evicted between the two calls
                return None
            run = load_run_bytes(data)
            if run.config.key != cfg.key:
                raise ValueError("it holds a different config")
        except ValueError as err:
            log.warning("refusing shared run %s: %s; it is deleted", key, err)
            self._forget(run_id)
            return None
        self.client.zadd(USED, {run_id: shared.server_time(self.client)})
        run.meta["source"] = "shared store"
        return run

    def has(self, cfg: RunConfig) -> bool:
        return bool(self.client.exists(run_key(shared.config_id(cfg.key))))

    def save(self, run: Run) -> int:
        """Write the run, then evict least recently used runs beyond the budget. Returns the
        bytes written. A single run larger than the budget is not kept."""
        data = run_file_bytes(run)
        run_id = shared.config_id(run.config.key)
        if len(data) > self.budget_bytes:
            log.warning("run %s (%d bytes) is larger than the shared budget; not kept",
                        run_id, len(data))
            return 0
        now = shared.server_time(self.client)
        with self.client.pipeline() as pipe:
            pipe.set(run_key(run_id), data)
            pipe.hset(SIZES, run_id, len(data))
            pipe.zadd(USED, {run_id: now})
            pipe.execute()
        self._evict(keep=run_id)
        return len(data)

    @property
    def nbytes(self) -> int:
        return sum(int(v) for v in self.client.hvals(SIZES))

    def ids(self) -> list[str]:
        """Run ids, least recently used first."""
        return [shared.text(v) for v in self.client.zrange(USED, 0, -1)]

    def _evict(self, keep: str) -> None:
        while self.nbytes > self.budget_bytes:
            popped = self.client.zpopmin(USED)
            if not popped:
                return
            run_id = shared.text(popped[0][0])
            if run_id == keep:  # the run just written is the newest: only it is left
                self.client.zadd(USED, {run_id: shared.server_time(self.client)})
                return
            self._forget(run_id)
            log.info("shared store over its budget: evicted run %s", run_id)

    def _forget(self, run_id: str) -> None:
        with self.client.pipeline() as pipe:
            pipe.delete(run_key(run_id))
            pipe.hdel(SIZES, run_id)
            pipe.zrem(USED, run_id)
            pipe.execute()


def from_env() -> RedisRunStore | None:
    """The shared store when ``RNNVIZ_REDIS_URL`` is set, else None."""
    url = shared.redis_url()
    return RedisRunStore(shared.connect(url)) if url else None
