"""Figure builders: engine and study objects in, plotly (and altair) figures out.

Pure functions, no Streamlit. One module per subject; ``style`` holds the one visual
language they share (scales, colours, axis names, the layout helper). The public names are
re-exported here, so a page writes ``charts.loss_curves(...)``.
"""

from rnnviz.charts.apps import (
    CANDIDATES,
    GRID_COLUMNS,
    GRID_ROW_PX,
    feature_and_unit,
    forecast_chart,
    measured_bars,
    parameter_count_chart,
    per_step_lines,
    text_activation_grid,
    unit_bars,
    unit_ranking_chart,
)
from rnnviz.charts.attention import (
    attention_matrix,
    beam_tree,
    bottleneck_chart,
    encoder_gradient_chart,
    states_chart,
)
from rnnviz.charts.compare import (
    cell_label,
    final_metric_chart,
    hidden_column_heatmap,
    live_compare_loss_chart,
    sweep_chart,
)
from rnnviz.charts.diagram import unrolled_diagram
from rnnviz.charts.gradients import (
    compare_gradient_chart,
    gradient_profile,
    parameter_grad_bars,
    probe_heatmap,
    saliency_chart,
    singular_value_chart,
)
from rnnviz.charts.inside import (
    gate_heatmap,
    gate_means,
    hidden_brush_chart,
    pca_trajectory,
    saturation_scatter,
    state_heatmap,
    unit_lines,
)
from rnnviz.charts.live import LIVE_HEIGHT, LIVE_MARGIN, live_board, live_figures
from rnnviz.charts.palette import (
    ALARM_COLOR,
    CELL_COLORS,
    CELL_NAMES,
    CLIPPED_COLOR,
    GATE_COLORS,
    INK,
    INPUT_COLOR,
    MARKERS,
    MEANINGS,
    MEASURED_COLOR,
    PREDICTION_COLOR,
    REFERENCE_COLOR,
    RIGHT_COLOR,
    SERIES_COLORS,
    TARGET_COLOR,
    TRAIN_COLOR,
    UNIT_COLORS,
    VALIDATION_COLOR,
    WRONG_COLOR,
    length_color,
    series_color,
)
from rnnviz.charts.sentiment import (
    distance_accuracy_chart,
    sentence_decision_chart,
    unit_meaning_chart,
)
from rnnviz.charts.sequences import sequence_panel
from rnnviz.charts.speech import confusion_figure, digits_panel, listening_figure
from rnnviz.charts.stepthrough import (
    FADE,
    FRAME_MS,
    HIGHLIGHT,
    MAX_STRIP_TEXT,
    STEP_GATE_WORDS,
    backward_animation,
    backward_strip_rows,
    forward_animation,
    forward_strip_rows,
)
from rnnviz.charts.style import (
    BRUSH_WIDTH_PX,
    DIVERGING,
    GATE_WORDS,
    HEIGHT,
    LEGEND_BELOW,
    LEGEND_RIGHT,
    LEGEND_WIDTH_PX,
    LOG_AXIS,
    MARGIN,
    MAX_BRUSH_UNITS,
    MAX_HEATMAP_COLUMNS,
    MAX_HEATMAP_ROWS,
    MAX_LINE_POINTS,
    SEQUENTIAL,
    STEP_AXIS,
    TANH_GATES,
    TEMPLATE,
    TIME_AXIS,
    TIME_WINDOW,
    TITLE_CHARS,
    UNIT_AXIS,
    assembled_figure,
    colorbar_owners,
    copy_figure,
    downsample,
    log_axis,
    set_title,
    wrap_text,
)
from rnnviz.charts.training import (
    LIVE_POINTS,
    compare_loss_chart,
    grad_norm_over_training,
    live_loss_figure,
    loss_curves,
)
