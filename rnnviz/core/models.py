"""The model: a fused ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` followed by a linear readout.

Shapes (batch first throughout)::

    x:      [batch, time, input_size]
            or token ids [batch, time] (int64) when the task has a vocabulary (sentiment)
    .embed  token ids -> word vectors [batch, time, input_size] (``nn.Embedding``; the rows
            of ``<pad>`` and ``<unk>`` are zero vectors); float inputs pass through unchanged
    .rnn    -> out [batch, time, hidden]   (top layer's h_t for every t)
    .head   many-to-many: pred [batch, time, output_size]
            many-to-one:  pred [batch, output_size]   (read from the last step only)

Recurrent weights follow PyTorch's layout: ``weight_hh_l{k}`` is ``[gates * hidden, hidden]``
with the gate blocks stacked in PyTorch's order (LSTM ``i, f, g, o``; GRU ``r, z, n``).

The embedding exists only for a task with a vocabulary (``Task.vocab_size``): every other task
builds exactly the modules it always did, in the same order from the same seed, so its runs
train bit for bit as before. For the sentiment task ``input_size`` is the word-vector width
(``rnnviz.core.sentiment.EMBEDDING_SIZE``), the embedding is a parameter like any other
(trained, saved in run files, rebuilt from the config) and is created first, before ``.rnn``.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnviz.core.config import RunConfig
from rnnviz.core.determinism import RNG_LOCK, seeded_rng, single_thread
from rnnviz.core.sentiment import PAD_ID, UNK_ID
from rnnviz.core.tasks import TASKS

# torch's global RNG is shared by every thread of the app's server: whoever draws from it for a
# model (rnnviz.core.inspect too) holds this lock (rnnviz.core.determinism)
_INIT_LOCK = RNG_LOCK
GATE_NAMES = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentModel(nn.Module):
    """Fused recurrent module ``.rnn`` plus readout ``.head``; ``cell`` and ``many_to_one`` say
    how to read it."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, output_size: int,
                 num_layers: int = 1, nonlinearity: str = "tanh", dropout: float = 0.0,
                 many_to_one: bool = False, task: str = "", vocab_size: int | None = None):
        super().__init__()
        self.task = task  # key of TASKS: tells trace() which loss to back-propagate
        # token ids -> input_size-wide word vectors; <pad> stays the zero vector and gets no
        # gradient, so padding in front of a sentence only lets the biases act
        self.embedding = (nn.Embedding(vocab_size, input_size, padding_idx=PAD_ID)
                          if vocab_size is not None else None)
        if self.embedding is not None:
            with torch.no_grad():
                # <unk> never occurs in training, so its gradient is always zero and no
                # optimizer moves it: zeroed here it stays zero, so a word the model does not
                # know brings no word vector in (not a random, never-trained one); its step
                # still runs, and the biases and the recurrent weights still move the state
                self.embedding.weight[UNK_ID].zero_()
        self.cell = cell
        self.nonlinearity = nonlinearity if cell == "rnn" else "tanh"
        self.many_to_one = many_to_one
        kwargs = dict(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                      batch_first=True, dropout=dropout if num_layers > 1 else 0.0)
        if cell == "rnn":
            kwargs["nonlinearity"] = nonlinearity
        self.rnn = FUSED[cell](**kwargs)
        self.head = nn.Linear(hidden_size, output_size)

    @property
    def gate_count(self) -> int:
        return max(len(GATE_NAMES[self.cell]), 1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """What the first layer reads, ``[batch, time, input_size]``: the word vectors of token
        ids ``[batch, time]``, or ``x`` itself (the same tensor) for a task without a
        vocabulary."""
        return x if self.embedding is None else self.embedding(x)

    def readout(self, top_hidden: torch.Tensor) -> torch.Tensor:
        """Prediction from the top layer's hidden states ``[batch, time, hidden]``."""
        if self.many_to_one:
            return self.head(top_hidden[:, -1])
        return self.head(top_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.readout(out)


def recurrent_blocks(model: RecurrentModel, layer: int) -> list[torch.Tensor]:
    """The square ``[hidden, hidden]`` blocks of layer ``layer``'s W_hh, one per gate
    (views, so writing into them changes the model)."""
    weight = getattr(model.rnn, f"weight_hh_l{layer}")
    return list(weight.data.chunk(model.gate_count, dim=0))


def spectral_radius(matrix: torch.Tensor) -> float:
    """Largest absolute eigenvalue of a square matrix."""
    return float(torch.linalg.eigvals(matrix.double()).abs().max())


@torch.no_grad()
def _initialize(model: RecurrentModel, cfg: RunConfig) -> None:
    rnn = model.rnn
    for layer in range(cfg.num_layers):
        for block in recurrent_blocks(model, layer):
            if cfg.init == "orthogonal":
                nn.init.orthogonal_(block)
            elif cfg.init == "identity":
                block.copy_(torch.eye(block.shape[0]))
            if cfg.recurrent_scale is not None:
                radius = spectral_radius(block)
                if radius > 1e-12:
                    block.mul_(cfg.recurrent_scale / radius)
        if cfg.init == "identity":
            # IRNN: identity recurrence, zero bias, small input weights (Le et al. 2015)
            getattr(rnn, f"bias_ih_l{layer}").zero_()
            getattr(rnn, f"bias_hh_l{layer}").zero_()
            nn.init.normal_(getattr(rnn, f"weight_ih_l{layer}"), std=0.001 ** 0.5)
        if cfg.cell == "lstm":
            # the forget block is the second quarter; put the whole bias in b_if so b_if + b_hf
            # equals the chosen value
            hidden = cfg.hidden_size
            getattr(rnn, f"bias_ih_l{layer}")[hidden: 2 * hidden] = cfg.forget_bias
            getattr(rnn, f"bias_hh_l{layer}")[hidden: 2 * hidden] = 0.0


def build_model(cfg: RunConfig) -> RecurrentModel:
    """A freshly initialised model for ``cfg`` on the CPU: the same bits in every process and
    thread. Its draws are seeded by ``cfg.seed`` alone (``seeded_rng``), and it is built on one
    torch thread, since the orthogonal initialisation's QR rounds differently on two
    (``rnnviz.core.determinism``)."""
    task = TASKS[cfg.task]
    if getattr(task, "seq2seq", False):
        return _build_seq2seq(cfg, task)
    with single_thread(), seeded_rng(cfg.seed):
        model = RecurrentModel(cfg.cell, task.input_size(), cfg.hidden_size, task.output_size(),
                               num_layers=cfg.num_layers, nonlinearity=cfg.nonlinearity,
                               dropout=cfg.dropout, many_to_one=task.many_to_one,
                               task=cfg.task, vocab_size=task.vocab_size())
        _initialize(model, cfg)
    return model


class _Cells:
    """What ``_initialize`` reads of a model (``.rnn``, ``.gate_count``), for the encoder and
    the decoder of a seq2seq model: they get the config's initialisation like any cell."""

    def __init__(self, rnn: nn.Module, cell: str):
        self.rnn, self.gate_count = rnn, max(len(GATE_NAMES[cell]), 1)


def _build_seq2seq(cfg: RunConfig, task) -> nn.Module:
    """The encoder-decoder of a translation task (``rnnviz.core.seq2seq``), seeded and on one
    thread like ``RecurrentModel``."""
    from rnnviz.core.seq2seq import Seq2SeqModel  # only translation runs need it
    with single_thread(), seeded_rng(cfg.seed):
        model = Seq2SeqModel(cfg.cell, task.vocab_size(), task.output_size(), task.input_size(),
                             cfg.hidden_size, num_layers=cfg.num_layers,
                             nonlinearity=cfg.nonlinearity, dropout=cfg.dropout,
                             attention=cfg.attention, task=cfg.task)
        for rnn in (model.encoder, model.decoder):
            _initialize(_Cells(rnn, cfg.cell), cfg)
    return model


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
