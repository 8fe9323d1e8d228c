"""The encoder-decoder of the translation tasks (issue 21), on the same fused cells as every
other run (``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``, the config's cell, size, layers and dropout).

Shapes (batch first)::

    x        source ids [B, S], front-padded with 0      y  target ids [B, T], -1 after <eos>
    encoder  embed(x) -> enc [B, S, H], final state       (the "context vector": the last step)
    decoder  starts from the encoder's final state, reads embed(previous target token), <bos>
             first, and gives s_t [B, T, H]
    attention (when not "none") scores every encoder step for every s_t:
             dot (Luong):       score(s_t, h_j) = s_t . h_j
             additive (Bahdanau's score): v . tanh(W s_t + U h_j)
             a_t = softmax over the source's real steps (padding masked), c_t = sum_j a_tj h_j,
             and the output reads tanh(W_c [s_t; c_t])  (Luong et al. 2015's attentional layer)
    head     -> logits [B, T, target vocabulary]

Why attention after the decoder's cell (Luong's order) rather than before it (Bahdanau's): with
teacher forcing the decoder's cell then runs once over the whole target in the fused kernel, and
a training step costs two fused calls and a few matmuls instead of a Python loop over target
steps. Without attention the decoder sees the source only through the encoder's final state:
the bottleneck the Translation page measures.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Seq2SeqModel(nn.Module):
    """Encoder, decoder, optional attention and readout. ``bos`` is the decoder's first input
    id (one past the target vocabulary)."""

    seq2seq = True

    def __init__(self, cell: str, source_vocab: int, target_vocab: int, embedding: int,
                 hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 dropout: float = 0.0, attention: str = "none", task: str = ""):
        super().__init__()
        self.task, self.cell, self.attention = task, cell, attention
        self.bos = target_vocab
        kwargs = dict(input_size=embedding, hidden_size=hidden_size, num_layers=num_layers,
                      batch_first=True, dropout=dropout if num_layers > 1 else 0.0)
        if cell == "rnn":
            kwargs["nonlinearity"] = nonlinearity
        self.source_embedding = nn.Embedding(source_vocab, embedding, padding_idx=0)
        self.encoder = FUSED[cell](**kwargs)
        self.target_embedding = nn.Embedding(target_vocab + 1, embedding)
        self.decoder = FUSED[cell](**kwargs)
        if attention == "additive":
            self.attn_query = nn.Linear(hidden_size, hidden_size, bias=False)
            self.attn_key = nn.Linear(hidden_size, hidden_size)
            self.attn_v = nn.Linear(hidden_size, 1, bias=False)
        if attention != "none":
            self.combine = nn.Linear(2 * hidden_size, hidden_size)
        self.head = nn.Linear(hidden_size, target_vocab)

    # ---- the pieces ----
    def encode(self, x: torch.Tensor):
        """Encoder outputs ``[B, S, H]`` (top layer), its final state and the source mask."""
        enc, state = self.encoder(self.source_embedding(x))
        return enc, state, x != 0

    def scores(self, dec: torch.Tensor, enc: torch.Tensor) -> torch.Tensor:
        """Unnormalised attention scores ``[B, T, S]``."""
        if self.attention == "dot":
            return dec @ enc.transpose(1, 2)
        keys = self.attn_key(enc).unsqueeze(1)  # [B, 1, S, H]
        query = self.attn_query(dec).unsqueeze(2)  # [B, T, 1, H]
        return self.attn_v(torch.tanh(query + keys)).squeeze(-1)

    def read_out(self, dec: torch.Tensor, enc: torch.Tensor, mask: torch.Tensor):
        """Logits ``[B, T, V]`` from decoder states, and the attention weights ``[B, T, S]``
        (None without attention)."""
        if self.attention == "none":
            return self.head(dec), None
        scores = self.scores(dec, enc).masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        context = weights @ enc
        return self.head(torch.tanh(self.combine(torch.cat([dec, context], dim=-1)))), weights

    def decoder_inputs(self, y: torch.Tensor) -> torch.Tensor:
        """The teacher-forced decoder input ids: ``<bos>``, then the target shifted by one (a
        step after ``<eos>`` reads ``<eos>``; its output has no target)."""
        shifted = y[:, :-1].clamp(min=0)
        return torch.cat([torch.full_like(y[:, :1], self.bos), shifted], dim=1)

    # ---- whole sequences ----
    def forward(self, x: torch.Tensor, y: torch.Tensor, teacher: torch.Tensor | None = None):
        """Logits ``[B, T, V]`` and attention ``[B, T, S]`` for targets ``y``. ``teacher``: a
        bool per target step, whether that step reads the true previous token (all by
        default: one fused decoder call) or the model's own previous guess (a step loop)."""
        enc, state, mask = self.encode(x)
        inputs = self.decoder_inputs(y)
        if teacher is None or bool(teacher.all()):
            dec, _ = self.decoder(self.target_embedding(inputs), state)
            return self.read_out(dec, enc, mask)
        logits, weights = [], []
        token = inputs[:, 0]
        for t in range(y.shape[1]):
            if t and bool(teacher[t]):
                token = inputs[:, t]
            step_logits, state, step_weights = self.step(token, state, enc, mask)
            logits.append(step_logits)
            weights.append(step_weights)
            token = step_logits.argmax(dim=-1).detach()
        return (torch.stack(logits, dim=1),
                None if weights[0] is None else torch.stack(weights, dim=1))

    def step(self, token: torch.Tensor, state, enc: torch.Tensor, mask: torch.Tensor):
        """One decoder step: logits ``[B, V]``, the new state, attention ``[B, S]`` or None."""
        dec, state = self.decoder(self.target_embedding(token).unsqueeze(1), state)
        logits, weights = self.read_out(dec, enc, mask)
        return logits[:, 0], state, None if weights is None else weights[:, 0]

    @torch.no_grad()
    def greedy(self, x: torch.Tensor, length: int):
        """Greedy decoding of ``length`` steps: ids ``[B, length]`` and attention
        ``[B, length, S]`` (None without attention). Steps after ``<eos>`` (0) are decoded
        anyway; callers cut at the first ``<eos>``."""
        enc, state, mask = self.encode(x)
        token = torch.full((x.shape[0],), self.bos, dtype=torch.long, device=x.device)
        ids, weights = [], []
        for _ in range(length):
            logits, state, step_weights = self.step(token, state, enc, mask)
            token = logits.argmax(dim=-1)
            ids.append(token)
            weights.append(step_weights)
        return (torch.stack(ids, dim=1),
                None if weights[0] is None else torch.stack(weights, dim=1))


