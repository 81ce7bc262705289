"""Every lesson and exercise page's code runs as shown: its blocks, in page order, in a fresh kernel.

A learner copies a page's code blocks one after the other into a Python session, starting
with the collapsed "Setup" block (the page's imports and data). This test does the same
with the blocks *as the built smoke site shows them* (the session's ``site_dir``, so the
snippets are expanded exactly as on the page): each page's Python blocks become the cells
of one notebook, run top to bottom in a new Jupyter kernel with the smoke profile. A block
whose title starts with "excerpt" (``title="excerpt of train()"``, shown above the block,
next to a link to the whole function) is a fragment by design and is skipped; blocks in
other languages (shell commands, printed output) are not Python and are skipped too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from conftest import ROOT

PAGES = sorted([*ROOT.glob("docs/lessons/*.md"), *ROOT.glob("docs/exercises/*.md")])
EXCERPT_TITLE = "excerpt"
BLOCK_TIMEOUT_S = 300


def page_blocks(html: str) -> list[str]:
    """The page's runnable Python blocks, in page order: the code as shown, excerpts left out."""
    soup = BeautifulSoup(html, "html.parser")
    blocks = []
    for block in soup.select("article div.language-python.highlight"):
        title = block.select_one(".filename")
        if title is not None and title.get_text().strip().lower().startswith(EXCERPT_TITLE):
            continue
        blocks.append(block.find("code").get_text())
    return blocks


def first_line(code: str) -> str:
    return next((line for line in code.splitlines() if line.strip()), "")


def undefined_names(blocks: list[str]) -> list[str]:
    """Names the blocks use that no block (or the setup) defines, as ruff's F821 reports them,
    each with its block: a name used only inside a function body fails no run, but it fails
    the learner who calls that function."""
    starts, lines = [], []
    for code in blocks:
        starts.append(len(lines) + 1)
        lines += code.splitlines()
    checked = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F821",
                              "--output-format", "concise", "--stdin-filename", "page.py", "-"],
                             input="\n".join(lines) + "\n", capture_output=True, text=True)
    found = []
    for line in checked.stdout.splitlines():
        parts = line.split(":", 3)  # page.py:LINE:COLUMN: message
        if len(parts) > 3 and parts[1].isdigit():
            number = sum(start <= int(parts[1]) for start in starts)
            found.append(f"block {number}: {parts[-1].strip()}")
    return found


def run_blocks(blocks: list[str], work: Path, mnist_root: Path) -> None:
    """Run ``blocks`` in order in a fresh kernel in ``work``; raise AssertionError naming the
    block that failed, its first line and the error."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in blocks])
    env = {**os.environ, "MNIST_TUTORIAL_PROFILE": "smoke", "MNIST_TUTORIAL_DATA": str(mnist_root),
           "MNIST_TUTORIAL_DOWNLOAD": "0", "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"}
    client = NotebookClient(notebook, timeout=BLOCK_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    try:
        client.execute(env=env)
    except CellExecutionError as error:
        failed = next(number for number, cell in enumerate(notebook.cells, 1)
                      if any(output.get("output_type") == "error" for output in cell.get("outputs", ())))
        raise AssertionError(f"block {failed} of {len(blocks)} ({first_line(blocks[failed - 1])!r}) "
                             f"raised {error.ename}: {error.evalue}\n{error}") from None


@pytest.mark.slow
@pytest.mark.kernel
@pytest.mark.parametrize("page", PAGES, ids=lambda page: f"{page.parent.name}/{page.stem}")
def test_page_code_runs_in_order(page, site_dir, mnist_root, tmp_path):
    built = site_dir / page.parent.name / page.stem / "index.html"
    blocks = page_blocks(built.read_text(encoding="utf-8"))
    assert blocks, f"{built} shows no Python block"
    assert not undefined_names(blocks), f"{page.relative_to(ROOT)}: {undefined_names(blocks)}"
    try:
        run_blocks(blocks, tmp_path, mnist_root)
    except AssertionError as error:
        pytest.fail(f"{page.relative_to(ROOT)}: {error}", pytrace=False)


def test_excerpts_and_other_languages_are_left_out():
    html = """<article>
      <div class="language-python highlight"><pre><code>import math</code></pre></div>
      <div class="language-python highlight"><span class="filename">excerpt of train()</span>
        <pre><code>return net</code></pre></div>
      <div class="language-bash highlight"><pre><code>pip install torch</code></pre></div>
      <div class="language-python highlight"><pre><code><span><a href="#l1"></a>x = 1
</span></code></pre></div></article>"""
    assert page_blocks(html) == ["import math", "x = 1\n"]


def test_a_name_that_no_block_defines_is_found_in_its_block():
    blocks = ["import math\n", "def area(r):\n    return math.pi * r**2 * SCALE\n"]
    assert undefined_names(blocks) == ["block 2: F821 Undefined name `SCALE`"]
    assert undefined_names(["SCALE = 2\n", *blocks]) == []
