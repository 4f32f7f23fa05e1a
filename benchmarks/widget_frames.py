"""Frame times of the timeline widget on a large trace, in headless Chromium (Playwright).

    python benchmarks/widget_frames.py [N]          # N fibers, default 100,000

Records a `for_each_par` of N items (parallelism 500, on a TestClock), opens its widget on a
bare page (the widget's own ES module and CSS, fed the batches `TimelineWidget` sends; no
Jupyter), and reports: the time to take in every batch and draw; then the frame times
while the lanes scroll, with the group folded (one group lane) and unfolded (N lanes), and
while the replay slider moves. A frame is the time between two animation frames while the
page scrolls (or the slider moves) once per frame: what a reader feels. Needs Chromium at
/usr/bin/chromium and Playwright. Absolute figures, for the issue's bound: no frame over
100 ms.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from cases import _recorded_trace  # noqa: E402
from _widget_page import CHROMIUM, FLAGS, open_widget  # noqa: E402

# Scroll (or move the slider) once per animation frame, `steps` times; the gaps between frames.
FRAMES_JS = """async ([what, steps, stride]) => {
  const scroll = document.querySelector('.eptw-scroll');
  const slider = document.querySelector('input.eptw-slider');
  const gaps = [];
  let last = await new Promise((r) => requestAnimationFrame(r));
  for (let k = 0; k < steps; k++) {
    if (what === 'scroll') scroll.scrollTop = (scroll.scrollTop + stride) % Math.max(1, scroll.scrollHeight - 400);
    else { slider.value = String((k * stride) % Number(slider.max)); slider.dispatchEvent(new Event('input')); }
    const now = await new Promise((r) => requestAnimationFrame(r));
    gaps.push(now - last);
    last = now;
  }
  return gaps;
}"""


def report(name: str, gaps: list[float]) -> None:
    gaps = sorted(gaps)
    p95 = gaps[int(len(gaps) * 0.95) - 1]
    print(f"  {name:<34} frames {len(gaps):>4}  median {statistics.median(gaps):6.1f} ms  "
          f"p95 {p95:6.1f} ms  max {gaps[-1]:6.1f} ms")


def main(n: int = 100_000) -> None:
    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    trace = _recorded_trace(n)
    print(f"recorded {n:,} fibers ({len(trace.events):,} events) in {time.perf_counter() - t0:.1f} s")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        spent = open_widget(page, trace)
        print(f"  {len(trace.events):,} events taken in (JSON text, batches of 5,000) and drawn: "
              f"{spent / 1000:.2f} s in the page")
        report("scrolling, the group folded", page.evaluate(FRAMES_JS, ["scroll", 120, 300]))
        report("replay slider, the group folded", page.evaluate(FRAMES_JS, ["slider", 120, 4099]))
        t0 = time.perf_counter()
        page.locator("g.eptw-group").first.click()
        page.wait_for_function("() => document.querySelectorAll('g.eptw-lane').length > 5")
        print(f"  unfolding the group ({n:,} lanes): {time.perf_counter() - t0:.2f} s")
        report("scrolling, the group unfolded", page.evaluate(FRAMES_JS, ["scroll", 240, 2311]))
        report("replay slider, the group unfolded", page.evaluate(FRAMES_JS, ["slider", 120, 4099]))
        browser.close()
    if errors:
        raise SystemExit(f"the widget raised: {errors}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
