"""The README's examples run, in order, as one program; its commands are what CI runs."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples save files
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 6
    namespace: dict[str, object] = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)


def test_readme_commands_and_ci_agree():
    commands = re.findall(r"```bash\n(.*?)```", README, flags=re.S)[0].splitlines()
    test_command = commands[1].split("#")[0].strip()
    assert test_command == 'pip install -e ".[test]" && python -m pytest'
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci


def test_tour_narrates_the_guide_examples():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "tour.py")],
                         capture_output=True, text=True, check=True).stdout
    assert "0.20s  #3 race[1] succeeds with 'data from Backup'" in out
    assert "#1 interrupts #2 race[0]" in out
    assert "=> 'cached data'" in out
    assert out.count("releases resource") == 3
    # virtual time: the same output every run
    again = subprocess.run([sys.executable, str(ROOT / "examples" / "tour.py")],
                           capture_output=True, text=True, check=True).stdout
    assert again == out
