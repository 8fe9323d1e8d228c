"""The package as pip installs it: a wheel built from pyproject.toml holds every package of the
source tree and the assets the engine reads, and its console script is ``rnnviz``; installed
into a folder of its own, away from the checkout, it trains from the command line."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=240, cwd=out)
    (path,) = out.glob("rnnviz-*.whl")
    return path


def test_the_wheel_holds_every_package_and_the_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {p.parent.relative_to(ROOT).as_posix()
                for p in (ROOT / "rnnviz").rglob("__init__.py")}
    for package in packages:
        assert f"{package}/__init__.py" in names, package
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "rnnviz").rglob("*.py")}
    assert sources <= names, sorted(sources - names)
    for asset in ("corpus.txt", "daily_temperature.csv", "predator_prey.csv", "fsdd.npz",
                  "FSDD_LICENSE.md", "favicon.png"):
        assert f"rnnviz/_assets/{asset}" in names


def test_the_wheel_holds_the_app_as_the_checkout_lays_it_out(wheel):
    """`rnnviz app` needs no checkout: app.py, every page of pages/ and the Streamlit settings
    travel in the wheel as rnnviz/_app, laid out as in the checkout (pages link to each other
    by paths relative to the entry), with nothing else of the checkout's top level."""
    from rnnviz.app.main import PAGES, RECORDED

    names = set(zipfile.ZipFile(wheel).namelist())
    pages = {p.name for p in (ROOT / "pages").glob("*.py")}
    assert {name for name, _, _ in PAGES} | {RECORDED[0]} <= pages
    shipped = {n.removeprefix("rnnviz/_app/") for n in names if n.startswith("rnnviz/_app/")}
    assert shipped == {"app.py", ".streamlit/config.toml"} | {f"pages/{p}" for p in pages}


def test_the_console_script_is_the_cli(wheel):
    archive = zipfile.ZipFile(wheel)
    (entry_points,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(archive.read(entry_points).decode())
    assert parser["console_scripts"]["rnnviz"] == "rnnviz.cli:main"


def test_installed_away_from_the_checkout_it_trains(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
                    "--target", str(target), str(wheel)], check=True, capture_output=True,
                   timeout=240)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    command = [sys.executable, "-m", "rnnviz", "train", "--task", "text", "--steps", "5",
               "--seq-len", "8", "--hidden-size", "4", "--json"]
    result = subprocess.run(command, cwd=elsewhere, env=env, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stderr
    assert '"steps": 5' in result.stdout
    where = subprocess.run([sys.executable, "-c", "import rnnviz; print(rnnviz.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(target))  # the installed copy, not the checkout
    entry = subprocess.run([sys.executable, "-c", "from rnnviz.app import launch; "
                            "print(launch.entry())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert entry.stdout.strip() == str(target / "rnnviz" / "_app" / "app.py")
    settings = target / "rnnviz" / "_app" / ".streamlit" / "config.toml"
    assert settings.read_text() == (ROOT / ".streamlit" / "config.toml").read_text()
