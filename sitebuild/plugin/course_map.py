"""``<!-- course_map SECTION -->``: a table of a nav section's pages, each with the
``description`` of its front matter. ``SECTION`` is the section's title in lower case,
``_`` for spaces."""

from __future__ import annotations

import posixpath
import re

from mkdocs.exceptions import PluginError
from mkdocs.utils.meta import get_data

from sitebuild.plugin.shortcodes import Shortcode

Sections = dict[str, list[tuple[str, str, str]]]  # section -> [(src_uri, title, description)]


def section_name(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def sections(nav) -> Sections:
    """Each nav section's pages with the title and description they declare (pages are
    read one by one later, so their heads are read here)."""
    found = {}
    for item in nav.items:
        if not item.is_section:
            continue
        pages = []
        for child in item.children:
            if not child.is_page:
                continue
            markdown, meta = get_data(child.file.content_string)
            title = next((line[2:].strip() for line in markdown.splitlines()
                          if line.startswith("# ")), None)
            if not title or not meta.get("description"):
                raise PluginError(f"{child.file.src_uri}: the course map needs a '# Title' line "
                                  f"and a 'description:' in the page's front matter")
            pages.append((child.file.src_uri, title, meta["description"]))
        found[section_name(item.title)] = pages
    return found


def course_map(known: Sections, code: Shortcode, src_uri: str) -> str:
    """The Markdown table; links relative to the page's source file (MkDocs checks them)."""
    if code.name not in known:
        raise PluginError(f"{src_uri}: {code.text} names no nav section; "
                          f"known: {', '.join(known)}")
    here = posixpath.dirname(src_uri)
    rows = [f"| [{title}]({posixpath.relpath(src, here or '.')}) | {description} |"
            for src, title, description in known[code.name]]
    return "\n".join(["| Page | What you will learn |", "| --- | --- |", *rows])
