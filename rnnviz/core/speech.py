"""Spoken digits: the Free Spoken Digit Dataset (FSDD), its log-mel frames and the ``digits`` task.

The data is shipped in ``assets/fsdd.npz`` (packed by ``assets/make_fsdd.py``; CC BY-SA 4.0,
``assets/FSDD_LICENSE.md``): 3,000 recordings at 8 kHz, 6 speakers, 50 takes of each digit each.
Nothing is downloaded at run time.

**Features.** ``frames(samples)`` is the one door from sound to what the network reads, for a
recording of the data set and for a learner's own voice alike (``rnnviz.studies.speech.hear``):
silence trimmed at both ends, the loudness set to one peak level (a microphone's gain must not
change the answer), then a log-mel spectrogram: a 32 ms Hann window every 16 ms
(``torch.stft``), its power through ``N_MELS`` triangular filters on the HTK mel scale, the
natural log, and a fixed affine scale (``LOG_SHIFT``, ``LOG_SCALE``, measured once over FSDD's
training takes) that puts the values near zero mean and unit spread. Only torch's own operations:
torchaudio has no build for the pinned torch 2.13, and librosa brings numba, llvmlite, scipy and
scikit-learn (124 MB of wheels, measured with ``pip download``) for one filterbank of twenty
lines. ``tests/test_speech.py`` checks these frames against an independent numpy computation.

**The task.** Many-to-one classification of the frames into ten digits. Recordings differ in
length, while a batch is one ``[batch, seq_len, N_MELS]`` tensor: each recording is padded *in
front* with frames of digital silence (what ``frames`` gives for zero samples), so its last
frame is the last step and the last step's hidden state feeds the readout, exactly as for every
other many-to-one task, and the replay, gradients and rewind of the app need nothing new. The
padding is what the recording would have been with more silence before it. A recording longer
than ``seq_len`` frames keeps its middle ``seq_len`` frames.

Two splits, as two tasks: ``digits`` is FSDD's own (takes 0-4 of every speaker and digit are the
test set, 300 recordings; 5-49 train), ``digits_speaker`` trains on five speakers and tests on
all 500 recordings of the sixth (``HELD_OUT``), so the gap between the two is what learning one
voice instead of the digits looks like. Tasks rather than a new RunConfig field: a field would
change the key of every config of every other task (the runs folder's file names) and needs a
widget that only one task uses; a task is one more choice in a list that already exists. A
run's validation set is its whole test set, in an order drawn from its seed, so a run's
validation accuracy is its test accuracy.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch

from rnnviz.core.determinism import single_thread

RATE = 8000  # Hz, FSDD's rate: every input is resampled to it
N_FFT = 256  # 32 ms window
HOP = 128  # 16 ms between frames
N_MELS = 32
F_MIN, F_MAX = 20.0, RATE / 2
FLOOR = 1e-6  # added to the mel power before the log: digital silence is log(1e-6)
# measured once over FSDD's training takes (rnnviz.measure.digits prints them again): the log
# mel power's mean and standard deviation over all bands and frames
LOG_SHIFT, LOG_SCALE = -2.6, 3.4
PEAK = 0.5  # every trimmed recording is scaled to this peak amplitude
TRIM_DB = 35.0  # a frame is speech when its RMS is within this many dB of the loudest frame's
SILENT_RMS = 10 ** (-60 / 20)  # loudest frame below -60 dBFS: nothing was said
MIN_SEQ_LEN = 16
SEQ_LEN = 48  # the digits configs' frames: 99% of FSDD's trimmed words are 41 or shorter
DIGITS = tuple(range(10))
HELD_OUT = "theo"  # the digits_speaker task's test speaker


def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, rate: int = RATE,
                   f_min: float = F_MIN, f_max: float = F_MAX) -> torch.Tensor:
    """``[n_fft // 2 + 1, n_mels]`` triangular filters, equally spaced on the HTK mel scale
    (``2595 log10(1 + f / 700)``), each 1 at its centre and 0 at its neighbours' centres."""
    def to_mel(f):
        return 2595.0 * torch.log10(1.0 + f / 700.0)

    def to_hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = to_hz(torch.linspace(float(to_mel(torch.tensor(f_min))),
                                 float(to_mel(torch.tensor(f_max))), n_mels + 2,
                                 dtype=torch.float64))
    bins = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * rate / n_fft
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower) / (centre - lower)
    falling = (upper - bins[:, None]) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


_FILTERS = mel_filterbank()
_WINDOW = torch.hann_window(N_FFT, periodic=True)


def as_float(samples) -> torch.Tensor:
    """1-D float32 samples in [-1, 1] from int16 samples (numpy or torch) or floats."""
    x = torch.as_tensor(np.asarray(samples))
    if x.dtype == torch.int16:
        return x.float() / 32768.0
    return x.float()


