"""The claims registry and the robustness table (``rnnviz claims``): every lesson's claim and the
Home page's recipes are in it, a claim on another seed trains other runs, and the table counts
what its child processes measured under the two kernel sets."""

from __future__ import annotations

import subprocess
import sys

from rnnviz.studies.claims import CLAIMS
from rnnviz.studies.lessons import LESSONS
from rnnviz.studies.recipes import EXPLODE, HOME_RUN, LONG_LSTM, LONG_RNN, RESCUE
from tests.conftest import ROOT


def test_every_lesson_and_home_recipe_is_a_claim():
    assert set(LESSONS) <= set(CLAIMS)
    configs = {cfg for claim in CLAIMS.values() for _, cfg in claim.runs}
    assert {EXPLODE, RESCUE, LONG_RNN, LONG_LSTM, HOME_RUN} <= configs
    for claim in CLAIMS.values():
        assert claim.says and claim.runs and claim.headline


def test_a_claim_on_another_seed_changes_only_the_seed():
    claim = CLAIMS["vanishing"]
    for (label, shipped), (other_label, moved) in zip(claim.runs, claim.on_seed(3)):
        assert label == other_label and moved.seed == 3
        assert moved.replace(seed=shipped.seed) == shipped


def test_the_table_counts_each_kernel_set_in_its_own_process():
    done = subprocess.run([sys.executable, "-m", "rnnviz", "claims", "exploding", "--seeds", "2",
                           "--markdown"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    lines = done.stdout.splitlines()
    assert "native (" in lines[0] and "default (DEFAULT)" in lines[0], lines[0]
    row = next(line for line in lines if line.startswith("| exploding"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    held = [int(c.split("/")[0]) for c in cells[2:4]]
    assert [c.split("/")[1] for c in cells[2:4]] == ["2", "2"]
    # the exit status says whether every claim held on enough seeds (here: 2 of 2 is the bar)
    assert (done.returncode == 0) == (min(held) >= 2), done.stdout


def test_an_unknown_claim_is_refused_with_the_choices():
    done = subprocess.run([sys.executable, "-m", "rnnviz", "claims", "nope"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no claim 'nope'" in done.stderr
    assert "vanishing" in done.stderr


def test_the_readme_quotes_the_robustness_table_for_every_claim():
    """The README's numbers about training come from ``rnnviz claims`` (audit: its lesson
    numbers had been typed from another machine): a row of that table for every claim, the
    command that printed it, and the machine it ran on."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python -m rnnviz claims --seeds 5 --markdown" in readme
    for key, claim in CLAIMS.items():
        row = next((line for line in readme.splitlines() if line.startswith(f"| {key} |")), None)
        assert row is not None, f"no row for {key}"
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == claim.where and all("/5" in c for c in cells[2:4]), row
    assert "under native (" in readme and "default (DEFAULT) kernels" in readme
    assert "Every claim held in both" not in readme
