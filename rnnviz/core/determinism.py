"""What makes a run a function of its config alone, whichever process or thread trains it.

Besides the seeded data generators (``rnnviz.core.tasks.seeded_generator``), two more things decide
a run's bits:

* **torch's global RNG**, which ``nn.Module`` constructors, ``nn.init`` and the fused
  ``nn.RNN/LSTM/GRU``'s dropout between layers draw from (none of them takes a generator). A
  server has one per process for all its threads (a Streamlit script thread per session, a thread
  per job), so a draw that shapes a run happens inside ``seeded_rng(seed)``: under ``RNG_LOCK``,
  in ``torch.random.fork_rng`` seeded from the config, which hands the RNG back as it was. The
  initial weights use the config's seed itself; the dropout masks of training step ``t`` use
  ``step_seed(seed, t)``, so every step's masks are a function of ``(seed, t)`` alone, not of what
  the process drew before or of what another thread draws meanwhile.
* **the intra-op thread count.** ``nn.init.orthogonal_`` is a QR decomposition whose rounding
  follows it: the orthogonal W_hh of lesson 6 (64 units) differs by up to 2.4e-7 between one
  thread and two, and trained 400 steps from them, its validation loss was 0.0177 (built on two
  threads, as a server did) and 0.0962 (on one, as a worker did).
  The count is per OS thread in torch (each thread's own OpenMP and MKL setting), so
  ``single_thread()`` sets it for the thread that runs the block: a worker's count, one, which
  is also the fastest for these tiny networks (``rnnviz.core.train``'s module doc has the
  measurements).
"""

from __future__ import annotations

import contextlib
import threading

import torch

# every seeded draw from torch's global RNG happens under this lock (it is not re-entrant)
RNG_LOCK = threading.Lock()
_MASK = (1 << 64) - 1


def step_seed(seed: int, step: int) -> int:
    """A 64-bit seed for training step ``step`` (below 2^32) of a run seeded ``seed``: SplitMix64's
    finaliser (Steele et al. 2014) of ``seed * 2^32 + step``. It is a bijection of 64-bit words,
    so no two pairs share a seed, and it scrambles them, so run 0's step 5 does not draw what run
    5's initial weights drew (as a plain ``seed * K + step`` would). About 1 us, where
    ``numpy.random.SeedSequence`` took 15 to 50."""
    z = ((int(seed) << 32) + int(step) + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


@contextlib.contextmanager
def seeded_rng(seed: int, device: torch.device | None = None):
    """Hold ``RNG_LOCK`` with torch's global CPU generator (and ``device``'s, for a CUDA device)
    seeded with ``seed``; both are given back as they were when the block ends."""
    cuda = [] if device is None or device.type != "cuda" else [
        device.index if device.index is not None else torch.cuda.current_device()]
    with RNG_LOCK, torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for index in cuda:
            # seeding a CUDA generator also makes cuDNN re-create its RNN dropout state from it
            torch.cuda.default_generators[index].manual_seed(seed)
        yield


_this_thread = threading.local()  # per OS thread: how deep in single_thread, and the count before


@contextlib.contextmanager
def single_thread():
    """Run torch on one intra-op thread in this OS thread while the block runs; nested blocks
    share it, and the outermost gives the count back.

    ``torch.set_num_threads`` acts on the calling thread only, for the threads that already
    exist (OpenMP's thread count and MKL's local one are per thread; a thread started later
    takes the last count set anywhere). So each thread sets its own: a process-wide counter
    let the first of two overlapping blocks set one thread for itself and leave the other
    training on two, whose rounding differed by 1e-7 after 60 steps on an AVX2 machine.
    """
    depth = getattr(_this_thread, "depth", 0)
    if depth == 0:
        _this_thread.before = torch.get_num_threads()
        torch.set_num_threads(1)
    _this_thread.depth = depth + 1
    try:
        yield
    finally:
        _this_thread.depth -= 1
        if _this_thread.depth == 0:
            torch.set_num_threads(_this_thread.before)
