"""A fiber's `FiberRef` values: copied on write, forked into children, joined back.

A fiber's values are a `FiberRefs` map, shared with the children it forks until one of them
writes (a write makes a new map: a map is never changed once a fiber holds it). A child
starts with its parent's map, each value passed through its ref's ``fork`` function when
one has one. When a child is joined (`Fiber.join`, or the end of an effect awaited inside a
fiber's coroutine), each value the child *changed* is merged into the parent's with its
ref's ``join(parent_value, child_value)`` (by default the child's value wins); values the
child left alone never overwrite the parent's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._fiber import Fiber

__all__ = ["FiberRefs", "fork_refs", "inherit_refs", "join_refs"]


class RefKey(Protocol):
    """What the runtime needs of a `FiberRef` (``effectpy._ref``)."""

    _initial: Any
    _fork: Any  # fn(parent_value) -> child_value, or None (the value itself)
    _join: Any  # fn(parent_value, child_value) -> merged value, or None (the child's)


class FiberRefs(dict[Any, Any]):
    """FiberRef -> value. Never changed once a fiber holds it (copy on write)."""

    __slots__ = ("forking",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.forking = False  # some ref in it has a fork function

    def copy(self) -> FiberRefs:
        out = FiberRefs(self)
        out.forking = self.forking
        return out

    def with_value(self, ref: RefKey, value: Any) -> FiberRefs:
        """A copy with ``ref`` set to ``value``."""
        out = self.copy()
        out[ref] = value
        out.forking = out.forking or ref._fork is not None
        return out


def fork_refs(refs: FiberRefs) -> FiberRefs:
    """A child's map: ``refs`` with each ref's fork function applied (``refs.forking``)."""
    out = FiberRefs(refs)
    out.forking = True
    for ref, value in refs.items():
        if ref._fork is not None:
            out[ref] = ref._fork(value)
    return out


def join_refs(parent: FiberRefs | None, start: FiberRefs | None, child: FiberRefs | None) -> FiberRefs | None:
    """The parent's map once a child that started with ``start`` and ended with ``child``
    is joined: each value the child changed, merged with its ref's join function."""
    if child is start or child is None:
        return parent
    out: FiberRefs | None = None  # a new map (no fiber holds it yet: it may be written)
    for ref, value in child.items():
        if start is not None and ref in start and start[ref] is value:
            continue  # the child left it alone
        if out is None:
            out = FiberRefs() if parent is None else parent.copy()
        if ref._join is not None:
            value = ref._join(out.get(ref, ref._initial), value)
        out[ref] = value
        out.forking = out.forking or ref._fork is not None
    return parent if out is None else out


def inherit_refs(parent: Fiber[Any, Any], child: Fiber[Any, Any]) -> None:
    """Merge ``child``'s changed FiberRef values into ``parent``'s."""
    parent._refs = join_refs(parent._refs, child._forked_refs, child._refs)
