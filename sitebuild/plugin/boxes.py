"""The boxes under a lesson's title: what it teaches and how long it takes, and under
``mkdocs serve`` why its numbers are missing (its run failed, or is still running)."""

from __future__ import annotations

import html
import re

from mkdocs.exceptions import PluginError

from sitebuild import background
from sitebuild.homes import Home
from sitebuild.plugin.results import cell_link
from sitebuild.plugin.shortcodes import FENCED
from sitebuild.plugin.state import BuildState

WORDS_PER_MINUTE = 200  # technical prose, read with care (code and maths take longer still)


def reading_minutes(markdown: str) -> int:
    """Minutes to read a page's prose: its words, without code, comments or includes."""
    prose = re.sub(r"<!--.*?-->", "", FENCED.sub("", markdown), flags=re.DOTALL)
    prose = re.sub(r"^\s*-{2}8<-{2}.*$", "", prose, flags=re.MULTILINE)
    words = len(re.findall(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*", prose))
    return max(1, round(words / WORDS_PER_MINUTE))


def objectives(state: BuildState, page, home: Home, markdown: str) -> str:
    """The box a lesson opens with: what the reader will be able to do (the page's
    ``objectives:``), how long it reads and how long its notebook ran in this build."""
    items = page.meta.get("objectives", [])
    if not (isinstance(items, list) and all(isinstance(item, str) and item.strip() for item in items)):
        raise PluginError(f"{page.file.src_uri}: 'objectives:' in the front matter is a list of "
                          f"sentences, what the reader will be able to do after the page")
    kind = "exercise" if page.file.src_uri.startswith("exercises/") else "lesson"
    seconds = state.provenance.get(home.name, {}).get("wall_time_s")
    if home.name in state.pending or not seconds:
        ran = "Its notebook has not finished running yet."
    else:
        ran = (f"Its notebook ran in {seconds:.0f} s when this site was built"
               if seconds < 90 else
               f"Its notebook ran in {seconds / 60:.0f} minutes when this site was built")
        ran += f" ({state.profile} profile)."
    lines = [f'!!! abstract "In this {kind}"']
    if items:
        lines += ["    After it you can:", ""] + [f"    - {item.strip()}" for item in items] + [""]
    lines.append(f"    About {reading_minutes(markdown)} minutes to read. {ran}")
    return "\n".join(lines)


def pending_box(state: BuildState, name: str) -> str:
    """The box at the top of a page whose run is pending under ``mkdocs serve``."""
    runner = state.pending[name]
    where = html.escape(state.homes[name].where)
    progress = runner.progress(name) if runner is not None else None
    if runner is None:
        body = (f"<p><code>{where}</code> has no cached run, and "
                f"<code>{background.ONLY_ENV}</code> leaves it out: its numbers and figures "
                f"are not shown. Add it to that list (or unset it) to run it.</p>")
    elif progress is None:  # it ended between the status and this page
        body = f"<p><code>{where}</code> has just finished: this page reloads.</p>"
    else:
        k, n, left = progress
        eta = f"about {left:.0f} s left" if left is not None else "no earlier run to time it by"
        body = (f"<p><code>{where}</code> runs in the background: run {k} of {n}, {eta}. "
                f"This page reloads with its numbers and figures when it ends.</p>")
    return (f'<div class="admonition info result-pending-box" role="status" data-result="{name}">'
            f'<p class="admonition-title">This page\'s run is in progress</p>{body}</div>')


def false_claims_box(state: BuildState, name: str) -> str:
    """The box at the top of a page under ``mkdocs serve`` whose run left a claim the page
    states False (or unset): each such claim, where it is stated. The claim's mark on the
    page links to the cell that set it."""
    where = html.escape(state.homes[name].where)
    items = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in state.false_claims[name])
    return (f'<div class="admonition failure result-failure" role="alert" data-result="{name}">'
            f"<p class=\"admonition-title\">A claim of this page does not hold</p>"
            f"<p>{len(state.false_claims[name])} claim(s) the pages state are not True in this "
            f"run of <code>{where}</code> (marked ✗ where they are stated; the numbers on the "
            f"page are that run's):</p><ul>{items}</ul>"
            f"<p>Fix the code or the claim and save: <code>mkdocs serve</code> runs the home "
            f"again. <code>mkdocs build</code> stops on this.</p></div>")


def failure_box(state: BuildState, name: str, page) -> str:
    """The box at the top of a page whose home failed under ``mkdocs serve``: the error
    and its cell."""
    error = state.failures[name]
    where = html.escape(state.homes[name].where)
    if error.notebook is not None:
        link = html.escape(cell_link(state, name, error.cell, page))
        body = (f'<p><code>{where}</code> stopped in <a href="{link}">cell [{error.cell}] of its '
                f"notebook</a>:</p><pre><code>{html.escape(str(error))}</code></pre>")
    else:
        body = f"<p>{html.escape(str(error))}.</p>"
    return (f'<div class="admonition failure result-failure" role="alert" data-result="{name}">'
            f'<p class="admonition-title">This page\'s run failed</p>{body}'
            f"<p>Fix the code and save: <code>mkdocs serve</code> runs the home "
            f"again. <code>mkdocs build</code> stops on this.</p></div>")
