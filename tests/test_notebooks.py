"""The lesson notebooks: published by the build, linked from their pages, runnable top to bottom.

Each published ``notebooks/*.ipynb`` of the smoke site is executed with nbclient in the
smoke profile (a few hundred images, one epoch), offline, in a temporary folder, with a
temporary experiment cache. A failing cell fails the test with the cell's traceback.
The conversion hook (``hooks/notebooks.py``) is tested directly as well.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks").glob("*.py"))
LESSONS = {"lessons/data/": "mnist-data", "lessons/model/": "mnist-model",
           "lessons/training/": "mnist-training", "lessons/evaluation/": "mnist-evaluation"}


def _hook():
    spec = importlib.util.spec_from_file_location("notebooks_hook", ROOT / "hooks" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[dict] = []
        self._current: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._current = dict(attrs) | {"text": ""}
            self.links.append(self._current)

    def handle_data(self, data):
        if self._current is not None:
            self._current["text"] += data

    def handle_endtag(self, tag):
        if tag == "a":
            self._current = None


def _page_links(site_dir: Path, page: str) -> list[dict]:
    parser = _Links()
    parser.feed((site_dir / page / "index.html").read_text(encoding="utf-8"))
    return parser.links


# ---------------------------------------------------------------- the sources and the hook

def test_every_lesson_has_a_notebook_source():
    assert sorted(p.stem for p in SOURCES) == sorted(LESSONS.values())


def test_no_notebook_or_output_is_committed():
    tracked = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert tracked == [], f"notebooks are built from notebooks/*.py; remove {tracked}"


def test_percent_format_becomes_cells():
    hook = _hook()
    text = ("# %% [markdown]\n# # Title\n#\n# Some *text*.\n\n"
            "# %%\nCOURSE_REPO = None  # filled in\n\n# %%\nx = 1\n\n\nprint(x)\n")
    notebook = json.loads(hook.to_notebook(text, "demo", repo="octo/course"))
    cells = notebook["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "code"]
    assert "".join(cells[0]["source"]) == "# Title\n\nSome *text*."
    assert "".join(cells[1]["source"]) == 'COURSE_REPO = "octo/course"  # filled in'
    assert "".join(cells[2]["source"]) == "x = 1\n\n\nprint(x)"
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in cells[1:])
    unset = json.loads(hook.to_notebook(text, "demo", repo=""))
    assert "".join(unset["cells"][1]["source"]).startswith("COURSE_REPO = None")


def test_percent_format_errors_are_reported():
    hook = _hook()
    with pytest.raises(ValueError, match="must start with"):
        hook.to_notebook("print(1)\n", "demo")
    with pytest.raises(ValueError, match="COURSE_REPO"):
        hook.to_notebook("# %%\nprint(1)\n", "demo")
    with pytest.raises(ValueError, match="markdown lines"):
        hook.to_notebook("# %% [markdown]\n# fine\nnot a comment\n", "demo")


def test_buttons_link_to_the_notebook_and_colab():
    hook = _hook()
    markdown = hook.buttons("mnist-data", "lessons/data.md", "octo/course")
    assert "](../notebooks/mnist-data.ipynb)" in markdown
    assert ("https://colab.research.google.com/github/octo/course/blob/gh-pages/"
            "notebooks/mnist-data.ipynb") in markdown
    assert "colab" not in hook.buttons("mnist-data", "lessons/data.md", "").lower()


# ---------------------------------------------------------------- the built site

def test_download_links_resolve(site_dir):
    import nbformat

    for page, name in LESSONS.items():
        links = [a for a in _page_links(site_dir, page) if "download" in a]
        assert len(links) == 1, f"{page}: expected one download link, found {links}"
        href = links[0]["href"]
        target = Path(unquote(urljoin(f"file://{site_dir}/{page}", href)[len("file://"):]))
        assert target == site_dir / "notebooks" / f"{name}.ipynb", href
        notebook = nbformat.read(target, as_version=4)
        nbformat.validate(notebook)
        assert notebook.cells[0].source.startswith("# "), "the first cell is the title"
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_no_colab_button_without_a_repository(site_dir):
    if "MNIST_TUTORIAL_GITHUB_REPO" in os.environ:
        pytest.skip("this run names a repository")
    for page in LESSONS:
        assert not [a for a in _page_links(site_dir, page) if "colab" in a.get("href", "")]


def test_colab_buttons_and_install_cell_name_the_repository(site_dir, tmp_path):
    from conftest import build_site

    process = build_site(tmp_path / "site", extra_env={"MNIST_TUTORIAL_GITHUB_REPO": "octo/course"})
    assert process.returncode == 0, process.stderr[-3000:]
    for page, name in LESSONS.items():
        colab = [a["href"] for a in _page_links(tmp_path / "site", page)
                 if "colab.research.google.com" in a.get("href", "")]
        assert colab == [f"https://colab.research.google.com/github/octo/course/blob/gh-pages/"
                         f"notebooks/{name}.ipynb"]
        notebook = json.loads((tmp_path / "site" / "notebooks" / f"{name}.ipynb").read_text())
        sources = ["".join(cell["source"]) for cell in notebook["cells"]]
        assert any('COURSE_REPO = "octo/course"' in source for source in sources)
        assert not any("COURSE_REPO = None" in source for source in sources)


# ---------------------------------------------------------------- running them

@pytest.mark.parametrize("name", sorted(LESSONS.values()))
def test_notebook_runs_top_to_bottom(name, site_dir, tmp_path, monkeypatch, mnist_root):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("MNIST_TUTORIAL_PROFILE", "smoke")
    monkeypatch.setenv("MNIST_TUTORIAL_DOWNLOAD", "0")
    monkeypatch.setenv("MNIST_TUTORIAL_DATA", str(mnist_root))
    monkeypatch.setenv("MNIST_TUTORIAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(site_dir / "notebooks" / f"{name}.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError with the traceback if a cell fails
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(o.output_type == "display_data" and "image/svg+xml" in o.data for o in outputs) \
        or name == "mnist-model", f"{name} showed no figure"
