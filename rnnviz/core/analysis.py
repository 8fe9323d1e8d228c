"""Analyses of a trained model and its trace: PCA of hidden trajectories, the spectrum of the
recurrent matrices, gate saturation. Pure numpy on arrays from ``trace``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.core.models import GATE_NAMES, RecurrentModel, recurrent_blocks

SATURATION_LOW, SATURATION_HIGH = 0.1, 0.9  # Karpathy, Johnson & Fei-Fei (2015)


@dataclass
class PCA:
    """Hidden states projected on their principal axes.

    projected: ``[..., components]`` (same leading shape as the input states)
    explained: share of variance of each component ``[components]``
    """

    projected: np.ndarray
    explained: np.ndarray


def pca(states: np.ndarray, components: int = 3) -> PCA:
    """PCA of hidden states ``[..., hidden]`` (all leading axes pooled) by numpy's SVD."""
    flat = states.reshape(-1, states.shape[-1]).astype(np.float64)
    centred = flat - flat.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(components, vt.shape[0])
    variance = singular ** 2
    total = variance.sum()
    explained = variance[:k] / total if total > 0 else np.zeros(k)
    projected = centred @ vt[:k].T
    if k < components:  # fewer units than components: pad with zeros so plots keep 2D/3D
        projected = np.pad(projected, ((0, 0), (0, components - k)))
        explained = np.pad(explained, (0, components - k))
    return PCA(projected.reshape(*states.shape[:-1], components), explained)


@dataclass
class Spectrum:
    """Of one square recurrent block W_h* of one layer."""

    layer: int
    gate: str  # "" for the vanilla RNN, else the PyTorch gate name
    spectral_radius: float  # max |eigenvalue|: the long-run growth rate of h -> W h
    singular_values: np.ndarray  # descending; the largest is the spectral norm


def recurrent_spectra(model: RecurrentModel) -> list[Spectrum]:
    """Spectral radius and singular values of every gate block of every layer's W_hh."""
    names = GATE_NAMES[model.cell] or ("",)
    spectra = []
    for layer in range(model.rnn.num_layers):
        for gate, block in zip(names, recurrent_blocks(model, layer)):
            matrix = block.detach().cpu().double().numpy()
            spectra.append(Spectrum(layer, gate, float(np.abs(np.linalg.eigvals(matrix)).max()),
                                    np.linalg.svd(matrix, compute_uv=False)))
    return spectra


def gate_saturation(gate: np.ndarray, low: float = SATURATION_LOW,
                    high: float = SATURATION_HIGH) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, the share of (example, step) pairs where a sigmoid gate ``[batch, time, hidden]``
    is left-saturated (< low) and right-saturated (> high). Returns two ``[hidden]`` arrays."""
    flat = gate.reshape(-1, gate.shape[-1])
    return (flat < low).mean(axis=0), (flat > high).mean(axis=0)


def log_slope(values: np.ndarray) -> float:
    """Slope of log(values) against their index (least squares): the per-step growth factor of a
    gradient profile is exp(slope)."""
    values = np.asarray(values, dtype=np.float64)
    keep = values > 0
    if keep.sum() < 2:
        return float("nan")
    t = np.arange(len(values))[keep]
    return float(np.polyfit(t, np.log(values[keep]), 1)[0])
