"""The pictures as users see them: headless Chromium (Playwright, no Jupyter) draws each
story's SVG timeline and its widget, and the test measures the texts as the browser laid
them out (no text covers another), then keeps a PNG of each picture in
``--effectpy-pictures DIR`` (default: the test's tmp dir). The README's pictures are made so:

    python -m pytest tests/test_pictures_browser.py --effectpy-pictures docs/pictures

Also checked in the widget: a large group's row unfolds on click, internal fibers are
folded and shown on demand, a tooltip follows the replay, the effect tree's text is at
least 11 px, the labels are the SVG's, each diagnostic is flagged on its lane and listed in
the *diagnostics* pane, whose rows lead to their place in the picture; and two traces side
by side. Skipped without Chromium or Playwright.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from _widget_page import CHROMIUM, FLAGS, open_widget, output_dir

if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)
pytest.importorskip("anywidget")
sync_api = pytest.importorskip("playwright.sync_api")

from effectpy import for_each_par, sleep  # noqa: E402
from _pictures import STORIES, traced  # noqa: E402
from _bugs import BUGS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# The boxes of every text the browser shows in `root` (getBBox: the font's real metrics),
# in the coordinates of their <svg>, and the pairs that overlap (by more than a hair).
OVERLAPS_JS = """(sel) => {
  const bad = [];
  for (const svg of document.querySelectorAll(sel)) {
    const boxes = [];
    for (const t of svg.querySelectorAll('text')) {
      const text = [...t.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join('');
      if (!text.trim() || t.closest('defs')) continue;
      const b = t.getBBox(), m = t.getCTM(), r = svg.getCTM();
      const x = b.x * m.a + m.e - r.e, y = b.y * m.d + m.f - r.f;
      boxes.push([x, y, x + b.width * m.a, y + b.height * m.d, text]);
    }
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i], boxes[j]];
      if (a[0] < b[2] - 0.5 && b[0] < a[2] - 0.5 && a[1] < b[3] - 0.5 && b[1] < a[3] - 0.5) bad.push([a[4], b[4]]);
    }
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def pictures(request, tmp_path_factory):
    return output_dir(request, tmp_path_factory, "--effectpy-pictures", "pictures")


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    """The stories' traces, the tour's, and a large group (recorded before the browser
    starts: Playwright's loop runs in this thread then)."""
    from effectpy.__main__ import main
    from effectpy.trace import Trace
    out = {name: traced(make()) for name, (make, _) in STORIES.items()}
    out["group"] = traced(for_each_par(range(10_000), lambda i: sleep(0.001 * (i % 7)).as_(i), parallelism=500))
    where = tmp_path_factory.mktemp("tour")
    cwd = os.getcwd()
    os.chdir(where)  # the tour writes its own pictures into ./tour
    try:
        assert main(["trace", str(ROOT / "examples" / "tour.py"), "--jsonl", "tour.jsonl"]) == 0
    finally:
        os.chdir(cwd)
    out["tour"] = Trace.load(where / "tour.jsonl")
    program = STORIES["timeout"][0]()
    out["tree"] = (program, traced(program))
    from effectpy import Stream
    out["map_par"] = traced(Stream.range(4).map_par(2, lambda i: sleep(0.1).as_(i)).run_collect())
    for kind, (buggy, fixed) in BUGS.items():
        out[f"bug {kind}"], out[f"fixed {kind}"] = buggy(), fixed()
    return out


@pytest.fixture(scope="module")
def browser(traces):
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    page.close()
    assert not errors, errors  # nothing a picture does may throw


def title(name: str) -> str | None:
    return STORIES[name][1] if name in STORIES else None


@pytest.mark.parametrize("name", [*STORIES, "tour", "group"])
def test_the_svg_timeline_in_the_browser(name, traces, page, pictures):
    svg = traces[name].to_svg(title=title(name))
    page.set_content(f'<!doctype html><html><body style="margin:0">{svg}</body></html>')
    assert page.evaluate(OVERLAPS_JS, "body > svg") == []
    page.locator("body > svg").screenshot(path=str(pictures / f"{name}.png"))


@pytest.mark.parametrize("name", [*STORIES, "group"])
def test_the_widget_in_the_browser(name, traces, page, pictures):
    open_widget(page, traces[name], title=title(name))
    assert page.evaluate(OVERLAPS_JS, "svg.eptw-lanes") == []
    if name in ("race", "timeout", "cleanup", "group"):
        page.locator(".eptw").screenshot(path=str(pictures / f"widget-{name}.png"))


def svg_texts(svg: str) -> set[str]:
    from _pictures import text_boxes
    return {text for _, text in text_boxes(svg)}


def texts(page, selector: str) -> list[str]:
    return page.locator(selector).all_text_contents()


