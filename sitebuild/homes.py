"""The code homes: one file per page, the page's code, its run and its claims.

``docs/lessons/linear-collapse.md`` has its home in ``lessons/linear_collapse.py`` (the
page's stem, hyphens as underscores; exercises too). A home is a notebook in jupytext's
percent format: the page includes its marked sections as snippets, the build runs it
as a notebook, and a learner downloads that notebook with its outputs.

A home that needs another page's results (the evaluation lesson loads the network the
training lesson trained) declares it in its jupytext header::

    # ---
    # jupyter:
    #   mnist_tutorial:
    #     uses: [training]
    # ---

The build runs ``training`` first and hands its saved files to ``evaluation``; the
cache key of ``evaluation`` covers the key of ``training``.

A home whose run reads a file of the course that is not a Python module of the package
(draw_a_digit runs the page's script in V8) names it, from the repository root::

    #     reads: [docs/javascripts/draw-digit.js]

and the file's content joins the home's cache key: an edit to it reruns the home.

Every notebook gets the same setup cell (install the course on Colab) after its title,
and the same last cells (compare your numbers with the site's): both are written once,
here.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

from . import svg as svg_allowlist

ROOT = Path(__file__).resolve().parent.parent
HOMES = ROOT / "lessons"
DOCS = ROOT / "docs"
LIBRARY = ROOT / "mnist_tutorial"
PAGE_FOLDERS = ("lessons", "exercises")
METADATA = "mnist_tutorial"  # the key of a home's build metadata in its jupytext header
# The tag of a cell that records results for the site (report.*) rather than teaches:
# '# %% tags=["report"]' in a home. Its code is folded in the notebook (JupyterLab's
# source_hidden) and on the notebook's page (docs/javascripts/notebook-cells.js); its
# output shows. The build's own setup and comparison cells carry it too.
REPORT_TAG = "report"
SNIPPET_MARKER = re.compile(r"^[ \t]*# --8<-- \[(?:start|end):[\w-]+\][ \t]*\n?", re.MULTILINE)


class HomeError(ValueError):
    """A home or page is missing, misnamed or declares something impossible."""


@dataclass(frozen=True)
class Home:
    name: str  # linear_collapse: shortcodes say <!-- metric linear_collapse.KEY -->
    path: Path  # lessons/linear_collapse.py
    page: str | None  # lessons/linear-collapse.md, relative to docs/
    uses: tuple[str, ...]  # homes whose saved files this one needs
    reads: tuple[str, ...] = ()  # other files its run reads, from the repository root

    @property
    def slug(self) -> str:
        """The page's stem: the notebook is published as notebooks/<slug>.ipynb."""
        return Path(self.page).stem if self.page else self.name.replace("_", "-")

    @property
    def where(self) -> str:
        """lessons/linear_collapse.py: how messages name the home."""
        return f"{self.path.parent.name}/{self.path.name}"

    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")


def read_notebook(path: Path) -> nbformat.NotebookNode:
    return jupytext.read(path, fmt="py:percent")


