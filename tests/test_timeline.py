"""The SVG timeline: golden pictures of the guide's examples, determinism, valid and
escaped XML, and large traces collapsed into readable summary lanes.

Regenerate the golden files (after an intended change, and look at them!) with:
    python tests/test_timeline.py
"""

import asyncio
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import effectpy
from effectpy import (
    Semaphore, TestClock, acquire_release, fail, for_each_par, race, sleep, succeed, sync, zip_par,
)
from effectpy.trace import Trace, record

DATA = Path(__file__).parent / "data"
SVG = "{http://www.w3.org/2000/svg}"


def visible(element):
    """The text an element shows (its <title> is a tooltip, not shown)."""
    return (element.text or "") + "".join(child.tail or "" for child in element)


def fetch(name, seconds, fails=False):
    conn = acquire_release(succeed(f"conn to {name}"), lambda c: sync(lambda: None))
    body = sleep(seconds).flat_map(lambda _: fail(f"{name} timeout") if fails else succeed({"service": name}))
    return conn.flat_map(lambda _: body).named(name)


def guide_race():
    return race(fetch("Primary", 0.3), fetch("Backup", 0.2), fetch("Fallback", 0.4))


def guide_zip_par_fail_fast():
    return zip_par(fetch("Auth", 0.1), fetch("User", 0.6, fails=True), fetch("Profile", 0.8))


def guide_timeout_fallback():
    timer = sleep(0.5).flat_map(lambda _: fail("timeout")).named("timer")
    return race(fetch("SlowService", 2.0), timer).catch_all(lambda _: succeed({"service": "Cache"}))


def guide_connection_pool():
    pool = Semaphore(3)

    def query(i):
        conn = acquire_release(succeed(f"conn{i % 3}"), lambda c: sync(lambda: None))
        return pool.with_permit(conn.flat_map(lambda c: sleep(0.1).as_(f"{c}: SELECT {i}")))

    return for_each_par(range(10), query, parallelism=10)


PICTURES = {
    "guide_race": (guide_race, "race: Backup answers first; Primary and Fallback are cancelled"),
    "guide_zip_par": (guide_zip_par_fail_fast, "zip_par fail-fast: User fails at 0.6s, Profile is cancelled"),
    "guide_timeout": (guide_timeout_fallback, "timeout and fallback: the timer cuts the slow service off at 0.5s"),
    "guide_pool": (guide_connection_pool, "connection pool: 10 queries through 3 connections"),
}


def traced(program) -> Trace:
    clock = TestClock()
    with record() as trace:
        asyncio.run(clock.drive(program))
    return trace


def render(name: str) -> str:
    make, title = PICTURES[name]
    return traced(make()).to_svg(title=title)


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_golden_pictures_of_the_guide(name):
    svg = render(name)
    assert svg == render(name)  # deterministic: byte-identical on a second run
    assert svg == (DATA / f"{name}.svg").read_text(encoding="utf-8")


def test_the_race_picture_tells_its_story():
    root = ET.fromstring(render("guide_race"))
    texts = [visible(t) for t in root.iter(f"{SVG}text")]
    assert {"#2 Primary", "#3 Backup", "#4 Fallback"} <= set(texts)
    titles = [t.text or "" for t in root.iter(f"{SVG}title")]
    assert any("#2 Primary: interrupted" in t for t in titles)
    assert any("#3 Backup: success" in t for t in titles)
    assert sum("cancelled by #1" in t for t in titles) >= 2
    assert sum(t.startswith("release r") and "interrupted" in t for t in titles) == 2
    assert any(t.startswith("race scope of #1") for t in titles)


def test_hostile_names_and_errors_are_just_text():
    nasty = '<script>alert("x")</script> & ]]> \x07'
    with record() as trace:
        effectpy.run_exit(zip_par(succeed(1).named(nasty), fail(nasty)))
    svg = trace.to_svg(title=nasty)
    root = ET.fromstring(svg)  # valid XML
    assert "<script>" not in svg and not list(root.iter(f"{SVG}script"))
    assert any(nasty[:20] in visible(t) for t in root.iter(f"{SVG}text"))


def test_self_contained():
    svg = render("guide_pool")
    for banned in ("http://", "https://", "<script", "<image", "@import", "xlink:href"):
        assert banned not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_large_traces_collapse_sibling_groups_and_stay_small():
    program = for_each_par(range(10_000), lambda i: sleep(0.001 * (i % 7)).as_(i), parallelism=500)
    trace = traced(program)
    svg = trace.to_svg()
    assert len(svg.encode()) < 5_000_000
    root = ET.fromstring(svg)
    texts = " ".join(visible(t) for t in root.iter(f"{SVG}text"))
    assert "+9997 more: for_each_par[3]" in texts
    assert "10000 fibers drawn collapsed" in texts or "9997 fibers drawn collapsed" in texts
    assert "9997 fibers collapsed: 9997 success" in texts


def test_render_a_saved_trace_without_a_runtime(tmp_path):
    path = traced(guide_race()).save_jsonl(tmp_path / "race.jsonl")
    assert Trace.load(path).to_svg(title=PICTURES["guide_race"][1]) == render("guide_race")


def test_retries_are_marked():
    from effectpy import Schedule
    svg = traced(fail("flaky").retry(Schedule.spaced(1) & Schedule.recurs(2)).either()).to_svg()
    titles = [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}title")]
    assert [t.split(" at ")[0] for t in titles if t.startswith("retry #")] == ["retry #1", "retry #2"]


def test_never_ended_fibers_and_empty_traces():
    assert ET.fromstring(Trace().to_svg()) is not None

    async def main():
        with record() as trace:
            await effectpy.never.named("stuck").fork_daemon()
        return trace

    trace = asyncio.run(main())
    assert "never ended" in trace.to_svg()


if __name__ == "__main__":  # regenerate the golden pictures
    for picture in PICTURES:
        (DATA / f"{picture}.svg").write_text(render(picture), encoding="utf-8")
        print("wrote", DATA / f"{picture}.svg", file=sys.stderr)


def test_characters_xml_forbids_are_replaced():
    for bad in ("nonchar \uffff", "bom \ufffe", "lone \ud800 surrogate", "bell \x07"):
        with record() as trace:
            effectpy.run(succeed(1).named(bad).fork().flat_map(lambda f: f.join()))
        svg = trace.to_svg(title=bad)
        ET.fromstring(svg)
        svg.encode("utf-8")  # saving never fails


def test_one_time_base_when_a_trace_does_not_start_at_zero():
    from effectpy import Clock, Context
    clock = TestClock()

    async def main():
        env = Context().with_service(Clock, clock)
        with record(capacity=6) as trace:
            await (sleep(100).flat_map(lambda _: fail("late boom")).named("job"))._run_exit(env)
        return trace

    async def drive():
        task = asyncio.create_task(main())
        await asyncio.sleep(0)
        clock.advance(101)
        return await task

    trace = asyncio.run(drive())
    titles = [t.text or "" for t in ET.fromstring(trace.to_svg()).iter(f"{SVG}title")]
    assert not any("101s" in t for t in titles)  # bars and markers are relative to the first event kept
