"""``rnnviz app``: the command that starts the web app from an installed package (issue 23).
Its bad input is one line and exit status 2 before any server starts; the settings it passes
Streamlit are the project's config file, each one an option Streamlit 1.67 knows."""

from __future__ import annotations

import tomllib

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


def test_the_flags_are_the_projects_settings_and_streamlit_knows_each():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    flags = launch.settings_flags(ROOT / ".streamlit" / "config.toml")
    assert len(flags) == sum(len(section) for section in config.values())
    assert "--server.headless=true" in flags and "--runner.postScriptGC=false" in flags
    known = streamlit_config._config_options_template
    for flag in flags:
        assert flag[2:].split("=", 1)[0] in known, flag
    argv = launch.streamlit_argv(8600, "localhost")
    assert argv[:2] == ["run", str(launch.ENTRY)] and launch.ENTRY.is_file()
    # the command line's port and address come after the file's settings, so they win
    assert argv.index("--server.port=8600") > max(argv.index(f) for f in flags)
