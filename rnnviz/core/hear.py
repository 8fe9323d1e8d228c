"""A digits run listening: P(digit) after every frame, the frames that mattered, and
``hear(run, wav)`` for a learner's own recording.

``listen`` reads the run's own model: the recurrent layers over the frames, then the readout
applied to the hidden state after *every* frame (as the Sentiment page does after every word),
so the learner sees when the network decides. At the last frame that is exactly the model's
own output, since a many-to-one model reads its last step. ``saliency`` is the input gradient
‖∂L/∂x_t‖ of the cross-entropy of the final answer, one number per frame.

``hear`` is the microphone's door and the Python one: WAV bytes in (``rnnviz.core.audio``: any
rate, mono or stereo), resampled to 8 kHz, then the same ``rnnviz.core.speech.frames`` as every
recording of the data set. Every refusal is a ValueError that says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from rnnviz.core import speech
from rnnviz.core.audio import wav_to_8k

DIGIT_TASKS = ("digits", "digits_speaker")


@dataclass
class Heard:
    """What a digits model made of one recording."""

    samples: np.ndarray  # the 8 kHz float samples the frames were computed from, trimmed
    frames: torch.Tensor  # [frames, N_MELS], what the network read
    probs: torch.Tensor  # [frames, 10]: P(digit) after each frame
    digit: int  # the answer: argmax of the last frame's P
    saliency: torch.Tensor  # [frames]: ‖∂L/∂x_t‖ of the answer's loss (or the target's)
    hidden: torch.Tensor  # [frames, H]: the top layer's h_t after every frame


def _model(run_or_model):
    model = getattr(run_or_model, "model", run_or_model)
    if getattr(model, "task", None) not in DIGIT_TASKS:
        raise ValueError(f"this run was trained on the {model.task!r} task; hearing digits "
                         f"needs a run of {' or '.join(DIGIT_TASKS)}")
    return model


def read(model, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(hidden [frames, H], probs [frames, 10])``: the top layer's h_t after every frame and
    the readout's softmax applied to each (eval mode, no gradient)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            out, _ = model.rnn(model.embed(frames[None].to(device)))
            return out[0].cpu(), model.head(out[0]).softmax(dim=-1).cpu()
    finally:
        model.train(was_training)


def probabilities(model, frames: torch.Tensor) -> torch.Tensor:
    """``[frames, 10]``: P(digit) after every frame."""
    return read(model, frames)[1]


def saliency(model, frames: torch.Tensor, target: int) -> torch.Tensor:
    """``[frames]``: ‖∂L/∂x_t‖₂ over the mel bands, L the cross-entropy of the model's final
    output against ``target``."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        x = frames[None].to(device).clone().requires_grad_(True)
        loss = F.cross_entropy(model(x), torch.tensor([int(target)], device=device))
        (grad,) = torch.autograd.grad(loss, x)
        return grad[0].norm(dim=-1).cpu()
    finally:
        model.train(was_training)


def listen(run_or_model, samples, target: int | None = None) -> Heard:
    """A recording's 8 kHz samples (int16 or float) through a digits model. ``target``: the
    digit said, when known, for the saliency; otherwise the model's own answer."""
    model = _model(run_or_model)
    trimmed = speech.trim_silence(samples)
    frames = speech.frames(trimmed)
    hidden, probs = read(model, frames)
    digit = int(probs[-1].argmax())
    return Heard(trimmed.numpy().astype(np.float64), frames, probs, digit,
                 saliency(model, frames, digit if target is None else target), hidden)


def hear(run, wav: bytes) -> Heard:
    """What a digits run hears in a WAV file's bytes: ``.frames`` ``[frames, 32]``, ``.probs``
    ``[frames, 10]`` P(digit) after every frame, ``.digit`` the answer. A ValueError says why a
    file cannot be used (not WAV, a broken header, empty, silent, too long)."""
    model = _model(run)
    return listen(model, wav_to_8k(wav))
