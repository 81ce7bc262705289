"""MkDocs hook: publish the hands-on notebooks and put their buttons on the lesson pages.

Listed under ``hooks:`` in ``mkdocs.yml``. The notebooks' only source is
``notebooks/*.py`` in the jupytext "percent" format (see ``notebooks/README.md``).
At build time this hook

* converts each source into an unexecuted ``.ipynb`` and publishes it as
  ``notebooks/<name>.ipynb`` in the site (a generated file: nothing is written into
  ``docs/`` and no outputs exist that could go stale);
* writes the repository named by ``extra.github_repo`` into each notebook's setup cell
  (the line that starts ``COURSE_REPO = None``), so that on Google Colab the notebook can install
  the course package from GitHub;
* on every page whose front matter says ``notebook: <name>``, adds a "Download the
  notebook" button under the title and, when ``extra.github_repo`` is set, an "Open in
  Colab" button. Colab opens notebooks from GitHub only: the link points at the copy
  that ``mkdocs gh-deploy`` publishes on the repository's ``gh-pages`` branch.

The conversion takes milliseconds and never executes anything; ``tests/test_notebooks.py``
runs every published notebook top to bottom.
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks"
SITE_FOLDER = "notebooks"
PAGES_BRANCH = "gh-pages"  # where `mkdocs gh-deploy` puts the built site
REPO_LINE = "COURSE_REPO = None"
REPO_PATTERN = re.compile(r"^COURSE_REPO = None(?=\s|$)", re.MULTILINE)
CELL = re.compile(r"^# %%(?P<rest>.*)$")

_repo = ""
_names: set[str] = set()


def percent_to_cells(text: str, name: str = "notebook") -> list[tuple[str, str]]:
    """Split a percent-format script into (cell type, source) pairs."""
    lines = text.splitlines()
    if not lines or not CELL.match(lines[0]):
        raise ValueError(f"{name}: a notebook source must start with a '# %%' cell marker")
    cells: list[tuple[str, list[str]]] = []
    for number, line in enumerate(lines, 1):
        match = CELL.match(line)
        if match:
            rest = match.group("rest").strip()
            if rest not in ("", "[markdown]"):
                raise ValueError(f"{name}:{number}: unsupported cell marker {line!r}")
            cells.append(("markdown" if rest else "code", []))
        elif cells[-1][0] == "markdown":
            if line and not line.startswith("#"):
                raise ValueError(f"{name}:{number}: markdown lines must start with '#'")
            cells[-1][1].append(line[2:] if line.startswith("# ") else line[1:])
        else:
            cells[-1][1].append(line)
    return [(kind, "\n".join(body).strip("\n")) for kind, body in cells]


def to_notebook(text: str, name: str, repo: str = "") -> str:
    """The ``.ipynb`` (nbformat 4.5, no outputs) of a percent-format source, as JSON text."""
    cells = []
    found_repo_line = False
    for i, (kind, source) in enumerate(percent_to_cells(text, name)):
        if kind == "code" and REPO_PATTERN.search(source):
            found_repo_line = True
            if repo:
                source = REPO_PATTERN.sub(f"COURSE_REPO = {json.dumps(repo)}", source, count=1)
        cell = {"cell_type": kind, "id": f"{name}-{i}", "metadata": {},
                "source": source.splitlines(keepends=True)}
        if kind == "code":
            cell |= {"execution_count": None, "outputs": []}
        cells.append(cell)
    if not found_repo_line:
        raise ValueError(f"{name}: no setup cell with a line starting {REPO_LINE!r}")
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def colab_url(repo: str, name: str) -> str:
    return (f"https://colab.research.google.com/github/{repo}/blob/{PAGES_BRANCH}/"
            f"{SITE_FOLDER}/{name}.ipynb")


def buttons(name: str, page_src_uri: str, repo: str) -> str:
    """The Markdown of the download (and Colab) buttons for a page at ``page_src_uri``."""
    target = posixpath.relpath(f"{SITE_FOLDER}/{name}.ipynb", posixpath.dirname(page_src_uri) or ".")
    parts = [f'[Download the notebook]({target}){{ .md-button download="{name}.ipynb" }}']
    if repo:
        parts.append(f"[Open in Colab]({colab_url(repo, name)}){{ .md-button }}")
    return " ".join(parts)


def on_config(config):
    global _repo
    _repo = (config.extra.get("github_repo") or "").strip().strip("/")
    if _repo and not re.fullmatch(r"[\w.-]+/[\w.-]+", _repo):
        raise PluginError(f"extra.github_repo must look like OWNER/NAME, not {_repo!r}")
    return config


def on_files(files: Files, config) -> Files:
    _names.clear()
    for source in sorted(SOURCES.glob("*.py")):
        try:
            content = to_notebook(source.read_text(encoding="utf-8"), source.stem, _repo)
        except ValueError as error:
            raise PluginError(f"notebooks/{source.name}: {error}") from None
        files.append(File.generated(config, f"{SITE_FOLDER}/{source.stem}.ipynb", content=content))
        _names.add(source.stem)
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    name = page.meta.get("notebook")
    if not name:
        return markdown
    if name not in _names:
        raise PluginError(f"{page.file.src_uri}: front matter names notebook {name!r}, but "
                          f"notebooks/{name}.py does not exist (known: {', '.join(sorted(_names))})")
    block = "\n" + buttons(name, page.file.src_uri, _repo) + "\n"
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return "\n".join(lines[: i + 1] + [block] + lines[i + 1 :]) + "\n"
    return block + "\n" + markdown
