"""A second app server for the shared-mode tests: a ``SharedJobRegistry`` in its own process
submits one config, as a page's Train button does, and prints what the page would draw, one JSON
line every 0.1 s, until the run is there.

``python -m tests.registry_process URL CONFIG_JSON RUNS_FOLDER``
"""

from __future__ import annotations

import hashlib
import json
import sys
import time

import numpy as np

from rnnviz.core.config import RunConfig
from rnnviz.core.runs import run_to_bytes
from rnnviz.core.train import Run
from rnnviz.serve.shared_jobs import SharedJobRegistry
from rnnviz.serve.store import RunStore


def say(**fields) -> None:
    print(json.dumps(fields), flush=True)


def weights_digest(run: Run) -> str:
    state = run.model.state_dict()
    return hashlib.sha256(b"".join(t.numpy().tobytes() for t in state.values())).hexdigest()


def main(url: str, config_json: str, folder: str) -> int:
    cfg = RunConfig.from_dict(json.loads(config_json))
    registry = SharedJobRegistry.from_url(url, store=RunStore(folder))
    result = registry.submit(cfg)
    if isinstance(result, Run):
        say(kind="run", source=result.meta.get("source", ""), steps=result.history.steps_done,
            weights=weights_digest(result))
        return 0
    job, last = result, None
    while not job.done:  # a line whenever what a page draws changes
        history = job.history
        now = dict(kind="job", state=job.progress.state, step=job.progress.step,
                   error=job.progress.error,
                   history_steps=history.steps_done if history else None,
                   inside_step=job.inside.step if job.inside is not None else None)
        if now != last:
            say(**now)
            last = now
        time.sleep(0.1)
    job.wait(10)
    run = job.result
    say(kind="done", state=job.progress.state, error=job.progress.error,
        steps=run.history.steps_done if run else None,
        weights=weights_digest(run) if run else None,
        live_history_exact=bool(run and np.array_equal(job.history.loss, run.history.loss)),
        run_bytes=len(run_to_bytes(run)) if run else 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
