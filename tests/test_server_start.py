"""The training workers start with the server, not with the first visitor (issue 20: "training
workers ready in 11.5 s" was logged after a fresh server's first Train, because a Streamlit
script, and so the pool's warm-up, runs only for a session). ``streamlit run app.py`` serves the
``st.App`` that app.py defines, whose lifespan starts the pool (``rnnviz.app.serving``).

A real server is started as the README's first command starts it, no page is opened, and its
log must say the workers are ready; stopped as ``docker stop`` stops it, it stops them and exits
cleanly. Before the change the log said nothing about workers until a page was viewed."""

from __future__ import annotations

import time

from rnnviz.app.server import ROOT, local_server


def test_the_workers_are_ready_before_any_page_is_viewed(tmp_path):
    log_path = tmp_path / "server.log"
    with local_server(ROOT, log_path=log_path) as (_, process):
        deadline = time.monotonic() + 120
        while "training workers ready" not in log_path.read_text():
            assert time.monotonic() < deadline, log_path.read_text()
            assert process.poll() is None, log_path.read_text()
            time.sleep(0.3)
    log = log_path.read_text()
    assert process.returncode == 0, log
    assert "training workers stopped" in log, log
    assert "Traceback" not in log, log
