"""Instruments: optional hooks the runtime calls at each step of interest.

The runtime holds ``None`` when nothing is attached, so an event site costs one check.
An instrument whose hook raises is detached with a warning; the program runs on unchanged.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

__all__ = ["HOOKS", "Instrument", "instrument"]

HOOKS: Final = (
    "fiber_started",      # (fiber, parent | None)
    "fiber_ended",        # (fiber, exit)
    "fiber_interrupted",  # (fiber, by): interruption requested; by = fiber id or "host"
    "resource_acquired",  # (fiber, resource_id, resource)
    "resource_released",  # (fiber, resource_id, exit)
)


class Instrument:
    """Base class for runtime instruments: override the hooks you need (see `HOOKS`)."""

    def fiber_started(self, fiber: Any, parent: Any) -> None: ...
    def fiber_ended(self, fiber: Any, exit: Any) -> None: ...
    def fiber_interrupted(self, fiber: Any, by: object) -> None: ...
    def resource_acquired(self, fiber: Any, resource_id: int, resource: object) -> None: ...
    def resource_released(self, fiber: Any, resource_id: int, exit: Any) -> None: ...


class Instruments:
    """The instruments attached to one run; `emit` calls each one that defines a hook."""

    __slots__ = ("_items",)

    def __init__(self, items: tuple[Instrument, ...]) -> None:
        self._items = list(items)

    def emit(self, hook: str, *args: Any) -> None:
        for inst in tuple(self._items):
            fn = getattr(inst, hook, None)
            if fn is None:
                continue
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001 - a broken instrument must not break the run
                self._items.remove(inst)
                warnings.warn(
                    f"effectpy instrument {inst!r} raised {type(exc).__name__}: {exc} in "
                    f"{hook}; it has been detached",
                    RuntimeWarning, stacklevel=2,
                )


# The instruments that runs started in this context report to.
CURRENT_INSTRUMENTS: Final[ContextVar[tuple[Instrument, ...]]] = ContextVar(
    "effectpy_instruments", default=()
)


@contextmanager
def instrument(inst: Instrument) -> Iterator[Instrument]:
    """Attach ``inst`` to every effect run started inside the ``with`` block."""
    if not isinstance(inst, Instrument):
        raise TypeError(f"instrument expects an Instrument, got {type(inst).__name__} {inst!r}")
    token = CURRENT_INSTRUMENTS.set(CURRENT_INSTRUMENTS.get() + (inst,))
    try:
        yield inst
    finally:
        CURRENT_INSTRUMENTS.reset(token)
