"""Text: a character model writes text; each character coloured by a hidden unit; a unit finder."""

from rnnviz.app.entry import via_app

via_app()


import streamlit as st

from rnnviz import charts
from rnnviz.app import classroom, state, views
from rnnviz.core.tasks import TASKS, load_corpus
from rnnviz.studies.features import FEATURES, rank_units
from rnnviz.studies.generate import generate_text, read_text
from rnnviz.studies.lessons import WRITER

TOP_UNITS = 10
FINDER_EXCERPT = 640  # characters of the notebook drawn in the finder's grid
# A character grid needs about 14 px a column for its 15 px monospace letters, plus its axis and
# colour bar: in a narrower window (a phone's 358 px gave 48 columns 5 px each, the letters drawn
# over each other) the grid keeps that width and scrolls sideways in its box. Streamlit sizes a
# chart to its container, so the width goes on a container around it, not on the chart.
GRID_MIN_PX = charts.GRID_COLUMNS * 14 + 170
GRID_CSS = (f"<style>[class*='st-key-scroll_x_'] {{ overflow-x: auto; }}"
            f"[class*='st-key-grid_width_'] {{ min-width: {GRID_MIN_PX}px; }}</style>")


def character_grid(figure, how_to_read: str, key: str) -> None:
    """``views.chart`` for a character grid, in a box that scrolls sideways where the window is
    narrower than the grid's columns need (``phone.scripts`` lets a keyboard scroll it too)."""
    with st.container(key=f"scroll_x_{key}"), st.container(key=f"grid_width_{key}"):
        views.chart(figure, key=key)
    st.caption(how_to_read)


st.title("Text: writing, and reading the units")
st.markdown(
    "A model trained on the next-character task has read a lighthouse keeper's notebook one "
    "character at a time. Here it **writes**: it reads a seed prompt, then samples a "
    "character, reads it back, and goes on. Colour every character by one hidden unit and "
    "look for units that mean something.")
classroom.explanations(["text"])
st.html(GRID_CSS)

