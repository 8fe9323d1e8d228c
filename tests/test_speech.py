"""The spoken-digit data, its features and the digits tasks (rnnviz.core.speech), against FSDD's
own facts and an independent numpy computation of the same spectrogram."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnviz.core import speech
from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import TASKS, seeded_generator, validation_set


def test_shipped_data_matches_fsdd():
    """FSDD's README: 3,000 recordings, 6 speakers, 50 takes of each digit each, takes 0-4 the
    test set; the file names' labels (7_jackson_32.wav and so on) survive the packing."""
    data = speech.fsdd()
    assert len(data["digit"]) == 3000 and len(data["offsets"]) == 3001
    assert np.bincount(data["digit"]).tolist() == [300] * 10
    assert speech.speakers() == ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    assert np.bincount(data["speaker"]).tolist() == [500] * 6
    assert sorted(set(data["index"].tolist())) == list(range(50))
    assert len(speech.split_indices("test", None)) == 300
    assert len(speech.split_indices("train", None)) == 2700
    assert len(speech.split_indices("test", "theo")) == 500
    assert data["samples"].dtype == np.int16 and data["offsets"][-1] == len(data["samples"])
    # FSDD's recordings/7_jackson_32.wav is 8,646 bytes: a 44-byte header, 4,301 int16 samples
    assert len(speech.recording(speech.find(7, "jackson", 32))) == (8646 - 44) // 2


def _numpy_frames(samples: np.ndarray) -> np.ndarray:
    """The same features written again in numpy, loop by loop, from the formulas in
    rnnviz.core.speech's docstring (not from its code)."""
    x = samples.astype(np.float64) / 32768.0
    n, hop = 256, 128
    count = 1 + (len(x) - n) // hop
    chunks = np.stack([x[i * hop: i * hop + n] for i in range(count)])
    rms = np.sqrt((chunks ** 2).mean(axis=1))
    loud = np.nonzero(rms >= rms.max() * 10 ** (-35 / 20))[0]
    first, last = max(loud[0] - 1, 0), min(loud[-1] + 1, count - 1)
    x = x[first * hop: last * hop + n]
    x = x * 0.5 / np.abs(x).max()
    count = 1 + (len(x) - n) // hop
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    power = np.stack([np.abs(np.fft.rfft(x[i * hop: i * hop + n] * window)) ** 2
                      for i in range(count)])
    mel = [2595 * np.log10(1 + f / 700) for f in (20.0, 4000.0)]
    points = np.linspace(mel[0], mel[1], 34)
    hz = 700 * (10 ** (points / 2595) - 1)
    freqs = np.arange(n // 2 + 1) * 8000 / n
    bank = np.zeros((n // 2 + 1, 32))
    for m in range(32):
        for k, f in enumerate(freqs):
            if hz[m] <= f <= hz[m + 1]:
                bank[k, m] = (f - hz[m]) / (hz[m + 1] - hz[m])
            elif hz[m + 1] < f <= hz[m + 2]:
                bank[k, m] = (hz[m + 2] - f) / (hz[m + 2] - hz[m + 1])
    return (np.log(power @ bank + 1e-6) - speech.LOG_SHIFT) / speech.LOG_SCALE


@pytest.mark.parametrize("digit,speaker,take", [(7, "jackson", 32), (0, "theo", 3)])
def test_frames_equal_an_independent_numpy_spectrogram(digit, speaker, take):
    samples = speech.recording(speech.find(digit, speaker, take))
    ours = speech.frames(samples).numpy()
    expected = _numpy_frames(samples)
    assert ours.shape == expected.shape and ours.shape[1] == speech.N_MELS
    assert ours.shape[0] >= 16  # a word, not a click
    np.testing.assert_allclose(ours, expected, atol=2e-4)
    # int16 and the same samples as floats are one input
    np.testing.assert_allclose(speech.frames(samples / 32768.0).numpy(), ours, atol=1e-5)


def test_trim_refuses_silence_and_a_too_short_sound():
    with pytest.raises(ValueError, match="silent"):
        speech.frames(np.zeros(8000, dtype=np.int16))
    with pytest.raises(ValueError, match="too short"):
        speech.frames(np.ones(100, dtype=np.int16) * 1000)


def test_digits_batches_are_padded_in_front_with_silence():
    task = TASKS["digits"]
    x, y = task.sample(8, 48, seeded_generator(0))
    assert x.shape == (8, 48, speech.N_MELS) and y.shape == (8, 1)
    train = set(speech.split_indices("train", None).tolist())
    # every example is one training recording, padded in front, its frames at the end
    for row, label in zip(x, y[:, 0].long()):
        hits = [i for i in train if speech.fsdd()["digit"][i] == label
                and torch.equal(speech.pad_frames(speech.all_frames()[i], 48), row)]
        assert len(hits) == 1
        recorded = len(speech.all_frames()[hits[0]])
        if recorded < 48:
            assert torch.all(row[: 48 - recorded] == speech.SILENCE_FRAME)
    # a long recording keeps its middle
    longest = max(speech.all_frames(), key=len)
    middle = speech.pad_frames(longest, 20)
    start = (len(longest) - 20) // 2
    assert torch.equal(middle, longest[start: start + 20])


@pytest.mark.parametrize("seq_len", [16, 24, 48, 200])
def test_gathered_batches_equal_padding_each_recording(seq_len):
    every = torch.arange(3000)
    gathered = speech.padded_rows(every, seq_len)
    for i in range(3000):
        assert torch.equal(gathered[i], speech.pad_frames(speech.all_frames()[i], seq_len)), i


@pytest.mark.parametrize("task,size", [("digits", 300), ("digits_speaker", 500)])
def test_validation_set_is_the_whole_test_split(task, size):
    cfg = RunConfig(task=task, seq_len=48)
    x, y = validation_set(cfg)
    assert x.shape == (size, 48, speech.N_MELS)
    test = speech.split_indices("test", None if task == "digits" else speech.HELD_OUT)
    assert sorted(y[:, 0].long().tolist()) == sorted(speech.fsdd()["digit"][test].tolist())
    # the probe batch (its first 16) is not one digit only
    assert len(set(y[:16, 0].tolist())) > 3


def test_seq_len_too_short_is_a_clear_message():
    with pytest.raises(ValueError, match="at least 16"):
        RunConfig(task="digits", seq_len=8)
    assert RunConfig(task="digits", seq_len=16).seq_len == 16


def test_frames_are_the_same_bits_on_any_thread_count():
    """A page may compute the data's frames in a server's thread (several torch threads) and a
    pool worker on one: the training data, and so the run, must not depend on which."""
    samples = [speech.recording(i) for i in range(0, 3000, 250)]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = [speech.frames(s) for s in samples]
        torch.set_num_threads(4)
        four = [speech.frames(s) for s in samples]
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(a, b) for a, b in zip(one, four))
