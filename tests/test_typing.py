"""The package type-checks under `mypy --strict` (configured in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_strict_passes_on_the_package():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "effectpy"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_inferred_types_of_the_public_api():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(ROOT / "tests" / "type_tests")],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
