"""Load test: a class of N students training at once on one real server.

    python -m rnnviz.app.loadtest --sessions 10 30 --waves 2

For each session count it starts ``streamlit run app.py`` on a free port (as the e2e harness
does, with an empty runs folder) and runs the waves one after another on that server. In a
wave, N clients connect at the same moment, each opens the Playground with a lesson-sized
config in its link (the default config, ``--steps`` steps, a seed of its own so that runs are
really trained) and presses **Train**; every fifth session instead uses one config shared by
all of them, to show de-duplication (they watch one job). A session is done when the sidebar
shows "Current run". The table reports, per wave: jobs actually trained, completion times
(press to result: median and worst), how many sessions saw the "Queued" notice, errors (an
exception on the page, a failed run, a dropped connection or a timeout: must be zero), and the
server's memory before and after the wave: the proportional set size (``Pss`` of
/proc/<pid>/smaps_rollup) summed over the server and the worker processes it trains in.

The clients speak Streamlit's own websocket protocol (the protobuf messages its frontend
sends): a browser per student would cost more CPU than the server under test on a small
machine. Like the frontend, a client re-runs the live-progress fragment every 0.5 s while the
server asks for it (``auto_rerun``), so the server does the same work as with real browsers,
minus serving static files.

Shared mode: ``--servers N --workers M`` (N above 1, or M above 0) starts a ``redis-server`` of
its own, M training workers and N servers (``rnnviz.app.loadtest_cluster``), spreads each
wave's sessions over the servers, and adds how many times each distinct config was trained
(Redis's ``rnnviz:trained``: once each is the point), every process's RSS per wave, and every
warning or stack trace in the servers' and workers' logs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rnnviz.app.loadtest_cluster import cluster, print_memory, print_trained, trained_counts
from rnnviz.app.server import local_server

ROOT = Path(__file__).resolve().parents[2]
SHARED_EVERY = 5  # every fifth session trains the wave's shared config


@dataclass
class Outcome:
    session: int
    shared: bool
    seconds: float | None = None  # press to result
    queued: bool = False
    error: str = ""


@dataclass
class Wave:
    sessions: int
    wave: int
    memory_before_mb: float
    memory_after_mb: float = 0.0
    memory_parts_mb: dict = field(default_factory=dict)  # after the wave, per kind of process
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def times(self) -> list[float]:
        return [o.seconds for o in self.outcomes if o.seconds is not None]

    @property
    def errors(self) -> list[str]:
        return [f"session {o.session}: {o.error}" for o in self.outcomes if o.error]

    @property
    def jobs(self) -> int:
        return sum(not o.shared for o in self.outcomes) + any(o.shared for o in self.outcomes)


def _own_memory_mb(pid: int) -> float:
    """Proportional set size: pages shared with other processes (the workers are forked from
    one server and share its torch) count once in the sum, not once per process."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        key = "Pss:"
    except OSError:  # kernels without smaps_rollup: resident size (an over-count)
        lines, key = Path(f"/proc/{pid}/status").read_text().splitlines(), "VmRSS:"
    for line in lines:
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} for process {pid}")


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def memory_parts_mb(pid: int) -> dict[str, float]:
    """Memory of a process (``"server"``) and of all its descendants (``"workers"``: the fork
    server and the worker processes the server trains in), from /proc: psutil is not needed."""
    parts, todo = {"server": _own_memory_mb(pid), "workers": 0.0}, _children(pid)
    while todo:
        current = todo.pop()
        try:
            parts["workers"] += _own_memory_mb(current)
            todo += _children(current)
        except (OSError, RuntimeError):  # a worker that ended between two reads
            pass
    return parts


def memory_mb(pid: int) -> float:
    """The server's memory with its descendants'."""
    return sum(memory_parts_mb(pid).values())


