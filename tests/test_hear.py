"""rnnviz.hear and the microphone's path: WAV bytes of a real FSDD recording at 8, 16 and
44.1 kHz and in stereo, silence and hostile files; P(digit) per frame, saliency and precision /
recall against independent computations."""

from __future__ import annotations

import io
import struct
import wave

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnnviz
from rnnviz.core import speech
from rnnviz.core.config import RunConfig
from rnnviz.core.hear import probabilities
from rnnviz.core.tasks import validation_set
from rnnviz.core.train import train
from rnnviz.studies.speech import confusion, confusion_matrix, precision_recall


@pytest.fixture(scope="module")
def run():
    return train(RunConfig(task="digits", seq_len=48, steps=250, eval_every=250,
                           probe_every=250, device="cpu"))


# a test-split take (0-4): the run never trained on it
SAMPLES = speech.recording(speech.find(4, "nicolas", 2))


def wav_bytes(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return buffer.getvalue()


def upsample(samples: np.ndarray, rate: int) -> np.ndarray:
    """Band-limited upsampling from 8 kHz written in numpy (zero-padded spectrum), to int16."""
    n = len(samples)
    m = int(round(n * rate / 8000))
    spectrum = np.fft.rfft(samples.astype(np.float64))
    padded = np.zeros(m // 2 + 1, dtype=complex)
    padded[: len(spectrum)] = spectrum
    return np.clip(np.round(np.fft.irfft(padded, n=m) * m / n), -32768, 32767).astype(np.int16)


def test_8khz_wav_gives_the_frames_of_the_recording(run):
    heard = rnnviz.hear(run, wav_bytes(SAMPLES, 8000))
    np.testing.assert_allclose(heard.frames.numpy(), speech.frames(SAMPLES).numpy(), atol=1e-5)
    assert heard.probs.shape == (len(heard.frames), 10)
    torch.testing.assert_close(heard.probs.sum(dim=1), torch.ones(len(heard.frames)))
    assert heard.digit == int(heard.probs[-1].argmax())


@pytest.mark.parametrize("rate", [16000, 44100])
def test_other_rates_are_resampled_to_the_same_frames(run, rate):
    at_8k = rnnviz.hear(run, wav_bytes(SAMPLES, 8000))
    heard = rnnviz.hear(run, wav_bytes(upsample(SAMPLES, rate), rate))
    assert heard.frames.shape == at_8k.frames.shape
    # measured: at most 0.001 apart (the int16 rounding of the upsampled file)
    np.testing.assert_allclose(heard.frames.numpy(), at_8k.frames.numpy(), atol=0.005)
    np.testing.assert_allclose(heard.probs.numpy(), at_8k.probs.numpy(), atol=0.005)
    assert heard.digit == at_8k.digit


def test_stereo_is_mixed_to_mono(run):
    # right channel at half the volume: the mix is 0.75 x the recording, which the peak
    # normalisation makes the recording again
    stereo = np.stack([SAMPLES, SAMPLES // 2], axis=1).reshape(-1)
    heard = rnnviz.hear(run, wav_bytes(stereo, 8000, channels=2))
    at_8k = rnnviz.hear(run, wav_bytes(SAMPLES, 8000))
    np.testing.assert_allclose(heard.frames.numpy(), at_8k.frames.numpy(), atol=1e-5)
    assert heard.digit == at_8k.digit


def riff(tag: int, channels: int, bits: int, payload: bytes, rate: int = 8000,
         extensible: bool = False) -> bytes:
    """A WAV file written by hand: a ``fmt `` chunk (WAVE_FORMAT_EXTENSIBLE carrying ``tag``
    in its sub-format when asked) and a ``data`` chunk."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * block,
                      block, bits)
    if extensible:  # cbSize, valid bits, channel mask, then the sub-format GUID
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + bytes(14)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize("kind", ["float32", "float64", "extensible pcm16",
                                  "extensible float32"])
def test_float_and_extensible_wavs_are_read(run, kind):
    """Python 3.11's wave refuses both ("unknown format: 3" / "65534"); a sound editor's
    export often is one of them."""
    floats = SAMPLES.astype(np.float64) / 32768.0
    payload = {"float32": floats.astype("<f4").tobytes(),
               "float64": floats.astype("<f8").tobytes(),
               "extensible pcm16": SAMPLES.astype("<i2").tobytes(),
               "extensible float32": floats.astype("<f4").tobytes()}[kind]
    tag = 1 if kind == "extensible pcm16" else 3
    bits = 64 if kind == "float64" else 32 if "float" in kind else 16
    heard = rnnviz.hear(run, riff(tag, 1, bits, payload, extensible="extensible" in kind))
    at_8k = rnnviz.hear(run, wav_bytes(SAMPLES, 8000))
    np.testing.assert_allclose(heard.frames.numpy(), at_8k.frames.numpy(), atol=1e-5)


def test_a_compressed_wav_says_so(run):
    with pytest.raises(ValueError, match="file is compressed"):
        rnnviz.hear(run, riff(0x55, 1, 0, b"\xff\xfb" * 500))  # MPEG layer 3 inside RIFF


def _hours_long_header(hours: float = 2.0) -> bytes:
    size = int(8000 * 2 * 3600 * hours)
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE" + b"fmt " + struct.pack("<I", 16)
            + fmt + b"data" + struct.pack("<I", size) + b"\0" * 1000)


@pytest.mark.parametrize("data,message", [
    (wav_bytes(np.zeros(8000), 8000), "silent"),
    (wav_bytes(np.zeros(0), 8000), "no samples"),
    (b"", "empty"),
    (b"ID3\x04 this is an mp3 file" * 10, "not a WAV file"),
    (wav_bytes(SAMPLES, 8000)[:30], "cannot be read"),
    (_hours_long_header(), "2.0 hours"),
    (wav_bytes(SAMPLES[:100], 8000), "too short"),
])
def test_unusable_audio_is_a_clear_value_error(run, data, message):
    with pytest.raises(ValueError, match=message):
        rnnviz.hear(run, data)


def test_hear_needs_a_digits_run():
    other = train(RunConfig(task="adding", steps=2, device="cpu"))
    with pytest.raises(ValueError, match="digits"):
        rnnviz.hear(other, wav_bytes(SAMPLES, 8000))


def test_last_frame_probability_is_the_models_own_output(run):
    heard = rnnviz.hear(run, wav_bytes(SAMPLES, 8000))
    with torch.no_grad():
        own = run.model(heard.frames[None]).softmax(dim=-1)[0]
    torch.testing.assert_close(heard.probs[-1], own, rtol=1e-5, atol=1e-6)
    # and every frame's P is the model's output on the recording cut after that frame
    for t in (0, len(heard.frames) // 2):
        with torch.no_grad():
            cut = run.model(heard.frames[None, : t + 1]).softmax(dim=-1)[0]
        torch.testing.assert_close(heard.probs[t], cut, rtol=1e-5, atol=1e-6)


def test_saliency_equals_an_independent_autograd_computation(run):
    heard = rnnviz.hear(run, wav_bytes(SAMPLES, 8000))
    x = heard.frames.double()
    model = run.model.double()
    try:
        # the Jacobian of the logits wrt the frames, chained with dCE/dlogits = p - onehot
        jacobian = torch.autograd.functional.jacobian(lambda f: model(f[None])[0], x)
        with torch.no_grad():
            p = model(x[None]).softmax(dim=-1)[0]
        upstream = p - F.one_hot(torch.tensor(heard.digit), 10).double()
        grad = torch.einsum("c,ctf->tf", upstream, jacobian)
    finally:
        model.float()
    torch.testing.assert_close(heard.saliency.double(), grad.norm(dim=-1), rtol=1e-3,
                               atol=1e-6)


def test_precision_and_recall_equal_a_hand_count():
    # said 0: 3 right, 1 called 1; said 1: 2 right, 2 called 2; said 2: 4 right, 1 called 0
    matrix = np.array([[3, 1, 0], [0, 2, 2], [1, 0, 4]])
    said = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2]
    called = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0]
    np.testing.assert_array_equal(confusion_matrix(np.array(said), np.array(called), 3), matrix)
    precision, recall = precision_recall(matrix)
    # called 0: 4 times, 3 right; called 1: 3 times, 2 right; called 2: 6 times, 4 right
    np.testing.assert_allclose(precision, [3 / 4, 2 / 3, 4 / 6])
    np.testing.assert_allclose(recall, [3 / 4, 2 / 4, 4 / 5])
    # a class never called has no precision, not zero
    precision, _ = precision_recall(np.array([[1, 0], [1, 0]]))
    assert precision[0] == 0.5 and np.isnan(precision[1])


def test_confusion_counts_the_whole_test_split(run):
    matrix = confusion(run)
    assert matrix.sum() == 300 and matrix.sum(axis=1).tolist() == [30] * 10
    x, y = validation_set(run.config)
    with torch.no_grad():
        accuracy = float((run.model(x).argmax(dim=-1) == y[:, 0].long()).float().mean())
    assert np.trace(matrix) / 300 == pytest.approx(accuracy)
    assert accuracy == pytest.approx(run.history._val[run.history.evals_done - 1][2])
    assert probabilities(run.model, speech.frames(SAMPLES)).shape[1] == 10
