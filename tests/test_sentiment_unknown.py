"""An unknown word is not "nothing at all" (issue 19): it is read as ``<unk>``, a zero word
vector, but the step still runs, and the model's state and answer change. Measured here with
the real trained sentiment model through its fused modules, with token ids built by hand, and
the Sentiment page's words checked against those numbers (AppTest)."""

from __future__ import annotations

import functools

import torch

from rnnviz import RunConfig, train
from rnnviz.core.sentiment import PAD_ID, UNK_ID, WORD_TO_ID
from tests.apptest import open_app

WITH = "the acting was never very zorp boring"
WITHOUT = "the acting was never very boring"


@functools.cache
def _run():
    return train(RunConfig(task="sentiment", device="cpu"))  # the page's default: an LSTM


def _last_state_and_p(model, words: list[str], seq_len: int) -> tuple[torch.Tensor, float]:
    """h after the last word and P(positive), by the fused LSTM on ids padded in front here."""
    ids = [WORD_TO_ID.get(w, UNK_ID) for w in words]
    ids = torch.tensor([[PAD_ID] * (seq_len - len(ids)) + ids])
    with torch.no_grad():
        out, _ = model.rnn(model.embedding(ids))
        return out[0, -1], float(torch.softmax(model.head(out[0, -1]), dim=-1)[1])


def test_an_unknown_word_moves_the_state_and_the_answer():
    run = _run()
    seq_len = run.config.seq_len
    with_h, with_p = _last_state_and_p(run.model, WITH.split(), seq_len)
    without_h, without_p = _last_state_and_p(run.model, WITHOUT.split(), seq_len)
    assert float((with_h - without_h).norm()) > 0.3
    assert abs(with_p - without_p) > 1e-3  # 99.6% against 100.0% on the page
    # and at the end of the sentence, where it is the last step the answer is read from
    end_h, _ = _last_state_and_p(run.model, [*WITHOUT.split(), "zorp"], seq_len)
    assert float((end_h - without_h).norm()) > 0.3


def test_the_page_says_the_step_still_runs_and_what_the_word_changed():
    run = _run()
    seq_len = run.config.seq_len
    _, with_p = _last_state_and_p(run.model, WITH.split(), seq_len)
    _, without_p = _last_state_and_p(run.model, WITHOUT.split(), seq_len)
    at = open_app(timeout=120)
    at.session_state["run"] = run
    at.switch_page("pages/sentiment.py").run()
    box = next(t for t in at.text_input if t.key == "sentiment_text")
    box.set_value(WITH).run()
    assert not at.exception
    warning = next(w.value for w in at.warning if "<unk>" in w.value)
    assert "nothing at all" not in warning and "the step still runs" in warning
    assert (f"with them it says P(positive) {with_p:.1%}, without them {without_p:.1%}"
            in warning)
