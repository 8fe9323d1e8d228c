"""Experiments the Home page suggests, as configs (each a few changes from the Playground's
defaults), so that the page's words and the tests train exactly the same thing.

``EXPLODE`` explodes within a few dozen steps; ``RESCUE`` is the same network with clipping on,
and trains to a small fraction of chance. They are lesson 3's pair: an earlier recipe of its own
(the adding problem, radius 1.5, clipping with the learning rate halved) trained on 2 of 10
(seed, kernel) pairs, so the Home page now promises what holds on most seeds and CPUs
(``rnnviz claims``). ``LONG_RNN`` stays near chance on the adding problem at 50 steps where
``LONG_LSTM`` solves it.

``HOME_RUN`` is the run the Home page opens on: the Playground's default LSTM made small enough
to train in a second or two, so that the first page a visitor sees shows a working model.
``THINGS_TO_TRY`` are the Home page's one-click experiments: each names the config it trains
and the page that shows its effect.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnviz.core.config import RunConfig
from rnnviz.studies.lessons import CLIPPED, EXPLODING, OVERFIT

EXPLODE, RESCUE = EXPLODING, CLIPPED
LONG_LSTM = RunConfig(seq_len=50)
LONG_RNN = LONG_LSTM.replace(cell="rnn")
# pinned to the CPU: the same cache key (and the same weights) on every server. 600 steps: at
# 400 it had not left the loss plateau on 2 of 5 seeds (100% of chance), at 600 every seed was
# under 4% of chance under both kernel sets
HOME_RUN = RunConfig(seq_len=20, hidden_size=16, steps=600, eval_every=25, probe_every=25,
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