class Client:
    """One browser tab, as far as the server can tell."""

    def __init__(self, url: str, query: str, page: str = "playground"):
        self.ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
        self.query, self.page = query, page
        self.page_hash = ""
        self.ws = None
        self._auto: dict[str, asyncio.Task] = {}  # fragment id -> its rerun timer

    def _rerun(self, widgets=(), fragment_id: str = "", auto: bool = False) -> bytes:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query
        state.page_name = self.page
        state.page_script_hash = self.page_hash
        state.is_auto_rerun = auto
        if fragment_id:
            state.fragment_id = fragment_id
        state.widget_states.widgets.extend(widgets)
        return message.SerializeToString()

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        while True:  # what the frontend's timer does for st.fragment(run_every=...)
            await asyncio.sleep(interval)
            await self.ws.send(self._rerun(fragment_id=fragment_id, auto=True))

    def _stop_auto(self, fragment_ids=None) -> None:
        for fragment_id in list(self._auto if fragment_ids is None else fragment_ids):
            timer = self._auto.pop(fragment_id, None)
            if timer is not None:
                timer.cancel()

    async def messages(self):
        """ForwardMsgs, handling the ones every client must (page hash, auto reruns)."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        async for raw in self.ws:
            message = ForwardMsg()
            message.ParseFromString(raw)
            kind = message.WhichOneof("type")
            if kind == "new_session" and not message.metadata.run.fragment_ids:
                self._stop_auto()  # a full run starts: the page's fragments start anew
            elif kind == "navigation" and message.navigation.page_script_hash:
                self.page_hash = message.navigation.page_script_hash  # the page being shown
            elif kind == "auto_rerun":
                fragment_id = message.auto_rerun.fragment_id
                self._stop_auto([fragment_id])
                self._auto[fragment_id] = asyncio.create_task(self._auto_rerun(
                    fragment_id, message.auto_rerun.interval))
            elif kind == "stop_auto_rerun":
                self._stop_auto(message.stop_auto_rerun.fragment_ids)
            yield kind, message

    async def train(self, outcome: Outcome, timeout: float) -> None:
        """Open the Playground, press Train, wait for the result (filling ``outcome``)."""
        import websockets

        async with websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=None,
                                      open_timeout=60, ping_timeout=None) as self.ws:
            try:
                await self._train(outcome, timeout)
            finally:
                self._stop_auto()

    async def _train(self, outcome: Outcome, timeout: float) -> None:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        await self.ws.send(self._rerun())
        train_id = None
        async for kind, message in self.messages():  # the page, ready to use
            element = _element(message)
            if element is not None and element.WhichOneof("type") == "button" \
                    and element.button.label == "Train":
                train_id = element.button.id
            _raise_on_exception(element)
            if kind == "script_finished" and message.script_finished == 0 and train_id:
                break
        if train_id is None:
            raise RuntimeError("the Playground has no Train button")
        pressed = time.perf_counter()
        await self.ws.send(self._rerun([WidgetState(id=train_id, trigger_value=True)]))
        async with asyncio.timeout(timeout):
            async for kind, message in self.messages():
                element = _element(message)
                _raise_on_exception(element)
                if element is None:
                    continue
                kind = element.WhichOneof("type")
                text = (element.markdown.body if kind == "markdown" else
                        element.alert.body if kind == "alert" else "")
                if "Queued" in text:
                    outcome.queued = True
                if "Training failed" in text:
                    raise RuntimeError(text)
                if "**Current run**" in text:
                    outcome.seconds = time.perf_counter() - pressed
                    return
        raise RuntimeError("the server closed the connection")


def _element(message):
    if message.WhichOneof("type") == "delta" and message.delta.HasField("new_element"):
        return message.delta.new_element
    return None


def _raise_on_exception(element) -> None:
    if element is not None and element.WhichOneof("type") == "exception":
        raise RuntimeError(f"exception on the page: {element.exception.message}")


def session_seed(index: int, wave: int) -> int:
    """The seed in session ``index``'s link: its own, or the wave's shared one."""
    shared = index % SHARED_EVERY == SHARED_EVERY - 1
    return 100_000 * (wave + 1) + (0 if shared else index + 1)


def session_config_keys(sessions: int, wave: int, steps: int) -> set[str]:
    """The distinct configs a wave's sessions train (what shared mode must train once each)."""
    from rnnviz.core.config import RunConfig
    return {RunConfig(seed=session_seed(i, wave), steps=steps).key for i in range(sessions)}


