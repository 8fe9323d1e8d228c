"""Mathematics in the pages' words is rendered: every markdown, caption, notice and tooltip
string that the pages produce on real small runs writes its symbols inside ``$...$``
(Streamlit's KaTeX) or as plain unicode, never as raw LaTeX or ASCII subscripts such as
``h_{t-1}`` or ``∂h_t/∂h_{t-1}``; dollar signs pair up; and the sweep's verdict names its
length as "T = 20", not "T 20"."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from rnnviz.core.config import RunConfig
from rnnviz.core.train import train
from rnnviz.studies.lessons import LESSONS
from tests.apptest import TINY, press
from tests.conftest import ROOT

# raw mathematics outside $...$: a LaTeX command, a braced or ASCII subscript or superscript
RAW = re.compile(r"\\[A-Za-z]+|(?<![\w\\])[A-Za-zσρφθ][_^][A-Za-z0-9({]|[_^]\{")
# what is not prose: code spans and blocks, display and inline math, link targets
NOT_PROSE = re.compile(r"```.*?```|`[^`]*`|\$\$.*?\$\$|(?<!\\)\$.+?(?<!\\)\$|\]\([^)]*\)",
                       re.DOTALL)
# Home is rewritten on the classroom branch, whose text writes its symbols as $h_t$ already
PAGES = ["playground", "hidden_states", "gates", "gradients", "step_through", "compare",
         "forecast", "text", "sentiment", "lessons"]


WIDGETS = ("slider", "select_slider", "number_input", "selectbox", "toggle", "checkbox",
           "radio", "segmented_control", "button", "text_input")  # a help tooltip each


def raw_math(text: str) -> list[str]:
    """The pieces of ``text`` that would show as raw mathematics in Streamlit's markdown."""
    return [m.group(0) for m in RAW.finditer(NOT_PROSE.sub(" ", text))]


def unpaired_dollars(text: str) -> bool:
    """An odd number of unescaped ``$`` outside code: KaTeX would swallow the text between."""
    prose = re.sub(r"```.*?```|`[^`]*`", " ", text, flags=re.DOTALL)
    return len(re.findall(r"(?<!\\)\$", prose)) % 2 == 1


def page_texts(at: AppTest) -> list[str]:
    texts = [e.value for kind in ("markdown", "caption", "info", "warning", "error",
                                  "success") for e in at.get(kind)]
    texts += [e.proto.label for e in at.get("expandable")]
    texts += [e.proto.help for kind in WIDGETS for e in at.get(kind)]  # the tooltips
    return [t for t in texts if t]


def test_the_detector_sees_what_the_issue_saw():
    assert raw_math("captions show raw h_{t-1} and ∂h_t/∂h_{t-1}") == ["h_{", "h_t", "h_{"]
    assert raw_math(r"the Jacobian $\partial h_t/\partial h_{t-1}$ of W_hh") == ["W_h"]
    assert raw_math("`probe_every`, seq_len, [page](pages/hidden_states.py), $x_t$") == []
    assert unpaired_dollars("costs $5") and not unpaired_dollars(r"costs \$5, or $x_t$")


@pytest.fixture(scope="module")
def runs():
    return {cell: train(RunConfig(cell=cell, task="adding", **TINY, device="cpu"))
            for cell in ("rnn", "lstm", "gru")}


def _scan(at: AppTest, where: str, problems: list[str]) -> None:
    assert not at.exception, (where, at.exception)
    for text in page_texts(at):
        raw = raw_math(text)
        if raw or unpaired_dollars(text):
            problems.append(f"{where}: {raw or 'unpaired $'} in {text[:160]!r}")


def test_every_page_renders_its_mathematics(runs):
    problems = []
    for cell, run in runs.items():
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.session_state["run"] = run
        at.run()
        for page in PAGES:
            at.switch_page(f"pages/{page}.py").run()
            _scan(at, f"{page} ({cell})", problems)
        at.switch_page("pages/step_through.py").run()
        at.segmented_control(key="st_mode").set_value("Backward").run()
        _scan(at, f"step_through backward ({cell})", problems)
    for key in LESSONS:  # each lesson's notes: what to look at, the question, explanations
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["lesson"] = key
        at.run()
        at.switch_page("pages/lessons.py").run()
        _scan(at, f"lesson {key}", problems)
    assert not problems, "\n".join(dict.fromkeys(problems))


@pytest.mark.parametrize("task, param, words", [("adding", "seq_len", "sequence length T = "),
                                                ("copy", "lag", "copy lag = ")])
def test_the_sweep_verdict_says_T_equals(task, param, words):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in {**TINY, "task": task}.items():
        at.query_params[key] = str(value)
    at.run()
    at.switch_page("pages/compare.py").run()
    at.radio(key="sweep_param").set_value(param)
    at.text_input(key="sweep_lengths").set_value("4" if param == "seq_len" else "3")
    at.number_input(key="sweep_steps").set_value(10)
    at.multiselect(key="sweep_cells").set_value(["rnn"])
    press(at, "Run the sweep")
    assert not at.exception
    sweep = at.session_state["compare_sweep"]
    point = sweep.breaking_point("rnn")
    assert point == sweep.lengths[0]  # ten steps of training stay below halfway to perfect
    verdict = next(m.value for m in at.markdown if "halfway to perfect" in m.value)
    assert f"falls below halfway to perfect at {words}{point}" in verdict


def test_a_typed_dollar_stays_a_dollar():
    """The sentiment page names the words it does not know: "$5 or $6" would pair its dollar
    signs into one formula; escaped, they read as typed."""
    run = train(RunConfig(task="sentiment", cell="lstm", hidden_size=8, steps=10,
                          eval_every=10, probe_every=10, device="cpu"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["run"] = run
    at.run()
    at.switch_page("pages/sentiment.py").run()
    at.text_input(key="sentiment_text").set_value("the film costs $5 or $6").run()
    assert not at.exception
    notice = next(w.value for w in at.warning if "lexicon" in w.value)
    assert r"**\$5**" in notice and r"**\$6**" in notice and not unpaired_dollars(notice)