def test_the_widget_says_what_the_svg_says(traces, page):
    svg = traces["timeout"].to_svg()
    open_widget(page, traces["timeout"])
    notes = texts(page, "text.eptw-note")
    assert {"'timeout' caught \u2192 recovered \u2192 'cached data'", "connection to SlowService",
            "\u2192 'cached data'", "'timeout'"} <= set(notes)
    assert set(notes) <= svg_texts(svg)  # every label is one the SVG draws
    assert texts(page, "text.eptw-label") == ["#1 main", "#2 SlowService", "#3 timer"]
    assert page.locator("g.eptw-mark.eptw-caught").count() == 1 and page.locator("rect.eptw-releasing").count() == 1
    legend = texts(page, ".eptw-key")
    assert {"acquire", "release", "failure caught", "interrupted, releasing"} <= set(legend)
    assert page.locator(".eptw-title").inner_text() == "effectpy timeline"
    # the legend keys what the trace has, as the SVG's does: every fiber ended, none runs on
    outcomes = {"success", "failed", "interrupted", "running / never ended"}
    assert outcomes & set(legend) == {"success", "failed", "interrupted"}
    assert outcomes & svg_texts(svg) == outcomes & set(legend)


def test_a_large_group_is_one_row_that_unfolds_on_click(traces, page):
    open_widget(page, traces["group"])
    assert texts(page, "g.eptw-lane text.eptw-label") == ["#1 main", "\u25b8 for_each_par: 10,000 fibers"]
    assert "10,000 success; at most 500 at once" in texts(page, "g.eptw-group text")
    page.locator("g.eptw-group").click()
    page.locator("g.eptw-lane[data-fiber='2']").wait_for()  # the first member has a row now
    height = float(page.locator("svg.eptw-lanes").get_attribute("height"))
    assert height >= 10_002 * 38  # main, the group's row, and one row per member
    page.locator("g.eptw-group").click()
    page.wait_for_function("() => !document.querySelector(\"g.eptw-lane[data-fiber='2']\")")


def test_internal_fibers_are_folded_until_asked_for(traces, page):
    open_widget(page, traces["cleanup"])
    assert "\u2699 1" in texts(page, "g.eptw-lane text")
    assert not any("timeout timer" in t for t in texts(page, "text.eptw-label"))
    page.locator("button", has_text="internal").click()
    page.locator("text.eptw-label", has_text="\u2699 timeout timer").wait_for()


def test_what_an_internal_fiber_forks_for_the_program_has_rows_under_its_owner(traces, page):
    open_widget(page, traces["map_par"])
    assert texts(page, "text.eptw-label") == ["#1 main", "#3 map_par[0]", "#4 map_par[1]", "#5 map_par[2]",
                                              "#6 map_par[3]"]
    page.locator("button", has_text="internal").click()
    page.locator("text.eptw-label", has_text="\u2699 map_par pump").wait_for()


def test_the_tooltip_follows_the_replay(traces, page):
    open_widget(page, traces["zip_par"])
    page.locator(".eptw-mark.eptw-fail[data-fiber='3']").hover()
    tip = page.locator(".eptw-tip")
    assert "#3 User fails: 'User timeout'" in tip.inner_text()
    page.locator("input.eptw-slider").fill("5")  # back to before the failure; the mouse stays
    page.wait_for_function("() => !document.querySelector('.eptw-tip').textContent.includes('fails')")
    assert "still running" in tip.inner_text() or "not started yet" in tip.inner_text()


def test_the_effect_tree_text_is_at_least_11_px(traces, page):
    program, trace = traces["tree"]
    open_widget(page, trace, effect=program)
    page.locator(".eptw-tabs button", has_text="effect").click()
    sizes = page.evaluate("""() => [...document.querySelectorAll('.eptw-effect svg text')].map((t) =>
        parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)""")
    assert sizes and round(min(sizes), 2) >= 11


def test_the_browser_measure_sees_overlaps(page):
    page.set_content('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="60" font-size="12">'
                     '<text x="10" y="20">fiber one</text><text x="40" y="24">fiber two</text>'
                     '<text x="200" y="50">apart</text></svg>')
    assert page.evaluate(OVERLAPS_JS, "svg") == [["fiber one", "fiber two"]]


@pytest.mark.parametrize("kind", sorted(BUGS))
def test_each_bug_is_flagged_in_the_widget_as_in_the_svg(kind, traces, page):
    trace = traces[f"bug {kind}"]
    (d,) = trace.diagnose()
    open_widget(page, trace)
    flag = page.locator("g.eptw-flag")
    assert flag.count() == 1 and flag.get_attribute("data-fiber") == str(d.fibers[0])
    assert page.evaluate(OVERLAPS_JS, "svg.eptw-lanes") == []
    from effectpy.trace._flags import flag_words
    from effectpy.trace._story import Story
    words = flag_words(d, Story(trace))
    assert (words in texts(page, "text.eptw-note")) == bool(words)
    assert page.locator(".eptw-tabs button.warn").inner_text() == "diagnostics (1)"
    assert "diagnostic: hover it for what may be wrong" in texts(page, ".eptw-key")
    assert (page.locator("rect.eptw-flag-span").count() == 1) == (d.seconds is not None)


