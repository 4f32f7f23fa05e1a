"""The timeline widget as one standalone HTML file: `Trace.to_html` / `Trace.save_html`.

The page holds the notebook widget's own code and style (`_browser.esm` and `_browser.css`,
inlined as they are) and the trace's events, and drives the widget with a small stand-in for
the part of the anywidget model API it uses (``get``, ``set``, ``on``, ``off``,
``save_changes``, ``send``): the widget asks for the events it lacks, as it asks a kernel,
and the page answers from the events it holds. Nothing is fetched (no network, no Jupyter):
the file opens from disk in any current browser. Without JavaScript, the page shows the
static SVG timeline. The same trace gives the same bytes.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any, Final

from ._browser import BROWSER_GRAMMAR, css, diagnostics, esm, row
from ._story import title_of

if TYPE_CHECKING:
    from .._core._effect import Effect
    from ._trace import Trace

__all__ = ["to_html"]

# The stand-in model, then the widget started on it. The widget's module is imported from a
# blob: URL made from its text (an inline module cannot be imported by name).
_BOOT: Final = """
const data = JSON.parse(document.getElementById("effectpy-data").textContent);
class Model {
  constructor(state, events) { this.state = state; this.events = events; this.handlers = new Map(); }
  get(name) { return this.state[name]; }
  set(name, value) {
    const old = this.state[name];
    this.state[name] = value;
    if (old !== value) this.fire(`change:${name}`, value);
  }
  save_changes() {}
  on(name, callback) {
    if (!this.handlers.has(name)) this.handlers.set(name, []);
    this.handlers.get(name).push(callback);
  }
  off(name, callback) {
    if (name == null) { this.handlers.clear(); return; }
    const list = this.handlers.get(name) || [];
    this.handlers.set(name, callback == null ? [] : list.filter((c) => c !== callback));
  }
  send(msg) {
    // what a kernel answers: the events the view lacks
    if (msg && msg.type === "need" && Number.isInteger(msg.have) && msg.have >= 0) {
      const reply = { type: "events", start: msg.have, events: this.events.slice(msg.have) };
      setTimeout(() => this.fire("msg:custom", reply, []), 0);
    }
  }
  fire(name, ...args) { for (const callback of (this.handlers.get(name) || []).slice()) callback(...args); }
}
const url = URL.createObjectURL(new Blob([data.widget], { type: "text/javascript" }));
const widget = (await import(url)).default;
URL.revokeObjectURL(url);
const model = new Model(data.state, data.events);
window.effectpyModel = model;
if (widget.initialize) widget.initialize({ model });
widget.render({ model, el: document.getElementById("effectpy-timeline") });
"""


def _script_json(value: object) -> str:
    """JSON that is safe inside a <script> element: ASCII only, and no ``<``, ``>`` or ``&``
    (escaped as in JSON strings, where alone they can occur), so no user text can end the
    element or change how the HTML parser reads it."""
    text = json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def to_html(trace: Trace, *, title: str | None = None, effect: Effect[Any, Any, Any] | None = None) -> str:
    """The trace's interactive timeline as one self-contained HTML page (see the module
    docstring); ``effect`` adds its effect tree, annotated from the run, as the widget does."""
    if title is not None and not isinstance(title, str):
        raise TypeError(f"to_html's title must be a str or None, got {type(title).__name__} {title!r}")
    tree = ""
    if effect is not None:
        from .._core._effect import Effect
        if not isinstance(effect, Effect):
            raise TypeError(f"to_html's effect must be an Effect or None, got {type(effect).__name__}")
        from ._effect_tree import effect_tree_picture
        from ._tree_picture import fallback_svg
        tree = fallback_svg(effect_tree_picture(effect, trace if len(trace) else None))
    events = trace.events
    heading = title_of(trace.fibers(), title)
    found = trace.diagnose()  # (for the page and its noscript picture alike)
    state = {"title": title or "", "_heading": heading, "clock": trace.clock, "running": False,
             "selected": None, "cursor": None, "effect_tree_svg": tree, "sent": len(events),
             "dropped": trace.dropped, "diagnostics": diagnostics(trace, found), "_grammar": BROWSER_GRAMMAR,
             "_uid": "effectpy-html"}
    data = {"state": state, "events": [row(e) for e in events], "widget": esm()}
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(heading)}</title>",
        f"<style>\nbody {{ margin: 16px; }}\n{css()}\n</style>",
        "</head>",
        "<body>",
        '<div id="effectpy-timeline"></div>',
        f"<noscript>{trace.to_svg(title=title, diagnostics=found)}</noscript>",
        f'<script type="application/json" id="effectpy-data">{_script_json(data)}</script>',
        f'<script type="module">{_BOOT}</script>',
        "</body>",
        "</html>",
        "",
    ])
