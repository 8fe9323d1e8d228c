"""What a run records while it trains: ``History``, in bounded numpy arrays.

Per step the training loss and metric, the total gradient norm before clipping and whether the
step was clipped; per validation its loss and metric; per *probe* (step 0, every
``probe_every`` steps, and the last step) the per-time-step gradient norms ``||dL/dh_t||`` of
the top layer on a fixed probe batch, and the model's weights at that moment: the *snapshots*
that let every inside view rewind training. Row k of ``probe_grad`` and snapshot k are the same
moment.

Memory is bounded. At most ``MAX_SNAPSHOTS`` probes are kept; when the buffer fills, every
other one is dropped and the stride doubles, so early and late training stay evenly covered.
The weights of a probe are one flat float32 vector (``model_weights``); the buffer's capacity
adapts to the model's size so that the stored vectors never exceed ``SNAPSHOT_BUDGET_BYTES``
(16 MB). Step 0's weights are not stored: ``build_model(cfg)`` makes them again, bit for bit,
so even the largest allowed model keeps its first and its last snapshot.
"""

from __future__ import annotations

import numpy as np
import torch

MAX_SNAPSHOTS = 200  # probes kept at most; older ones are thinned out beyond this
SNAPSHOT_BUDGET_BYTES = 16 * 2**20  # stored snapshot weights per run, at most


