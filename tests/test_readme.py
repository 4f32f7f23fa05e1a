"""The README, tried the way a reader does: every code block pasted alone into a fresh
``python`` (a block that defines pytest tests is run by pytest), its commands are what CI
runs, and its first command draws the tour's pictures."""

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def line_of(block: str) -> int:
    return README[: README.index(block)].count("\n") + 1


# Pastes a block into Python's interactive console line by line, as a reader pastes it into
# `python`: a blank line ends an indented block there, and a line after an indented block
# needs a blank line before it. Any error (a SyntaxError too) fails the paste.
PASTE = """
import code, sys

class Console(code.InteractiveConsole):
    failed = False

    def showsyntaxerror(self, filename=None, **kwargs):
        Console.failed = True
        super().showsyntaxerror(filename)

    def showtraceback(self):
        Console.failed = True
        super().showtraceback()

console = Console({"__name__": "__main__", "__doc__": None})  # as at the prompt
more = False
for line in sys.stdin.read().splitlines():
    more = console.push(line)
if more:
    console.push("")
sys.exit(1 if Console.failed else 0)
"""


def run_alone(block: str, where: Path) -> subprocess.CompletedProcess[str]:
    """The block pasted into a fresh interpreter (or, if it holds tests, run by a fresh
    pytest), in its own folder (the blocks save files)."""
    where.mkdir()
    if re.search(r"^def test_", block, flags=re.M):
        (where / "test_readme_block.py").write_text(block)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
                   "--rootdir", str(where), str(where / "test_readme_block.py")]
        return subprocess.run(command, cwd=where, capture_output=True, text=True, timeout=120)
    return subprocess.run([sys.executable, "-c", PASTE], input=block, cwd=where, capture_output=True,
                          text=True, timeout=120)


def test_every_python_block_runs_on_its_own(tmp_path):
    assert len(BLOCKS) >= 15
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run_alone, BLOCKS, [tmp_path / f"block{i}" for i in range(len(BLOCKS))]))
    failed = [f"README.md line {line_of(block)}:\n{out.stdout[-1500:]}{out.stderr[-1500:]}"
              for block, out in zip(BLOCKS, results) if out.returncode != 0]
    assert not failed, "\n\n".join(failed)


def test_a_block_that_breaks_is_reported(tmp_path):
    """The check above can fail: a block that uses a name it does not define fails alone,
    and so does one that a paste into the interactive prompt cannot take."""
    out = run_alone("assert effectpy.run(succeed(1)) == 1\n", tmp_path / "broken")
    assert out.returncode != 0 and "NameError" in out.stderr
    out = run_alone("for i in range(2):\n    pass\nprint('after')\n", tmp_path / "no_blank_line")
    assert out.returncode != 0 and "SyntaxError" in out.stderr


def test_readme_commands_and_ci_agree():
    commands = re.findall(r"```bash\n(.*?)```", README, flags=re.S)[0].splitlines()
    test_command = commands[1].split("#")[0].strip()
    assert test_command == 'pip install -e ".[test]" && python -m pytest'
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.rstrip().endswith(test_command)
    # ... in a virtual environment made afresh each run, so nothing installed by hand counts
    assert re.search(r"^python3 -m venv \"\$venv\"$", ci, flags=re.M)
    assert re.search(r"^venv=\$\(mktemp -d", ci, flags=re.M)


def test_the_suite_rejects_unknown_marks():
    """A mark whose plugin is missing from the test extra fails the run, not just warns."""
    config = (ROOT / "pyproject.toml").read_text()
    assert "--strict-markers" in config
    assert re.search(r'test = \[[^\]]*"pytest-timeout', config)


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    where = tmp_path_factory.mktemp("tour")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "tour.py")], cwd=where,
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return where, out


def test_the_tour_narrates_every_acquire_and_release(tour):
    _, out = tour
    assert "0.20s  #3 Backup succeeds with 'data from Backup'" in out
    assert "#1 interrupts #2 Primary" in out
    assert "=> 'cached data'" in out
    acquired = re.findall(r"^ +[0-9.]+s  #\d+ \S+ acquires (.+)$", out, flags=re.M)
    released = re.findall(r"^ +[0-9.]+s  #\d+ \S+ releases (.+)$", out, flags=re.M)
    assert len(acquired) == 9 and sorted(acquired) == sorted(released)


def test_the_tour_draws_each_story_and_says_where(tour):
    where, out = tour
    for story in ("race", "zip_par", "timeout", "for_each_par"):
        svg = where / "tour" / f"{story}.svg"
        assert f"tour/{story}.svg" in out
        ET.parse(svg)
    assert out.rstrip().endswith("Start with tour/race.svg (open it in a browser)")
    race = (where / "tour" / "race.svg").read_text()
    assert "Backup" in race and "interrupted" in race


def test_the_tour_is_the_same_every_run(tour, tmp_path):
    where, out = tour
    again = subprocess.run([sys.executable, str(ROOT / "examples" / "tour.py"), "pictures"],
                           cwd=tmp_path, capture_output=True, text=True, check=True, timeout=120).stdout
    assert again.replace("pictures/", "tour/") == out  # virtual time: the same story
    assert (tmp_path / "pictures" / "race.svg").read_bytes() == (where / "tour" / "race.svg").read_bytes()
