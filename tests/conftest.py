import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RNNVIZ_RUNS_DIR", str(ROOT / ".pytest_cache" / "runs"))


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: one thread is fastest and keeps the suite's timings steady on 2 cores
    torch.set_num_threads(1)
    yield


# ---------------------------------------------------------------- shared mode (tests.redishelpers)


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of the test's own on a free port, stopped afterwards."""
    from tests.redishelpers import running_redis
    yield from running_redis(tmp_path)


@pytest.fixture
def workers(redis_server, tmp_path):
    """``python -m rnnviz worker`` processes against ``redis_server``, stopped afterwards."""
    from tests.redishelpers import running_workers
    yield from running_workers(redis_server, tmp_path)
