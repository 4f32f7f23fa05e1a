"""docs/guide.md: each example runs as a reader would run it and prints what the guide shows
under it; each picture exists and is what its example draws today.

The guide is parsed by ``docs/guide/make_pictures.py``, the script that draws the pictures, so
the test and the pictures agree on which block is which.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE_PICTURES = ROOT / "docs" / "guide" / "make_pictures.py"


def _load_make_pictures() -> Any:
    spec = importlib.util.spec_from_file_location("make_pictures", MAKE_PICTURES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


make_pictures = _load_make_pictures()
GUIDE = make_pictures.GUIDE
TEXT = GUIDE.read_text(encoding="utf-8")
EXAMPLES, PICTURES = make_pictures.parse(TEXT)
SECTIONS = {"zip_par", "race", "for_each_par", "timeout", "circuit_breaker", "fan_out_fan_in",
            "fail_fast_fail_safe", "partial_failure", "test_clock", "connection_pool"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, subprocess.CompletedProcess[str]]:
    """Every example, piped into a fresh ``python -`` in an empty folder of its own. They
    run on the real clock (a second or so each), so a few run at once: no more than there
    are CPUs, so that their timings stay what the examples expect."""
    scripts = []
    for example in EXAMPLES:
        script = tmp_path_factory.mktemp(f"line{example.line}") / "example.py"
        script.write_text(example.code, encoding="utf-8")
        scripts.append(script)

    def run(script: Path) -> subprocess.CompletedProcess[str]:
        with script.open() as stdin:  # python - < example.py
            return subprocess.run([sys.executable, "-"], cwd=script.parent, stdin=stdin,
                                  capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return dict(zip((example.line for example in EXAMPLES), pool.map(run, scripts)))


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Every picture, drawn now by make_pictures (as ``python docs/guide/make_pictures.py``
    would), into a temporary folder."""
    folder = tmp_path_factory.mktemp("pictures")
    result: dict[str, tuple[Path, str]] = make_pictures.draw_all(PICTURES, folder)
    return result


def test_the_guide_has_an_example_and_a_picture_per_pattern() -> None:
    assert {picture.name for picture in PICTURES} == SECTIONS
    assert len({picture.name for picture in PICTURES}) == len(PICTURES)
    # every link to a picture was understood (an alt text that fools the parser would not be)
    assert len(re.findall(r"\]\(guide/[^)]*\.svg\)", TEXT)) == len(PICTURES)
    assert "effectpy.run(" in TEXT and "._run(" in TEXT and "await greeting" in TEXT
    assert re.findall(r"^## (.+)$", TEXT, re.M)[-1] == "Where next"  # the guide ends there


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: f"line{example.line}")
def test_example_prints_what_the_guide_shows(example: Any, runs: dict[int, Any]) -> None:
    assert example.output is not None, (
        f"docs/guide.md line {example.line}: an example is followed by a ```text block showing "
        "what it prints")
    run = runs[example.line]
    assert run.returncode == 0, f"docs/guide.md line {example.line} failed:\n{run.stderr}"
    assert run.stderr == "", f"docs/guide.md line {example.line} wrote to stderr:\n{run.stderr}"
    assert run.stdout == example.output


@pytest.mark.parametrize("picture", PICTURES, ids=lambda picture: picture.name)
def test_picture_is_what_its_example_draws(picture: Any, drawn: dict[str, tuple[Path, str]]) -> None:
    where = picture.path.relative_to(ROOT)
    fix = f"Regenerate the pictures with `{make_pictures.REGENERATE}`, then look at them"
    if not picture.path.is_file():
        pytest.fail(f"{where} is linked from docs/guide.md but missing. {fix}")
    svg, summary = drawn[picture.name]
    if svg.read_bytes() != picture.path.read_bytes():
        pytest.fail(f"{where} is not what its example (docs/guide.md line {picture.example.line}) "
                    f"draws now: the example or a renderer changed. {fix}")
    assert "virtual time (TestClock)" in svg.read_text(encoding="utf-8")
    assert "leaks: none" in summary  # every fiber ended, every resource was released


@pytest.mark.parametrize("picture", PICTURES, ids=lambda picture: picture.name)
def test_picture_link_is_described_and_drawn_from_a_main_effect(picture: Any) -> None:
    assert len(picture.alt.split()) >= 8, f"{picture.name}: the alt text says what the picture shows"
    assert re.search(r"^main = ", picture.example.code, re.M), (
        f"{picture.name}: the example above the picture defines the `main` effect it is drawn from")
    assert 'if __name__ == "__main__":' in picture.example.code
    ET.parse(picture.path)  # well-formed SVG


def test_every_stored_picture_is_linked() -> None:
    stored = {path.stem for path in (ROOT / "docs" / "guide").glob("*.svg")}
    assert stored == {picture.name for picture in PICTURES}


def _github_anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_to_the_readme_and_notebooks_resolve() -> None:
    links = re.findall(r"\]\((\.\./[^)\s]+)\)", TEXT)
    assert links
    for link in links:
        path, _, anchor = link.partition("#")
        target = (GUIDE.parent / path).resolve()
        assert target.exists(), f"docs/guide.md links to {link}, which does not exist"
        if anchor:
            headings = re.findall(r"^#{1,6} +(.+?) *$", target.read_text(encoding="utf-8"), re.M)
            assert anchor in {_github_anchor(h) for h in headings}, f"no heading for {link}"


def test_make_pictures_check_passes() -> None:
    run = subprocess.run([sys.executable, str(MAKE_PICTURES), "--check"], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "OUT OF DATE" not in run.stdout and "not linked" not in run.stdout
