import json
import subprocess
import sys

import numpy as np
import pytest

from rnnviz import RunConfig
from rnnviz.cli import main
from rnnviz.core.tasks import validation_set


def _run(*args):
    return subprocess.run([sys.executable, "-m", "rnnviz", *args], capture_output=True,
                          text=True, timeout=120)


def test_train_json_and_save(tmp_path):
    out = tmp_path / "r.rnnviz"
    result = _run("train", "--cell", "rnn", "--task", "parity", "--seq-len", "6", "--steps",
                  "20", "--hidden-size", "4", "--json", "--out", str(out))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    # chance: always answering the validation set's more frequent parity
    y = validation_set(RunConfig(task="parity", seq_len=6))[1].reshape(-1).long()
    assert summary["steps"] == 20
    assert summary["chance_metric"] == pytest.approx(float(np.bincount(y).max() / len(y)))
    assert out.stat().st_size > 0


@pytest.mark.parametrize("args,words", [
    (["train", "--seq-len", "-3"], "seq_len: -3 is out of range"),
    (["train", "--cell", "banana"], "invalid choice: 'banana'"),
    (["train", "--lr", "fast"], "lr: 'fast' is not a number"),
    (["train", "--task", "copy", "--seq-len", "5", "--lag", "9"], "lag: 9 must be smaller"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["fly"], "invalid choice: 'fly'"),
    ([], "required: command"),
    (["pretrain"], "give --preset NAME or --config-file FILE"),
    (["pretrain", "--preset", "everything"], "invalid choice: 'everything'"),
    (["lessons", "nope"], "no lesson 'nope'; choose from recurrence"),
])
def test_bad_arguments_exit_2_with_one_line(args, words, capsys):
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse's own errors exit through our one-line handler
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert words in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_argument_through_real_process():
    result = _run("train", "--hidden-size", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == ("rnnviz: error: hidden_size: 0 is out of range; "
                                     "allowed 1 to 256")


def test_human_summary_mentions_chance():
    result = _run("train", "--task", "adding", "--seq-len", "5", "--steps", "10",
                  "--hidden-size", "4")
    assert result.returncode == 0
    y = validation_set(RunConfig(task="adding", seq_len=5))[1]  # the best constant: its mean
    assert f"chance MSE: {float(((y - y.mean()) ** 2).mean()):.4f}" in result.stdout


def test_lessons_command_trains_and_checks_the_lessons_named(capsys):
    assert main(["lessons", "exploding"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("lesson") and "holds" in lines[0]
    assert lines[1].startswith("3. Exploding gradients") and lines[1].split()[5] == "True"
    assert any("blew up after" in line for line in lines[2:])  # the measured facts follow
