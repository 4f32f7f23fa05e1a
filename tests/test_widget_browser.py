"""The timeline widget in a real browser: JupyterLab on 127.0.0.1, headless Chromium driven
by Playwright. A notebook runs a `%%effect` cell; the test checks that the widget draws its
lanes while the effect is still running (live), then the whole run, that the replay slider
moves the cursor, that clicking a lane highlights its subtree and its effect-tree node, and
that zoom changes the axis. Screenshots are kept in ``--effectpy-screenshots`` (default: the
test's tmp dir) to look at.

Skipped when Chromium (``/usr/bin/chromium``), Playwright or JupyterLab is missing; `.ci/run`
installs all three, so CI runs it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from _widget_page import CHROMIUM, FLAGS, output_dir

if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)
pytest.importorskip("jupyterlab")
pytest.importorskip("anywidget")
sync_api = pytest.importorskip("playwright.sync_api")

TOKEN = "effectpy-test"
BROWSER_FLAGS = [*FLAGS, "--disable-quic"]

# The live cell: fibers end over three and a half seconds of real time, so the test can see
# the widget grow before the cell ends. The second cell is the replay subject.
LIVE_CELL = """%%effect --name live
from effectpy import for_each_par, sleep
for_each_par(range(8), lambda i: sleep(0.5 * i).as_(i).named(f"job {i}"), parallelism=8)"""
RACE_CELL = """%%effect --test-clock --name race_trace
from effectpy import acquire_release, fail, race, sleep, succeed, sync
def fetch(name, seconds):
    return sleep(seconds).as_(name).named(name)
conn = acquire_release(succeed("db"), lambda c: sync(lambda: None))
backup = conn.flat_map(lambda _: sleep(1)).flat_map(lambda _: fail("timeout")).named("backup")
race(fetch("primary", 2), backup)
"""


# A trace loaded from elsewhere, with what a renderer must survive: timestamps far from zero
# (ticks must still advance) and a sleep event without its duration.
ODD_CELL = """from effectpy.trace import Trace, TraceEvent
Trace([TraceEvent(0, 1e12, "fork", 1, None, None, "main", {}),
       TraceEvent(1, 1e12, "sleep", 1, None, None, None, {"deadline": 1.0}),
       TraceEvent(2, 1e12 + 1e-4, "exit", 1, None, None, None, {"outcome": "success"})]).widget(title="odd")"""


def _notebook(path: Path) -> None:
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": src}
             for src in ("%load_ext effectpy", LIVE_CELL, RACE_CELL, ODD_CELL)]
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb), encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    _notebook(root / "widget.ipynb")
    port = _free_port()
    settings = root / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)  # no "get notified about Jupyter news?" toast over the page
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / ".config"), JUPYTER_RUNTIME_DIR=str(root / ".runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(root / ".settings"))
    log = (root / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=", "--LabServerApp.announcements_url=", "--ServerApp.disable_check_xsrf=True"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:  # wait for the server to answer (a readiness poll, not a timed assertion)
        try:
            urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("JupyterLab did not start:\n" + (root / "lab.log").read_text())
            time.sleep(0.2)
    # start the notebook's kernel before the page opens (no "Select Kernel" dialog)
    body = json.dumps({"path": "widget.ipynb", "type": "notebook", "name": "widget.ipynb",
                       "kernel": {"name": "python3"}}).encode()
    request = urllib.request.Request(f"{base}/api/sessions?token={TOKEN}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=60)
    yield base, root
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def shots(request, tmp_path_factory):
    return output_dir(request, tmp_path_factory, "--effectpy-screenshots", "screenshots")


def _run_cell(page, index: int) -> None:
    """Run cell ``index``: select it and press Shift+Enter, again if the kernel was not
    connected yet and the cell did not start (its prompt still blank)."""
    cell = page.locator(".jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputArea-prompt")
    for _ in range(20):
        dialog = page.locator(".jp-Dialog .jp-mod-accept")
        if dialog.count():  # JupyterLab asks for a kernel when it has not found the session yet
            dialog.first.click()
        cell.locator(".jp-InputArea-prompt").click()
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_function("(el) => /\\[[*0-9]/.test(el.textContent)", arg=prompt.element_handle(),
                                   timeout=6000)
            return
        except sync_api.TimeoutError:
            continue
    raise AssertionError(f"cell {index} never started")


def _replay_to(widget, n: int, total: int) -> float:
    """Move the replay slider to ``n`` events; the cursor line's x once drawn."""
    widget.locator("input.eptw-slider").fill(str(n))
    widget.locator(".eptw-now", has_text=f"[{n}/{total}]").wait_for()
    return float(widget.locator("svg.eptw-lanes line.eptw-cursor").get_attribute("x1"))


def _events(widget) -> int:
    """The events the widget holds, from its counter ("12 / 40")."""
    return int(widget.locator(".eptw-replay .eptw-badge").inner_text().split("/")[1])


