"""Recording what the runtime does: fork, cancel, acquire, release, fail, ...

``with effectpy.trace.record() as trace:`` records every effect run started inside the
block (``capacity=N``: the last N events, in bounded memory; ``path=...``: every event also
written to a file as it happens, which a killed process leaves loadable;
``record(asyncio=True)``: every plain asyncio task too; `traced` marks an ``async with``
block as a resource). A `Trace` is a plain value: query it (`fibers`, `resources`,
`leaks`, `summary`, `diagnose`: what points at a bug), save it (`to_jsonl` / `Trace.load`,
which also reads a streamed file cut short: `Trace.truncated`), open it in Perfetto
(`to_perfetto`) or in any browser (`to_html`), or draw two on one time axis
(`side_by_side`: a risky version above its fix). Trees as
`graphviz.Digraph` objects: `effect_tree(effect)` and `Trace.fiber_tree()`; `render_svg`
draws them, with or without Graphviz's ``dot``. In a notebook, `Trace.widget()` is the
interactive timeline (`TimelineWidget`, with ``effectpy[notebook]``; imported on first use).

Data flows one way: runtime -> instrument hooks -> `Recorder` -> `Trace` -> exports.
"""

from ._events import KINDS, TraceEvent, TraceFormatError
from ._recorder import Recording, record
from ._asyncio import traced
from ._diagnose import Diagnostic, diagnose
from ._comparison import Comparison, side_by_side
from ._trace import FiberInfo, Leaks, ResourceInfo, Trace
from ._effect_tree import effect_tree
from ._tree_picture import render_svg


def __getattr__(name: str) -> object:
    if name == "TimelineWidget":  # only on demand: it imports anywidget and ipywidgets
        from ._trace import widget_class
        return widget_class()
    raise AttributeError(f"module 'effectpy.trace' has no attribute {name!r}")


__all__ = ["KINDS", "Comparison", "Diagnostic", "FiberInfo", "Leaks", "Recording", "ResourceInfo", "Trace",
           "TraceEvent", "TraceFormatError", "diagnose", "effect_tree", "record", "render_svg", "side_by_side",
           "traced"]
