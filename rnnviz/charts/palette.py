"""The one colour language of every chart: a fixed colour per meaning, in one table.

A colour here means one thing wherever it is drawn. The identities a learner carries from page
to page (a cell type, a gate, a data split) each have a colour no other identity has; the task
roles (input, target, prediction, right, wrong) have their own; an ordered quantity (a sequence
length) takes its shade from the time scale. Signed values use the diverging scale only
(``DIVERGING`` in ``style``), never one of these colours.

The hues are Okabe & Ito's (2008) and Paul Tol's colour-blind-safe sets, darkened where a line
on white needed a contrast of at least 3:1 (WCAG 2.1, non-text contrast); ``contrast_on_white``
is the measure ``tests/test_palette.py`` holds every line colour to.
"""

from __future__ import annotations

import math
import re

from plotly.colors import sample_colorscale

# ---------------------------------------------------------------- identities (never shared)

CELL_COLORS = {"rnn": "#C98300",   # Okabe-Ito orange, darkened for contrast
               "lstm": "#009E73",  # Okabe-Ito bluish green
               "gru": "#CC79A7"}   # Okabe-Ito reddish purple
TRAIN_COLOR = "#0072B2"            # Okabe-Ito blue: the training split, and the run's own
MEASURED_COLOR = TRAIN_COLOR       # measured series (a gradient, a norm) drawn alone
VALIDATION_COLOR = "#1A1A1A"       # ink: the held-out split, dots on a line
# PyTorch's gate names. The gates that keep memory (LSTM f, GRU z) share one colour, and so do
# the two candidates (LSTM g, GRU n): one role, one colour, never on one chart together.
GATE_COLORS = {"i": "#3A9BB0",  # teal blue: Okabe-Ito's sky darkened, clear of the blue
               "f": "#332288",  # Tol indigo: the memory gate
               "g": "#999933",  # Tol olive: the candidate
               "o": "#882255",  # Tol wine
               "r": "#CC6677",  # Tol rose
               "z": "#332288",  # the GRU's memory gate, as f
               "n": "#999933"}  # the GRU's candidate, as g

# ---------------------------------------------------------------- task roles

INPUT_COLOR = "#8C8C8C"        # what the network read (grey: given, not learned)
INPUT_FAINT_COLOR = "#C8C8C8"  # inputs that do not count (unmarked values and bits)
MARKED_COLOR = INPUT_COLOR     # inputs that count (marked values and bits): plain input
NO_TARGET_COLOR = INPUT_FAINT_COLOR  # a prediction at a step with nothing to predict
TARGET_COLOR = "#785EF0"       # the right answer (IBM violet)
PREDICTION_COLOR = "#D55E00"   # what the network answered (Okabe-Ito vermillion)
RIGHT_COLOR = "#117733"        # a prediction that matches its target (Tol green)
ALARM_COLOR = "#DC267F"        # out of bounds: a wrong prediction, a clipped gradient, a
WRONG_COLOR = ALARM_COLOR      # forecast leaving its band (IBM magenta: not the red of
CLIPPED_COLOR = ALARM_COLOR    # "positive" on the diverging scale)
LAST_LOSS_COLOR = "#8C510A"    # the gradient of the last step's loss alone (BrBG brown)

# ---------------------------------------------------------------- neutrals and marks

REFERENCE_COLOR = "#666666"    # chance levels, theory lines, thresholds: always dashed/dotted
INK = "#1A1A1A"                # outlines and emphasis (the validation split's colour too:
                               # an outline is never a data series, so they never meet)
OTHER_COLOR = "#BBBBBB"        # everything not singled out (the other units)
TEXT_COLOR = "#2A3F5F"         # plotly_white's own text colour (the diagram's labels)
NOTE_COLOR = "#777777"         # a grey note in an empty plot
ARROW_COLOR = "#444444"        # the diagram's arrows and their labels
HIGHLIGHT = "#222222"          # the outline of the selected step or unit
PAPER = "#FFFFFF"
FADE = "rgba(255,255,255,0.6)"  # a veil over what is not reached yet
TRANSPARENT = "rgba(0,0,0,0)"  # a marker or label drawn for its hover or outline only
# a path's start and end (PCA trajectories): shapes both plotly.js 2D and 3D markers know, in
# the colours of the first and last step on the time scale the path is drawn in
MARKERS = {"start": "diamond", "end": "square"}
START_COLOR, END_COLOR = "#440154", "#FDE725"  # Viridis at 0 and at 1
SINGLED_OUT_COLOR = "#EECC66"  # the unit a lesson names, as with a highlighter (ink outline)

