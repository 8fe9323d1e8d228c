"""A browser tab as far as a real Streamlit server can tell: Streamlit's own websocket protocol
(the protobuf messages its frontend sends), as ``rnnviz.app.loadtest`` speaks it, reduced to what
the shared-mode tests need: open the Playground with a link, press Train, and collect every text
the page shows (progress bars, alerts, markdown) until the run is there."""

from __future__ import annotations

import asyncio
import time

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState


class PlaygroundTab:
    def __init__(self, url: str, query: str):
        self.ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
        self.query = query
        self.page_hash = ""
        self.texts: list[tuple[float, str]] = []  # (seconds since the press, text)
        self.exceptions: list[str] = []
        self._timers: dict[str, asyncio.Task] = {}

    def _rerun(self, widgets=(), fragment_id: str = "", auto: bool = False) -> bytes:
        message = BackMsg()
        state = message.rerun_script
        state.query_string, state.page_name = self.query, "playground"
        state.page_script_hash, state.is_auto_rerun = self.page_hash, auto
        if fragment_id:
            state.fragment_id = fragment_id
        state.widget_states.widgets.extend(widgets)
        return message.SerializeToString()

    async def _auto_rerun(self, ws, fragment_id: str, interval: float) -> None:
        while True:  # the frontend's timer for st.fragment(run_every=...)
            await asyncio.sleep(interval)
            await ws.send(self._rerun(fragment_id=fragment_id, auto=True))

    def _stop(self, fragment_ids=None) -> None:
        for fragment_id in list(self._timers if fragment_ids is None else fragment_ids):
            timer = self._timers.pop(fragment_id, None)
            if timer is not None:
                timer.cancel()

    async def _elements(self, ws):
        async for raw in ws:
            message = ForwardMsg()
            message.ParseFromString(raw)
            kind = message.WhichOneof("type")
            if kind == "navigation" and message.navigation.page_script_hash:
                self.page_hash = message.navigation.page_script_hash
            elif kind == "auto_rerun":
                fragment_id = message.auto_rerun.fragment_id
                self._stop([fragment_id])
                self._timers[fragment_id] = asyncio.create_task(self._auto_rerun(
                    ws, fragment_id, message.auto_rerun.interval))
            elif kind == "stop_auto_rerun":
                self._stop(message.stop_auto_rerun.fragment_ids)
            if kind == "script_finished":
                yield "finished", message.script_finished
            elif kind == "delta" and message.delta.HasField("new_element"):
                yield "element", message.delta.new_element

    async def train(self, timeout: float, until: str = "**Current run**") -> float:
        """Press Train; seconds until a text containing ``until`` is shown."""
        async with websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=None,
                                      open_timeout=60, ping_timeout=None) as ws:
            try:
                return await self._train(ws, timeout, until)
            finally:
                self._stop()

    async def _train(self, ws, timeout: float, until: str) -> float:
        await ws.send(self._rerun())
        train_id = None
        async for kind, value in self._elements(ws):
            if kind == "element" and value.WhichOneof("type") == "button" and \
                    value.button.label == "Train":
                train_id = value.button.id
            if kind == "finished" and value == 0 and train_id:
                break
        assert train_id, "the Playground has no Train button"
        pressed = time.perf_counter()
        await ws.send(self._rerun([WidgetState(id=train_id, trigger_value=True)]))
        async with asyncio.timeout(timeout):
            async for kind, element in self._elements(ws):
                if kind != "element":
                    continue
                what = element.WhichOneof("type")
                text = _text(element, what)
                if what == "exception":
                    self.exceptions.append(text)
                if text:
                    self.texts.append((time.perf_counter() - pressed, text))
                if until in text:
                    return time.perf_counter() - pressed
        raise AssertionError("the server closed the connection")


def _text(element, what: str) -> str:
    """The words an element shows (the ones the tests read)."""
    if what == "markdown":
        return element.markdown.body
    if what == "alert":
        return element.alert.body
    if what == "progress":
        return element.progress.text
    if what == "exception":
        return element.exception.message
    return ""
