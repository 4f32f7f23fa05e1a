"""The SVG timeline: golden pictures of the guide's stories, no text over another text in any
of them (nor in the tour, nor in a stress story), cleanup, caught failures and results made
visible, internal fibers folded, large sibling groups as one lane of counts, determinism,
valid and escaped XML.

Regenerate the golden files (after an intended change, and look at them!) with:
    python tests/test_timeline.py
"""

import asyncio
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import effectpy
from effectpy import Schedule, TestClock, fail, for_each_par, sleep, succeed, zip_par
from effectpy.trace import Trace, record
from _pictures import STORIES, SVG, overlaps, render, text_boxes, traced, visible

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent


def texts(svg: str) -> list[str]:
    return [visible(t) for t in ET.fromstring(svg).iter(f"{SVG}text") if visible(t).strip()]


def titles(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}title")]


@pytest.mark.parametrize("name", sorted(STORIES))
def test_golden_pictures_of_the_stories(name):
    svg = render(name)
    assert svg == render(name)  # deterministic: byte-identical on a second run
    assert svg == (DATA / f"story_{name}.svg").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(STORIES))
def test_no_text_covers_another(name):
    svg = render(name)
    assert len(text_boxes(svg)) > 10
    assert overlaps(svg) == []


def test_the_tour_traced_as_one_picture_has_no_overlapping_text(tmp_path, monkeypatch, capsys):
    from effectpy.__main__ import main
    monkeypatch.chdir(tmp_path)  # the tour writes its own pictures into ./tour
    assert main(["trace", str(ROOT / "examples" / "tour.py"), "--svg", "tour.svg"]) == 0
    svg = (tmp_path / "tour.svg").read_text(encoding="utf-8")
    assert len(texts(svg)) > 40  # the four stories are all there
    assert overlaps(svg) == []


def test_the_overlap_check_sees_overlaps():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="50" font-size="12">'
           '<text x="10" y="20">fiber one</text><text x="40" y="24">fiber two</text>'
           '<text x="150" y="45" font-size="10">clear</text></svg>')
    assert overlaps(svg) == [("fiber one", "fiber two")]


def test_the_race_tells_its_story():
    svg = render("race")
    shown = texts(svg)
    assert {"#1 main", "#2 Primary", "#3 Backup", "#4 Fallback"} <= set(shown)
    tips = titles(svg)
    assert any(t.startswith("#2 Primary interrupted by #1 main at 200 ms (race: decided)") for t in tips)
    # cleanup made visible: each loser is hatched from its interruption to its end, and its
    # release is labelled with what it gave back
    hatched = [t for t in tips if "finalizers ran until" in t]
    assert sorted(h.split(" interrupted")[0] for h in hatched) == ["#2 Primary", "#4 Fallback"]
    assert "releasing connection to Primary" in " ".join(hatched)
    assert svg.count('fill="url(#eptl-releasing)"') == 2 + 1  # the two lanes, and the legend
    assert shown.count("connection to Primary") == 2  # acquired, and released
    assert "\u2192 'data from Backup'" in shown  # the root's value ends its lane
    assert not any(re.search(r"\de-\d", t) for t in shown + tips)  # human durations only


def test_a_caught_failure_is_hollow_and_says_what_came_of_it():
    svg = render("timeout")
    shown = texts(svg)
    assert "'timeout' caught \u2192 recovered \u2192 'cached data'" in shown
    assert "'timeout'" in shown  # the timer's own failure, which ended it: unhandled
    tips = titles(svg)
    assert any(t.startswith("#1 main: 'timeout' at 500 ms, caught: recovered") for t in tips)
    assert any(t.startswith("#3 timer fails at 500 ms: 'timeout'") for t in tips)
    # the zip_par story fails: its root's lane ends with the error, in red
    zip_svg = render("zip_par")
    assert "\u2717 'User timeout'" in texts(zip_svg)


def test_a_root_ends_with_its_value_or_success_when_the_trace_has_none():
    trace = traced(STORIES["timeout"][0]())
    assert "\u2192 'cached data'" in texts(trace.to_svg())  # the recorder keeps a root's value
    without = Trace([e._replace(data={k: v for k, v in e.data.items() if k != "value"})
                     if e.kind == "exit" else e for e in trace.events])
    assert "\u2713 success" in texts(without.to_svg())  # (a trace made without values)


def test_internal_fibers_are_folded_into_their_owner():
    svg = render("cleanup")
    shown = texts(svg)
    assert "\u2699 1" in shown  # main's lane holds the timeout's timer
    assert not any("timeout timer" in t for t in shown)  # no lane of its own
    assert any("internal fibers folded here: #3 \u2699 timeout timer" in t for t in titles(svg))
    # the timer's "timed out" is drawn on its owner's lane, its failure is not drawn
    trace = traced(STORIES["cleanup"][0]())
    assert [f.name for f in trace.fibers() if f.internal] == ["effectpy:timeout timer"]