def test_many_flags_on_one_lane_stay_in_the_widget_and_one_stands_for_the_rest(page):
    from test_flags import many_leaks
    open_widget(page, many_leaks(200))
    flags = page.locator("g.eptw-flag")
    assert 1 <= flags.count() < 200
    width = page.evaluate("document.querySelector('svg.eptw-lanes').getBoundingClientRect().width")
    xs = [float(re.match(r"translate\(([-\d.]+)", flags.nth(k).get_attribute("transform")).group(1))
          for k in range(flags.count())]
    assert all(0 < x <= width for x in xs)
    last = flags.nth(flags.count() - 1).bounding_box()
    page.mouse.move(last["x"] + last["width"] / 2, last["y"] + last["height"] / 2)
    tip = page.locator(".eptw-tip")
    tip.wait_for()
    more = int(re.search(r"and (\d+) more on this lane", tip.inner_text()).group(1))
    assert flags.count() - 1 + 1 + more == 200  # each flag one, the last one for the rest too


def test_what_lasted_keeps_its_band_in_the_widget_when_its_flag_joins_another(page):
    from test_flags import slow_releases
    open_widget(page, slow_releases(30))
    assert page.locator("rect.eptw-flag-span").count() == 30
    assert 1 <= page.locator("g.eptw-flag").count() < 30


@pytest.mark.parametrize("kind", sorted(BUGS))
def test_the_fixed_twin_has_no_flag_in_the_widget(kind, traces, page):
    open_widget(page, traces[f"fixed {kind}"])
    assert page.locator("g.eptw-flag").count() == 0
    assert page.locator(".eptw-tabs button", has_text="diagnostics").inner_text() == "diagnostics (0)"
    page.locator(".eptw-tabs button", has_text="diagnostics").click()
    page.locator(".eptw-diagnostics .eptw-empty", has_text="no diagnostics").wait_for()  # drawn at the next frame


def test_the_diagnostics_pane_leads_to_the_place_in_the_picture(traces, page, pictures):
    trace = traces["bug leak"]
    (d,) = trace.diagnose()
    open_widget(page, trace, title="create_task by hand")
    page.locator(".eptw-tabs button", has_text="diagnostics").click()
    row = page.locator(".eptw-diag")
    row.first.wait_for()  # (the pane is drawn at the next frame)
    assert row.count() == 1 and d.message in row.inner_text()
    row.click()
    index = [e.seq for e in trace.events].index(d.seq)  # the parent's exit: when the leak began
    page.wait_for_function("(c) => window.model.get('cursor') === c", arg=index + 1)
    assert page.evaluate("() => window.model.get('selected')") == d.fibers[0]
    page.locator("g.eptw-lane.sel[data-fiber='3']").wait_for()
    page.locator(".eptw-diag.sel").wait_for()
    assert f"[{index + 1}/{len(trace)}]" in page.locator(".eptw-now").inner_text()
    # at that point of the replay the leaked task still runs: its lane has no end yet
    assert "#1 handler ends: failure" in page.locator(".eptw-now").inner_text()
    page.locator("g.eptw-flag").hover()
    assert " ".join(page.locator(".eptw-tip").inner_text().split()).startswith(f"leak: {d.message}")
    page.locator(".eptw").screenshot(path=str(pictures / "widget-diagnostics.png"))
    # before the leak began, the row is grey and the flag is not drawn yet
    page.locator("input.eptw-slider").fill(str(index))
    page.locator(".eptw-diag.future").wait_for()
    assert page.locator("g.eptw-flag").count() == 0
    # a click on a flag goes to it too, and opens the pane
    page.locator("input.eptw-slider").fill(str(len(trace)))
    page.locator(".eptw-tabs button", has_text="fibers").click()
    page.locator("g.eptw-flag").click()
    page.wait_for_function("(c) => window.model.get('cursor') === c", arg=index + 1)
    page.locator(".eptw-diag.sel").wait_for()


def test_two_traces_side_by_side_in_the_browser(traces, page, pictures):
    from effectpy.trace import side_by_side
    pair = side_by_side(traces["bug leak"], traces["fixed leak"],
                        titles=("asyncio: two tasks made by hand", "asyncio.TaskGroup: the same, structured"))
    page.set_content(f'<!doctype html><html><body style="margin:0">{pair.svg}</body></html>')
    assert page.evaluate(OVERLAPS_JS, "body > svg") == []
    page.locator("body > svg").screenshot(path=str(pictures / "side_by_side.png"))