# ---------------------------------------------------------------- the diverging scale's ends

# RdBu_r's ends, for marks that show the sign of one number (a correlation bar), and its
# softer steps (the step-through's Jacobian bars: above 1 grows, below 1 shrinks)
POSITIVE_COLOR, NEGATIVE_COLOR = "#B2182B", "#2166AC"
POSITIVE_SOFT, NEGATIVE_SOFT = "#D6604D", "#4393C3"

# ---------------------------------------------------------------- colours with a local meaning

# hidden units and CSV columns, whose meaning the chart's legend gives: altair's default
# scheme, so the brushable chart and plotly agree
UNIT_COLORS = ("#4C78A8", "#F58518", "#E45756", "#72B7B2", "#54A24B", "#EECA3B", "#B279A2",
               "#FF9DA6", "#9D755D", "#BAB0AC")
# a lesson's variants ("no clipping", "identity"), the kinds of parameters: the colours
# farthest (CIE76 ΔE > 23) from every identity and role above, since they share pages with them
SERIES_COLORS = ("#7F3B08", "#01665E", "#9D755D", "#6A51A3")

# sequence lengths are time: a fixed shade of the sequential (time) scale per length, on a log
# scale from LENGTH_RANGE[0] to [1] steps, stopping before Viridis' pale yellow end
LENGTH_SCALE = "Viridis"
LENGTH_RANGE = (10, 100)  # the lengths lessons compare; shorter and longer take the ends
LENGTH_SPAN = (0.0, 0.62)

CELL_NAMES = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}


def length_color(length: int) -> str:
    """The fixed colour of a sequence length T (the same T, the same colour, on every chart)."""
    low, high = LENGTH_RANGE
    share = (math.log(min(max(int(length), low), high)) - math.log(low)) / math.log(high / low)
    position = LENGTH_SPAN[0] + share * (LENGTH_SPAN[1] - LENGTH_SPAN[0])
    rgb = sample_colorscale(LENGTH_SCALE, [position], colortype="tuple")[0]
    return "#" + "".join(f"{round(255 * c):02X}" for c in rgb)


_LENGTH_LABEL = re.compile(r"\bT\s*=\s*(\d+)\b")
_SPLIT_WORDS = {"training": TRAIN_COLOR, "validation": VALIDATION_COLOR}


def series_color(label: str, index: int) -> str:
    """The colour of a labelled line: its cell's (``"lstm"``, ``"GRU (seed 1)"``, ``"vanilla
    RNN"``), its sequence length's (``"T = 50"``), its split's, else the ``index``-th nominal
    colour (the label says what it means)."""
    words = "".join(c if c.isalnum() else " " for c in label.lower()).split()
    for cell, color in CELL_COLORS.items():
        if cell in words:
            return color
    length = _LENGTH_LABEL.search(label)
    if length:
        return length_color(int(length.group(1)))
    for word, color in _SPLIT_WORDS.items():
        if word in words:
            return color
    return SERIES_COLORS[index % len(SERIES_COLORS)]


def rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i: i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def contrast_on_white(hex_color: str) -> float:
    """WCAG 2.1 contrast ratio of a colour against white (1 to 21)."""
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(int(hex_color[i: i + 2], 16)) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


# every named meaning and its colour: the table docs/ARCHITECTURE.md shows and the tests read
MEANINGS: dict[str, str] = {
    **{f"cell {CELL_NAMES[c]}": color for c, color in CELL_COLORS.items()},
    "split training (and the run's measured series)": TRAIN_COLOR,
    "split validation": VALIDATION_COLOR,
    "gradient of the last step's loss alone": LAST_LOSS_COLOR,
    **{f"gate {name}": color for name, color in GATE_COLORS.items()},
    "input": INPUT_COLOR, "input that does not count": INPUT_FAINT_COLOR,
    "target": TARGET_COLOR, "singled-out unit": SINGLED_OUT_COLOR,
    "start of a path (t = 0)": START_COLOR, "end of a path": END_COLOR,
    "prediction": PREDICTION_COLOR, "prediction right": RIGHT_COLOR,
    "alarm (prediction wrong, gradient clipped, out of band)": ALARM_COLOR,
    "reference (chance, theory, threshold)": REFERENCE_COLOR,
    "other units, a path's line": OTHER_COLOR,
    "outlines and emphasis (never a data series)": INK,
}