def test_the_widget_renders_live_replays_and_links(lab, shots):
    base, root = lab
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.set_default_timeout(60_000)
        errors: list[str] = []  # the widget's script must not throw
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(f"{base}/lab/tree/widget.ipynb?token={TOKEN}")
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
            _run_cell(page, 0)  # %load_ext
            page.wait_for_function("document.querySelector('.jp-Cell .jp-InputArea-prompt').textContent.includes('1')")
            _run_cell(page, 1)  # the live cell: starts, and the test watches it grow

            live = page.locator(".jp-Cell").nth(1).locator(".eptw")
            live.locator("g.eptw-lane").first.wait_for()
            busy = page.locator(".jp-Cell").nth(1).locator(".jp-InputArea-prompt")
            running_then = live.locator(".eptw-tree span[data-fiber]", has_text="running").count()
            events_then = _events(live)
            assert "*" in busy.inner_text(), "the first lanes should appear while the cell still runs"
            assert live.locator(".eptw-badge.live").count() == 1
            assert running_then > 0
            page.screenshot(path=str(shots / "widget-live.png"))
            fit = live.locator("svg.eptw-axis text").all_text_contents()
            live.locator("button", has_text="+").click()  # zoomed while it runs ...
            page.wait_for_function("([el, fit]) => JSON.stringify([...el.querySelectorAll('svg.eptw-axis text')]"
                                   ".map(t => t.textContent)) !== fit", arg=[live.element_handle(), json.dumps(fit)])
            zoomed = live.locator("svg.eptw-axis text").all_text_contents()
            # the whole run eventually: 9 lanes, nothing running, the badge no longer live
            page.wait_for_function(
                "(el) => el.querySelectorAll('g.eptw-lane').length === 9 && !el.querySelector('.eptw-badge.live')",
                arg=live.element_handle())
            assert live.locator(".eptw-tree span[data-fiber]", has_text="running").count() == 0
            assert _events(live) > events_then
            # ... and still zoomed in the view made again when the display is updated at the end
            assert live.locator("svg.eptw-axis text").all_text_contents() == zoomed

            _run_cell(page, 2)  # the race cell
            race = page.locator(".jp-Cell").nth(2).locator(".eptw")
            page.wait_for_function("(el) => el.querySelectorAll('g.eptw-lane').length === 3 "
                                   "&& !el.querySelector('.eptw-badge.live')", arg=race.element_handle())
            race.scroll_into_view_if_needed()
            labels = race.locator("g.eptw-lane text.eptw-label").all_text_contents()
            assert labels == ["#1 main", "#2 primary", "#3 backup"], labels
            assert race.locator(".eptw-fail").count() >= 1 and race.locator(".eptw-acquire").count() == 1

            # the replay slider: back to the 4th event, the cursor line is drawn and the text says where
            slider = race.locator("input.eptw-slider")
            total = int(slider.get_attribute("max"))
            assert total > 10
            x_early = _replay_to(race, 4, total)
            assert race.locator(".eptw-fail").count() == 0  # the failure has not happened yet
            x_late = _replay_to(race, total - 3, total)
            assert x_late > x_early
            page.screenshot(path=str(shots / "widget-replay.png"))
            slider.fill(str(total))

            # click the "backup" lane: its lane is selected, the others dimmed; the effect tree links
            race.locator("g.eptw-lane[data-fiber='3'] text.eptw-label").click()
            race.locator("g.eptw-lane.sel[data-fiber='3']").wait_for()
            assert race.locator("g.eptw-lane.dim").count() == 2
            race.locator(".eptw-tabs button", has_text="effect").click()
            race.locator(".eptw-effect g.node.sel[data-fiber='3']").wait_for()
            # and selecting a node of the effect tree selects its lane
            race.locator(".eptw-effect g.node[data-fiber='2']").first.click()
            race.locator("g.eptw-lane.sel[data-fiber='2']").wait_for()

            # hover shows an event's details
            race.locator(".eptw-mark.eptw-fail[data-fiber='3']").hover()
            tip = race.locator(".eptw-tip")
            assert "backup fails: 'timeout'" in tip.inner_text()

            # zoom in on the axis: fewer seconds across, so the tick labels change
            ticks_before = race.locator("svg.eptw-axis text").all_text_contents()
            race.locator("button", has_text="+").click()
            race.locator("button", has_text="+").click()
            page.wait_for_function("([el, before]) => JSON.stringify([...el.querySelectorAll('svg.eptw-axis text')]"
                                   ".map(t => t.textContent)) !== before",
                                   arg=[race.element_handle(), json.dumps(ticks_before)])
            race.locator("button", has_text="fit").click()
            race.screenshot(path=str(shots / "widget.png"))

            _run_cell(page, 3)  # the odd trace: drawn, with its axis, and nothing thrown
            odd = page.locator(".jp-Cell").nth(3).locator(".eptw")
            odd.locator("g.eptw-lane").first.wait_for()
            assert odd.locator("svg.eptw-axis text").count() > 1
            assert not errors, errors
        except BaseException:
            page.screenshot(path=str(shots / "failure.png"))  # what the browser showed
            raise
        finally:
            browser.close()
