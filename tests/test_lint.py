"""The code is clean by the project's own linter settings ([tool.ruff] in pyproject.toml).

Fix what it reports with ``ruff check --fix .`` (imports, f-strings, annotations) and by
hand (long lines, unused loop variables).
"""

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_ruff_finds_nothing():
    # The virtualenv's own ruff, also when its bin/ is not on PATH.
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is not installed: pip install -r requirements.txt (the test extra has it)"
    out = subprocess.run([ruff, "check", "--output-format", "concise", "."], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-1000:]