run = classroom.require_task_run("text", WRITER, "a text model (an LSTM)")
if run is not None:
    task = TASKS["text"]
    cfg = run.config
    hidden = cfg.hidden_size
    lstm = cfg.cell == "lstm"

    corpus = load_corpus()
    reading = state.cached(run, "read-corpus", lambda: read_text(run.model, corpus))
    first_feature = next(iter(FEATURES.values()))
    suggested = rank_units(reading.hidden, first_feature.compute(corpus), top=1)[0].unit

    st.subheader("Write")
    if not 0 <= st.session_state.get("text_unit", 0) < hidden:  # a smaller model than before
        st.session_state.pop("text_unit")
    # open on the unit that best tracks the finder's first feature: a colouring that means
    # something from the start
    st.session_state.setdefault("text_unit", suggested)
    with st.container(key="text_controls"):
        top = st.columns([3, 1, 1], vertical_alignment="bottom")
        prompt = top[0].text_input("Seed prompt", "Monday. ", key="text_prompt",
                                   help="The model reads this first, then continues.")
        length = top[1].slider("Characters", 20, 600, 240, step=20, key="text_length")
        seed = top[2].number_input("Seed", 0, 1_000_000, 0, key="text_seed",
                                   help="Fixes the random draws: the same seed, prompt and "
                                        "temperature give the same text.")
        middle = st.columns([2, 1, 1], vertical_alignment="bottom")
        temperature = middle[0].slider(
            "Temperature", 0.0, 2.0, 0.7, step=0.05, key="text_temperature",
            help="0 always takes the most likely character; 1 samples the model's own "
                 "probabilities; above 1 flattens them (more surprising, more mistakes).")
        unit = middle[1].number_input("Colour by unit", 0, hidden - 1, key="text_unit",
                                      help=f"Which of the {hidden} hidden units colours the "
                                           "characters. It opens on the unit that best tracks "
                                           f"“{first_feature.label}”; the finder below "
                                           "suggests others.")
        kinds = ["hidden h_t", "cell c_t"] if lstm else ["hidden h_t"]
        if st.session_state.get("text_value") not in kinds:
            st.session_state["text_value"] = kinds[0]
        kind = middle[2].selectbox("Value", kinds, key="text_value",
                                   help="h_t is squashed into [-1, 1]; an LSTM's cell state "
                                        "c_t is the unsquashed memory behind it.")

    try:
        generation = state.cached(
            run, f"generate-{prompt!r}-{length}-{temperature}-{seed}",
            lambda: generate_text(run.model, prompt, length, temperature, seed))
    except ValueError as err:
        st.warning(f"The model can't read this prompt: {err}. It only knows the characters "
                   "of its notebook.", icon=":material/text_fields:")
        generation = None
    if generation is not None:
        use_cell = kind.startswith("cell")
        values = (generation.cell if use_cell else generation.hidden)[:, unit]
        value_name = "c_t" if use_cell else "h_t"
        st.markdown(f"> {generation.generated.replace(chr(10), '  ' + chr(10) + '> ')}")
        character_grid(charts.text_activation_grid(
            generation.text, values, generation.next_probs, task.vocab,
            f"Prompt and generated text, coloured by unit {unit}'s {value_name} "
            f"(temperature {temperature:g}, seed {seed})", value_name=value_name,
            bounded=not use_cell, prompt_length=len(prompt)),
            "Each cell is one character (␣ a space, ↵ a line break), coloured by the unit's "
            "value just after reading it: red positive, blue negative. Hover a character for "
            "the model's top five guesses for the next one.", key="text_grid")

    st.subheader("Find units that track something")
    with st.container(key="finder_controls"):
        left, right = st.columns([2, 1], vertical_alignment="bottom")
        feature_key = left.selectbox("Feature", list(FEATURES),
                                     format_func=lambda k: FEATURES[k].label,
                                     key="finder_feature")
        finder_kinds = ["hidden h_t", "cell c_t"] if lstm else ["hidden h_t"]
        finder_kind = right.selectbox("Value", finder_kinds, key="finder_value")
    feature = FEATURES[feature_key]
    states = reading.cell if finder_kind.startswith("cell") else reading.hidden
    value_name = "c_t" if finder_kind.startswith("cell") else "h_t"
    values = feature.compute(corpus)
    scores = rank_units(states, values, top=TOP_UNITS)
    best = scores[0]
    st.markdown(
        f"**{feature.label}**: {feature.describe}. Over the whole notebook "
        f"({len(corpus):,} characters), unit **{best.unit}** tracks it best (r = "
        f"{best.correlation:+.2f}). |r| near 1: the unit is close to a copy of the feature; "
        "near 0: unrelated.")

    def use_unit(chosen: int = best.unit) -> None:
        st.session_state["text_unit"] = chosen
        st.session_state["text_value"] = finder_kind

    left, right = st.columns([2, 3], gap="medium")
    with left:
        views.chart(charts.unit_ranking_chart(scores, feature.label, chosen=best.unit),
                    "The ten units with the strongest correlation, positive (rises with the "
                    "feature) or negative (falls).", key="finder_ranking")
        st.button(f"Colour the generated text by unit {best.unit}", on_click=use_unit,
                  icon=":material/palette:", key="finder_use")
    with right:
        views.chart(charts.feature_and_unit(corpus, values, states[:, best.unit],
                                                 best.unit, feature.label, value_name),
                    "The feature (grey) and the unit (line) along the start of the notebook.",
                    key="finder_trace")
    excerpt = corpus[:FINDER_EXCERPT]
    character_grid(charts.text_activation_grid(
        excerpt, states[: len(excerpt), best.unit], reading.next_probs[: len(excerpt)],
        task.vocab, f"The notebook, coloured by unit {best.unit}'s {value_name}",
        value_name=value_name, bounded=value_name == "h_t"),
        "The model reading the real text. Hover for its guesses of the next character.",
        key="finder_grid")