def discover(docs: Path = DOCS, homes: Path = HOMES, complete: bool = True) -> dict[str, Home]:
    """Every home, with its page under docs/lessons or docs/exercises.

    Every page must have a home. With ``complete`` (the course itself) every home must
    also have a page; otherwise (a project with some of the pages, a single run) a home
    without a page gets ``page=None``.
    """
    pages = {page.stem.replace("-", "_"): page.relative_to(docs).as_posix()
             for folder in PAGE_FOLDERS for page in sorted((docs / folder).glob("*.md"))}
    files = {path.stem: path for path in sorted(homes.glob("*.py"))}
    for name, page in pages.items():
        if name not in files:
            raise HomeError(f"docs/{page} has no code home: create {homes.name}/{name}.py "
                            f"(see CONTRIBUTING.md, 'One lesson, one home')")
    found = {}
    for name, path in files.items():
        if complete and name not in pages:
            raise HomeError(f"{homes.name}/{path.name} belongs to no page: add "
                            f"docs/lessons/{name.replace('_', '-')}.md (or docs/exercises/), "
                            f"or remove it")
        meta = read_notebook(path).metadata.get(METADATA, {})
        uses = meta.get("uses", [])
        if not isinstance(uses, list) or not all(isinstance(u, str) for u in uses):
            raise HomeError(f"{homes.name}/{path.name}: '{METADATA}: uses' must be a list of "
                            f"home names, not {uses!r}")
        for used in uses:
            if used not in files:
                raise HomeError(f"{homes.name}/{path.name} uses {used!r}, which is no home "
                                f"(known: {', '.join(files)})")
        reads = meta.get("reads", [])
        if not isinstance(reads, list) or not all(isinstance(r, str) for r in reads):
            raise HomeError(f"{homes.name}/{path.name}: '{METADATA}: reads' must be a list of "
                            f"paths from the repository root, not {reads!r}")
        for read in reads:
            if not (homes.parent / read).is_file():
                raise HomeError(f"{homes.name}/{path.name} reads {read!r}, which is not a file "
                                f"of {homes.parent}: fix the path in its header")
        found[name] = Home(name, path, pages.get(name), tuple(uses), tuple(reads))
    in_order(found, list(found))  # fails on a cycle
    return found


def in_order(homes: dict[str, Home], names: list[str]) -> list[Home]:
    """``names`` and everything they use, each after what it uses."""
    ordered: list[Home] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if any(home.name == name for home in ordered):
            return
        if name in visiting:
            cycle = " -> ".join(visiting[visiting.index(name):] + [name])
            raise HomeError(f"homes use each other in a cycle: {cycle}")
        visiting.append(name)
        for used in homes[name].uses:
            visit(used)
        visiting.pop()
        ordered.append(homes[name])

    for name in names:
        if name not in homes:
            raise HomeError(f"unknown home {name!r}; known: {', '.join(sorted(homes))}")
        visit(name)
    return ordered


def library_modules(source: str, library: Path = LIBRARY) -> list[Path]:
    """The files of the course package that ``source`` imports, directly or not."""
    package = library.name
    found: set[Path] = {library / "__init__.py"}
    todo = [("", source)]
    while todo:
        current, text = todo.pop()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: only inside the package
                    base = package if node.level == 1 else None
                    module = f"{base}.{node.module}" if node.module else base
                else:
                    module = node.module or ""
                modules = [module] + [f"{module}.{alias.name}" for alias in node.names]
            else:
                continue
            for module in modules:
                parts = (module or "").split(".")
                if parts[0] != package or len(parts) < 2:
                    continue
                path = library.joinpath(*parts[1:]).with_suffix(".py")
                if path.is_file() and path not in found:
                    found.add(path)
                    todo.append((module, path.read_text(encoding="utf-8")))
    return sorted(found)


# ---------------------------------------------------------------- the notebook

SETUP = '''\
# Setup: install the course package where it is missing (Colab, a fresh environment).
# In a copy of the course, `pip install -r requirements.txt` has installed it already.
import importlib.util
import subprocess
import sys

# Where pip finds the course (the build writes them in): the site's wheel, then GitHub.
COURSE = []
if importlib.util.find_spec("mnist_tutorial") is None:
    for address in COURSE:
        print("Installing the course from", address)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", address]
        if subprocess.run(pip).returncode == 0:
            importlib.invalidate_caches()
            break
    else:
        raise RuntimeError("The course package is not installed: in a copy of the course, "
                           "run `pip install -r requirements.txt`.")'''

FINISH_TEXT = '''\
## Your numbers and the site's

The last cell compares what this notebook computed with the numbers the course website
shows for this page, which the build wrote into `SITE_RESULTS`. A number that varies
from seed to seed should fall within the site's mean ± 2 std; a deterministic one should
be the same (another torch version or device can shift it in the last digits). Each claim
the page states is a variable of this notebook that must be True: the cell fails naming
any that is not.'''

