import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest


def arun(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine on a fresh asyncio loop."""
    return asyncio.run(coro)


@pytest.fixture
def run_async():
    return arun
