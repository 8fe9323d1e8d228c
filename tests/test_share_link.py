"""'Link for students' (AppTest): the link large with a QR code when it can reach students, and a
warning when it names this computer; the address comes from RNNVIZ_PUBLIC_URL when set."""

from __future__ import annotations

import segno

from tests.apptest import open_app


def _popover_texts(at) -> str:
    return " ".join([m.value for m in at.markdown] + [w.value for w in at.warning])


def test_a_public_url_gives_a_large_link_and_a_qr_code(monkeypatch):
    monkeypatch.setenv("RNNVIZ_PUBLIC_URL", "https://rnnviz.example.org/")
    at = open_app({"cell": "gru"})
    at.switch_page("pages/playground.py").run()
    assert not at.exception
    link = "https://rnnviz.example.org/playground?cell=gru"
    assert f"#### {link}" in [m.value for m in at.markdown]
    assert not any("localhost" in w.value for w in at.warning)
    images = at.get("image")
    assert images, "a QR code is drawn (the Playground's popover and the sidebar's)"
    assert all("Scan to open the same link" in str(image.proto) for image in images)
    # segno's QR code of the link holds the link (its own encoding of the same text)
    assert segno.make(link, error="m").designator  # encodable: version and error level


def test_a_localhost_link_is_flagged(monkeypatch):
    monkeypatch.setenv("RNNVIZ_PUBLIC_URL", "http://localhost:8501")
    at = open_app()
    at.switch_page("pages/playground.py").run()
    warnings = " ".join(w.value for w in at.warning)
    assert "names this computer (localhost): it opens for nobody else" in warnings
    assert "RNNVIZ_PUBLIC_URL" in warnings
    assert not at.get("image")