def test_what_an_internal_fiber_forks_for_the_program_has_lanes_under_its_owner():
    from effectpy import Stream
    svg = traced(Stream.range(4).map_par(2, lambda i: sleep(0.1).as_(i)).run_collect()).to_svg()
    labels = [t for t in texts(svg) if t.startswith("#")]
    assert labels == ["#1 main", "#3 map_par[0]", "#4 map_par[1]", "#5 map_par[2]", "#6 map_par[3]"]
    assert "\u2699 1" in texts(svg)  # the pump that forked them is folded into main's lane
    assert overlaps(svg) == []


def test_nested_cleanup_releases_innermost_first_each_labelled():
    svg = render("cleanup")
    tips = [t for t in titles(svg) if " releases " in t]
    order = list(dict.fromkeys(t.split(" releases ")[1].split(" at ")[0] for t in tips))
    assert order == ["reader connection", "writer connection", "cache", "database"]


def test_nested_scopes_are_offset_and_labelled_apart():
    svg = render("stress")
    brackets = re.findall(r'<title>(\w+) scope of [^<]*</title><path d="M([\d.]+),([\d.]+)', svg)
    by_corner = {}
    for kind, x, y in brackets:
        by_corner.setdefault((x, y), []).append(kind)
    assert len(brackets) >= 8 and all(len(kinds) == 1 for kinds in by_corner.values())
    assert overlaps(svg) == []


def test_interruptions_at_one_instant_fan_out():
    svg = render("stress")
    arrows = re.findall(r'<line x1="([\d.]+)"[^>]*stroke-dasharray="4 3" marker-end="url\(#eptl-cancel\)">'
                        r'<title>#\d+ holder \d+ ', svg)
    assert len(arrows) >= 12 and len(set(arrows)) == len(arrows)  # one x each


def test_large_sibling_groups_are_one_lane_of_counts():
    program = for_each_par(range(10_000), lambda i: sleep(0.001 * (i % 7)).as_(i), parallelism=500)
    svg = traced(program).to_svg()
    assert len(svg.encode()) < 200_000
    shown = texts(svg)
    assert "for_each_par: 10,000 fibers" in shown
    assert "10,000 success" in shown and "at most 500 at once" in shown
    assert svg.count('marker-end="url(#eptl-fork)"') == 1  # one fork arrow for the group
    assert overlaps(svg) == []


def test_a_group_shows_failures_and_interruptions_over_time():
    def item(i):
        return fail("bad") if i == 40 else sleep(1).as_(i)

    svg = traced(for_each_par(range(60), item, parallelism=10).either()).to_svg()
    assert "for_each_par: 41 fibers" in texts(svg)  # the rest never started
    assert "31 success, 1 failed, 9 interrupted" in texts(svg)
    assert "at most 10 at once" in texts(svg)


def test_retries_are_marked():
    svg = traced(fail("flaky").retry(Schedule.spaced(1) & Schedule.recurs(2)).either()).to_svg()
    assert [t.split(" (attempt")[0] for t in titles(svg) if "retries" in t] == ["#1 main retries"] * 2
    assert "'flaky' \u2192 retry" in texts(svg)
    assert any(t.startswith("'flaky' caught \u2192 recovered") for t in texts(svg))  # .either() caught the last one


def test_hostile_names_and_errors_are_just_text():
    nasty = '<script>alert("x")</script> & ]]> \x07'
    with record() as trace:
        effectpy.run_exit(zip_par(succeed(1).named(nasty), fail(nasty)))
    svg = trace.to_svg(title=nasty)
    root = ET.fromstring(svg)  # valid XML
    assert "<script>" not in svg and not list(root.iter(f"{SVG}script"))
    assert any(nasty[:20] in visible(t) for t in root.iter(f"{SVG}text"))


def test_self_contained():
    svg = render("for_each_par")
    for banned in ("http://", "https://", "<script", "<image", "@import", "xlink:href"):
        assert banned not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_render_a_saved_trace_without_a_runtime(tmp_path):
    make, title = STORIES["race"]
    path = traced(make()).save_jsonl(tmp_path / "race.jsonl")
    assert Trace.load(path).to_svg(title=title) == render("race")


def test_the_default_title_names_the_roots():
    with record() as trace:
        effectpy.run(succeed(1).named("job"))
        effectpy.run(succeed(2))
    assert "effectpy timeline: job" in texts(trace.to_svg())
    assert "my title" in texts(trace.to_svg(title="my title"))


def test_never_ended_fibers_and_empty_traces():
    assert ET.fromstring(Trace().to_svg()) is not None

    async def main():
        with record() as trace:
            await effectpy.never.named("stuck").fork_daemon()
        return trace

    trace = asyncio.run(main())
    assert "never ended" in texts(trace.to_svg())


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
    tips = titles(trace.to_svg())
    assert not any("101 s" in t for t in tips)  # bars and marks are relative to the first event kept


if __name__ == "__main__":  # regenerate the golden pictures
    for story in STORIES:
        (DATA / f"story_{story}.svg").write_text(render(story), encoding="utf-8")
        print("wrote", DATA / f"story_{story}.svg", file=sys.stderr)
