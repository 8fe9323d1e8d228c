"""Job functions for the queue measurement (RQ and Celery import this module)."""
import os
import time

import redis

URL = os.environ.get("QB_URL", "redis://127.0.0.1:6399/0")


def mark(name: str, enqueued: float, hold: float = 0.0) -> None:
    r = redis.Redis.from_url(URL)
    r.rpush(f"qb:start:{name}", f"{time.time()}:{enqueued}:{os.getpid()}")
    if hold:
        time.sleep(hold)
    r.rpush(f"qb:done:{name}", str(time.time()))


try:
    from celery import Celery

    app = Celery("qjobs", broker=URL, backend=URL)
    app.conf.task_acks_late = True
    app.conf.task_reject_on_worker_lost = True
    app.conf.worker_prefetch_multiplier = 1
    vis = os.environ.get("QB_VISIBILITY")
    if vis:
        app.conf.broker_transport_options = {"visibility_timeout": int(vis)}

    @app.task(name="mark")
    def celery_mark(name, enqueued, hold=0.0):
        mark(name, enqueued, hold)
except ImportError:
    pass
