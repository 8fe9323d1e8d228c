"""``rnnviz bench-record``: the overhead table from a real (short) timing of both loops."""

from __future__ import annotations

from rnnviz import cli


def test_bench_record_prints_both_loops_and_the_overhead(capsys):
    assert cli.main(["bench-record", "--steps", "20", "--repeats", "1", "--every", "10"]) == 0
    out = capsys.readouterr().out
    assert "without the recorder" in out and "with rnnviz.record" in out
    assert "overhead: CPU time" in out and "10 % target" in out
    assert "identical with and without the recorder" in out
    assert cli.main(["bench-record", "--steps", "5"]) == 2
    assert "at least 10" in capsys.readouterr().err
