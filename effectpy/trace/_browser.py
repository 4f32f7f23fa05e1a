"""What the browser side of the timeline is made of, shared by the notebook widget
(`_widget`) and the standalone page (`_html`), without importing anything of Jupyter: the
ES module (kept in four files: the store, a view, its diagnostics, its drawing), its style,
the visual grammar it draws with, events as the browser gets them, and the trace's
diagnostics."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from .._core._fiber import INTERNAL
from ._events import visible
from ._grammar import GRAMMAR
from ._layout import MAX_SIBLINGS

if TYPE_CHECKING:
    from ._diagnose import Diagnostic
    from ._trace import Trace

__all__ = ["BROWSER_GRAMMAR", "css", "diagnostics", "esm", "row"]

# The SVG timeline's visual grammar and layout rules, for the browser side to draw with.
BROWSER_GRAMMAR: Final = {**GRAMMAR, "internal": INTERNAL, "max_siblings": MAX_SIBLINGS}


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def esm() -> str:
    """The browser side: one ES module."""
    return "\n".join(_asset(f"_widget_{part}.js") for part in ("model", "view", "flags", "draw"))


def css() -> str:
    return _asset("_widget.css")


def row(e: Any) -> list[Any]:
    """An event as the browser gets it: user text with its control and bidirectional
    formatting characters shown as escapes (`visible`), so no name can spoof a label."""
    data = {k: visible(v) if isinstance(v, str) else v for k, v in e.data.items()}
    by = visible(e.by) if isinstance(e.by, str) else e.by
    return [e.seq, e.ts, e.kind, e.fiber, e.parent, by, None if e.name is None else visible(e.name), data]


def diagnostics(trace: Trace, found: list[Diagnostic] | None = None) -> list[dict[str, Any]]:
    """The trace's diagnostics (``found``, by default `Trace.diagnose`'s) as the browser
    side gets them: its *diagnostics* pane lists them, and its lanes flag them as the SVG
    timeline does."""
    from ._flags import payload
    from ._story import Story
    if found is None:
        found = trace.diagnose()
    return payload(found, Story(trace)) if found else []
