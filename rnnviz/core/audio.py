"""WAV bytes to 8 kHz mono samples: the door a learner's own recording comes in by.

Python's own ``wave`` module reads the file (8-, 16-, 24- and 32-bit PCM, what a browser's
recorder writes), so nothing is installed for it; float samples and WAVE_FORMAT_EXTENSIBLE,
which a sound editor may write and Python 3.11's ``wave`` refuses, are read from the file's
chunks here. What cannot be read becomes a ValueError that says what was wrong, never a
traceback. The length is checked
from the header before a sample is read, so an hours-long file costs nothing.

Resampling is band-limited, through the FFT: the spectrum is cut at the new Nyquist frequency
(4 kHz) and transformed back at the new length (what ``scipy.signal.resample`` does). For a
clip of a few seconds this is one ``torch.fft.rfft`` and one ``irfft``, exact for sound below
4 kHz, with no library to install.
"""

from __future__ import annotations

import io
import struct
import wave

import numpy as np
import torch

from rnnviz.core.speech import RATE

MAX_SECONDS = 10.0  # a spoken digit takes about one
MAX_BYTES = 64 * 1024 * 1024
_DTYPES = {1: np.uint8, 2: np.dtype("<i2"), 4: np.dtype("<i4")}


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """``(samples, rate)``: float64 mono samples in [-1, 1] (channels averaged) and the file's
    sample rate. A ValueError saying why for anything that is not a usable WAV file."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"expected the bytes of a WAV file, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ValueError("the file is empty: no sound was recorded")
    if len(data) > MAX_BYTES:
        raise ValueError(f"the file is {len(data) / 2**20:.0f} MB; a spoken digit needs less "
                         f"than {MAX_SECONDS:g} seconds, at most {MAX_BYTES // 2**20} MB")
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("this is not a WAV file (it does not begin with RIFF...WAVE); record "
                         "again or export the sound as WAV")
    try:
        with wave.open(io.BytesIO(data)) as wav:
            channels, width = wav.getnchannels(), wav.getsampwidth()
            rate, count = wav.getframerate(), wav.getnframes()
            _check_length(rate, count)
            raw, floats = wav.readframes(count), False
    except wave.Error as error:
        if not str(error).startswith("unknown format"):
            raise ValueError(f"this WAV file cannot be read ({error}); only uncompressed WAV "
                             "files with a complete header are") from None
        # float samples (format 3) and WAVE_FORMAT_EXTENSIBLE, which Python 3.11's wave
        # refuses: read from the chunks here
        channels, width, rate, raw, floats = _other_format(data)
    except EOFError:
        raise ValueError("this WAV file cannot be read: its header is cut short; only "
                         "uncompressed WAV files with a complete header are") from None
    values = _decode(raw, channels, width, floats)
    samples = values.reshape(-1, channels).mean(axis=1)
    if len(samples) == 0:
        raise ValueError("the WAV file holds no samples: no sound was recorded")
    return samples, rate


def _check_length(rate: int, count: int) -> None:
    """Refuse a rate no recording has and a clip too long, from the header alone."""
    if rate < 4000 or rate > 384_000:
        raise ValueError(f"the WAV file says {rate} samples per second; a recording has "
                         "4,000 to 384,000")
    if count / rate > MAX_SECONDS:
        raise ValueError(f"the recording is {_duration(count / rate)} long; say one digit in "
                         f"at most {MAX_SECONDS:g} seconds")


def _other_format(data: bytes) -> tuple[int, int, int, bytes, bool]:
    """``(channels, width, rate, raw, floats)`` of a WAV file whose format ``wave`` does not
    know: IEEE float (3), or WAVE_FORMAT_EXTENSIBLE (0xFFFE) holding PCM or float."""
    fmt, body, pos = None, None, 12
    while pos + 8 <= len(data):
        kind, size = data[pos: pos + 4], struct.unpack("<I", data[pos + 4: pos + 8])[0]
        if kind == b"fmt ":
            fmt = data[pos + 8: pos + 8 + size]
        elif kind == b"data":
            body = (pos + 8, size)
            break
        pos += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16 or body is None:
        raise ValueError("this WAV file cannot be read: its format or data chunk is missing "
                         "or cut short")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == 0xFFFE and len(fmt) >= 26:  # the sub-format GUID begins with the real tag
        tag = struct.unpack("<H", fmt[24:26])[0]
    if tag not in (1, 3) or channels == 0 or bits % 8:
        raise ValueError(f"this WAV file is compressed or unusual (format {tag}, {channels} "
                         f"channels, {bits}-bit); export it as 16-bit PCM WAV")
    width = bits // 8
    _check_length(rate, body[1] // max(width * channels, 1))
    return channels, width, rate, data[body[0]: body[0] + body[1]], tag == 3


def _decode(raw: bytes, channels: int, width: int, floats: bool) -> np.ndarray:
    """Interleaved samples as float64 in [-1, 1], ``[frames * channels]``."""
    if floats:
        if width not in (4, 8):
            raise ValueError(f"{8 * width}-bit float samples are not supported; use 32 or "
                             "64-bit")
        dtype = np.dtype("<f4") if width == 4 else np.dtype("<f8")
        whole = len(raw) // (width * channels) * width * channels
        return np.clip(np.frombuffer(raw[:whole], dtype=dtype).astype(np.float64), -1, 1)
    if width == 3:  # 24-bit: widen each sample to 32 bits
        triples = np.frombuffer(raw[: len(raw) // 3 * 3], dtype=np.uint8).reshape(-1, 3)
        raw = np.concatenate([np.zeros((len(triples), 1), np.uint8), triples], axis=1).tobytes()
        width = 4
    if width not in _DTYPES:
        raise ValueError(f"{8 * width}-bit samples are not supported; use 8, 16, 24 or 32-bit "
                         "PCM")
    values = np.frombuffer(raw[: len(raw) // (width * channels) * width * channels],
                           dtype=_DTYPES[width]).astype(np.float64)
    if width == 1:
        return (values - 128.0) / 128.0  # 8-bit WAV is unsigned
    return values / float(2 ** (8 * width - 1))


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    if seconds >= 60:
        return f"{seconds / 60:.1f} minutes"
    return f"{seconds:.1f} seconds"


def resample(samples: np.ndarray, rate: int, to: int = RATE) -> np.ndarray:
    """Band-limited resampling from ``rate`` to ``to`` samples per second (FFT: the spectrum
    above the lower Nyquist frequency dropped, then the inverse at the new length)."""
    if rate == to:
        return np.asarray(samples, dtype=np.float64)
    n = len(samples)
    m = max(int(round(n * to / rate)), 1)
    spectrum = torch.fft.rfft(torch.as_tensor(samples, dtype=torch.float64))
    keep = min(len(spectrum), m // 2 + 1)
    out = torch.zeros(m // 2 + 1, dtype=spectrum.dtype)
    out[:keep] = spectrum[:keep]
    return (torch.fft.irfft(out, n=m) * (m / n)).numpy()


def wav_to_8k(data: bytes) -> np.ndarray:
    """A WAV file's bytes as float mono samples at 8 kHz (``read_wav`` then ``resample``)."""
    samples, rate = read_wav(data)
    return resample(samples, rate)
