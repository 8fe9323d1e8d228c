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
