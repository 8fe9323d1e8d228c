"""Sentiment: a model reads a sentence word by word; P(positive) after every word; the unit that
tracks the sentence's meaning; a bag of words for comparison."""

from rnnviz.app.entry import via_app

via_app()


import streamlit as st

from rnnviz import charts
from rnnviz.app import classroom, state, views
from rnnviz.core import sentiment
from rnnviz.studies.lessons import SENTIMENT
from rnnviz.studies.sentiment import (
    EXAMPLES,
    FEATURE_LABEL,
    bag_of_words,
    read_sentence,
    sentiment_units,
    without_unknown,
)

TOP_UNITS = 10
CHARS_PER_WORD = 16  # the text box's limit, per word the model can read

st.title("Sentiment: the decision forming, word by word")
st.markdown(
    "A model trained on the sentiment task reads a short review one word per step and, after "
    "the last word, says **positive** or **negative**. Apply its readout to the hidden state "
    "after *every* word and you see what it would answer if the sentence stopped there: the "
    "decision forming. Watch what \"not\" and \"but\" do to it.")
classroom.explanations(["gating"])

run = classroom.require_task_run("sentiment", SENTIMENT,
                                 "a sentiment model (an LSTM)")
if run is not None:
    cfg = run.config
    bound = cfg.seq_len
    st.session_state.setdefault("sentiment_text", EXAMPLES[1])

    def use_example(example: str) -> None:
        st.session_state["sentiment_text"] = example

    st.markdown("**Examples**")
    with st.container(horizontal=True, key="sentiment_examples"):
        for index, example in enumerate(EXAMPLES):
            st.button(example, key=f"sentiment_example_{index}", on_click=use_example,
                      args=(example,))
    text = st.text_input(
        "Sentence", key="sentiment_text", max_chars=CHARS_PER_WORD * bound,
        help=f"At most {bound} words (this model's sequence length), lower case or not; "
             "punctuation is ignored. Words outside the model's lexicon are flagged.")
    with st.expander("The words this model knows", icon=":material/dictionary:"):
        st.markdown(
            f"Subjects: {', '.join(sentiment.SUBJECTS)} · verbs: {', '.join(sentiment.VERBS)}"
            f" · negators: {', '.join(sentiment.NEGATORS)} · intensifiers: "
            f"{', '.join(sentiment.INTENSIFIERS)} · positive: {', '.join(sentiment.POSITIVE)}"
            f" · negative: {', '.join(sentiment.NEGATIVE)} · contrast: {sentiment.CONTRAST} · "
            f"neutral tails: {', '.join(sentiment.TAILS)}.")

    try:
        reading = read_sentence(run.model, text, bound)
    except ValueError as err:
        st.warning(f"The model can't read this: {err}.", icon=":material/text_fields:")
        reading = None
    if reading is not None:
        if reading.unknown:
            # a zero word vector is not "nothing at all": the step still runs (issue 19)
            left_out = without_unknown(run.model, reading, bound)
            compared = ("" if left_out is None else
                        f": with them it says P(positive) {reading.prediction:.1%}, without them "
                        f"{left_out:.1%}")
            st.warning(
                "Not in the model's lexicon: "  # a typed "$5" stays text, not the start of LaTeX
                + ", ".join(f"**{w}**".replace("$", r"\$") for w in reading.unknown)
                + ". It reads each one as `<unk>`, a word vector of zeros, so no meaning goes "
                "in; but the step still runs, and the biases and the recurrent weights move the "
                f"hidden state as on any step{compared}. They are marked with ? below.",
                icon=":material/help:")
        verdict = sentiment.LABELS[int(reading.prediction >= 0.5)]
        # two short numbers side by side, wrapping on a phone: one long value ("negative ·
        # P(positive) 12.3%") was cut to "negative · P(positive) …" at 390 px
        with st.container(horizontal=True, key="sentiment_answer"):
            st.metric("After the last word, the model says", verdict, width="content")
            st.metric("P(positive) after the last word", f"{reading.prediction:.1%}",
                      width="content")
        views.chart(charts.sentence_decision_chart(
            reading.words, reading.p_positive, reading.known,
            f"P(positive) after every word: the decision forming "
            f"({charts.CELL_NAMES[cfg.cell]})"),
            "Top: the words, each coloured by P(positive) just after reading it (red "
            "positive, blue negative, white undecided). Bottom: the same numbers as a line; "
            r"the last point is the model's answer. Each is the readout "
            r"$\operatorname{softmax}(W_{hy} h_t + b_y)$ "
            "applied to the hidden state after that word. Training only ever asks for the "
            "answer after the last word, so before the sentence has said anything (before its "
            "first adjective) the value means nothing.", key="sentiment_decision")

    units = state.cached(run, "sentiment-units", lambda: sentiment_units(run))
    best = units.best
    if reading is not None:
        views.chart(charts.unit_meaning_chart(
            reading.words, reading.hidden[:, best.unit], reading.meaning, reading.known,
            best.unit, best.correlation),
            f"The dotted steps are what the sentence means so far by the grammar's rule (+1 "
            f"positive, −1 negative, a gap while undecided: before the first adjective and "
            f"after \"but\"); the line is unit {best.unit}'s $h_t$ after each word.",
            key="sentiment_unit")

    st.subheader("The unit that tracks sentiment")
    st.markdown(
        f"For every hidden unit, the correlation between its $h_t$ after each word and "
        f"**{FEATURE_LABEL}** (+1 / −1), over the {units.positions:,} word positions of the "
        f"validation sentences where the meaning is decided. Unit **{best.unit}** tracks it "
        f"best (r = {best.correlation:+.2f}). |r| near 1: the unit is close to a copy of the "
        "sentence's meaning; near 0: unrelated.")
    views.chart(charts.unit_ranking_chart(units.scores[:TOP_UNITS], FEATURE_LABEL,
                                          chosen=best.unit),
                "The ten units with the strongest correlation, positive (rises with a "
                "positive meaning) or negative (falls).", key="sentiment_ranking")

    st.subheader("Word order is the task")
    bow = state.cached(run, "sentiment-bag-of-words", lambda: bag_of_words(cfg))
    kept = run.history.kept_validation()
    left, right = st.columns(2)
    if kept is not None:
        left.metric(f"This {charts.CELL_NAMES[cfg.cell]}, validation accuracy", f"{kept[1]:.1%}")
    right.metric("A bag of words, validation accuracy", f"{bow.val_accuracy:.1%}")
    st.caption(
        f"The bag of words is logistic regression on word counts, fitted on the same "
        f"{bow.sentences:,} training sentences: it knows which words occur, not in what order "
        f"(training accuracy {bow.train_accuracy:.1%}). Negators and \"but\" defeat it: "
        "\"good but boring\" and \"boring but good\" are the same bag of words.")
