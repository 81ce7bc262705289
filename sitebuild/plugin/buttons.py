"""The ways to a lesson's notebook: buttons under the lesson's title (its notebook page,
the download, Colab) and, on the notebook's page, a line that leads back to the lesson."""

from __future__ import annotations

import html
import posixpath

from mkdocs.utils import get_relative_url

from sitebuild.homes import Home
from sitebuild.plugin.results import NOTEBOOKS, provenance_text
from sitebuild.plugin.state import BuildState

DOWNLOADS = "downloads"
PAGES_BRANCH = "gh-pages"  # where the deploy workflow publishes the built site


def colab_url(repo: str, slug: str) -> str:
    return (f"https://colab.research.google.com/github/{repo}/blob/{PAGES_BRANCH}/"
            f"{DOWNLOADS}/{slug}.ipynb")


def lesson_buttons(repo: str, home: Home) -> str:
    """Markdown links, relative to the page's source file: MkDocs checks and converts them."""
    here = posixpath.dirname(home.page)
    notebook = posixpath.relpath(f"{NOTEBOOKS}/{home.slug}.ipynb", here)
    download = posixpath.relpath(f"{DOWNLOADS}/{home.slug}.ipynb", here)
    parts = [f"[The notebook, with its outputs]({notebook}){{ .md-button .mnist-notebook }}",
             f'[Download .ipynb]({download}){{ .md-button download="{home.slug}.ipynb" }}']
    if repo:
        parts.append(f"[Open in Colab]({colab_url(repo, home.slug)}){{ .md-button }}")
    return " ".join(parts)


def notebook_intro(state: BuildState, home: Home, page, files) -> str:
    """The HTML under a notebook page's title: what it is, the way back, the buttons."""
    lesson_file = files.get_file_from_path(home.page) if home.page else None
    lesson = (f'<a href="{get_relative_url(lesson_file.url, page.url)}">the lesson</a>'
              if lesson_file else "the lesson")
    download = get_relative_url(f"{DOWNLOADS}/{home.slug}.ipynb", page.url)
    colab = (f' <a class="md-button" href="{html.escape(colab_url(state.repo, home.slug))}">'
             f"Open in Colab</a>") if state.repo else ""
    built = html.escape(provenance_text(state.provenance[home.name]))
    return (f'<p class="mnist-notebook-intro">This is <code>lessons/{home.name}.py</code> run '
            f'as a notebook when the site was built ({built}): '
            f'the outputs below are the numbers and figures of {lesson}.</p>'
            f'<p><a class="md-button" href="{download}" download="{home.slug}.ipynb">'
            f'Download .ipynb</a>{colab}</p>')
