"""One lesson, one home: code lives in exactly one file, and pages show it through snippets.

A page's code comes from its home (``lessons/<page>.py``) or the shared library
(``mnist_tutorial/``) through ``--8<--`` snippets; a notebook is generated from its home.
These tests fail when code is copied instead: into a page's Markdown, between two
homes, between a home and the library, or into a notebook.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT
from sitebuild import homes

WINDOW = 5  # this many consecutive substantive lines in two places is a copy
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)[^\n]*\n"
                   r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL)


def substantive(lines) -> list[str]:
    """Lines that carry code: stripped; no blank lines, comments, imports, markers or short ones."""
    kept = []
    for line in lines:
        line = line.strip()
        if len(line) >= 16 and not line.startswith(("#", "--8<--", "import ", "from ")):
            kept.append(line)
    return kept


def windows(lines: list[str]) -> set[tuple[str, ...]]:
    return {tuple(lines[i:i + WINDOW]) for i in range(len(lines) - WINDOW + 1)}


def code_files() -> dict[str, list[str]]:
    files = [*sorted((ROOT / "lessons").glob("*.py")), *sorted((ROOT / "mnist_tutorial").rglob("*.py"))]
    return {path.relative_to(ROOT).as_posix(): substantive(path.read_text(encoding="utf-8").splitlines())
            for path in files}


def copies(a: list[str], b: list[str]) -> list[tuple[str, ...]]:
    return sorted(windows(a) & windows(b))


def test_the_copy_finder_finds_a_copy_and_nothing_else():
    original = ["def train_epoch(net, batches):", "    for X, y in batches:",
                "        y_hat = net(X)  # (B, 10)", "        loss = loss_fn(y_hat, y)",
                "        loss.backward()  # gradients"]
    assert copies(substantive(original), substantive(["x = 1", *original, "y = 2"]))
    assert not copies(substantive(original), substantive(original[:3] + ["other = 1234567890123"]))


def test_no_code_is_in_two_files():
    files = code_files()
    names = sorted(files)
    found = [f"{a} and {b}: {' / '.join(window)}"
             for i, a in enumerate(names) for b in names[i + 1:]
             for window in copies(files[a], files[b])[:1]]
    assert not found, "code copied between files:\n" + "\n".join(found)


@pytest.mark.parametrize("page", sorted(p.relative_to(ROOT).as_posix()
                                         for p in (ROOT / "docs").rglob("*.md")))
def test_pages_include_code_instead_of_copying_it(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    files = code_files()
    for block in FENCE.finditer(text):
        lines = substantive(block.group("body").splitlines())
        for name, source in files.items():
            copied = copies(lines, source)
            assert not copied, (f"{page} copies code from {name} ({' / '.join(copied[0])}): "
                                f"include it with --8<-- \"{name}:SECTION\" instead")


def test_notebooks_hold_only_their_home_and_the_cells_written_once():
    library = {name: lines for name, lines in code_files().items() if name.startswith("mnist_tutorial/")}
    for home in homes.discover().values():
        nb = homes.to_notebook(home)
        lines = substantive("\n".join(c.source for c in nb.cells if c.cell_type == "code").splitlines())
        for name, source in library.items():
            copied = copies(lines, source)
            assert not copied, f"the notebook of {home.where} copies {name}: {' / '.join(copied[0])}"
        setup_lines = substantive(homes.SETUP.splitlines())
        assert not copies(substantive(Path(home.path).read_text().splitlines()), setup_lines), \
            f"{home.where} repeats the setup cell that the build adds"
