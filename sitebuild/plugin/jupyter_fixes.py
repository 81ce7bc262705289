"""The fixes this site makes to the notebook pages that mkdocs-jupyter renders.

mkdocs-jupyter is part of the site's specification; these patch what its HTML lacks.
Each fix reports whether it found what it patches: the plugin warns when a notebook page
lacks a pattern it must have (a strict build fails), and tests/test_jupyter_fixes.py
renders a notebook through mkdocs-jupyter's own converter and checks that every fix
applies, so that an upgrade that changes its HTML fails a test, not a page.

1. ``anchor_prompts``: each code cell's prompt gets an anchor (``#in-N``, N its
   execution count) for the numbers on the lesson page to link to.
2. ``match_toc_to_headings``: the table of contents links the headings' real ids.
3. ``share_large_styles``: the ~600 kB of JupyterLab CSS inlined into every notebook
   page is served once, as stylesheets every notebook page links to.
4. ``insert_after_title``: HTML placed under the page's ``<h1>``.
5. ``edit_url_of_home``: the edit button opens the code home, not a notebook that is
   not in the repository.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from urllib.parse import urljoin

from mkdocs.utils import get_relative_url

# <div class="jp-InputPrompt ...">In [N]:</div> (mkdocs-jupyter already uses id="cell-N"
# for the hidden text of its copy buttons).
PROMPT = re.compile(r'<div class="(jp-InputPrompt[^"]*)">In(?:\xa0|&nbsp;| )\[(\d+)\]:</div>')
HEADING = re.compile(r'<h[1-6][^>]*\bid="([^"]+)"')
STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)
SHARED_CSS = "assets/notebooks"  # where the notebook pages' common stylesheets go
LARGE_CSS = 8192  # characters: JupyterLab's stylesheets, not a cell's own few rules


def anchor_prompts(page_html: str) -> tuple[str, int]:
    """The HTML with an ``id="in-N"`` on each code cell's prompt; and how many it found."""
    return PROMPT.subn(
        lambda m: f'<div class="{m.group(1)}" id="in-{m.group(2)}">In\xa0[{m.group(2)}]:</div>',
        page_html)


def match_toc_to_headings(toc, page_html: str) -> bool:
    """mkdocs-jupyter's table of contents drops inline code from a heading's anchor
    ("Batches: `Dataset` and `DataLoader`" -> #batches-and) while the page's heading keeps
    it (#batches-dataset-and-dataloader). Both list the notebook's Markdown headings in
    order: give each entry the id of its heading. False where the two lists differ."""
    entries, stack = [], list(reversed(list(toc)))
    while stack:  # depth first, in document order
        item = stack.pop()
        entries.append(item)
        stack.extend(reversed(list(item.children)))
    ids = HEADING.findall(page_html)
    if len(ids) != len(entries):
        return False
    for item, heading_id in zip(entries, ids):
        item.id = heading_id
    return True


def share_large_styles(output: str, page_url: str, shared: dict[str, str]) -> tuple[str, int]:
    """The page with each large ``<style>`` block replaced by a link to its stylesheet,
    added to ``shared`` (site path -> CSS) for the build to write; and how many."""
    linked = []

    def link(match):
        css = match.group(1)
        if len(css) < LARGE_CSS:
            return match.group(0)
        name = f"{SHARED_CSS}/{hashlib.sha256(css.encode()).hexdigest()[:16]}.css"
        shared[name] = css
        linked.append(name)
        return f'<link rel="stylesheet" href="{get_relative_url(name, page_url)}">'

    return STYLE.sub(link, output), len(linked)


def insert_after_title(page_html: str, insert: str) -> tuple[str, bool]:
    """``insert`` right after the page's ``</h1>`` (at the top where it has none)."""
    title_end = page_html.find("</h1>")
    if title_end < 0:
        return insert + page_html, False
    title_end += len("</h1>")
    return page_html[:title_end] + insert + page_html[title_end:], True


def edit_url_of_home(edit_url: str, home_path: str, src_uri: str) -> str:
    """The edit URL of the code home (``lessons/<name>.py``) that the notebook page
    ``src_uri`` was made from: the page's own points into docs/, where it is not."""
    return urljoin(edit_url, posixpath.relpath(home_path, posixpath.dirname(f"docs/{src_uri}")))
