"""Trace.to_html / save_html: the timeline widget as one standalone page (no network, no
Jupyter), opened in headless Chromium (skipped without it), where it draws and replays."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from effectpy import TestClock, acquire_release, fail, race, sleep, succeed, sync
from effectpy.trace import Trace, TraceEvent, record

from _widget_page import CHROMIUM, FLAGS


def race_program():
    conn = acquire_release(succeed("db"), lambda c: sync(lambda: None))
    backup = conn.flat_map(lambda _: sleep(1)).flat_map(lambda _: fail("timeout")).named("backup")
    return race(sleep(2).as_("primary").named("primary"), backup)


def race_trace() -> Trace:
    with record() as trace:
        asyncio.run(TestClock().drive(race_program()))
    return trace


def test_the_page_holds_everything_it_needs_and_is_the_same_every_time():
    trace = race_trace()
    page = trace.to_html(title="race")
    assert page == race_trace().to_html(title="race")  # deterministic
    assert page.startswith("<!DOCTYPE html>") and "<title>race</title>" in page
    assert "export default" in page and ".eptw {" in page  # the widget's code and style, inlined
    # nothing to fetch: no external script, style or link (the only URLs are XML namespaces)
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)
    assert set(re.findall(r"https?://[^\s\"'<>)\\]+", page)) <= {"http://www.w3.org/2000/svg",
                                                                "http://www.w3.org/1999/xlink"}
    assert "<noscript><svg" in page  # without JavaScript, the static timeline


def test_user_text_cannot_end_the_script_that_holds_it():
    evil = "</script><script>alert(1)</script>"
    trace = Trace([TraceEvent(0, 0.0, "fork", 1, None, None, evil, {}),
                   TraceEvent(1, 1.0, "exit", 1, None, None, evil, {"outcome": "success"})])
    page = trace.to_html(title=evil)
    assert page.count("<script") == 2 and "alert(1)</script>" not in page
    assert "<title>&lt;/script&gt;" in page


def test_bad_arguments_are_refused():
    trace = race_trace()
    with pytest.raises(TypeError, match="to_html's title must be a str or None, got int"):
        trace.to_html(title=3)
    with pytest.raises(TypeError, match="to_html's effect must be an Effect or None, got str"):
        trace.to_html(effect="race")


def test_save_html_writes_the_page(tmp_path):
    trace = race_trace()
    path = trace.save_html(tmp_path / "race.html", title="race", effect=race_program())
    assert path == tmp_path / "race.html"
    assert path.read_text(encoding="utf-8") == trace.to_html(title="race", effect=race_program())


def _open(tmp_path: Path, trace: Trace, **options):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    return sync_api, trace.save_html(tmp_path / "trace.html", **options)


def test_the_page_opens_in_chromium_and_replays(tmp_path):
    trace = race_trace()
    sync_api, path = _open(tmp_path, trace, title="race", effect=race_program())
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 700})
            problems: list[str] = []
            fetched: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: fetched.append(r.url))
            page.goto(path.as_uri())
            widget = page.locator(".eptw")
            page.wait_for_function("() => document.querySelectorAll('g.eptw-lane').length === 3")
            labels = widget.locator("g.eptw-lane text.eptw-label").all_text_contents()
            assert labels == ["#1 main", "#2 primary", "#3 backup"], labels
            assert widget.locator(".eptw-fail").count() >= 1

            # the replay slider: early on, nothing has failed yet; later the cursor is further right
            slider = widget.locator("input.eptw-slider")
            total = int(slider.get_attribute("max"))
            assert total == len(trace)
            slider.fill("4")
            widget.locator(".eptw-now", has_text=f"[4/{total}]").wait_for()
            x_early = float(widget.locator("svg.eptw-lanes line.eptw-cursor").get_attribute("x1"))
            assert widget.locator(".eptw-fail").count() == 0
            slider.fill(str(total - 3))
            widget.locator(".eptw-now", has_text=f"[{total - 3}/{total}]").wait_for()
            x_late = float(widget.locator("svg.eptw-lanes line.eptw-cursor").get_attribute("x1"))
            assert x_late > x_early

            # a click selects a lane, as in a notebook (the page's model takes the change)
            widget.locator("g.eptw-lane[data-fiber='3'] text.eptw-label").click()
            widget.locator("g.eptw-lane.sel[data-fiber='3']").wait_for()
            assert page.evaluate("window.effectpyModel.get('selected')") == 3
            page.screenshot(path=str(tmp_path / "page.png"))
            assert problems == []
            assert all(url.startswith(("file:", "blob:", "data:")) for url in fetched), fetched
        finally:
            browser.close()


def test_a_plain_asyncio_trace_opens_too(tmp_path):
    async def child():
        await asyncio.sleep(0.001)

    async def main():
        await asyncio.gather(child(), child())

    with record(asyncio=True) as trace:
        asyncio.run(main())
    sync_api, path = _open(tmp_path, trace)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(path.as_uri())
            page.wait_for_function("() => document.querySelectorAll('g.eptw-lane').length === 3")
            labels = page.locator("g.eptw-lane text.eptw-label").all_text_contents()
            assert labels == ["#1 main", "#2 child", "#3 child"], labels
        finally:
            browser.close()


def test_the_page_lists_the_diagnostics_and_each_leads_to_its_place(tmp_path):
    from _bugs import two_calls
    trace = two_calls(structured=False)
    (d,) = trace.diagnose()
    assert trace.to_html() == two_calls(structured=False).to_html()  # deterministic, diagnostics and all
    sync_api, path = _open(tmp_path, trace, title="create_task by hand")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 700})
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(path.as_uri())
            page.locator("g.eptw-flag[data-fiber='3']").wait_for()  # the leak, flagged on its lane
            tab = page.locator(".eptw-tabs button.warn")
            assert tab.inner_text() == "diagnostics (1)"
            tab.click()
            page.locator(".eptw-diag", has_text=d.message).click()
            index = [e.seq for e in trace.events].index(d.seq)
            page.wait_for_function("(c) => window.effectpyModel.get('cursor') === c", arg=index + 1)
            assert page.evaluate("window.effectpyModel.get('selected')") == 3
            assert problems == []
        finally:
            browser.close()
    page = two_calls(structured=True).to_html()
    assert '"diagnostics":[]' in page
