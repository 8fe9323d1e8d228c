"""Helpers the AppTest suites share: open the app (with a query string), set config widgets by
field name, press a button, wait for a run, and read plotly's JSON back as numbers."""

from __future__ import annotations

import base64
import re
import time

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

TINY = {"seq_len": 8, "hidden_size": 6, "steps": 30, "eval_every": 10, "probe_every": 10}


def open_app(query: dict | None = None, timeout: float = 90) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def set_widgets(at: AppTest, **values) -> None:
    """Config widgets are keyed by RunConfig field name. The task and the cell come first (and
    a rerun): the form shows only the fields that apply to them."""
    def widget(key):
        return next(w for kind in ("slider", "number_input", "selectbox") for w in at.get(kind)
                    if w.key == key)
    choosers = {k: values.pop(k) for k in ("task", "cell") if k in values}
    for key, value in choosers.items():
        widget(key).set_value(value)
    if choosers:
        at.run()
    for key, value in values.items():
        target = widget(key)
        low, high = getattr(target, "min", None), getattr(target, "max", None)
        # a browser refuses a number outside the field's range, and so does AppTest, silently
        # (the field keeps its value): a test asking for one would test another config
        in_range = ((low is None or value >= low) and (high is None or value <= high)
                    if isinstance(value, (int, float)) else True)
        assert in_range, f"{key}={value!r} is outside the field's range {low}..{high}"
        target.set_value(value)


def press(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click().run()


def wait_until(at: AppTest, done, timeout: float = 90, message: str = "timed out") -> None:
    deadline = time.time() + timeout
    while not done(at):
        assert time.time() < deadline, message
        time.sleep(0.2)
        at.run()


def wait_for_run(at: AppTest, timeout: float = 60):
    wait_until(at, lambda a: "run" in a.session_state and a.session_state["run"] is not None,
               timeout, "training did not finish")
    return at.session_state["run"]


def plain(text: str) -> str:
    """A chart's title or legend entry as one line of plain words: the charts wrap long ones
    with <br> (a subtitle's every line in its own <sup>)."""
    return re.sub(r"<[^>]+>", "", re.sub(r"\s*<br\s*/?>\s*", " ", text or ""))


def decode_plotly(value):
    """Plotly JSON with its base64 typed arrays ({"dtype", "bdata", "shape"}) turned back into
    numpy arrays, so assertions read plain numbers."""
    if isinstance(value, dict):
        if {"dtype", "bdata"} <= set(value):
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
            shape = value.get("shape")
            return array.reshape([int(n) for n in str(shape).split(",")]) if shape else array
        return {key: decode_plotly(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [decode_plotly(item) for item in value]
    return value
