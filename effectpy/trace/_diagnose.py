"""Diagnostics: what in a trace points at a bug, as plain data.

`diagnose(trace, ...)` is a pure function of a `Trace` (recorded, loaded from a file, or
made from events): each `Diagnostic` says what kind of problem it is, which fibers (or
asyncio tasks) it is about, when it began on the trace's clock, how long it lasted where that
applies, and a one-line message naming them. The kinds:

- ``leak``: a fiber or task still running when its parent ended (a daemon: one still running
  when the run ended, which interrupted it);
- ``unreleased``: a resource acquired and never released;
- ``blocked_loop``: a synchronous step that held the event loop longer than the threshold
  (``step`` events: real time, recorded on the live clock only), with the code's file:line
  when source capture was on (``record(source=True)``);
- ``slow_interrupt``: an interruption that took effect longer than the threshold after it was
  asked for (``unwind`` events: the fiber was in an uninterruptible region, or busy), or that
  never did (the fiber ran on to a successful end, or was still running when the trace ended);
- ``slow_finalizer``: a release that ran longer than the threshold (the ``seconds`` of a
  ``release`` event), or a fiber that took longer than that to end once interrupted or failed,
  counted from the last child it waited for and the last slow release;
- ``never_ended``: a fiber or task with no ``exit`` in the trace.

effectpy's internal fibers (a timeout's timer, a stream's pumps) end with the fiber that owns
them, so they are neither leaks nor never-ended ones (as in `Trace.leaks`). Durations shorter than a millisecond are not recorded, so no threshold may be lower.

Each diagnostic also names the event that shows it in the pictures (``seq``): the timeline
marks it there, and the widget's *diagnostics* pane moves its replay cursor to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from .._core._duration import to_seconds
from .._core._runtime import RUN_ENDED
from .._core._steps import STEP_FLOOR
from ._events import TraceEvent
from ._text import fmt_duration

if TYPE_CHECKING:
    from ._trace import FiberInfo, Trace

__all__ = ["DEFAULT_BLOCKED_LOOP", "DEFAULT_SLOW_FINALIZER", "DEFAULT_SLOW_INTERRUPT", "DIAGNOSTIC_KINDS",
           "Diagnostic", "diagnose"]

DIAGNOSTIC_KINDS: Final = ("leak", "unreleased", "blocked_loop", "slow_interrupt", "slow_finalizer",
                           "never_ended")

DEFAULT_BLOCKED_LOOP: Final = 0.05  # seconds a synchronous step may hold the event loop
DEFAULT_SLOW_INTERRUPT: Final = 0.25  # seconds an interruption may take to take effect
DEFAULT_SLOW_FINALIZER: Final = 0.25  # seconds a release, or a fiber's cleanup, may take


@dataclass(frozen=True)
class Diagnostic:
    """One problem a trace shows. ``fibers`` are trace ids, the one at fault first; ``at``
    is when it began (trace seconds); ``seconds`` how long it lasted (blocked_loop,
    slow_interrupt, slow_finalizer); ``source`` the code's file:line when known; ``seq``
    the event that shows it: the one at ``at`` (the parent's exit for a leak, the acquire,
    the interruption, the fork of a fiber that never ended), or for what lasted, the one
    that ended it (the step, the release, the fiber's exit); None if the trace has none
    (an interruption still waiting when the trace ended)."""

    kind: str
    fibers: tuple[int, ...]
    at: float
    message: str
    seconds: float | None = None
    source: str | None = None
    resource: int | None = None
    seq: int | None = None
    untimed: str = field(default="", repr=False)  # the message without clock readings

    def __post_init__(self) -> None:
        if self.kind not in DIAGNOSTIC_KINDS:
            raise ValueError(f"Diagnostic's kind must be one of {', '.join(DIAGNOSTIC_KINDS)}, got {self.kind!r}")
        if not isinstance(self.fibers, tuple) or not self.fibers or not all(
                isinstance(f, int) and not isinstance(f, bool) for f in self.fibers):
            raise TypeError(f"Diagnostic's fibers must be a non-empty tuple of fiber ids (the one at "
                            f"fault first), got {self.fibers!r}")
        for name in ("at", "seconds"):
            value = getattr(self, name)
            if value is None and name == "seconds":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (
                    name == "seconds" and value < 0):
                raise ValueError(f"Diagnostic's {name} must be a finite number of trace seconds"
                                 f"{' (>= 0)' if name == 'seconds' else ''}, got {value!r}")

    def __str__(self) -> str:
        return self.message

    def describe(self, *, timings: bool = True) -> str:
        """The message; ``timings=False`` leaves out the clock readings and durations."""
        return self.message if timings or not self.untimed else self.untimed


def _threshold(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"diagnose's {name} must be a number of seconds, a Duration or None, got {value!r}")
    seconds = to_seconds(value, f"diagnose's {name}")
    if seconds < STEP_FLOOR:
        raise ValueError(f"diagnose's {name} must be at least {STEP_FLOOR:g} s (shorter steps, waits "
                         f"and releases are not recorded, so a lower threshold could not be "
                         f"honoured), got {value!r}")
    return seconds


def diagnose(trace: Trace, *, blocked_loop: object = DEFAULT_BLOCKED_LOOP,
             slow_interrupt: object = DEFAULT_SLOW_INTERRUPT,
             slow_finalizer: object = DEFAULT_SLOW_FINALIZER) -> list[Diagnostic]:
    """The problems ``trace`` shows, in the order they began (see the module docstring).

    Args:
        trace: any `Trace`.
        blocked_loop: seconds (or a `Duration`) a synchronous step may hold the event loop.
        slow_interrupt: seconds an interruption may take to take effect.
        slow_finalizer: seconds a release, or a fiber's end once interrupted or failed, may
            take. Each threshold is at least 1 ms (shorter times are not recorded), or None
            not to check that kind.

    >>> import effectpy
    >>> from effectpy.trace import record
    >>> with record() as trace:
    ...     effectpy.run(effectpy.never.named("worker").fork_daemon().as_("done"))
    'done'
    >>> [(d.kind, d.fibers) for d in trace.diagnose()]
    [('leak', (2, 1))]
    """
    limits = (_threshold(blocked_loop, "blocked_loop"), _threshold(slow_interrupt, "slow_interrupt"),
              _threshold(slow_finalizer, "slow_finalizer"))
    return _Reading(trace).diagnostics(*limits)


def _seconds(d: float) -> str:
    return f"{d * 1000:.0f} ms" if d < 1 else f"{d:.3g} s"


def _at(ts: float) -> str:
    """An instant of the trace, as its pictures' time axis writes it ("160 ms", "1.5 s")."""
    return fmt_duration(round(ts, 9))


class _Reading:
    """One pass over a trace's events, and the questions the diagnostics ask of it."""

    def __init__(self, trace: Trace) -> None:
        self.events: Sequence[TraceEvent] = trace.events
        self.live = trace.clock == "live"
        self.fibers: dict[int, FiberInfo] = {f.id: f for f in trace.fibers()}
        self.end = self.events[-1].ts if self.events else 0.0
        self.exit_seq: dict[int, int] = {}
        self.fork_seq: dict[int, int] = {}
        self.source: dict[int, str] = {}
        self.acquired: dict[int, TraceEvent] = {}
        self.released: dict[int, TraceEvent] = {}
        for e in self.events:
            if e.kind == "exit":
                self.exit_seq[e.fiber] = e.seq
            elif e.kind == "fork":
                self.fork_seq[e.fiber] = e.seq
                if "source" in e.data:
                    self.source[e.fiber] = str(e.data["source"])
            elif e.kind == "acquire":
                self.acquired[e.data["resource"]] = e
            elif e.kind == "release":
                self.released[e.data["resource"]] = e

    def label(self, fid: object) -> str:
        if not isinstance(fid, int):
            return str(fid)
        f = self.fibers.get(fid)
        return f.label if f is not None else f"#{fid}"

    def diagnostics(self, blocked: float | None, interrupt: float | None,
                    finalizer: float | None) -> list[Diagnostic]:
        found = [*self.leaks(), *self.unreleased(), *self.never_ended()]
        if blocked is not None:
            found += self.blocked(blocked)
        if interrupt is not None:
            found += self.slow_interrupts(interrupt)
        if finalizer is not None:
            found += self.slow_finalizers(finalizer)
        order = {k: i for i, k in enumerate(DIAGNOSTIC_KINDS)}
        return sorted(found, key=lambda d: (d.at, order[d.kind], d.fibers))

    # --- the kinds ---------------------------------------------------------------------

    def leaks(self) -> list[Diagnostic]:
        found = []
        ended_by_run = {e.fiber: e for e in self.events if e.kind == "cancel" and e.data.get("reason") == RUN_ENDED}
        for f in self.fibers.values():
            if f.internal:
                continue  # effectpy's own fibers end with their owner (as `Trace.leaks` says)
            parent = self.fibers.get(f.parent) if f.parent is not None else None
            if f.daemon:
                cut = ended_by_run.get(f.id)
                if cut is not None:
                    found.append(Diagnostic(
                        "leak", (f.id, *((parent.id,) if parent else ())), cut.ts,
                        f"{f.label} ran until the run ended at {_at(cut.ts)}, which interrupted it "
                        f"(started at {_at(f.start)})",
                        seq=cut.seq,
                        untimed=f"{f.label} ran until the run ended, which interrupted it"))
                continue
            if parent is None or parent.id not in self.exit_seq:
                continue
            ended = self.exit_seq.get(f.id)
            if ended is not None and ended < self.exit_seq[parent.id]:
                continue  # it ended first: no leak
            assert parent.end is not None
            after = (f"it ended at {_at(f.end)} ({f.outcome})" if f.end is not None
                     else "it was still running when the trace ended")
            found.append(Diagnostic(
                "leak", (f.id, parent.id), parent.end,
                f"{f.label} outlived its parent {parent.label}, which ended at {_at(parent.end)}; {after}",
                seq=self.exit_seq[parent.id],
                untimed=f"{f.label} outlived its parent {parent.label}"
                      + (f" (it ended {f.outcome})" if f.outcome else " (still running)")))
        return found

    def unreleased(self) -> list[Diagnostic]:
        return [Diagnostic(
            "unreleased", (e.fiber,), e.ts,
            f"resource {rid} ({e.data.get('value', '')}) acquired by {self.label(e.fiber)} at {_at(e.ts)} "
            "was never released",
            resource=rid, seq=e.seq,
            untimed=f"resource {rid} ({e.data.get('value', '')}) acquired by {self.label(e.fiber)} "
                  "was never released")
            for rid, e in self.acquired.items() if rid not in self.released]

    def never_ended(self) -> list[Diagnostic]:
        return [Diagnostic("never_ended", (f.id,), f.start,
                           f"{f.label} never ended (started at {_at(f.start)})",
                           seq=self.fork_seq.get(f.id),
                           untimed=f"{f.label} never ended")
                for f in self.fibers.values() if f.end is None and not f.internal]

    def blocked(self, threshold: float) -> list[Diagnostic]:
        found = []
        for e in self.events:
            if e.kind != "step":
                continue
            seconds = float(e.data.get("seconds", 0.0))
            if seconds < threshold:
                continue
            # on the live clock the step began `seconds` before it ended; on a virtual clock
            # no time passes during a step
            at = round(max(e.ts - seconds, 0.0), 9) if self.live else e.ts
            source = e.data.get("source") or self.source.get(e.fiber)
            where = f" ({source})" if source else ""
            found.append(Diagnostic(
                "blocked_loop", (e.fiber,), at,
                f"{self.label(e.fiber)} held the event loop for {_seconds(seconds)} at {_at(at)}{where}",
                seconds=seconds, source=source, seq=e.seq,
                untimed=f"{self.label(e.fiber)} held the event loop for more than "
                      f"{_seconds(threshold)}{where}"))
        return found

    def slow_interrupts(self, threshold: float) -> list[Diagnostic]:
        """Interruptions that took effect late (``unwind`` events), that never took effect
        before the fiber ran to a successful end, or that had not taken effect when the
        trace ended."""
        found = []
        asked: dict[int, TraceEvent] = {}  # fiber -> the first cancel not yet taken effect
        for e in self.events:
            if e.kind == "cancel" and not self.of_a_block(e):
                asked.setdefault(e.fiber, e)
            elif e.kind == "unwind" and e.fiber in asked:
                waited = float(e.data.get("waited", e.ts - asked[e.fiber].ts))
                found += self._slow_interrupt(asked.pop(e.fiber), waited, "took {} to take effect", threshold, e)
            elif e.kind == "exit" and e.fiber in asked:
                cancel = asked.pop(e.fiber)
                if e.data.get("outcome", "success") == "success":  # it was never delivered
                    found += self._slow_interrupt(cancel, e.ts - cancel.ts, "never took effect: the "
                                                  "fiber ran to its end {} later", threshold, e)
        for cancel in asked.values():
            if self.fibers[cancel.fiber].end is None:
                found += self._slow_interrupt(cancel, self.end - cancel.ts, "had not taken effect "
                                              "{} later, when the trace ended", threshold, None)
        return found

    def of_a_block(self, cancel: TraceEvent) -> bool:
        """Whether ``cancel`` interrupts a block of an asyncio task rather than the task (it
        goes on once the block is left): a `TaskGroup` whose child failed cancels the task
        running the group's body, an ``asyncio.timeout`` the task running its body."""
        by = cancel.by
        if by == "asyncio.timeout":
            return True
        child = self.fibers.get(by) if isinstance(by, int) else None
        return child is not None and child.parent == cancel.fiber

    def _slow_interrupt(self, cancel: TraceEvent, waited: float, how: str, threshold: float,
                        ended: TraceEvent | None) -> list[Diagnostic]:
        if waited < threshold:
            return []
        by = cancel.by
        others = (by,) if isinstance(by, int) and by in self.fibers and by != cancel.fiber else ()
        target = self.label(cancel.fiber)
        return [Diagnostic(
            "slow_interrupt", (cancel.fiber, *others), cancel.ts,
            f"interrupting {target} (asked by {self.label(by)} at {_at(cancel.ts)}) {how.format(_seconds(waited))}",
            seconds=waited, seq=ended.seq if ended is not None else None,
            untimed=f"interrupting {target} (asked by {self.label(by)}) took more than {_seconds(threshold)}")]

    def slow_finalizers(self, threshold: float) -> list[Diagnostic]:
        """Releases that ran long (the ``seconds`` of ``release`` events), and fibers that
        took long to end once interrupted or failed, after the last child they waited for
        and the last slow release."""
        found = []
        waited: dict[int, float] = {}  # fiber -> when its last reported slow release ended
        for rid, e in self.released.items():
            took = float(e.data.get("seconds", 0.0))
            if took < threshold:
                continue
            acquired = self.acquired.get(rid)
            value = f" ({acquired.data.get('value', '')})" if acquired is not None else ""
            began = round(e.ts - took, 9)
            waited[e.fiber] = max(waited.get(e.fiber, e.ts), e.ts)
            found.append(Diagnostic(
                "slow_finalizer", (e.fiber,), began,
                f"releasing resource {rid}{value} of {self.label(e.fiber)} took {_seconds(took)} "
                f"(from {_at(began)})",
                seconds=took, resource=rid, seq=e.seq,
                untimed=f"releasing resource {rid}{value} of {self.label(e.fiber)} took more than "
                      f"{_seconds(threshold)}"))
        return found + self._slow_cleanups(threshold, waited)

    def _slow_cleanups(self, threshold: float, waited: dict[int, float]) -> list[Diagnostic]:
        began: dict[int, TraceEvent] = {}  # fiber -> the interruption or failure ending it
        failed: dict[int, TraceEvent] = {}
        for e in self.events:
            if e.kind == "unwind" or (e.kind == "cancel" and e.fiber not in began and not self.of_a_block(e)):
                began[e.fiber] = e  # delivered at the unwind, else at once (< 1 ms)
            elif e.kind in ("fail", "die"):
                failed[e.fiber] = e  # the last one: the failure that ended the fiber
        found = []
        for f in self.fibers.values():
            if f.end is None or f.outcome == "success":
                continue
            start = began.get(f.id) or failed.get(f.id)
            if start is None:
                continue
            children = [c.end for c in map(self.fibers.get, f.children)
                        if c is not None and c.end is not None and start.ts <= c.end <= f.end]
            since = max([start.ts, waited.get(f.id, start.ts), *children])
            took = f.end - since
            if took < threshold:
                continue
            why = "its interruption" if start.kind in ("cancel", "unwind") else "it failed"
            found.append(Diagnostic(
                "slow_finalizer", (f.id,), since,
                f"{f.label} took {_seconds(took)} to end after {why} (from {_at(since)})",
                seconds=took, seq=self.exit_seq.get(f.id),
                untimed=f"{f.label} took more than {_seconds(threshold)} to end after {why}"))
        return found


def summary_lines(diagnostics: list[Diagnostic], *, timings: bool, virtual: bool,
                  covered: Callable[[Diagnostic], bool]) -> list[str]:
    """`Trace.summary`'s "diagnostics:" section: the diagnostics its "leaks:" line does not
    already give (``covered(d)``). ``timings=False`` keeps only what the same program always
    shows: no blocked_loop (real time), and the slow ones only on a virtual clock."""
    lines = []
    for d in diagnostics:
        if covered(d):
            continue
        if not timings and (d.kind == "blocked_loop" or (d.kind.startswith("slow_") and not virtual)):
            continue
        lines.append(f"  {d.kind}: {d.describe(timings=timings)}")
    return ["diagnostics:", *lines] if lines else []
