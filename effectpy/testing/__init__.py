"""Helpers for testing effectpy programs, and the pytest plugin behind them.

Installing effectpy registers a pytest plugin (entry point ``pytest11``, name ``effectpy``,
module ``effectpy.testing._plugin``) with three fixtures:

- ``test_clock``: a fresh `effectpy.TestClock` (virtual time, moved only by the test).
- ``effect_env``: a `effectpy.Context` providing that clock as the `effectpy.Clock`.
- ``effect_trace``: the live `effectpy.trace.Trace` of every effect run during the test.
  ``@pytest.mark.effect_trace(...)`` passes options to `effectpy.trace.record`.

When a test that used ``effect_trace`` fails, its timeline SVG and JSONL trace are written
to ``--effectpy-trace-dir`` (default ``<rootdir>/effectpy-traces``), under the names
`trace_file_stem` gives, and the failure report says where. Passing tests write nothing.

Importing this package does not import pytest: only pytest loads the plugin module.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

__all__ = ["DEFAULT_TRACE_DIR", "trace_file_stem"]

DEFAULT_TRACE_DIR: Final = "effectpy-traces"
"""Where failing tests' traces go, relative to the pytest rootdir, unless
``--effectpy-trace-dir`` says otherwise."""

# Anything but these becomes "_" in file names (no separators, no shell glob characters).
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")
# Longest readable part of a file name; the tail (the test's name and parameters) is kept.
_MAX_READABLE: Final = 120


def trace_file_stem(nodeid: str) -> str:
    """The file name stem for the trace files of the test ``nodeid``.

    Safe on every file system and in a shell: the node id with ``::`` shown as ``--`` and
    every other character outside ``[A-Za-z0-9._-]`` (``/``, ``[``, ``]``, spaces...) as
    ``_``, then a short hash of the exact node id, so distinct tests never share a name
    and the same test always gets the same one. The plugin writes ``<stem>.svg`` and
    ``<stem>.trace.jsonl``.

    Args:
        nodeid: a pytest node id, such as ``"tests/test_api.py::test_get[a/b]"``.

    Returns:
        The stem, without a directory or suffix.

    >>> trace_file_stem("tests/test_api.py::TestGet::test_get[a/b]")
    'tests_test_api.py--TestGet--test_get_a_b-2311e9cb'
    >>> trace_file_stem("tests/test_api.py::TestGet::test_get[a_b]")
    'tests_test_api.py--TestGet--test_get_a_b-4cb3d49f'
    """
    if not isinstance(nodeid, str):
        raise TypeError(f"trace_file_stem expects a pytest node id (str), got {type(nodeid).__name__} {nodeid!r}")
    readable = _UNSAFE.sub("_", nodeid.replace("::", "--")).strip("._-")[-_MAX_READABLE:].lstrip("._-")
    digest = hashlib.sha256(nodeid.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{readable}-{digest}" if readable else digest