def snapshot_capacity(n_params: int) -> int:
    """Probes a run of a model with ``n_params`` weights keeps: every kept probe but step 0's
    stores its weights (4 bytes each), within the budget, and at least two probes (first, last)
    are kept."""
    if n_params <= 0:
        return MAX_SNAPSHOTS
    stored = max(1, SNAPSHOT_BUDGET_BYTES // (4 * n_params))
    return int(min(MAX_SNAPSHOTS, stored + 1))


def model_weights(model: torch.nn.Module) -> np.ndarray:
    """Every tensor of ``model.state_dict()`` flattened into one float32 vector ``[n_params]``,
    in the state dict's order (``load_weights`` puts it back)."""
    with torch.no_grad():
        return torch.cat([t.detach().reshape(-1).to("cpu", torch.float32)
                          for t in model.state_dict().values()]).numpy()


def load_weights(model: torch.nn.Module, weights: np.ndarray) -> torch.nn.Module:
    """Copy a ``model_weights`` vector into ``model`` (same architecture), exactly."""
    state = model.state_dict()
    sizes = [t.numel() for t in state.values()]
    if len(weights) != sum(sizes):
        raise ValueError(f"a snapshot of {len(weights)} weights does not fit a model of "
                         f"{sum(sizes)}")
    flat = torch.from_numpy(np.ascontiguousarray(weights, dtype=np.float32))
    pieces = torch.split(flat, sizes)
    model.load_state_dict({name: piece.reshape(t.shape).to(t.dtype)
                           for (name, t), piece in zip(state.items(), pieces)})
    return model


class History:
    """Everything recorded during a run, in preallocated numpy arrays (memory is bounded by
    ``steps`` and the probe capacity: a 100,000-step run holds 1.4 MB at the defaults, 4 MB
    when validating every step, plus its snapshots' weights).

    Per step (index = step - 1): ``loss``, ``metric``, ``grad_norm`` (before clipping),
    ``clipped``. Per validation: ``val_step``, ``val_loss``, ``val_metric``. Per probe:
    ``probe_step``, ``probe_grad`` ``[snapshots, time]`` and, for every probe after the first,
    its weights (``snapshot_weights [snapshots - 1, n_params]``; None for a history read from
    a run file written before snapshots existed).

    ``weights_step`` is the training step whose weights the finished model holds when that is
    not its last step (early stopping keeps the best validation's, an explosion rolls back), and
    ``weights_val`` their validation ``(loss, metric)``; both are None otherwise.
    """

    def __init__(self, steps: int, eval_every: int, seq_len: int, n_params: int = 0):
        evals = steps // eval_every + 2
        capacity = snapshot_capacity(n_params)
        self.n_params = n_params
        self._loss = np.full(steps, np.nan, dtype=np.float32)
        self._metric = np.full(steps, np.nan, dtype=np.float32)
        self._grad_norm = np.full(steps, np.nan, dtype=np.float32)
        self._clipped = np.zeros(steps, dtype=bool)
        self._val = np.full((evals, 3), np.nan, dtype=np.float64)  # step, loss, metric
        self._probe_grad = np.zeros((capacity, seq_len), dtype=np.float32)
        self._probe_step = np.zeros(capacity, dtype=np.int64)
        # the weights of probe k + 1 (step 0's are rebuilt from the config); grown as recorded
        self._weights: list[np.ndarray] | None = [] if n_params else None
        self.steps_done = 0
        self.evals_done = 0
        self.probes_kept = 0
        self.probe_stride = 1  # keep every probe_stride-th probe; doubles when the buffer fills
        self._probes_seen = 0
        self.stop_reason = "finished"
        self.best_step: int | None = None
        self.weights_step: int | None = None
        self.weights_val: tuple[float, float] | None = None

    @property
    def capacity(self) -> int:
        return len(self._probe_step)

    @property
    def probes_seen(self) -> int:
        """Probes offered so far, kept or not (a live mirror compares it to know it is behind)."""
        return self._probes_seen

    # ---- recording (called by the training loop) ----
    def record_step(self, loss: float, metric: float, grad_norm: float, clipped: bool) -> None:
        i = self.steps_done
        self._loss[i], self._metric[i], self._grad_norm[i] = loss, metric, grad_norm
        self._clipped[i] = clipped
        self.steps_done += 1

    def record_validation(self, step: int, loss: float, metric: float) -> None:
        self._val[self.evals_done] = (step, loss, metric)
        self.evals_done += 1

    def record_probe(self, step: int, grad_per_time_step: np.ndarray,
                     weights: np.ndarray | None = None, force: bool = False) -> bool:
        """Keep every ``probe_stride``-th probe (``force``: keep this one whatever the stride,
        for the last step); when the buffer is full drop every other one and double the stride,
        so old and new training stay evenly covered. ``weights`` (``model_weights``) are kept
        with it, except step 0's. True if the probe was kept."""
        seen = self._probes_seen
        self._probes_seen += 1
        if seen % self.probe_stride and not force:
            return False
        if self.probes_kept == self.capacity:
            keep = slice(0, self.capacity, 2)
            half = len(range(*keep.indices(self.capacity)))
            self._probe_grad[:half] = self._probe_grad[keep].copy()
            self._probe_step[:half] = self._probe_step[keep].copy()
            if self._weights is not None:  # probe k's weights are _weights[k - 1]
                self._weights = self._weights[1::2]
            self.probes_kept = half
            self.probe_stride *= 2
            if seen % self.probe_stride and not force:
                return False
        if self._weights is not None and self.probes_kept > 0:
            if weights is None:
                raise ValueError("a history with snapshots needs the weights of every probe")
            self._weights.append(np.array(weights, dtype=np.float32, copy=True))
        self._probe_grad[self.probes_kept] = grad_per_time_step
        self._probe_step[self.probes_kept] = step
        self.probes_kept += 1
        return True

    # ---- reading ----
    @property
    def loss(self) -> np.ndarray:
        return self._loss[: self.steps_done]

    @property
    def metric(self) -> np.ndarray:
        return self._metric[: self.steps_done]

    @property
    def grad_norm(self) -> np.ndarray:
        return self._grad_norm[: self.steps_done]

    @property
    def clipped(self) -> np.ndarray:
        return self._clipped[: self.steps_done]

    @property
    def step(self) -> np.ndarray:
        return np.arange(1, self.steps_done + 1)

    @property
    def val_step(self) -> np.ndarray:
        return self._val[: self.evals_done, 0].astype(np.int64)

    @property
    def val_loss(self) -> np.ndarray:
        return self._val[: self.evals_done, 1]

    @property
    def val_metric(self) -> np.ndarray:
        return self._val[: self.evals_done, 2]

    def kept_validation(self) -> tuple[float, float] | None:
        """``(loss, metric)`` on the validation set of the weights the model holds: those of
        ``weights_step`` when training kept earlier weights, else the last validation (None
        when there was none)."""
        if self.weights_val is not None:
            return self.weights_val
        if not self.evals_done:
            return None
        return float(self.val_loss[-1]), float(self.val_metric[-1])

    @property
    def probe_step(self) -> np.ndarray:
        return self._probe_step[: self.probes_kept]

    @property
    def probe_grad(self) -> np.ndarray:
        return self._probe_grad[: self.probes_kept]

    @property
    def has_snapshots(self) -> bool:
        """Whether every kept probe after the first has its weights (False for a history read
        from a run file written before snapshots existed)."""
        return self._weights is not None and len(self._weights) == max(self.probes_kept - 1, 0)

    def snapshot_weights(self, index: int) -> np.ndarray:
        """The weights of probe ``index`` (not 0: step 0's are rebuilt from the config)."""
        if not self.has_snapshots or not 1 <= index < self.probes_kept:
            raise IndexError(f"no stored weights for probe {index}")
        return self._weights[index - 1]

    @property
    def snapshot_nbytes(self) -> int:
        return sum(w.nbytes for w in self._weights or ())

    @property
    def nbytes(self) -> int:
        return self.snapshot_nbytes + sum(
            a.nbytes for a in (self._loss, self._metric, self._grad_norm, self._clipped,
                               self._val, self._probe_grad, self._probe_step))

    # ---- live mirroring (a run trained in another process, watched from this one) ----
    def delta(self, since_steps: int, since_evals: int, since_probes_seen: int = -1) -> dict:
        """What was recorded after ``since_steps`` steps and ``since_evals`` validations: the
        per-step and per-validation rows, and, when a probe was seen after
        ``since_probes_seen``, the kept probe rows (all of them: thinning may have moved
        them; a few kilobytes) without their weights."""
        n, m = self.steps_done, self.evals_done
        delta = {"steps": (since_steps, self._loss[since_steps:n].copy(),
                           self._metric[since_steps:n].copy(),
                           self._grad_norm[since_steps:n].copy(),
                           self._clipped[since_steps:n].copy()),
                 "evals": (since_evals, self._val[since_evals:m].copy())}
        if self._probes_seen > since_probes_seen >= -1 and self.probes_kept:
            delta["probes"] = (self._probes_seen, self.probe_step.copy(),
                               self.probe_grad.copy())
        return delta

    def extend(self, delta: dict) -> None:
        """Apply a ``delta`` of a history with the same shape (deltas arrive in order)."""
        start, loss, metric, grad_norm, clipped = delta["steps"]
        end = start + len(loss)
        self._loss[start:end], self._metric[start:end] = loss, metric
        self._grad_norm[start:end], self._clipped[start:end] = grad_norm, clipped
        first_eval, val = delta["evals"]
        self._val[first_eval:first_eval + len(val)] = val
        if "probes" in delta:
            seen, steps, grads = delta["probes"]
            kept = min(len(steps), self.capacity)
            self._probe_step[:kept], self._probe_grad[:kept] = steps[:kept], grads[:kept]
            self._probes_seen, self.probes_kept = seen, kept
        # counters last: a reader in another thread never sees a row that is not written yet
        self.evals_done = max(self.evals_done, first_eval + len(val))
        self.steps_done = max(self.steps_done, end)

    # ---- (de)serialisation for run files ----
    ARRAYS = ("_loss", "_metric", "_grad_norm", "_clipped", "_val", "_probe_grad", "_probe_step")
    COUNTERS = ("steps_done", "evals_done", "probes_kept", "probe_stride", "_probes_seen",
                "stop_reason", "best_step")
    # counters that run files written before them lack (they read as None)
    OPTIONAL_COUNTERS = ("weights_step", "weights_val")

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        """Arrays and counters for a run file; ``snapshots`` (``[kept - 1, n_params]``) only
        when the history has them."""
        arrays = {name.lstrip("_"): getattr(self, name) for name in self.ARRAYS}
        if self.has_snapshots and self.n_params:
            arrays["snapshots"] = (np.stack(self._weights) if self._weights else
                                   np.zeros((0, self.n_params), dtype=np.float32))
        return arrays, {name.lstrip("_"): getattr(self, name)
                        for name in self.COUNTERS + self.OPTIONAL_COUNTERS}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], counters: dict) -> History:
        history = cls.__new__(cls)
        for name in cls.ARRAYS:
            setattr(history, name, arrays[name.lstrip("_")])
        for name in cls.COUNTERS:
            setattr(history, name, counters[name.lstrip("_")])
        for name in cls.OPTIONAL_COUNTERS:
            setattr(history, name, counters.get(name))
        if isinstance(history.weights_val, list):  # JSON has no tuples
            history.weights_val = tuple(history.weights_val)
        snapshots = arrays.get("snapshots")
        if snapshots is not None and (not isinstance(snapshots, np.ndarray) or
                                      snapshots.ndim != 2 or snapshots.dtype != np.float32):
            raise ValueError("the run file's snapshots have the wrong shape or type")
        history._weights = None if snapshots is None else list(snapshots)
        history.n_params = 0 if snapshots is None else int(snapshots.shape[1])
        return history
