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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--effectpy-screenshots", default=None,
                     help="keep the browser test's screenshots of the timeline widget in this folder")
    parser.addoption("--effectpy-pictures", default=None,
                     help="write the PNGs of the stories' pictures (tests/test_pictures_browser.py) here")