async def run_session(url: str, index: int, wave: int, steps: int, timeout: float,
                      start: asyncio.Event) -> Outcome:
    shared = index % SHARED_EVERY == SHARED_EVERY - 1
    seed = session_seed(index, wave)
    outcome = Outcome(index, shared)
    await start.wait()
    try:
        async with asyncio.timeout(timeout + 120):  # opening the page counts too
            await Client(url, f"seed={seed}&steps={steps}").train(outcome, timeout)
    except TimeoutError:
        outcome.error = f"no result within {timeout:.0f} s"
    except Exception as err:  # noqa: BLE001  every failure is counted, none stops the wave
        outcome.error = f"{type(err).__name__}: {err}"
    return outcome


async def run_wave(urls: list[str], memory, sessions: int, wave: int, steps: int,
                   timeout: float, settle: float) -> Wave:
    """One wave; session i talks to ``urls[i % len(urls)]`` (a load balancer's spread);
    ``memory()`` gives the memory of the processes under test, by name, in MB."""
    result = Wave(sessions, wave, memory_before_mb=sum(memory().values()))
    start = asyncio.Event()
    tasks = [asyncio.create_task(run_session(urls[i % len(urls)], i, wave, steps, timeout,
                                             start))
             for i in range(sessions)]
    start.set()  # everyone at once, like a class told "press Train now"
    result.outcomes = list(await asyncio.gather(*tasks))
    await asyncio.sleep(settle)  # let closed sessions and finished jobs be released
    parts = memory()
    result.memory_after_mb = sum(parts.values())
    result.memory_parts_mb = parts
    return result


async def warm_up(url: str) -> None:
    """One page view, so that imports (torch) are not charged to the first wave."""
    client = Client(url, "")
    import websockets
    async with websockets.connect(client.ws_url, subprotocols=["streamlit"],
                                  max_size=None) as client.ws:
        await client.ws.send(client._rerun())
        async for kind, message in client.messages():
            if kind == "script_finished" and message.script_finished == 0:
                break


def print_table(waves: list[Wave], steps: int, memory_note: str = "Memory: PSS of the "
                "server and its training worker processes together.") -> None:
    print()
    print(f"{'sessions':>8} {'wave':>4} {'jobs':>5} {'done':>5} {'queued':>6} {'errors':>6} "
          f"{'median s':>9} {'worst s':>8} {'mem before MB':>14} {'mem after MB':>13}")
    for w in waves:
        times = w.times
        median = f"{statistics.median(times):.1f}" if times else "–"
        worst = f"{max(times):.1f}" if times else "–"
        print(f"{w.sessions:>8} {w.wave:>4} {w.jobs:>5} {len(times):>5} "
              f"{sum(o.queued for o in w.outcomes):>6} {len(w.errors):>6} {median:>9} "
              f"{worst:>8} {w.memory_before_mb:>14.0f} {w.memory_after_mb:>13.0f}")
    print(f"\njobs = configs actually trained (every {SHARED_EVERY}th session shares one); "
          f"each run: the default config, {steps} steps. Times: Train pressed -> result shown. "
          + memory_note)
    for w in waves:
        for error in w.errors:
            print(f"  error, {w.sessions} sessions wave {w.wave}: {error}")


