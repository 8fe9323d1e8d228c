"""``rnnviz app [--logdir DIR] [--port N]``: the web app from an installed package, as
``tensorboard --logdir`` starts TensorBoard.

Why in-process: ``rnnviz app`` runs Streamlit's own command line (``streamlit run``) on the
app's entry in this process, so the server is the one ``streamlit run app.py`` starts in a
checkout (an ``st.App`` served by uvicorn, the training workers started with it) and nothing is
fetched or spawned besides. The entry is ``rnnviz/_app/app.py`` in an installed package (the
checkout's ``app.py``, ``pages/`` and ``.streamlit/config.toml``, laid out as in the checkout:
pyproject.toml), else the checkout's own ``app.py``.

The settings are the project's ``.streamlit/config.toml`` beside the entry, which Streamlit
reads as the entry's own config file, over the learner's ``~/.streamlit/config.toml``; flags
take precedence over config files, so ``--port`` and ``--address`` win. The server listens on
localhost unless ``--address`` says otherwise (a learner's runs are theirs, as TensorBoard's
default is).

The log folder reaches the pages through the ``RNNVIZ_LOGDIR`` environment variable
(``LOGDIR_ENV``), checked here first: a missing one is one line and exit 2.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rnnviz.serve.logdir import check_logdir

# the log folder, for the pages (rnnviz.app.main, rnnviz.app.logdir_ui); this module imports no
# Streamlit until the server starts, so that every other command of the CLI starts without it
LOGDIR_ENV = "RNNVIZ_LOGDIR"
PACKAGE = Path(__file__).resolve().parents[1]


def entry() -> Path:
    """The app's entry: the installed package's copy, else the checkout's."""
    installed = PACKAGE / "_app" / "app.py"
    return installed if installed.is_file() else PACKAGE.parent / "app.py"


def add_app_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--logdir", help="a folder of runs recorded with rnnviz.record: the "
                                         "app lists them and follows the ones being written")
    parser.add_argument("--port", type=int, default=8501, help="port to serve on (8501)")
    parser.add_argument("--address", default="localhost",
                        help="address to listen on (localhost; 0.0.0.0 for every interface)")


def streamlit_argv(port: int, address: str) -> list[str]:
    """The arguments of ``streamlit run`` for the app's entry."""
    return ["run", str(entry()), f"--server.port={port}", f"--server.address={address}",
            # naming the address keeps Streamlit from asking a service off this machine for its
            # external IP at start (and from warning where there is no internet)
            f"--browser.serverAddress={address if address != '0.0.0.0' else 'localhost'}"]


def command_app(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: give a port from 1 to 65535")
    if args.logdir is not None:
        os.environ[LOGDIR_ENV] = str(check_logdir(Path(args.logdir).expanduser()).resolve())
    elif os.environ.get(LOGDIR_ENV):
        check_logdir(os.environ[LOGDIR_ENV])  # set by the shell: the same check, the same line
    from streamlit.web import cli as streamlit_cli

    streamlit_cli.main(args=streamlit_argv(args.port, args.address), prog_name="streamlit",
                       standalone_mode=False)
    return 0
