"""Experiments the Home page suggests, as configs (each a few changes from the Playground's
defaults), so that the page's words and the tests train exactly the same thing.

``EXPLODE`` explodes within a few dozen steps; ``RESCUE`` is the same network with clipping on and
the learning rate halved, and trains to a small fraction of chance. Either change alone is not
enough for this network (tests/test_claims_training.py trains all four). ``LONG_RNN`` stays near
chance on the adding problem at 50 steps where ``LONG_LSTM`` solves it.

``HOME_RUN`` is the run the Home page opens on: the Playground's default LSTM made small enough
to train in a second or two, so that the first page a visitor sees shows a working model.
``THINGS_TO_TRY`` are the Home page's one-click experiments: each names the config it trains
and the page that shows its effect.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnviz.core.config import RunConfig
from rnnviz.studies.lessons import OVERFIT

EXPLODE = RunConfig(cell="rnn", recurrent_scale=1.5, optimizer="sgd", lr=0.1, clip=None)
RESCUE = EXPLODE.replace(clip=1.0, lr=0.05)
LONG_LSTM = RunConfig(seq_len=50)
LONG_RNN = LONG_LSTM.replace(cell="rnn")
# pinned to the CPU: the same cache key (and the same weights) on every server
HOME_RUN = RunConfig(seq_len=20, hidden_size=16, steps=400, eval_every=25, probe_every=25,
                     device="cpu")
COPY_LAG = RunConfig(task="copy", cell="rnn", seq_len=30, lag=10)


@dataclass(frozen=True)
class Thing:
    """One "thing to try": the button's words, the config it trains, the page it opens."""

    key: str
    label: str
    config: RunConfig
    page: str


THINGS_TO_TRY = (
    Thing("long_rnn", f"A vanilla RNN at {LONG_RNN.seq_len} steps", LONG_RNN,
          "pages/gradients.py"),
    Thing("long_lstm", f"An LSTM at {LONG_LSTM.seq_len} steps", LONG_LSTM, "pages/gradients.py"),
    Thing("explode", "The run that explodes", EXPLODE, "pages/playground.py"),
    Thing("rescue", "The same run, rescued", RESCUE, "pages/playground.py"),
    Thing("copy_lag", f"Copy with lag {COPY_LAG.lag}", COPY_LAG, "pages/playground.py"),
    Thing("overfit", f"Text from {OVERFIT.train_size} snippets", OVERFIT, "pages/playground.py"),
)
