"""``rnnviz app``: the command that starts the web app from an installed package (issue 23).
Its bad input is one line and exit status 2 before any server starts; Streamlit reads the
project's settings beside the entry it runs."""

from __future__ import annotations

from streamlit import config as streamlit_config

from rnnviz.app import launch
from rnnviz.cli import main
from tests.conftest import ROOT


def test_a_missing_logdir_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["app", "--logdir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such folder" in err and "Traceback" not in err
    (tmp_path / "a-file").write_text("x")
    assert main(["app", "--logdir", str(tmp_path / "a-file")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_a_port_out_of_range_is_refused(tmp_path, capsys):
    assert main(["app", "--logdir", str(tmp_path), "--port", "70000"]) == 2
    assert "--port 70000" in capsys.readouterr().err


def test_streamlit_runs_the_entry_with_the_settings_beside_it():
    """The entry's own .streamlit/config.toml is a config file Streamlit reads for it (the
    last and strongest of the files), and the command line's port and address are flags."""
    argv = launch.streamlit_argv(8600, "localhost")
    assert argv[:2] == ["run", str(launch.entry())]
    assert launch.entry() == ROOT / "app.py"  # a checkout: its own entry
    assert "--server.port=8600" in argv and "--server.address=localhost" in argv
    before = streamlit_config._main_script_path
    try:
        streamlit_config._main_script_path = str(launch.entry())
        files = streamlit_config.get_config_files("config.toml")
    finally:
        streamlit_config._main_script_path = before
    assert files[-1] == str(ROOT / ".streamlit" / "config.toml")
