"""rnnviz: train small recurrent networks and record exactly what happens inside them."""

from .config import FIELDS, RunConfig
from .models import build_model
from .runs import load_run, save_run
from .tasks import TASKS
from .trace import Trace, trace
from .train import History, Run, train

__all__ = ["FIELDS", "History", "Run", "RunConfig", "TASKS", "Trace", "build_model",
           "load_run", "save_run", "trace", "train"]
