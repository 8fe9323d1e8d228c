"""rnnviz: train small recurrent networks and record exactly what happens inside them.

The public names below come from the engine, ``rnnviz.core``, except ``register_series``, which
puts a data set into the server's registry (``rnnviz.serve.uploads``); docs/ARCHITECTURE.md maps
the rest. ``read_series`` and ``register_series`` are imported on first use: they need pandas,
which the training worker processes (which import this package) have no use for. ``show``
(``rnnviz.charts.notebook``) is too: it needs plotly, which only a notebook asks for.
"""

from rnnviz.core.config import FIELDS, RunConfig
from rnnviz.core.hear import hear
from rnnviz.core.history import History
from rnnviz.core.inspect import inspect
from rnnviz.core.models import build_model
from rnnviz.core.record import record
from rnnviz.core.recorded import load_run  # a run file or a recorded folder
from rnnviz.core.runs import save_run
from rnnviz.core.tasks import TASKS
from rnnviz.core.trace import Trace, trace
from rnnviz.core.train import Run, train
from rnnviz.core.translate import translate  # a seq2seq run applied to a typed source

_LAZY = {"read_series": "rnnviz.core.csvread", "register_series": "rnnviz.serve.uploads",
         "show": "rnnviz.charts.notebook"}  # plotly only when a notebook asks

__all__ = ["FIELDS", "History", "Run", "RunConfig", "TASKS", "Trace", "build_model",
           "hear", "inspect", "load_run", "read_series", "record", "register_series", "save_run",
           "show", "trace", "train", "translate"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnviz' has no attribute {name!r}")
