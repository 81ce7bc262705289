"""Every page's notebook: published with its outputs, linked from its page, and runnable.

The smoke site (``site_dir``) publishes, for each lesson and exercise, the executed
notebook of its code home twice: as a page rendered by mkdocs-jupyter and as a download.
Each download is then run here as a learner would run it: top to bottom in a fresh
kernel, in an empty folder, with none of the build's variables (no report folder, an
empty checkpoint folder: the evaluation notebook must train what it needs itself), and
its last cell must say that the learner's numbers agree with the site's.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbclient import NotebookClient

from conftest import ROOT
from sitebuild import homes

HOMES = homes.discover()
PAGES = {home.slug: home for home in HOMES.values()}


def _notebook(site_dir: Path, slug: str) -> nbformat.NotebookNode:
    return nbformat.read(site_dir / "downloads" / f"{slug}.ipynb", as_version=4)


def test_every_page_has_a_notebook_with_outputs(site_dir):
    pages = {page.stem for folder in ("lessons", "exercises")
             for page in (ROOT / "docs" / folder).glob("*.md")}
    assert set(PAGES) == pages
    for slug in PAGES:
        nb = _notebook(site_dir, slug)
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), slug
        assert sum(len(cell.outputs) for cell in code) >= 3, f"{slug}: hardly any output"
        assert not [o for cell in code for o in cell.outputs if o.output_type == "error"], slug
        assert "SITE_RESULTS = {" in code[-1].source, f"{slug}: the site's numbers are missing"
        page = site_dir / "notebooks" / slug / "index.html"
        assert page.is_file(), f"mkdocs-jupyter rendered no page for {slug}"
        # The page shows the same outputs: every printed line of the notebook is on it.
        text = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").get_text()
        for cell in code:
            for output in cell.outputs:
                for line in output.get("text", "").splitlines()[:3]:
                    assert line.strip() in text, f"{slug}: {line!r} is not on its page"


def test_lesson_pages_link_their_notebook(site_dir):
    prompts = {}  # notebook page -> its cell prompts by anchor: each page is parsed once
    for slug, home in PAGES.items():
        page = site_dir / Path(home.page).with_suffix("") / "index.html"
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        hrefs = {a["href"] for a in soup.select("a.md-button")}
        assert f"../../notebooks/{slug}/" in hrefs, f"{home.page}: no link to its notebook"
        assert f"../../downloads/{slug}.ipynb" in hrefs, f"{home.page}: no download"
        # Every number on the page links to the notebook cell that computed it.
        for value in soup.select("a.result-value"):
            target, _, anchor = value["href"].partition("#")
            assert re.fullmatch(r"in-\d+", anchor), value
            notebook_page = (page.parent / target / "index.html").resolve()
            if notebook_page not in prompts:
                soup_of_notebook = BeautifulSoup(notebook_page.read_text(encoding="utf-8"),
                                                 "html.parser")
                prompts[notebook_page] = {tag["id"]: tag for tag in
                                          soup_of_notebook.find_all(id=re.compile(r"^in-\d+$"))}
            prompt = prompts[notebook_page].get(anchor)
            assert prompt is not None, f"{home.page}: {value['href']} names no cell"
            # the anchor is the prompt of the cell that ran with that number
            assert prompt.get_text() == f"In\xa0[{anchor[3:]}]:", prompt


def test_no_notebook_or_output_is_committed():
    tracked = os.popen(f"git -C {ROOT} ls-files").read().split()
    assert not [path for path in tracked if path.endswith(".ipynb")]


@pytest.mark.parametrize("slug", sorted(PAGES))
def test_downloaded_notebook_runs_and_agrees_with_the_site(slug, site_dir, tmp_path, mnist_root):
    nb = _notebook(site_dir, slug)
    env = {key: value for key, value in os.environ.items()
           if key not in ("MNIST_TUTORIAL_REPORT", "MNIST_TUTORIAL_CACHE")}
    env |= {"MNIST_TUTORIAL_PROFILE": "smoke", "MNIST_TUTORIAL_DOWNLOAD": "0",
            "MNIST_TUTORIAL_DATA": str(mnist_root), "MPLBACKEND": "Agg", "TQDM_DISABLE": "1",
            "MNIST_TUTORIAL_CHECKPOINTS": str(tmp_path / "checkpoints")}
    # As the notebook's last cell advises a learner: train in the precision the site did
    # (a probe under the test suite's load might pick the other one).
    built_in = re.search(r"'precision': '(\w+)'", nb.cells[-1].source)
    if built_in:
        env["MNIST_TUTORIAL_PRECISION"] = built_in.group(1)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)  # raises CellExecutionError, with the traceback, if a cell fails
    verdict = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "Your run agrees with the site's." in verdict, verdict
    assert len(verdict.splitlines()) <= 60, verdict  # a short account, not the site's report
    assert not list(tmp_path.glob("report.json"))  # nothing written for a build


def test_results_json_lists_every_home(site_dir):
    document = json.loads((site_dir / "results.json").read_text(encoding="utf-8"))
    assert set(document["homes"]) == set(HOMES)