FINISH = '''\
SITE_RESULTS = None  # the numbers and claims the website shows; the build writes them in
report.finish(site=SITE_RESULTS)'''


def to_notebook(home: Home) -> nbformat.NotebookNode:
    """The notebook the build executes: setup cell, the home's cells, the comparison."""
    nb = read_notebook(home.path)
    cells = nb.cells
    if not cells or cells[0].cell_type != "markdown" or not cells[0].source.startswith("# "):
        raise HomeError(f"{home.where}: the first cell must be markdown "
                        f"starting with the title ('# %% [markdown]' then '# # Title')")
    if "report = Report(" not in home.source():
        raise HomeError(f"{home.where}: a home records its results in "
                        f"'report = Report(\"{home.name}\", ...)' (see mnist_tutorial/report.py)")
    plumbing = {"tags": [REPORT_TAG]}
    cells.insert(1, nbformat.v4.new_code_cell(SETUP, metadata=copy.deepcopy(plumbing)))
    cells += [nbformat.v4.new_markdown_cell(FINISH_TEXT),
              nbformat.v4.new_code_cell(FINISH, metadata=copy.deepcopy(plumbing))]
    for i, cell in enumerate(cells):
        if cell.cell_type == "code":  # the page's section markers mean nothing to a learner
            cell.source = SNIPPET_MARKER.sub("", cell.source).strip("\n")
        if REPORT_TAG in cell.metadata.get("tags", []):  # JupyterLab shows it folded
            cell.metadata["jupyter"] = {"source_hidden": True}
        cell.id = f"{home.slug}-{i}"  # stable ids: the same home gives the same bytes
        cell.metadata.pop("lines_to_next_cell", None)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return nb


def sanitize_svg(svg: str) -> str:
    """The figure as a picture and nothing that could run in the site's origin: the
    allowlist of ``sitebuild/svg.py``."""
    try:
        return svg_allowlist.sanitize_svg(svg)
    except svg_allowlist.SVGError as error:
        raise HomeError(f"a figure cannot be published: {error}") from None


def publish(executed: nbformat.NotebookNode, course: list[str], site: dict) -> str:
    """The executed notebook as a learner downloads it: the course's pip addresses and the
    site's numbers written into the setup and last cells (their outputs are unchanged),
    its SVG figures sanitised (mkdocs-jupyter puts them inline in the notebook's page)."""
    nb = copy.deepcopy(executed)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "image/svg+xml" in output.get("data", {}):
                output.data["image/svg+xml"] = sanitize_svg(output.data["image/svg+xml"])
    setup, finish = nb.cells[1], nb.cells[-1]
    setup.source = setup.source.replace("COURSE = []", f"COURSE = {course!r}", 1)
    finish.source = finish.source.replace("SITE_RESULTS = None", "SITE_RESULTS = " + site_results(site), 1)
    return nbformat.writes(nb) + "\n"


def site_results(site: dict) -> str:
    """The site's numbers and claims as the last cell's source shows them: a line per
    number, with what ``report.reproduces`` needs to judge a rerun (fields left out are not
    set), then the claims the site checked (the notebook's variables that must be True)."""
    provenance = site["provenance"]
    lines = [f"{{'profile': {provenance['profile']!r}, 'precision': {provenance.get('precision')!r}, "
             f"'metrics': {{"]
    for key, metric in sorted(site["metrics"].items()):
        entry = {field: metric[field] for field in ("value", "unit", "digits", "text")}
        entry |= {field: metric[field] for field in ("std", "timing", "tolerance", "varies")
                  if metric.get(field)}
        lines.append(f"    {key!r}: {entry!r},")
    return "\n".join(lines) + f"\n}}, 'claims': {sorted(site.get('claims', []))!r}}}"
