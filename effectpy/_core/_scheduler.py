"""What a fiber needs from its backend: a `Scheduler` (`_runtime.Runtime`,
`_trio.TrioRuntime`) and, once it awaits coroutines, a `Carrier` (`_carrier`, `_trio`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._effect import Effect
    from ._fiber import Fiber
    from ._hooks import Instruments

__all__ = ["Carrier", "Scheduler"]


class Carrier(Protocol):
    """The task that carries a fiber once it has awaited a coroutine (`_carrier.TaskCarrier`
    and `HostCarrier`, `_trio._TrioCarrier`): it awaits ``aw`` inline, runs the fiber's
    loop, and parks while the fiber waits on anything else."""

    # The awaitable the fiber's loop asks the carrier to await next (None: none).
    aw: Awaitable[Any] | None
    # How many more awaits may end before the fiber lets the others run (`resume_awaited`).
    budget: int

    @property
    def task(self) -> Any:
        """The backend's task that carries the fiber."""

    def __call__(self) -> None:
        """Cancel the await in progress: the carrier is the fiber's canceller while the
        fiber is suspended in one."""

    def wake(self, eff: Effect[Any, Any, Any] | None, ok: bool, val: Any) -> None:
        """Resume the fiber's loop with (eff, ok, val) in the carrier."""

    def pause(self, eff: Effect[Any, Any, Any] | None, ok: bool = True, val: Any = None) -> None:
        """Let the others run (after the fibers already waiting to), then go on with
        ``eff``, or with ``ok``/``val`` (a yield, or a budget used up)."""


class Scheduler(Protocol):
    """What a fiber needs from its backend (`_runtime.Runtime`, `_trio.TrioRuntime`)."""

    instrument: Instruments | None
    # How many group children are being started inline, one within another.
    inline_depth: int

    def call_soon(self, fn: Callable[..., object], *args: Any) -> object: ...
    def track_daemon(self, fiber: Fiber[Any, Any]) -> None: ...
    def call_later(self, delay: float, fn: Callable[..., object], *args: Any) -> Any: ...
    def carry(self, fiber: Fiber[Any, Any], aw: Awaitable[Any] | None,
              first: Effect[Any, Any, Any] | None = None) -> Carrier:
        """Start a carrier task for ``fiber`` that first awaits ``aw`` (or, with ``first``,
        starts the fiber's loop with that effect)."""
    def is_closed(self) -> bool: ...
