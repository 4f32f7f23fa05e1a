"""Instruments: optional hooks the runtime calls at each step of interest.

The runtime holds ``None`` when nothing is attached, so an event site costs one check.
An instrument whose hook raises is detached with a warning; the program runs on unchanged.
Hooks receive live runtime objects (fibers, exits); they must not change them.
"""

from __future__ import annotations

import os
import sys
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ._steps import Ledger

__all__ = ["HOOKS", "Instrument", "instrument"]

# Whether effects built in this context remember where (file:line) user code built them.
CAPTURE_SOURCE: Final[ContextVar[bool]] = ContextVar("effectpy_capture_source", default=False)


def user_location() -> str | None:
    """``file:line`` of the innermost caller outside effectpy, when capture is on."""
    if not CAPTURE_SOURCE.get():
        return None
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module != "effectpy" and not module.startswith("effectpy."):
            return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return None

HOOKS: Final = (
    "fiber_started",      # (fiber, parent | None)
    "fiber_ended",        # (fiber, exit)
    "fiber_interrupted",  # (fiber, by, reason): requested; by = fiber id or "host"
    "fiber_failed",       # (fiber, cause): a failure or defect starts to unwind the fiber
    "fiber_suspended",    # (fiber, on): waiting ("sleep", "join", "await", "deferred", ...)
    "fiber_resumed",      # (fiber,): woken up, ready to run again
    "fiber_joined",       # (fiber, target): fiber waits for target's exit
    "sleep_started",      # (fiber, clock, deadline)
    "sleep_ended",        # (fiber, clock)
    "timeout_fired",      # (fiber, seconds)
    "retry_scheduled",    # (fiber, attempt, delay, error): a typed failure will be retried
    "scope_opened",       # (fiber, scope_id, kind): kind = zip_par, race, scoped, layer, ...
    "scope_closed",       # (fiber, scope_id, kind)
    "resource_acquired",  # (fiber, resource_id, resource)
    "resource_released",  # (fiber, resource_id, exit): after the release ran
    "resource_releasing",  # (fiber, resource_id): the release begins
    "fiber_unwinding",    # (fiber,): an interruption takes effect: the fiber stops, runs its finalizers
    "fiber_step",         # (fiber, seconds, where): a synchronous step held the event loop for
                          # seconds (real time, >= _steps.STEP_FLOOR); where: file:line or None
)


class Instrument:
    """Base class for runtime instruments: override the hooks you need (see `HOOKS`)."""

    def fiber_started(self, fiber: Any, parent: Any) -> None: ...
    def fiber_ended(self, fiber: Any, exit: Any) -> None: ...
    def fiber_interrupted(self, fiber: Any, by: object, reason: str) -> None: ...
    def fiber_failed(self, fiber: Any, cause: Any) -> None: ...
    def fiber_suspended(self, fiber: Any, on: str) -> None: ...
    def fiber_resumed(self, fiber: Any) -> None: ...
    def fiber_joined(self, fiber: Any, target: Any) -> None: ...
    def sleep_started(self, fiber: Any, clock: Any, deadline: float) -> None: ...
    def sleep_ended(self, fiber: Any, clock: Any) -> None: ...
    def timeout_fired(self, fiber: Any, seconds: float) -> None: ...
    def retry_scheduled(self, fiber: Any, attempt: int, delay: float, error: Any) -> None: ...
    def scope_opened(self, fiber: Any, scope_id: int, kind: str) -> None: ...
    def scope_closed(self, fiber: Any, scope_id: int, kind: str) -> None: ...
    def resource_acquired(self, fiber: Any, resource_id: int, resource: object) -> None: ...
    def resource_released(self, fiber: Any, resource_id: int, exit: Any) -> None: ...
    def resource_releasing(self, fiber: Any, resource_id: int) -> None: ...
    def fiber_unwinding(self, fiber: Any) -> None: ...
    def fiber_step(self, fiber: Any, seconds: float, where: str | None) -> None: ...


