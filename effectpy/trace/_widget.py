"""`TimelineWidget`: the trace timeline as an interactive notebook widget (``effectpy[notebook]``).

Zoom and pan on the time axis, hover for an event's details, click a fiber to highlight its
subtree and its resources, a replay slider that steps through the events one by one, and the
fiber tree, the effect tree and the trace's diagnostics beside the timeline, linked to the
lanes. It is an `anywidget` (an ipywidgets ``DOMWidget``): the browser side is
``_widget_model.js``, ``_widget_view.js``, ``_widget_flags.js`` and ``_widget_draw.js``,
joined into one module. It draws in the SVG timeline's visual
grammar (`_grammar`: the same glyphs, colours, labels and legend).

Data flows one way: the widget reads the `Trace` (never a fiber) and sends its events to the
browser in batches, each event once: `flush` sends what was recorded since the last batch, and
`live()` flushes from a background thread while an effect runs, so the picture grows as the
program does. A view that missed batches (opened late, or reloaded) asks for the events it
lacks, and gets only those.

Outside a live kernel (GitHub, nbval, a saved notebook) the widget's mimebundle carries the
static timeline SVG and a deterministic text summary.

Typing is loosened for this module: ipywidgets and traitlets are untyped.
"""

# mypy: disable-error-code="misc,no-untyped-call,untyped-decorator,no-any-unimported"

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

import anywidget
import traitlets

from ._browser import BROWSER_GRAMMAR, css, diagnostics, esm, row
from ._story import default_title
from ._trace import Trace

if TYPE_CHECKING:
    from .._core._effect import Effect
    from ._events import TraceEvent

__all__ = ["TimelineWidget"]

BATCH: Final = 5000  # events per message at most


