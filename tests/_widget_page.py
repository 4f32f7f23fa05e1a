"""The timeline widget's browser side on a bare page, without Jupyter: its ES module is
loaded with a stand-in for the anywidget model (traits and messages), fed the events a
`TimelineWidget` sends, and drawn by headless Chromium (Playwright). Used by the browser
test (pictures of the stories, as the widget draws them) and by the frame-time benchmark.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from effectpy.trace import Trace

# The browser the tests use, and how they start it (headless, no network of its own).
CHROMIUM = os.environ.get("EFFECTPY_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>%s
body { margin: 12px; font-family: sans-serif; }</style></head><body><div id="host"></div><script>
window.toKernel = [];
class Model {
  constructor(state) { this.state = state; this.handlers = {}; }
  get(k) { return this.state[k]; }
  set(k, v) { this.state[k] = v; (this.handlers["change:" + k] || []).forEach((f) => f()); }
  on(ev, f) { (this.handlers[ev] = this.handlers[ev] || []).push(f); }
  send(msg) { window.toKernel.push(msg); }
  save_changes() {}
  deliver(msg) { (this.handlers["msg:custom"] || []).forEach((f) => f(msg)); }
}
window.start = async (code, state) => {
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  const widget = (await import(url)).default;
  window.model = new Model(state);
  widget.initialize({ model: window.model });
  widget.render({ model: window.model, el: document.getElementById("host") });
};
</script></body></html>"""

TRAITS = ("title", "_heading", "clock", "running", "selected", "cursor", "effect_tree_svg", "sent", "dropped",
          "diagnostics", "_grammar", "_uid")


def open_widget(page: Any, trace: Trace, *, title: str | None = None, effect: Any = None) -> float:
    """Show ``trace``'s widget on ``page`` (a Playwright page), as a notebook would; the
    milliseconds the page spent taking the batches in and drawing them."""
    from effectpy.trace._widget import TimelineWidget

    messages: list[dict[str, Any]] = []

    class Captured(TimelineWidget):  # type: ignore[misc]
        def send(self, content: Any, buffers: Any = None) -> None:
            messages.append(content)

    widget = Captured(trace, effect, title=title)
    state = {name: getattr(widget, name) for name in TRAITS}
    css = resources.files("effectpy.trace").joinpath("_widget.css").read_text(encoding="utf-8")
    code = TimelineWidget._esm
    page.set_content(_PAGE % css)
    page.evaluate("([code, state]) => window.start(code, state)", [code, state])
    spent = 0.0
    for message in messages:  # as text, as a comm carries it (and fast through Playwright)
        spent += page.evaluate("(text) => { const t = performance.now(); window.model.deliver(JSON.parse(text)); "
                               "return performance.now() - t; }", json.dumps(message))
    spent += page.evaluate("() => new Promise((r) => { const t = performance.now(); "
                           "requestAnimationFrame(() => r(performance.now() - t)); })")
    page.wait_for_function("(n) => document.querySelectorAll('g.eptw-lane').length > 0 || n === 0",
                           arg=len(trace))
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return float(spent)


def output_dir(request: Any, tmp_path_factory: Any, option: str, name: str) -> Path:
    """Where a test module saves what it draws: the folder given with ``option`` (to keep
    the files, e.g. for docs/pictures), else a temporary one."""
    where = request.config.getoption(option, default=None)
    path = Path(where) if where else tmp_path_factory.mktemp(name)
    path.mkdir(parents=True, exist_ok=True)
    return path
