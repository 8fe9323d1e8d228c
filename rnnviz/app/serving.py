"""What the server does when it starts, before any visitor, and when it stops: the lifespan of
the app's ``st.App`` (``app.py``; Streamlit's ASGI entry, which ``streamlit run app.py`` serves
with uvicorn when the script defines one:
https://docs.streamlit.io/develop/api-reference/server/st.app).

Issue 20: "training workers ready in 11.5 s" was logged after the first Train of a fresh
server, in the container too, because the worker pool started with the first page view (a
Streamlit script runs only for a session). Here the pool starts with the server, so a class's
first Train finds warm workers.
"""

from __future__ import annotations

import faulthandler
import signal
import sys

from rnnviz.serve import pool, shared


async def started_with_server(_app):
    """Start the training workers in the background (embedded mode: in shared mode `rnnviz
    worker`s train, and a replica starts its pool on its first comparison), serve, and stop
    them for good when the server stops."""
    _stop_normally_on_signals()
    # `kill -USR1 <server pid>` writes every thread's stack to the log: what a page that never
    # finishes is waiting for (the browser tests send it when a chart does not come)
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True, chain=False)
    if shared.redis_url() is None:
        pool.warm_up()
    yield
    pool.close()


def _stop_normally_on_signals() -> None:
    """SIGTERM (``docker stop``, Kubernetes) and Ctrl-C stop the server as uvicorn's own
    programmatic stop does (``Server.should_exit``; a second signal forces it), and the process
    then ends normally with status 0.

    Uvicorn's own handlers stop gracefully too, but then raise the signal again with the
    default handler, so the process dies by it (status -15 or 143, a KeyboardInterrupt stack
    for Ctrl-C) before Python's exit hooks run: multiprocessing then left the training
    workers' semaphores to its resource tracker, which warned of "leaked semaphore objects" in
    every stop. Called from the lifespan, in the main thread, while uvicorn's handlers are
    installed (it restores the ones from before it when it returns)."""
    server = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    if server is None or not hasattr(server, "should_exit"):  # not served by uvicorn
        return

    def stop(_signum, _frame) -> None:
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
