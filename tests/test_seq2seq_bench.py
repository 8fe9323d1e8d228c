"""``rnnviz bench --seq2seq``: the translation loop, snapshots and live attention view on,
against a bare PyTorch seq2seq loop, from a real (short) lockstep timing of both."""

from __future__ import annotations

import re

from rnnviz import cli


def test_bench_seq2seq_prints_the_ratio(capsys):
    assert cli.main(["bench", "--seq2seq", "--steps", "20", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "seq2seq: dates" in out and "snapshot and live attention view every 20" in out
    # one snapshot after step 0 (at step 20): one live view computed inside the timed loop
    round_line = next(line for line in out.splitlines() if line.startswith("round 1"))
    assert "(1 live views)" in round_line
    bare, full, ratio = map(float, re.search(
        r"bare loop ([\d.]+) steps/s, train\(\) ([\d.]+) steps/s .* ratio ([\d.]+)",
        round_line).groups())
    assert bare > 0 and full > 0 and abs(ratio - full / bare) < 0.01
    summary = re.search(r"^ratio ([\d.]+)x a bare PyTorch seq2seq loop", out, re.M)
    assert summary and float(summary.group(1)) == ratio
    assert cli.main(["bench", "--seq2seq", "--steps", "5"]) == 2
    assert "at least 10" in capsys.readouterr().err
