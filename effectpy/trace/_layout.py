"""The timeline's layout: its lanes (one per fiber in tree order, effectpy's internal fibers
folded into their owner's lane, large sibling groups drawn as one group lane) and a
`Placer` that finds room for each label so that no two texts overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from ._text import text_box

if TYPE_CHECKING:
    from ._story import Story
    from ._trace import FiberInfo

__all__ = ["ABOVE", "BELOW", "CENTER", "NOTE_SIZE", "Group", "Lane", "Placer", "build_lanes"]

# Siblings forked in one scope (or outside any) beyond this many are drawn as a group lane.
MAX_SIBLINGS: Final = 24
# Lanes beyond this many are not drawn (the picture says how many fibers were left out).
MAX_LANES: Final = 400
NOTE_SIZE: Final = 10.0  # px: the labels on the lanes
# Baselines of the three label bands of a lane, from its middle: above the bar, on its line
# (right of its end), below it. A 10 px text in one band never reaches another, nor the
# next lane's.
ABOVE: Final = -9.2
CENTER: Final = 3.6
BELOW: Final = 16.4


@dataclass
class Group:
    """Sibling fibers drawn as one lane: ``members`` were forked by ``parent`` in one scope
    of ``kind`` (or outside any scope: "fork"); ``ids`` holds them and their descendants."""

    kind: str
    parent: int
    members: list[FiberInfo]
    ids: list[int] = field(default_factory=list)

    @property
    def start(self) -> float:
        return min(m.start for m in self.members)

    @property
    def end(self) -> float | None:
        ends = [m.end for m in self.members]
        return None if any(e is None for e in ends) else max(e for e in ends if e is not None)


@dataclass
class Lane:
    """One row of the picture: a fiber (with the internal fibers folded into it), or a group."""

    fiber: FiberInfo | None
    depth: int
    label: str
    ids: list[int]  # the fibers whose events this lane shows
    internal: list[int] = field(default_factory=list)
    group: Group | None = None
    last: int = 0  # the index of the last lane of its subtree
    top: float = 0.0
    height: float = 0.0

    @property
    def mid(self) -> float:
        return self.top + self.height / 2


def build_lanes(story: Story) -> tuple[list[Lane], dict[int, int], int]:
    """The lanes in tree order, the lane index of every fiber drawn (or folded into a lane),
    and how many fibers the lane limit left out."""
    by_id = story.by_id
    kids: dict[int, list[FiberInfo]] = {}
    folded: dict[int, list[int]] = {}
    for f in story.fibers:
        if f.id in story.owner:
            folded.setdefault(story.owner[f.id], []).append(f.id)
        elif f.parent is not None and f.parent in by_id:
            # under the lane that shows its parent (an internal parent's owner)
            kids.setdefault(story.owner.get(f.parent, f.parent), []).append(f)
    scope_of: dict[int, tuple[int, str]] = {}
    for scope in story.scopes:
        for child in scope.children:
            scope_of[child] = (scope.id, scope.kind)
    lanes: list[Lane] = []
    lane_of: dict[int, int] = {}
    stack: list[tuple[FiberInfo | Group, int]] = [(f, 0) for f in reversed(story.roots) if f.id not in story.owner]
    while stack and len(lanes) < MAX_LANES:
        item, depth = stack.pop()
        index = len(lanes)
        if isinstance(item, Group):
            label = f"{item.kind}: {len(item.members):,} fibers"
            lanes.append(Lane(None, depth, label, item.ids, group=item))
            for fid in item.ids:
                lane_of[fid] = index
            continue
        f = item
        lane = Lane(f, depth, story.labels[f.id], [f.id], folded.get(f.id, []))
        lanes.append(lane)
        lane_of[f.id] = index
        for fid in lane.internal:
            lane_of[fid] = index
        stack.extend((k, depth + 1) for k in reversed(_grouped(kids.get(f.id, []), scope_of, kids, folded, f.id)))
    _subtree_ends(lanes)
    left_out = sum(1 for f in story.fibers if f.id not in lane_of)
    return lanes, lane_of, left_out


def _grouped(children: list[FiberInfo], scope_of: dict[int, tuple[int, str]],
             kids: dict[int, list[FiberInfo]], folded: dict[int, list[int]],
             parent: int) -> list[FiberInfo | Group]:
    """``children`` in fork order, each set of more than MAX_SIBLINGS forked in one scope
    (or outside any) replaced by one group, where its first member was."""
    if len(children) <= MAX_SIBLINGS:
        return list(children)
    sets: dict[int | None, list[FiberInfo]] = {}
    for c in children:
        key = scope_of.get(c.id)
        sets.setdefault(key[0] if key else None, []).append(c)
    out: list[FiberInfo | Group] = []
    made: dict[int | None, Group] = {}
    for c in children:
        key = scope_of.get(c.id)
        sid = key[0] if key else None
        members = sets[sid]
        if len(members) <= MAX_SIBLINGS:
            out.append(c)
        elif sid not in made:
            group = made[sid] = Group(key[1] if key else "fork", parent, members)
            todo = [m.id for m in members]
            while todo:  # the members and everything under them
                fid = todo.pop()
                group.ids.append(fid)
                group.ids.extend(folded.get(fid, ()))
                todo.extend(k.id for k in kids.get(fid, ()))
            out.append(group)
    return out


def _subtree_ends(lanes: list[Lane]) -> None:
    open_: list[int] = []
    for i, lane in enumerate(lanes):
        while open_ and lanes[open_[-1]].depth >= lane.depth:
            lanes[open_.pop()].last = i - 1
        open_.append(i)
    for i in open_:
        lanes[i].last = len(lanes) - 1


Box = tuple[float, float, float, float]


class Placer:
    """The boxes already drawn, and room for new labels: a label takes the first of its
    candidate places that is inside the picture and clear of every box drawn (with a pixel
    to spare). Boxes are kept in a grid of cells, so that a lookup stays local."""

    CELL: Final = 64.0
    GAP: Final = 0.6  # half the room kept between two boxes

    def __init__(self, width: float, height: float) -> None:
        self.width = width
        self.height = height
        self._cells: dict[tuple[int, int], list[Box]] = {}

    def _keys(self, box: Box) -> list[tuple[int, int]]:
        c = self.CELL
        return [(i, j) for i in range(int(box[0] // c), int(box[2] // c) + 1)
                for j in range(int(box[1] // c), int(box[3] // c) + 1)]

    def free(self, box: Box, *, right: float | None = None) -> bool:
        g = self.GAP
        x0, y0, x1, y1 = box[0] - g, box[1] - g, box[2] + g, box[3] + g
        if box[0] < 0 or box[1] < 0 or box[2] > (self.width if right is None else right) or box[3] > self.height:
            return False
        for key in self._keys(box):
            for b in self._cells.get(key, ()):
                if x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1:
                    return False
        return True

    def take(self, box: Box) -> None:
        for key in self._keys(box):
            self._cells.setdefault(key, []).append(box)

    def place(self, text: str, size: float, candidates: list[tuple[float, float, str]], *,
              right: float | None = None, bold: bool = False,
              mono: bool = False) -> tuple[float, float, str] | None:
        """The first candidate (x, baseline, anchor) where ``text`` fits, now taken; None
        if none does. ``right`` is the rightmost x the label may reach."""
        for x, baseline, anchor in candidates:
            box = text_box(x, baseline, text, size, anchor=anchor, bold=bold, mono=mono)
            if self.free(box, right=right):
                self.take(box)
                return x, baseline, anchor
        return None