def _overrides(inst: Instrument, hook: str) -> bool:
    fn = getattr(type(inst), hook, None)
    return fn is not None and fn is not getattr(Instrument, hook, None)


class Instruments:
    """The instruments attached to one run; `emit` calls each one that overrides a hook."""

    __slots__ = ("_by_hook", "_single", "ledger", "started", "ended", "joined", "__weakref__")

    def __init__(self, items: tuple[Instrument, ...]) -> None:
        # hook name -> bound methods of the instruments that override it
        self._by_hook: dict[str, list[tuple[Instrument, Callable[..., None]]]] = {}
        for inst in items:
            for hook in HOOKS:
                if _overrides(inst, hook):
                    self._by_hook.setdefault(hook, []).append((inst, getattr(inst, hook)))
        # Where the run's steps are charged, when they are timed (an instrument takes
        # `fiber_step`: `_steps.py`); None otherwise. Runs are made in their loop's thread.
        self.ledger: Ledger | None = None
        if "fiber_step" in self._by_hook:
            from ._steps import ledger
            self.ledger = ledger()
        self._index()

    def _index(self) -> None:
        # hook name -> the bound method, for hooks one instrument overrides (the usual
        # case: a recorder; `emit` then skips the loop, a third of its cost)
        self._single: dict[str, tuple[Instrument, Callable[..., None]]] = {
            hook: targets[0] for hook, targets in self._by_hook.items() if len(targets) == 1}
        # The three hooks of every fiber, called as ``inst.started(fiber, parent)``,
        # ``inst.ended(fiber, exit)``, ``inst.joined(fiber, target)``: the one instrument's
        # method itself when one takes the hook (no dispatch: the caller hands what it
        # raises to `hook_failed`, with the hook it called), else `emit`
        self.started = self._direct("fiber_started")
        self.ended = self._direct("fiber_ended")
        self.joined = self._direct("fiber_joined")

    def _direct(self, hook: str) -> Callable[..., None]:
        single = self._single.get(hook)
        if single is not None:
            return single[1]
        return _Emit(self, hook)

    def hook_failed(self, called: Callable[..., None], hook: str, exc: Exception) -> None:
        """``called``, the hook's direct call (`started`, `ended`, `joined`), raised
        ``exc``: detach its instrument, as `emit` does. Through `emit` (which has dealt
        with the instrument already), what escapes is its warning turned into an error:
        raised on."""
        if called.__class__ is _Emit:
            raise exc
        self._failed(called.__self__, hook, exc)  # type: ignore[attr-defined]

    def emit(self, hook: str, *args: Any) -> None:
        single = self._single.get(hook)
        if single is not None:
            try:
                single[1](*args)
            except Exception as exc:  # noqa: BLE001 - a broken instrument must not break the run
                self._failed(single[0], hook, exc)
            return
        targets = self._by_hook.get(hook)
        if not targets:
            return
        for inst, fn in targets:
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001 - a broken instrument must not break the run
                self._failed(inst, hook, exc)

    def _failed(self, inst: Instrument, hook: str, exc: Exception) -> None:
        self._detach(inst)
        warnings.warn(
            f"effectpy instrument {inst!r} raised {type(exc).__name__}: {exc} in "
            f"{hook}; it has been detached",
            RuntimeWarning, stacklevel=3,
        )

    def _detach(self, inst: Instrument) -> None:
        for hook, targets in list(self._by_hook.items()):
            self._by_hook[hook] = [(i, f) for i, f in targets if i is not inst]
        self._index()
        if not self._by_hook.get("fiber_step"):
            self.ledger = None


class _Emit:
    """`Instruments.emit` for one hook, as that hook's direct call (holding the instruments
    weakly: they would otherwise refer to themselves, and live until a collection)."""

    __slots__ = ("ref", "hook")

    def __init__(self, instruments: Instruments, hook: str) -> None:
        self.ref = weakref.ref(instruments)
        self.hook = hook

    def __call__(self, *args: Any) -> None:
        instruments = self.ref()
        if instruments is not None:
            instruments.emit(self.hook, *args)


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
