"""The stories the pictures are judged on, and a measure of the texts an SVG draws.

The stories: the guide's (a race, a fail-fast zip_par, a timeout with a fallback, a bounded
for_each_par, nested cleanup) and a stress story (many interruptions at one instant, deeply
nested scopes, long names). Each runs on a `TestClock`, so its trace, and so its picture,
is the same on every run.

`text_boxes(svg)` measures every text an SVG shows, as a browser would lay it out, from
its font size (the widths of DejaVu Sans, the timeline's first font); `overlaps(svg)` lists
the pairs of texts that cover each other.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from effectpy import (
    Effect, Semaphore, TestClock, acquire_release, fail, for_each_par, never, race, scoped, sleep,
    succeed, sync, zip_par,
)
from effectpy.trace import Trace, record
from effectpy.trace._text import text_box

SVG = "{http://www.w3.org/2000/svg}"


def fetch(name: str, seconds: float, fails: bool = False) -> Effect[Any, Any, Any]:
    """The guide's service call: it holds a connection while it waits for the answer."""
    conn = acquire_release(succeed(f"connection to {name}"), lambda c: sync(lambda: None))
    body = sleep(seconds).flat_map(lambda _: fail(f"{name} timeout") if fails else succeed(f"data from {name}"))
    return conn.flat_map(lambda _: body).named(name)


def race_story() -> Effect[Any, Any, Any]:
    return race(fetch("Primary", 0.3), fetch("Backup", 0.2), fetch("Fallback", 0.4))


def zip_par_story() -> Effect[Any, Any, Any]:
    return zip_par(fetch("Auth", 0.1), fetch("User", 0.6, fails=True), fetch("Profile", 0.8))


def timeout_story() -> Effect[Any, Any, Any]:
    timer = sleep(0.5).flat_map(lambda _: fail("timeout")).named("timer")
    return race(fetch("SlowService", 2.0), timer).catch_all(lambda _: succeed("cached data"))


def pool_story() -> Effect[Any, Any, Any]:
    pool = Semaphore(3)

    def query(i: int) -> Effect[Any, Any, Any]:
        conn = acquire_release(succeed(f"conn{i % 3}"), lambda c: sync(lambda: None))
        return pool.with_permit(conn.flat_map(lambda c: sleep(0.1).as_(f"{c}: SELECT {i}")))

    return for_each_par(range(10), query, parallelism=10)


def cleanup_story() -> Effect[Any, Any, Any]:
    """Nested cleanup: a job holds a database, then a cache in an inner scope, then runs two
    workers that hold a connection each; the job's timeout interrupts it all, and everything
    is released, innermost first, each release taking a little time."""
    def resource(name: str, release_time: float) -> Effect[Any, Any, Any]:
        return acquire_release(sleep(0.1).as_(name), lambda r: sleep(release_time))

    def worker(name: str) -> Effect[Any, Any, Any]:
        return resource(f"{name} connection", 0.05).flat_map(lambda _: never).named(name)

    inner = scoped(resource("cache", 0.1).flat_map(lambda _: zip_par(worker("reader"), worker("writer"))))
    job = resource("database", 0.2).flat_map(lambda _: inner).named("job")
    return job.timeout(1).catch_all(lambda e: succeed("gave up"))


def stress_story() -> Effect[Any, Any, Any]:
    """Many interruptions at one instant, deeply nested scopes, long names."""
    long = "a-service-with-a-remarkably-long-name-that-goes-on-and-on-" * 2

    def holder(i: int) -> Effect[Any, Any, Any]:
        conn = acquire_release(succeed(f"connection number {i} to {long}"), lambda c: sync(lambda: None))
        return conn.flat_map(lambda _: never).named(f"holder {i} of {long}")

    def nest(depth: int) -> Effect[Any, Any, Any]:
        if depth == 0:
            return sleep(0.3).flat_map(lambda _: fail(f"deep failure: {long * 2}"))
        inner = nest(depth - 1)
        pair = zip_par(inner, sleep(5).named(f"sibling at depth {depth}")) if depth % 2 else race(inner, never)
        return pair.named(f"level {depth}")

    crowd = zip_par(*[holder(i) for i in range(12)],
                    sleep(0.2).flat_map(lambda _: fail(f"one of the crowd failed: {long}")).named("spoiler"))
    return zip_par(crowd.either(), nest(6).either(), race(*[holder(100 + i) for i in range(8)],
                                                         sleep(0.25).as_("fast").named("fast one")))


