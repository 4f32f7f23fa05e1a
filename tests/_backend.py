"""Run effect tests on every backend: import `run`, `run_exit` and `each_backend` from here.

A test module that does ``from _backend import each_backend, run, run_exit`` runs each of
its tests once per backend; tests marked ``@pytest.mark.asyncio_only`` (they drive asyncio
directly) run once.
"""

from typing import Any

import pytest

import effectpy

BACKENDS = ("asyncio", "trio")
_current = {"backend": "asyncio"}


def run(effect: Any) -> Any:
    return effectpy.run(effect, backend=_current["backend"])  # type: ignore[arg-type]


def run_exit(effect: Any) -> Any:
    return effectpy.run_exit(effect, backend=_current["backend"])  # type: ignore[arg-type]


@pytest.fixture(autouse=True, params=BACKENDS)
def each_backend(request: pytest.FixtureRequest) -> Any:
    if request.param != "asyncio" and request.node.get_closest_marker("asyncio_only"):
        pytest.skip("drives asyncio directly")
    _current["backend"] = request.param
    yield request.param
    _current["backend"] = "asyncio"