def main_shared(args) -> int:
    """The load test in shared mode (``rnnviz.app.loadtest_cluster`` starts the processes):
    per session count, a fresh cluster; the waves spread their
    sessions over its servers; then the trainings per config from Redis, the memory of every
    process per wave, and the log lines that would alarm an operator. Exit status 1 on an
    error, a config not trained exactly once, or such a log line."""
    print(f"shared mode: {args.servers} server(s), {args.workers} worker(s), a redis-server "
          "of its own", flush=True)
    waves, ok = [], True
    for count in args.sessions:
        with tempfile.TemporaryDirectory(prefix="rnnviz-load-cluster-") as folder:
            with cluster(args.app_dir, args.servers, args.workers, Path(folder)) as running:
                for url in running.urls:
                    asyncio.run(warm_up(url))
                time.sleep(args.settle)
                readings = [("before", running.memory_mb())]
                expected: set[str] = set()
                for wave in range(1, args.waves + 1):
                    print(f"{count} sessions over {args.servers} server(s), wave {wave} ...",
                          flush=True)
                    result = asyncio.run(run_wave(running.urls, running.memory_mb, count, wave,
                                                  args.steps, args.timeout, args.settle))
                    waves.append(result)
                    expected |= session_config_keys(count, wave, args.steps)
                    readings.append((f"wave {wave}", result.memory_parts_mb))
                    print(f"  done in {max(result.times, default=0):.1f} s, "
                          f"{len(result.errors)} error(s)", flush=True)
                print(f"\n{count} sessions:", end="")
                ok &= print_trained(expected, trained_counts(running.redis_url))
                print_memory(list(readings[-1][1]), readings)
            # every process has stopped now: its whole log, the stop included
            alarms = {name: lines for name, lines in running.log_alarms().items() if lines}
            print("log lines with a stack or a warning, start to stop: " + (", ".join(
                f"{name} {len(lines)}" for name, lines in alarms.items()) if alarms else "none"))
            ok &= not alarms
            for name, lines in alarms.items():
                for line in lines:
                    print(f"  {name}: {line}")
    print_table(waves, args.steps, "Memory: RSS of every process (Redis, the servers with "
                "their local pools, the workers) added up.")
    return 1 if any(w.errors for w in waves) or not ok else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnviz.app.loadtest",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 30],
                        help="concurrent sessions per wave; one server per count")
    parser.add_argument("--waves", type=int, default=2, help="waves per session count")
    parser.add_argument("--steps", type=int, default=1000, help="training steps per run")
    parser.add_argument("--timeout", type=float, default=900, help="seconds a session may wait")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds between a wave's end and the memory reading")
    parser.add_argument("--app-dir", type=Path, default=ROOT,
                        help="folder holding app.py (default: this checkout)")
    parser.add_argument("--servers", type=int, default=1,
                        help="app servers; more than one (or --workers) runs shared mode: a "
                             "redis-server of its own, sessions spread over the servers")
    parser.add_argument("--workers", type=int, default=0,
                        help="training workers (python -m rnnviz worker) of shared mode")
    args = parser.parse_args(argv)
    # `timeout` or a CI runner stops us with SIGTERM: treat it like Ctrl-C (asyncio cancels the
    # sessions), so that the finally blocks stop the server under test too
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if min(args.sessions) < 1 or args.waves < 1 or args.steps < 1 or args.servers < 1:
        parser.error("--sessions, --waves, --steps and --servers must be positive")
    if args.workers < 0:
        parser.error("--workers must be 0 or more")
    if not (args.app_dir / "app.py").is_file():
        parser.error(f"{args.app_dir}/app.py not found")
    print(f"rnnviz load test: {os.cpu_count()} CPU core(s), "
          f"RNNVIZ_MAX_CONCURRENT_JOBS={os.environ.get('RNNVIZ_MAX_CONCURRENT_JOBS', '2')}, "
          f"app {args.app_dir}")
    if args.servers > 1 or args.workers > 0:
        return main_shared(args)
    waves = []
    for count in args.sessions:
        with tempfile.TemporaryDirectory(prefix="rnnviz-load-runs-") as runs_dir, \
                local_server(args.app_dir, {"RNNVIZ_RUNS_DIR": runs_dir}) as (url, process):
            asyncio.run(warm_up(url))
            # the first session starts the server's training workers in the background (a few
            # seconds of imports); a teacher opens the app before the class does
            time.sleep(args.settle)
            for wave in range(1, args.waves + 1):
                print(f"{count} sessions, wave {wave} ...", flush=True)
                result = asyncio.run(run_wave([url], lambda: memory_parts_mb(process.pid),
                                              count, wave, args.steps, args.timeout,
                                              args.settle))
                waves.append(result)
                print(f"  done in {max(result.times, default=0):.1f} s, "
                      f"{len(result.errors)} error(s), memory {result.memory_after_mb:.0f} MB "
                      f"(server {result.memory_parts_mb['server']:.0f}, workers "
                      f"{result.memory_parts_mb['workers']:.0f})",
                      flush=True)
    print_table(waves, args.steps)
    return 1 if any(w.errors for w in waves) else 0


if __name__ == "__main__":
    sys.exit(main())
