"""Imported only by the fork server of ``rnnviz.serve.pool``'s worker pool (its preload list).

A process that multiprocessing starts re-imports the parent's ``__main__`` first, so that
functions defined there can be unpickled. In a Streamlit server, ``__main__`` is whatever page
script is running at that moment (Streamlit puts the script's module there), so every worker
would import Streamlit, pandas and pyarrow and run a page script without a session: about
120 MB more per worker, seconds more to start, and a page's side effects (one of them starts a
worker pool) in a process that only trains. The workers run only functions of this package,
which they import by name, so they never need the parent's ``__main__``: the fork server drops
that part of the start-up data before every worker it forks.
"""

from multiprocessing import spawn

_MAIN_KEYS = ("init_main_from_name", "init_main_from_path")
_prepare = spawn.prepare


def _prepare_without_main(data: dict) -> None:
    _prepare({key: value for key, value in data.items() if key not in _MAIN_KEYS})


spawn.prepare = _prepare_without_main