def _select(state, index: torch.Tensor):
    """The decoder state of the batch rows ``index`` (hidden and, for an LSTM, cell)."""
    if isinstance(state, tuple):
        return tuple(s[:, index] for s in state)
    return state[:, index]


@torch.no_grad()
def beam_search(model: Seq2SeqModel, x: torch.Tensor, length: int, width: int):
    """Beam search for one source ``x [1, S]``: the best hypothesis by total log-probability
    among those that ended with ``<eos>`` within ``length`` steps (or, if none did, the best of
    full length). Returns (ids without ``<eos>``, its log-probability, the attention rows
    ``[steps, S]`` or None, and every step's beam as (ids, score) lists for the tree).

    Each step extends every live hypothesis by every token and keeps the ``width`` best; a
    hypothesis that emits ``<eos>`` is finished and leaves the beam. Width 1 is greedy
    decoding; a width of at least vocabulary^(length-1) is exhaustive (tests check both)."""
    if width < 1:
        raise ValueError("beam: the width must be at least 1")
    enc, state, mask = model.encode(x)
    beams = [([], 0.0, [])]  # (ids, log-probability, attention rows)
    finished, tree = [], []
    token = torch.tensor([model.bos], device=x.device)
    for _ in range(length):
        count = len(beams)
        logits, new_state, weights = model.step(
            token, state, enc.expand(count, -1, -1), mask.expand(count, -1))
        logp = torch.log_softmax(logits.double(), dim=-1)
        logp = logp.cpu()
        total = torch.tensor([b[1] for b in beams], dtype=torch.float64).unsqueeze(1) + logp
        flat = total.reshape(-1)
        order = torch.argsort(flat, descending=True, stable=True)
        vocab = logp.shape[1]
        keep, rows = [], []
        for index in order[:width].tolist():  # the width best extensions of all hypotheses
            row, tok = divmod(index, vocab)
            ids, _, attn = beams[row]
            rows_attn = attn + ([] if weights is None else [weights[row]])
            if tok == 0:
                finished.append((ids, float(flat[index]), rows_attn))
            else:
                keep.append((ids + [tok], float(flat[index]), rows_attn))
                rows.append(row)
        tree.append([(ids, score) for ids, score, _ in keep])
        best_finished = max((f[1] for f in finished), default=float("-inf"))
        if not keep or best_finished >= max(k[1] for k in keep):
            break  # every live hypothesis scores below a finished one and can only fall
        beams = keep
        index = torch.tensor(rows, device=x.device)
        state = _select(new_state, index)
        token = torch.tensor([ids[-1] for ids, _, _ in keep], device=x.device)
    pool = finished or beams
    ids, score, attn = max(pool, key=lambda b: b[1])
    return ids, score, (torch.stack(attn).cpu() if attn else None), tree


def sequence_log_prob(model: Seq2SeqModel, x: torch.Tensor, ids: list[int]) -> float:
    """Log-probability of the target ``ids`` (ending in ``<eos>`` if it ends) under the model,
    teacher-forced: the score beam search maximises (brute-force enumeration uses it)."""
    with torch.no_grad():
        y = torch.tensor([ids])
        logits, _ = model(x, y)
        logp = torch.log_softmax(logits.double(), dim=-1)[0]
        return float(sum(logp[t, tok] for t, tok in enumerate(ids)))


def encoder_gradient_profile(model: Seq2SeqModel, x: torch.Tensor, y: torch.Tensor,
                             loss_per_example) -> tuple[np.ndarray, torch.Tensor]:
    """Mean over the batch of ``||dL_b/dh_t^enc||`` for the encoder's top layer, ``[S]``, and
    the encoder states ``[B, S, H]`` it was taken at.

    The encoder is replayed one step at a time through the same fused module (so its states
    equal the fused run's, which tests check), and each step's top-layer output is what the
    next step reads: the gradient at ``h_t`` is then the total derivative, through the
    recurrence and, with attention, through the direct path from every output step."""
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            emb = model.source_embedding(x)
            state, outputs = None, []
            for t in range(x.shape[1]):
                out, state = model.encoder(emb[:, t:t + 1], state)
                top = out[:, 0]
                outputs.append(top)
                hidden = state[0] if isinstance(state, tuple) else state
                hidden = torch.cat([hidden[:-1], top.unsqueeze(0)], dim=0)
                state = (hidden, state[1]) if isinstance(state, tuple) else hidden
            enc = torch.stack(outputs, dim=1)
            dec, _ = model.decoder(model.target_embedding(model.decoder_inputs(y)), state)
            logits, _ = model.read_out(dec, enc, x != 0)
            loss = loss_per_example(logits, y).sum()
            grads = torch.autograd.grad(loss, outputs)
        norms = torch.stack([g.double().norm(dim=1) for g in grads], dim=1).mean(dim=0)
        return norms.cpu().numpy(), enc.detach()
    finally:
        model.train(was_training)
