"""nbval and display updates.

`%%effect` shows its timeline widget before the effect runs (so it grows live), then updates
that display (``update_display_data``) once the run is over, so its static fallbacks (the
timeline SVG and the text summary) hold the whole run. JupyterLab and nbclient apply the
update to the output with the same ``display_id``, and that is what the stored notebooks
hold; nbval 0.11 ignores update messages ("unhandled iopub msg") and would compare the
first, empty picture. This shim gives nbval Jupyter's view: from a display that has a
``display_id`` until the kernel is idle again (or the cell fails), iopub messages are held
back, updates are applied to their display, and then the messages are handed to nbval in
their order. It wraps the kernel's message reader, which all of nbval's reads go through.
"""

from __future__ import annotations

from collections import deque
from typing import Any

try:
    import nbval.kernel
except ImportError:  # no nbval: nothing to teach
    nbval = None


def _display_id(msg: dict[str, Any]) -> str | None:
    return msg["content"].get("transient", {}).get("display_id")


def _ends_hold(msg: dict[str, Any]) -> bool:
    """The kernel is idle again, or the cell failed (nbval then waits for idle itself)."""
    return msg["msg_type"] == "error" or (
        msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle")


if nbval is not None:
    _get = nbval.kernel.RunningKernel.get_message

    def get_message(self: Any, stream: str, timeout: float | None = None) -> Any:
        if stream != "iopub":
            return _get(self, stream, timeout)
        ready: deque[Any] = self.__dict__.setdefault("_effectpy_ready", deque())
        if ready:
            return ready.popleft()
        msg = _get(self, stream, timeout)
        if msg["msg_type"] != "display_data" or _display_id(msg) is None:
            return msg
        held = [msg]
        while not _ends_hold(held[-1]):
            nxt = _get(self, stream, timeout)
            if nxt["msg_type"] != "update_display_data":
                held.append(nxt)
                continue
            for shown in held:
                if shown["msg_type"] in ("display_data", "execute_result") and _display_id(shown) == _display_id(nxt):
                    shown["content"]["data"] = nxt["content"]["data"]
                    shown["content"]["metadata"] = nxt["content"]["metadata"]
        ready.extend(held[1:])
        return held[0]

    nbval.kernel.RunningKernel.get_message = get_message
