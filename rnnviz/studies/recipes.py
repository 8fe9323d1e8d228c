"""Experiments the Home page suggests, as configs (each a few changes from the Playground's
defaults), so that the page's words and the tests train exactly the same thing.

``EXPLODE`` explodes within a few dozen steps; ``RESCUE`` is the same network with clipping on and
the learning rate halved, and trains to a small fraction of chance. Either change alone is not
enough for this network (tests/test_claims_training.py trains all four). ``LONG_RNN`` stays near
chance on the adding problem at 50 steps where ``LONG_LSTM`` solves it.
"""

from __future__ import annotations

from rnnviz.core.config import RunConfig

EXPLODE = RunConfig(cell="rnn", recurrent_scale=1.5, optimizer="sgd", lr=0.1, clip=None)
RESCUE = EXPLODE.replace(clip=1.0, lr=0.05)
LONG_LSTM = RunConfig(seq_len=50)
LONG_RNN = LONG_LSTM.replace(cell="rnn")
