"""A home whose claim stops holding: ``mkdocs serve`` keeps serving and shows it on the
page; ``mkdocs build --strict`` fails, printing the claim and its numbers.

A copy of the course's code (lessons, package, build, hooks, templates) in a temporary
folder, with one claim of ``lessons/linear_collapse.py`` made false, and a small site of
two lessons: that one and ``model``. The runs reuse the session's smoke cache where their
code is the course's own (the model lesson), so only the broken home runs.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT
from sitebuild import cache

pytestmark = pytest.mark.slow

BROKEN, OTHER = "lessons/linear-collapse.md", "lessons/model.md"
TRUE_CLAIM = 'report.check(deep_relu > deep_linear + 0.05, "ReLUs help by 5 points or more"'
FALSE_CLAIM = ('report.check(deep_relu > deep_linear + 0.95, "ReLUs help by 95 points or more", '
               'deep_relu=deep_relu, deep_linear=deep_linear')


@pytest.fixture(scope="module")
def project(tmp_path_factory, mnist_root) -> Path:
    folder = tmp_path_factory.mktemp("broken-claim")
    for code in ("mnist_tutorial", "sitebuild", "hooks", "overrides"):
        shutil.copytree(ROOT / code, folder / code,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "lessons").mkdir()
    for page in (BROKEN, OTHER):  # every home has a page, every page a home
        name = Path(page).stem.replace("-", "_") + ".py"
        shutil.copy(ROOT / "lessons" / name, folder / "lessons" / name)
    home = folder / "lessons" / "linear_collapse.py"
    source = home.read_text(encoding="utf-8")
    assert TRUE_CLAIM in source, "the claim this test breaks has changed: update the test"
    home.write_text(source.replace(TRUE_CLAIM, FALSE_CLAIM), encoding="utf-8")
    docs = folder / "docs"
    for shared in ("assets", "javascripts", "stylesheets"):
        shutil.copytree(ROOT / "docs" / shared, docs / shared)
    (docs / "index.md").write_text("# Home\n\nThe course's home page.\n", encoding="utf-8")
    shutil.copy(ROOT / "docs" / "glossary.md", docs / "glossary.md")  # the glossary hook's
    for page in (BROKEN, OTHER):
        (docs / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "docs" / page, docs / page)
    (folder / "mkdocs.yml").write_text(
        f"INHERIT: {ROOT / 'mkdocs.yml'}\n"
        "validation:\n  links:\n    not_found: info\n"  # links to pages left out
        f"nav:\n  - index.md\n  - {BROKEN}\n  - {OTHER}\n  - glossary.md\n", encoding="utf-8")
    return folder


def environment() -> dict[str, str]:
    return {**os.environ, "MNIST_TUTORIAL_PROFILE": "smoke",
            "MNIST_TUTORIAL_CACHE": str(cache.cache_dir()),
            "PYTHONPATH": ""}  # the copy's package, not the checkout's


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


def test_serve_shows_the_false_claim_and_keeps_serving(project):
    port = free_port()
    log = project / "serve.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "--no-livereload",
                                   "-a", f"127.0.0.1:{port}"], cwd=project, env=environment(),
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while "Serving on" not in log.read_text() and time.monotonic() < deadline:
            assert server.poll() is None, f"mkdocs serve stopped:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        output = log.read_text()
        assert "Serving on" in output, output[-3000:]
        # The terminal names the home, the claim and its numbers.
        assert re.search(r"ERROR +-  lessons/linear_collapse\.py: 1 claim\(s\) do not hold:\n"
                         r"  - ReLUs help by 95 points or more \(deep_relu = 0\.\d+, "
                         r"deep_linear = 0\.\d+\) \[cell \d+\]", output), output[-3000:]
        page = fetch(f"http://127.0.0.1:{port}/lessons/linear-collapse/")
        box = re.search(r'<div class="admonition failure result-failure".*?</div>', page, re.S)
        assert box, "the page shows no failure box"
        assert "ReLUs help by 95 points or more (deep_relu = 0." in box.group(0)
        assert re.search(r'href="\.\./\.\./notebooks/linear-collapse/#in-\d+"', box.group(0))
        # The failed run's numbers are still on its page, linked to their cells.
        assert 'data-result="linear_collapse.' in page.replace(box.group(0), "")
        other = fetch(f"http://127.0.0.1:{port}/lessons/model/")
        assert "result-failure" not in other and 'class="result-value"' in other
        assert "run failed" not in other
        assert server.poll() is None, "the server stopped"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_strict_build_fails_naming_the_claim_and_its_numbers(project, tmp_path):
    process = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d",
                              str(tmp_path / "site")], cwd=project, env=environment(),
                             capture_output=True, text=True, timeout=600)
    assert process.returncode == 1
    assert re.search(r"lessons/linear_collapse\.py: 1 claim\(s\) do not hold:\n"
                     r"  - ReLUs help by 95 points or more \(deep_relu = 0\.\d+, "
                     r"deep_linear = 0\.\d+\)", process.stderr), process.stderr[-3000:]
    assert not (tmp_path / "site" / "index.html").exists()
