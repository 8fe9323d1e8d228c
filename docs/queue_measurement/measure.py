"""Enqueue->start latency and a worker killed mid-job, for RQ, Celery and Redis Streams."""
import json
import os
import signal
import statistics
import subprocess
import sys
import time

import redis

import qjobs

PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": f"/tmp/qbench:/tmp/qbench_run", "QB_URL": qjobs.URL}
r = redis.Redis.from_url(qjobs.URL)


def start_worker(engine, extra_env=None):
    env = {**ENV, **(extra_env or {})}
    cmd = {"rq": [PY, "-m", "rq.cli", "worker", "--url", qjobs.URL, "-q", "qb"],
           "rq-simple": [PY, "-m", "rq.cli", "worker", "--url", qjobs.URL, "-q", "-w",
                         "rq.worker.SimpleWorker", "qb"],
           "celery": [PY, "-m", "celery", "-A", "qjobs", "worker", "-c", "1", "-P", "prefork",
                      "--loglevel", "WARNING"],
           "streams": [PY, "streams_worker.py"]}[engine.split("+")[0]]
    if engine == "rq+maint10":
        cmd = cmd[:-1] + ["--maintenance-interval", "10", "qb"]
    return subprocess.Popen(cmd, cwd="/tmp/qbench_run", env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=open(f"/tmp/qbench_run/{engine}.log", "a"))


def enqueue(engine, name, hold=0.0):
    now = time.time()
    if engine.startswith("rq"):
        from rq import Queue, Retry
        Queue("qb", connection=r).enqueue(qjobs.mark, name, now, hold, retry=Retry(max=1),
                                          job_timeout=600)
    elif engine.startswith("celery"):
        qjobs.celery_mark.delay(name, now, hold)
    else:
        r.xadd("qb:stream", {"args": json.dumps([name, now, hold])})


def wait_for(key, n, timeout):
    deadline = time.time() + timeout
    while r.llen(key) < n:
        if time.time() > deadline:
            return False
        time.sleep(0.01)
    return True


def latency(engine, n=20):
    enqueue(engine, f"warm-{engine}")
    wait_for(f"qb:start:warm-{engine}", 1, 60)
    out = []
    for i in range(n):
        name = f"lat-{engine}-{i}"
        enqueue(engine, name)
        wait_for(f"qb:start:{name}", 1, 30)
        started, enq, _ = r.lrange(f"qb:start:{name}", 0, 0)[0].decode().split(":")
        out.append((float(started) - float(enq)) * 1000)
    return statistics.median(out), sorted(out)[int(0.9 * n) - 1]


def killed(engine, extra_env):
    name = f"kill-{engine}"
    enqueue(engine, name, hold=20)
    wait_for(f"qb:start:{name}", 1, 60)
    time.sleep(1)
    os.killpg(worker.pid, signal.SIGKILL)
    killed_at = time.time()
    replacement = start_worker(engine, extra_env)
    ok = wait_for(f"qb:start:{name}", 2, float(os.environ.get("QB_WAIT", "90")))
    took = time.time() - killed_at if ok else None
    return replacement, took


if __name__ == "__main__":
    rows = []
    todo = [("streams", {}), ("rq", {}), ("rq-simple", {}), ("celery", {}),
            ("celery+vis10", {"QB_VISIBILITY": "10"}), ("rq+maint10", {})]
    only = sys.argv[1:]
    for engine, extra in [t for t in todo if not only or t[0] in only]:
        r.flushdb()
        os.environ.pop("QB_VISIBILITY", None)
        os.environ.update(extra)
        if engine.startswith("celery"):
            import importlib
            importlib.reload(qjobs)
        worker = start_worker(engine, extra)
        med, p90 = latency(engine)
        replacement, took = killed(engine, extra)
        for p in (replacement,):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        rows.append((engine, med, p90, took))
        print(f"{engine:<14} latency median {med:7.1f} ms  p90 {p90:7.1f} ms  "
              f"killed-worker job re-run after: {'%.1f s' % took if took else 'not within 90 s'}",
              flush=True)