class TimelineWidget(anywidget.AnyWidget):
    """The timeline of a `Trace`, interactive. Make one with ``trace.widget()``.

    ``selected`` (a fiber id, or None) and ``cursor`` (how many events the replay shows, or
    None for all, following new ones) are synced both ways: set them from Python, or read
    what the user chose. ``diagnostics`` holds the trace's (`Trace.diagnose`), read when the
    widget is made and again when a `live` run ends (a flush sends only new events).
    """

    # the browser side: one ES module, kept in four files (the store, a view, the diagnostics, the drawing)
    _esm = esm()
    _css = css()

    title = traitlets.Unicode("").tag(sync=True)
    _heading = traitlets.Unicode("").tag(sync=True)  # the title shown: `title`, or the default
    clock = traitlets.Unicode("live").tag(sync=True)
    running = traitlets.Bool(False).tag(sync=True)
    selected = traitlets.Int(None, allow_none=True).tag(sync=True)
    cursor = traitlets.Int(None, allow_none=True).tag(sync=True)
    effect_tree_svg = traitlets.Unicode("").tag(sync=True)
    sent = traitlets.Int(0).tag(sync=True)  # events the browser should hold
    dropped = traitlets.Int(0).tag(sync=True)  # the oldest events a bounded recorder dropped
    diagnostics: Any = traitlets.List([]).tag(sync=True)  # `_browser.diagnostics` of the trace
    _grammar = traitlets.Dict(BROWSER_GRAMMAR).tag(sync=True)
    _uid = traitlets.Unicode().tag(sync=True)  # names the browser-side store of events

    def __init__(self, trace: Trace, effect: Effect[Any, Any, Any] | None = None, *,
                 title: str | None = None) -> None:
        if not isinstance(trace, Trace):
            raise TypeError(f"TimelineWidget expects a Trace, got {type(trace).__name__} {trace!r}")
        from .._core._effect import Effect
        if effect is not None and not isinstance(effect, Effect):
            raise TypeError(f"TimelineWidget's effect must be an Effect or None, got {type(effect).__name__}")
        super().__init__(title=title or "", clock=trace.clock, _uid=uuid.uuid4().hex)
        self._trace = trace
        self._effect = effect
        self._lock = threading.Lock()  # flushes from a live() thread and from requests
        # The roots seen so far and their names, for the default title (`_story.title_of`'s
        # rule, kept up to date from each batch instead of read from the whole trace).
        self._roots: dict[int, str | None] = {}
        self._forked: set[int] = set()
        self.on_msg(self._on_request)
        self._heading = self.title or default_title([])
        self.flush()
        self._diagnose()
        self._draw_effect_tree()

    @property
    def trace(self) -> Trace:
        return self._trace

    # --- sending events -------------------------------------------------------------

    def _send_from(self, start: int, events: Sequence[TraceEvent]) -> int:
        """Send ``events[start:]`` in batches; the number sent."""
        end = len(events)
        for i in range(start, end, BATCH):
            rows = [row(e) for e in events[i:min(i + BATCH, end)]]
            self.send({"type": "events", "start": i, "events": rows})
        return max(0, end - start)

    def _note_roots(self, events: Sequence[TraceEvent], start: int) -> None:
        """Follow the roots' names in ``events[start:]``, and set the heading from them."""
        roots, forked = self._roots, self._forked
        for i in range(start, len(events)):
            e = events[i]
            if e.kind == "fork":
                forked.add(e.fiber)
                if e.parent is None or e.parent not in forked:
                    roots[e.fiber] = e.name
            elif e.name is not None and e.fiber in roots:
                roots[e.fiber] = e.name
        self._heading = self.title or default_title(list(roots.values()))

    @traitlets.observe("title")
    def _title_changed(self, change: Any) -> None:
        roots = getattr(self, "_roots", {})  # (None yet while the widget is being made)
        self._heading = change["new"] or default_title(list(roots.values()))

    def flush(self) -> int:
        """Send the events recorded since the last flush (each event is sent once); returns
        how many. Two cases start the browser's copy afresh (a "reset", then the events the
        trace holds): the trace adopted its clock late (a `TestClock` seen in the run, which
        rebases the timestamps so far), and a bounded recorder (``record(capacity=n)``)
        dropped its oldest events (it then holds at most n, and those are sent)."""
        with self._lock:
            return self._flush(False)

    def _diagnose(self) -> None:
        self.diagnostics = diagnostics(self._trace)

    def _flush(self, afresh: bool) -> int:
        trace = self._trace
        # the clock first: if it is adopted between the reads, the next flush sees the
        # change and starts afresh
        clock, dropped = trace.clock, trace.dropped
        events = trace._current()
        start = self.sent
        if afresh or clock != self.clock or dropped != self.dropped:
            self.clock, self.dropped = clock, dropped
            self.send({"type": "reset"})
            start = 0
            self._roots, self._forked = {}, set()
        elif len(events) <= start:
            return 0
        self._note_roots(events, start)
        count = self._send_from(start, events)
        self.sent = len(events)
        return count

    def _on_request(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """A view asks for the events it lacks (it missed batches, or was opened late)."""
        if not isinstance(content, dict) or content.get("type") != "need":
            return
        have = content.get("have")
        if not isinstance(have, int) or have < 0:
            return
        with self._lock:
            if self.dropped:  # a bounded recorder's window moves: send the one it holds now
                self._flush(True)
            else:
                self._send_from(have, self._trace._current()[:self.sent])

    def _draw_effect_tree(self) -> None:
        if self._effect is None:
            return
        from ._effect_tree import effect_tree_picture
        from ._tree_picture import fallback_svg
        done = not self.running and len(self._trace) > 0
        self.effect_tree_svg = fallback_svg(effect_tree_picture(self._effect, self._trace if done else None))

    # --- live updates -----------------------------------------------------------------

    @contextmanager
    def live(self, interval: float = 0.1) -> Iterator[TimelineWidget]:
        """Flush every ``interval`` seconds from a background thread while the block runs,
        then once more at its end (the effect tree is then annotated from the run)::

            w = trace.widget(effect); display(w)
            with w.live():
                effectpy.run(effect)
        """
        if not isinstance(interval, (int, float)) or isinstance(interval, bool) or not interval > 0:
            raise ValueError(f"live's interval must be a number of seconds > 0, got {interval!r}")
        stop = threading.Event()
        failed: list[BaseException] = []

        def pump() -> None:
            try:
                while not stop.wait(interval):
                    self.flush()
            except BaseException as exc:  # noqa: BLE001 - raised again when the block ends
                failed.append(exc)

        self.running = True
        thread = threading.Thread(target=pump, name="effectpy-widget-live", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
            self.flush()
            self.running = False
            self._diagnose()
            self._draw_effect_tree()
        if failed:
            raise RuntimeError("the timeline widget stopped updating during the run") from failed[0]

    # --- static fallbacks -------------------------------------------------------------

    def summary(self) -> str:
        """The text form of the widget: `Trace.summary` without timings, so that a run on
        the live clock gives the same text each time."""
        title = f" {self.title}" if self.title else ""
        return f"TimelineWidget{title}: " + self._trace.summary(timings=False)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data)
        data["image/svg+xml"] = self._trace.to_svg(title=self.title or None)
        data["text/plain"] = self.summary()
        return data, metadata