def _frame_rms(x: torch.Tensor) -> torch.Tensor:
    return x.unfold(0, N_FFT, HOP).pow(2).mean(dim=1).sqrt()


def trim_silence(samples) -> torch.Tensor:
    """The samples from the first to the last frame within ``TRIM_DB`` of the loudest frame
    (one frame of margin each side). A ValueError when there is no sound at all or less than
    one frame of samples: these are the two inputs no answer can be given for."""
    x = as_float(samples)
    if x.ndim != 1 or x.numel() < N_FFT:
        raise ValueError(f"the sound is too short: at least {N_FFT} samples at {RATE} Hz "
                         f"({1000 * N_FFT / RATE:.0f} ms) are needed, it has {x.numel()}")
    rms = _frame_rms(x)
    loudest = float(rms.max())
    if not loudest >= SILENT_RMS:
        raise ValueError("the recording is silent: no frame is louder than -60 dBFS. "
                         "Say a digit closer to the microphone")
    loud = torch.nonzero(rms >= loudest * 10 ** (-TRIM_DB / 20)).flatten()
    first, last = max(int(loud[0]) - 1, 0), min(int(loud[-1]) + 1, len(rms) - 1)
    return x[first * HOP: last * HOP + N_FFT]


def log_mel(x: torch.Tensor) -> torch.Tensor:
    """``[frames, N_MELS]`` scaled log-mel power of float samples (no trimming, no gain)."""
    spectrum = torch.stft(x, N_FFT, hop_length=HOP, win_length=N_FFT, window=_WINDOW,
                          center=False, return_complex=True)  # [bins, frames]
    power = spectrum.abs().pow(2).T
    return (torch.log(power @ _FILTERS + FLOOR) - LOG_SHIFT) / LOG_SCALE


def frames(samples) -> torch.Tensor:
    """The frames the network reads, ``[frames, N_MELS]`` float32, from 8 kHz samples (int16 or
    float): silence trimmed, peak set to ``PEAK``, scaled log-mel. The one function for data and
    microphone alike."""
    x = trim_silence(samples)
    return log_mel(x * (PEAK / x.abs().max()))


SILENCE_FRAME = (math.log(FLOOR) - LOG_SHIFT) / LOG_SCALE  # every value of a frame of zeros


# ---- the shipped data ----

def _data_file() -> Path:
    """``assets/fsdd.npz`` beside the package in a checkout, ``rnnviz/_assets`` when installed
    (where ``rnnviz.core.tasks`` finds the corpus; not imported from there: tasks imports this
    module)."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_assets" / "fsdd.npz"
    return installed if installed.is_file() else package.parent / "assets" / "fsdd.npz"


@functools.lru_cache(maxsize=1)
def fsdd() -> dict[str, np.ndarray]:
    """The packed recordings (``assets/make_fsdd.py`` documents the arrays)."""
    with np.load(_data_file()) as data:
        return {name: data[name] for name in data.files}


def recording(i: int) -> np.ndarray:
    """Recording ``i``'s int16 samples at 8 kHz."""
    data = fsdd()
    return data["samples"][data["offsets"][i]: data["offsets"][i + 1]]


def speakers() -> list[str]:
    return [str(s) for s in fsdd()["speakers"]]


def find(digit: int, speaker: str, take: int) -> int:
    """The number of the recording of ``digit`` said by ``speaker``, take ``take`` (0-49)."""
    data = fsdd()
    if speaker not in speakers():
        raise ValueError(f"speaker: {speaker!r} is not one of {', '.join(speakers())}")
    hit = np.nonzero((data["digit"] == digit) & (data["index"] == take)
                     & (data["speaker"] == speakers().index(speaker)))[0]
    if len(hit) != 1:
        raise ValueError(f"no recording of digit {digit} by {speaker}, take {take}: digits are "
                         "0-9, takes 0-49")
    return int(hit[0])


@functools.lru_cache(maxsize=1)
def all_frames() -> tuple[torch.Tensor, ...]:
    """Every recording's frames (3,000 tensors; computed once per process, about a second).
    On one torch thread, as a run trains: whichever computes them first (a page in a server
    with several threads, a pool worker with one), a config's training data is the same bits
    and its run too (``rnnviz.core.determinism``)."""
    with single_thread():
        return tuple(frames(recording(i)) for i in range(len(fsdd()["digit"])))


def split_indices(split: str, held_out: str | None) -> np.ndarray:
    """The recordings of a split: ``held_out`` None is FSDD's (test: takes 0-4), a speaker's
    name holds out all of that speaker's recordings for the test."""
    data = fsdd()
    if held_out is None:
        test = data["index"] < 5
    else:
        test = data["speaker"] == speakers().index(held_out)
    return np.nonzero(test if split == "test" else ~test)[0]


