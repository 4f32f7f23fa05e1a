"""Draw the pictures of docs/guide.md from the guide's own examples.

    python docs/guide/make_pictures.py           # redraw the pictures that changed
    python docs/guide/make_pictures.py --check   # only say which are out of date (exit 1)

In the guide, a picture is an image link ``![what it shows](guide/NAME.svg)`` that comes
after the python block it is drawn from (the nearest one above it). That block is saved as
``NAME.py`` in a temporary folder and traced as a reader would trace it (README, "Pictures"):

    python -m effectpy trace NAME.py --test-clock --svg NAME.svg --title TITLE

This runs the block's ``main`` effect on a `TestClock`, and not its
``if __name__ == "__main__":`` part. On virtual time the same block gives the same SVG,
byte for byte, so ``tests/test_docs_guide.py`` checks that every picture is what its
example draws today. TITLE is the heading of the section the picture is in.

This file also parses the guide for that test: `parse` finds its examples, each with the
output shown in the ``text`` block right after it, and its pictures.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUIDE = HERE.parent / "guide.md"
REGENERATE = "python docs/guide/make_pictures.py"

_FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```[ \t]*$", re.M | re.S)
_HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.M)
_IMAGE = re.compile(r"!\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(([^)\s]+)\)")  # alt text may hold [0]


@dataclass
class Example:
    """A python block of the guide."""

    line: int  # the line of its opening fence
    code: str
    output: str | None = None  # the ``text`` block right after it: what it prints


@dataclass(frozen=True)
class Picture:
    """A timeline linked from the guide, and the example it is drawn from."""

    name: str
    path: Path  # the stored SVG
    alt: str
    title: str
    example: Example


def parse(text: str) -> tuple[list[Example], list[Picture]]:
    """The guide's python examples and its pictures (``guide/*.svg`` links), in order."""
    examples: list[Example] = []
    pictures: list[Picture] = []
    heading = ""
    previous: tuple[str, int] | None = None  # (language, end) of the last fenced block

    def prose(start: int, end: int) -> None:
        nonlocal heading
        marks = [(m.start(), "heading", m) for m in _HEADING.finditer(text, start, end)]
        marks += [(m.start(), "image", m) for m in _IMAGE.finditer(text, start, end)]
        for _, kind, m in sorted(marks, key=lambda mark: mark[0]):
            if kind == "heading":
                heading = m.group(1).replace("`", "")
            elif m.group(2).startswith("guide/") and m.group(2).endswith(".svg"):
                if not examples:
                    raise ValueError(f"{GUIDE.name}: the picture {m.group(2)} comes before any python block")
                target = m.group(2)
                pictures.append(Picture(Path(target).stem, GUIDE.parent / target, m.group(1),
                                        heading, examples[-1]))

    position = 0
    for fence in _FENCE.finditer(text):
        prose(position, fence.start())
        language, body = fence.group(1), fence.group(2)
        if language == "python":
            examples.append(Example(text.count("\n", 0, fence.start()) + 1, body))
        elif (language == "text" and previous is not None and previous[0] == "python"
              and not text[previous[1]:fence.start()].strip()):
            examples[-1].output = body
        previous = (language, fence.end())
        position = fence.end()
    prose(position, len(text))
    return examples, pictures


def draw(picture: Picture, folder: Path) -> tuple[Path, str]:
    """Trace the picture's example on a TestClock into ``folder/NAME.svg``; returns that
    path and the trace's summary."""
    script = folder / f"{picture.name}.py"
    script.write_text(picture.example.code, encoding="utf-8")
    svg = folder / f"{picture.name}.svg"
    command = [sys.executable, "-m", "effectpy", "trace", script.name, "--test-clock",
               "--svg", svg.name, "--title", picture.title]
    run = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300)
    # Exit code 1 with this message: `main` failed, as some examples mean it to (the
    # picture is still written). Anything else is a broken example.
    main_failed = run.returncode == 1 and run.stderr.startswith("the program failed:")
    if run.returncode != 0 and not main_failed:
        raise RuntimeError(f"{GUIDE.name}, the example at line {picture.example.line} (picture "
                           f"{picture.name}): `python -m effectpy trace` exited with "
                           f"{run.returncode}:\n{run.stderr}")
    return svg, run.stdout


def draw_all(pictures: list[Picture], folder: Path) -> dict[str, tuple[Path, str]]:
    """`draw` every picture (each in its own process, several at a time)."""
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        drawn = pool.map(lambda picture: draw(picture, folder), pictures)
        return {picture.name: result for picture, result in zip(pictures, drawn)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a picture is missing or out of date")
    args = parser.parse_args(argv)
    _, pictures = parse(GUIDE.read_text(encoding="utf-8"))
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        drawn = draw_all(pictures, Path(tmp))
        for picture in pictures:
            new = drawn[picture.name][0].read_bytes()
            if picture.path.is_file() and picture.path.read_bytes() == new:
                print(f"up to date  {picture.path.relative_to(HERE.parent.parent)}")
                continue
            stale.append(picture)
            if args.check:
                print(f"OUT OF DATE {picture.path.relative_to(HERE.parent.parent)}")
            else:
                picture.path.write_bytes(new)
                print(f"redrawn     {picture.path.relative_to(HERE.parent.parent)}  (look at it!)")
    linked = {picture.path for picture in pictures}
    for orphan in sorted(set(HERE.glob("*.svg")) - linked):
        print(f"not linked from the guide: {orphan.relative_to(HERE.parent.parent)}")
    if args.check and stale:
        print(f"regenerate with: {REGENERATE}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
