"""rnnviz: train small recurrent networks and record exactly what happens inside them.

The public names below come from the engine, ``rnnviz.core``; docs/ARCHITECTURE.md maps the rest.
"""

from rnnviz.core.config import FIELDS, RunConfig
from rnnviz.core.csvread import read_series
from rnnviz.core.history import History
from rnnviz.core.inspect import inspect
from rnnviz.core.models import build_model
from rnnviz.core.runs import load_run, save_run
from rnnviz.core.tasks import TASKS
from rnnviz.core.trace import Trace, trace
from rnnviz.core.train import Run, train
from rnnviz.serve.uploads import register_series

__all__ = ["FIELDS", "History", "Run", "RunConfig", "TASKS", "Trace", "build_model",
           "inspect", "load_run", "read_series", "register_series", "save_run", "trace", "train"]