def pad_frames(f: torch.Tensor, seq_len: int) -> torch.Tensor:
    """``[seq_len, N_MELS]``: silence in front of a short recording, the middle of a long one."""
    if len(f) >= seq_len:
        start = (len(f) - seq_len) // 2
        return f[start: start + seq_len]
    pad = torch.full((seq_len - len(f), f.shape[1]), SILENCE_FRAME)
    return torch.cat([pad, f])


@functools.lru_cache(maxsize=1)
def _front_padded() -> tuple[torch.Tensor, torch.Tensor]:
    """Every recording front-padded with silence to the longest, ``[3000, longest, N_MELS]``
    (about 54 MB, once), and the recordings' lengths: any seq_len's batch is gathered from it,
    so no copy of the data is kept per sequence length (up to 154 MB each at 400 frames)."""
    recordings = all_frames()
    lengths = torch.tensor([len(f) for f in recordings])
    base = torch.full((len(recordings), int(lengths.max()), N_MELS), SILENCE_FRAME)
    for row, f in enumerate(recordings):
        base[row, base.shape[1] - len(f):] = f
    return base, lengths


def padded_rows(indices: torch.Tensor, seq_len: int) -> torch.Tensor:
    """``[len(indices), seq_len, N_MELS]``: ``pad_frames`` of those recordings, gathered in one
    indexing operation (silence in front of a short one, the middle of a long one)."""
    base, lengths = _front_padded()
    longest = base.shape[1]
    if seq_len > longest:  # more silence in front than any recording needs
        pad = torch.full((len(indices), seq_len - longest, N_MELS), SILENCE_FRAME)
        return torch.cat([pad, base[indices]], dim=1)
    length = lengths[indices]
    start = torch.where(length > seq_len, longest - length + (length - seq_len) // 2,
                        torch.full_like(length, longest - seq_len))
    steps = start[:, None] + torch.arange(seq_len)
    return base[indices[:, None], steps]


def check_seq_len(seq_len: int) -> None:
    if seq_len < MIN_SEQ_LEN:
        raise ValueError(f"seq_len: {seq_len} frames is too short for the digits tasks: half of "
                         "FSDD's words are 24 frames of 16 ms or longer. Choose at least "
                         f"{MIN_SEQ_LEN}; {SEQ_LEN} keeps 99% of the words whole")


# ---- the task (registered in rnnviz.core.tasks) ----

def make_task(base, Chance):  # noqa: N803 (a class)
    """The two digits tasks as subclasses of ``rnnviz.core.tasks.Task``; the base class and
    ``Chance`` are passed in, since tasks imports this module."""
    class DigitsTask(base):
        many_to_one, classification, metric_name = True, True, "accuracy"

        def __init__(self, name: str, held_out: str | None):
            self.name, self.held_out = name, held_out
            if held_out is None:
                self.title = "Spoken digits"
                test = "FSDD's own test set: the first 5 of the 50 takes of every digit by " \
                       "every speaker (300 recordings)"
            else:
                self.title = "Spoken digits, a new voice"
                test = (f"all 500 recordings of one speaker ({held_out}) the network never "
                        "hears in training; it learns from the other five")
            self.description = (
                "Real recordings of the digits 0-9 (the Free Spoken Digit Dataset, 6 speakers, "
                "CC BY-SA 4.0). Each recording becomes a log-mel spectrogram: one frame of "
                f"{N_MELS} frequency bands every 16 ms. The network reads the frames one per "
                "step and names the digit after the last one: a many-to-one classification. "
                "Shorter recordings are padded with silence in front. Tested on " + test
                + ". Guessing scores 10%.")

        def input_size(self) -> int:
            return N_MELS

        def output_size(self) -> int:
            return 10

        def sample(self, batch, seq_len, generator, *, split="train", **_):
            """Training: ``batch`` recordings of the training split drawn at random (without
            replacement within a batch). Validation: the whole test split in a seeded order,
            whatever ``batch`` asks for."""
            check_seq_len(seq_len)
            pool = torch.from_numpy(split_indices("test" if split == "val" else "train",
                                                  self.held_out))
            if split == "val":
                take = pool[torch.randperm(len(pool), generator=generator)]
            elif batch <= len(pool):
                take = pool[torch.randperm(len(pool), generator=generator)[:batch]]
            else:
                take = pool[torch.randint(0, len(pool), (batch,), generator=generator)]
            labels = torch.from_numpy(fsdd()["digit"].astype(np.int64))[take]
            return padded_rows(take, seq_len), labels.float().unsqueeze(1)

        def chance(self, seq_len, **params):
            return Chance(loss=math.log(10), metric=0.1, how="guessing one of ten digits")

        def chance_words(self, constant, metric, population):
            return (f"a fixed guess from the test set's digit frequencies, always {int(constant)}"
                    f", right {metric:.1%} of the time; over all recordings 10%")

    return DigitsTask("digits", None), DigitsTask("digits_speaker", HELD_OUT)
