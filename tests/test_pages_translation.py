"""The Translation page through Streamlit's AppTest: its sections in order, and the numbers it
draws equal to the engine's own for the session's translation run (the attention of the
validation example, a typed source through rnnviz.translate, the encoder gradients), and a bad
typed source answered with a message, not a traceback."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rnnviz
from rnnviz.core.config import RunConfig
from rnnviz.studies import translation
from tests.apptest import decode_plotly, open_app


@pytest.fixture(scope="module")
def dates_run():
    return rnnviz.train(RunConfig(task="dates", seq_len=20, hidden_size=16, attention="dot",
                                  steps=40, eval_every=20, probe_every=20, device="cpu"))


def _figures(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _figure(at, title_start: str) -> dict:
    return next(f for f in _figures(at) if f["layout"]["title"]["text"].startswith(title_start))


def _page(run):
    at = open_app(timeout=120)
    at.session_state["translation_run"] = run
    at.switch_page("pages/translation.py").run()
    assert not at.exception, at.exception
    return at


def test_translation_page_draws_the_runs_numbers(dates_run):
    at = _page(dates_run)
    assert [h.value for h in at.subheader] == [
        "Attention on a validation example", "Translate your own",
        "The gradient through the encoder",
        "The bottleneck: longer sources, no attention against attention"]
    x, y, _ = translation.aligned_probe(dates_run.config)
    view = translation.attention_view(dates_run.model, x, y, 40)
    shown = _figure(at, "Attention at training step 40")
    np.testing.assert_allclose(np.asarray(decode_plotly(shown["data"][0]["z"]), dtype=float),
                               view.weights, atol=1e-6)
    share, _ = translation.alignment_share(view.weights, translation.true_positions(
        dates_run.config))
    assert f"{share:.0%}" in shown["layout"]["title"]["text"]
    forced = "".join(view.forced[: view.forced.index("<eos>")] if "<eos>" in view.forced
                     else view.forced)
    assert any(f"(teacher forcing): `{forced}`" in m.value and
               f"(free running): `{''.join(view.output)}`" in m.value for m in at.markdown)
    states = translation.hidden_states(dates_run.model, x, y)
    drawn = _figure(at, "Encoder and decoder states")
    np.testing.assert_allclose(np.asarray(decode_plotly(drawn["data"][0]["z"]), dtype=float),
                               states.encoder.T, atol=1e-6)
    typed = rnnviz.translate(dates_run, "7 March 2021")
    assert any(f"`{typed.text}`" in m.value for m in at.markdown)
    gradients = _figure(at, "Gradient reaching")
    np.testing.assert_allclose(np.asarray(decode_plotly(gradients["data"][0]["y"]), dtype=float),
                               dates_run.history.probe_grad[-1], rtol=1e-6)


def test_the_beam_is_shown_against_greedy(dates_run):
    at = _page(dates_run)
    at.number_input(key="tr_beam").set_value(3).run()
    assert not at.exception, at.exception
    wide, greedy = (rnnviz.translate(dates_run, "7 March 2021", beam=b) for b in (3, 1))
    assert any(f"`{wide.text}`" in m.value and "beam of 3" in m.value for m in at.markdown)
    assert any(f"Greedy decoding: `{greedy.text}`" in m.value for m in at.markdown)
    table = at.dataframe[0].value
    assert len(table) == sum(len(step) for step in wide.tree)
    assert table["log-probability"].iloc[0] == pytest.approx(wide.tree[0][0][1])
    # the tree: one node per hypothesis the search kept (and the root), with its score
    tree = _figure(at, "The beam at every step")
    nodes = next(t for t in tree["data"] if t.get("name") == "hypotheses kept")
    want = [0.0] + [score for step in wide.tree for _, score in step]
    np.testing.assert_allclose(np.asarray(decode_plotly(nodes["customdata"]), dtype=float),
                               want, atol=1e-12)
    assert f"beam {wide.log_prob:.2f}, greedy {greedy.log_prob:.2f}" in tree["layout"]["title"][
        "text"]


def test_a_bad_source_gets_a_message(dates_run):
    at = _page(dates_run)
    at.text_input(key="tr_source_dates").set_value("7 März 2021").run()
    assert not at.exception
    assert any("does not know 'z', 'ä'" in e.value for e in at.error)
    at.text_input(key="tr_source_dates").set_value("").run()
    assert any("the source is empty" in e.value for e in at.error)


def test_playground_and_compare_do_not_offer_translation_tasks():
    """A translation model has no cell trace for the Playground's board and the inside pages:
    its tasks are chosen on the Translation page only."""
    at = open_app(timeout=120)
    at.switch_page("pages/playground.py").run()
    task = next(w for w in at.selectbox if w.key == "task")
    assert "Sentiment of a sentence" in task.options
    assert not {"Reverse a sequence", "Dates to ISO", "English to French"} & set(task.options)
    at.switch_page("pages/compare.py").run()
    compare_task = next(w for w in at.selectbox if w.key == "cmp_task")
    assert "Adding problem" in compare_task.options
    assert not {"Reverse a sequence", "Dates to ISO", "English to French"} & set(
        compare_task.options)


def test_the_learner_chooses_the_sentence_length():
    """en_fr's sentences have the length the learner sets: the job trains that config."""
    at = open_app(timeout=120)
    at.switch_page("pages/translation.py").run()
    at.selectbox(key="tr_task").set_value("en_fr").run()
    at.number_input(key="tr_len_en_fr").set_value(6).run()
    at.number_input(key="tr_steps_en_fr").set_value(50).run()
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception, at.exception
    job = at.session_state["translation_job"]
    assert (job.cfg.task, job.cfg.seq_len, job.cfg.steps) == ("en_fr", 6, 50)
    job.detach(timeout=0)  # the last watcher leaves: it stops


def test_classroom_mode_draws_the_translation_figures_at_projector_size(dates_run):
    """A projector's back row reads every figure of the page as it reads the other pages' (the
    page drew plotly's own 12 px ticks and legends in classroom mode)."""
    from rnnviz.app.classroom import TICK_FONT_PX

    at = open_app({"classroom": "1"}, timeout=120)
    at.session_state["translation_run"] = dates_run
    at.switch_page("pages/translation.py").run()
    assert not at.exception, at.exception
    figures = _figures(at)
    assert len(figures) >= 4
    for figure in figures:
        assert figure["layout"]["xaxis"]["tickfont"]["size"] == TICK_FONT_PX, (
            figure["layout"]["title"]["text"])


def test_a_link_opens_the_page_on_its_configuration_and_the_page_keeps_it_in_the_url():
    """Seq2seq runs are runs like any other, their fields bound to the URL: a shared link sets
    the page's choosers (a length outside the task's range clamped), the page writes its
    choice back into the address, and a bad value gets the app's message, not a traceback."""
    at = open_app({"task": "en_fr", "attention": "dot", "seq_len": "9", "steps": "700"})
    at.switch_page("pages/translation.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="tr_task").value == "en_fr"
    assert at.selectbox(key="tr_attention").value == "dot"
    assert at.number_input(key="tr_len_en_fr").value == 9
    assert at.number_input(key="tr_steps_en_fr").value == 700
    at.selectbox(key="tr_attention").set_value("none").run()
    assert at.query_params["attention"] == ["none"] or at.query_params["attention"] == "none"
    assert at.query_params["task"] in (["en_fr"], "en_fr")

    bad = open_app({"task": "dates", "attention": "sideways"})
    bad.switch_page("pages/translation.py").run()
    assert not bad.exception
    assert any("attention=sideways" in w.value for w in bad.warning)
    assert bad.selectbox(key="tr_task").value == "dates"
