"""Pack the Free Spoken Digit Dataset (FSDD) into one compressed numpy file, ``assets/fsdd.npz``.

    python assets/make_fsdd.py GIT_DIR        # GIT_DIR: a clone (or bare mirror) of
                                              # github.com/Jakobovski/free-spoken-digit-dataset

The app never runs this: it reads the packed file (``rnnviz.core.speech``), so nothing is
downloaded at run time. One file of int16 samples, concatenated, is about a sixth the size of
the 3,000 WAV files in a git tree and loads in one read.

Arrays in the file:

* ``samples`` int16, every recording's 8 kHz mono samples one after another;
* ``offsets`` int64 ``[3001]``: recording ``i`` is ``samples[offsets[i]:offsets[i + 1]]``;
* ``digit``, ``speaker``, ``index`` ``[3000]``: the label, the speaker's number in
  ``speakers`` and the take (0-49) from the file name ``{digit}_{speaker}_{index}.wav``;
* ``speakers``: the speakers' names, sorted;
* ``commit``: the FSDD commit the file was packed from.

The recordings are in the order of (digit, speaker, index), so the file is the same bytes
whoever packs it from the same commit. FSDD is CC BY-SA 4.0: ``assets/FSDD_LICENSE.md``.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
NAME = re.compile(r"recordings/(\d)_([a-z]+)_(\d+)\.wav")
RATE = 8000


def _git(git_dir: str, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True,
                          capture_output=True).stdout


def read_wav(data: bytes) -> np.ndarray:
    """The int16 samples of one of FSDD's 8 kHz mono 16-bit WAV files (anything else is an
    error here: the packed file promises that format)."""
    with wave.open(io.BytesIO(data)) as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (RATE, 1, 2):
            raise ValueError(f"not 8 kHz mono 16-bit: {wav.getparams()}")
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def pack(git_dir: str, out: Path) -> dict[str, int]:
    commit = _git(git_dir, "rev-parse", "HEAD").decode().strip()
    names = _git(git_dir, "ls-tree", "--name-only", "HEAD", "recordings/").decode().split()
    keys = []
    for name in names:
        match = NAME.fullmatch(name)
        if match is None:
            raise ValueError(f"unexpected file in recordings/: {name}")
        keys.append((int(match[1]), match[2], int(match[3]), name))
    keys.sort()
    speakers = sorted({k[1] for k in keys})
    waves = [read_wav(_git(git_dir, "show", f"HEAD:{name}")) for *_, name in keys]
    offsets = np.concatenate([[0], np.cumsum([len(w) for w in waves])]).astype(np.int64)
    np.savez_compressed(
        out, samples=np.concatenate(waves).astype(np.int16), offsets=offsets,
        digit=np.array([k[0] for k in keys], dtype=np.int8),
        speaker=np.array([speakers.index(k[1]) for k in keys], dtype=np.int8),
        index=np.array([k[2] for k in keys], dtype=np.int8),
        speakers=np.array(speakers), commit=np.array(commit))
    return {"recordings": len(keys), "speakers": len(speakers), "samples": int(offsets[-1]),
            "bytes": out.stat().st_size}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(pack(sys.argv[1], HERE / "fsdd.npz"))
