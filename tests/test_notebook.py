"""docs/record_your_loop.ipynb runs headless through a real Jupyter kernel (nbclient and
ipykernel), as a learner runs it, and every figure it shows has data: the recording's snapshot
steps, the gates, the hidden states, the gradient profile and the gradient over training."""

from __future__ import annotations

import os

import nbformat
from nbclient import NotebookClient

from tests.conftest import ROOT

NOTEBOOK = ROOT / "docs" / "record_your_loop.ipynb"
PLOTLY = "application/vnd.plotly.v1+json"


def _arrays(trace: dict) -> list:
    return [trace.get(key) for key in ("x", "y", "z") if trace.get(key) is not None]


def test_the_example_notebook_runs_and_its_figures_have_data(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")]).rstrip(os.pathsep))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the traceback, if any cell fails
    figures = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", output
            if PLOTLY in output.get("data", {}):
                figures.append((cell.source, output["data"][PLOTLY]))
    shown = [source for source, _ in figures]
    assert len(figures) == 4, shown
    for source, figure in figures:
        traces = figure["data"]
        assert traces and any(_arrays(t) for t in traces), source
        assert figure["layout"]["title"]["text"], source
    # the snapshot steps the notebook printed: 0, every 50 up to 400
    steps_cell = next(c for c in notebook.cells if c.source.endswith("run.snapshot_steps"))
    printed = steps_cell.outputs[0]["data"]["text/plain"]
    assert printed.startswith("[0, 50, 100") and printed.endswith("400]")
    assert (tmp_path / "runs" / "tiny-lstm" / "index.json").is_file()