STORIES: dict[str, tuple[Callable[[], Effect[Any, Any, Any]], str]] = {
    "race": (race_story, "race: Backup answers first; Primary and Fallback are interrupted and release their connections"),
    "zip_par": (zip_par_story, "zip_par, fail fast: User fails at 0.6 s, Profile is interrupted"),
    "timeout": (timeout_story, "timeout with fallback: the timer cuts the slow service off at 0.5 s"),
    "for_each_par": (pool_story, "for_each_par: 10 queries through a pool of 3 connections"),
    "cleanup": (cleanup_story, "nested cleanup: the timeout interrupts the job; everything is released, innermost first"),
    "stress": (stress_story, "stress: many interruptions at one instant, deeply nested scopes, long names"),
}


def traced(program: Effect[Any, Any, Any]) -> Trace:
    """The trace of ``program`` run on a fresh `TestClock`."""
    with record() as trace:
        asyncio.run(TestClock().drive(program))
    return Trace(trace.events, clock=trace.clock)


def render(name: str) -> str:
    make, title = STORIES[name]
    return traced(make()).to_svg(title=title)


# --- measuring what an SVG shows -----------------------------------------------------------


def visible(element: ET.Element) -> str:
    """The text an element shows (its <title> is a tooltip, not shown)."""
    return (element.text or "") + "".join(child.tail or "" for child in element)


_TRANSLATE = re.compile(r"translate\(\s*([-\d.]+)[\s,]+([-\d.]+)\s*\)")


def text_boxes(svg: str) -> list[tuple[tuple[float, float, float, float], str]]:
    """Every text the SVG shows, with the box it covers (in the picture's coordinates: the
    ``translate`` of the groups it is in applied)."""
    root = ET.fromstring(svg)
    size0 = float(root.get("font-size", "16"))
    out = []

    def walk(element: ET.Element, dx: float, dy: float) -> None:
        for child in element:
            if child.tag == f"{SVG}text":
                text = visible(child)
                if not text.strip():
                    continue
                assert child.get("transform") is None, "rotated text is not measured"
                box = text_box(float(child.get("x", "0")) + dx, float(child.get("y", "0")) + dy, text,
                               float(child.get("font-size", size0)), anchor=child.get("text-anchor", "start"),
                               bold=child.get("font-weight") == "bold", mono="Mono" in (child.get("font-family") or ""))
                out.append((box, text))
                continue
            transform = child.get("transform") or ""
            moved = _TRANSLATE.fullmatch(transform.strip())
            assert not transform or moved, f"only translate() is measured, got {transform!r}"
            walk(child, dx + float(moved.group(1)) if moved else dx, dy + float(moved.group(2)) if moved else dy)

    walk(root, 0.0, 0.0)
    return out


def overlaps(svg: str) -> list[tuple[str, str]]:
    """The pairs of texts whose boxes overlap, and the texts that leave the picture."""
    root = ET.fromstring(svg)
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    boxes = text_boxes(svg)
    bad = [(text, "outside the picture") for (x0, y0, x1, y1), text in boxes
           if x0 < -0.5 or y0 < -0.5 or x1 > width + 0.5 or y1 > height + 0.5]
    for (a, ta), (b, tb) in itertools.combinations(boxes, 2):
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
            bad.append((ta, tb))
    return bad
