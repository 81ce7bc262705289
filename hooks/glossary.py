"""MkDocs hook: link the first use of each glossary term on a lesson to its definition.

Listed under ``hooks:`` in ``mkdocs.yml`` (hooks run after the plugins, ``mnist-course``
among them). ``docs/glossary.md`` is the one source of the terms: a definition list whose
every term carries an anchor,

    **Weights** { #weights data-terms="weight" }
    :   The numbers a layer multiplies its inputs by, one per connection ... (link).

* ``data-terms="a|b"`` lists the words that stand for the entry on the lessons (default:
  the term itself, lower case); each also matches its plural (weights, biases, batches);
* ``data-except="a|b"`` lists phrases in which a word means something else
  ("height, width" of an image is no layer's width);
* the first sentence of the definition is the tooltip, so it holds no math.

On every page under ``lessons/`` and ``exercises/`` the first use of each term (case
insensitive, whole words) becomes ``<a class="glossary-term" href="…glossary/#weights"
title="Weights: …">weights</a>``. Only running text counts: paragraphs and list items,
never code, links, headings, admonition titles, math, captions or tables. The glossary
page itself and the notebook pages are left alone. A glossary entry without an anchor,
without a definition or without a link to the lesson that teaches it fails the build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import markdown
from bs4 import BeautifulSoup, NavigableString
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.utils import get_relative_url
from mkdocs.utils.meta import get_data

GLOSSARY = "glossary.md"
LINKED_FOLDERS = ("lessons/", "exercises/")
# What the glossary needs to render as it does on the site (the hook passes the site's own).
EXTENSIONS = ["attr_list", "def_list", "md_in_html", "pymdownx.arithmatex"]
EXTENSION_CONFIGS = {"pymdownx.arithmatex": {"generic": True}}

PROSE = {"p", "li"}  # running text: the only place a term is linked,
# and never inside one of these, however deep:
SKIP_TAGS = {"a", "code", "pre", "kbd", "script", "style", "abbr", "button", "summary",
             "label", "figcaption", "table", "svg", "h1", "h2", "h3", "h4", "h5", "h6", "dt"}
# result-failure, result-pending-box: the build's own report on a run, quoted as it is.
SKIP_CLASSES = {"arithmatex", "admonition-title", "result-provenance", "md-button",
                "result-failure", "result-pending-box"}
ANCHOR_LEFT = re.compile(r"\{\s*[#.][^}]*\}")  # an attribute list that made no term
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
LINKED = "\x00"  # marks link text while the tooltip is cut from a definition


@dataclass(frozen=True)
class Entry:
    name: str  # as the glossary shows it: "Activation function"
    anchor: str  # activation-function
    terms: tuple[str, ...]  # lower-case forms linked on the lessons, plurals included
    excepts: tuple[str, ...]  # phrases in which a term is not this entry
    short: str  # the definition's first sentence: the tooltip


def plural(term: str) -> str:
    """English plural of a term's last word: bias -> biases, batch -> batches, epoch -> epochs.

    Irregular forms go into the entry's ``data-terms``."""
    if term.endswith(("s", "x", "z", "sh", "tch")):
        return term + "es"
    if term.endswith("y") and term[-2:-1] not in tuple("aeiou"):
        return term[:-1] + "ies"
    return term + "s"


def _words(value: str | None) -> list[str]:
    return [word.strip().lower() for word in (value or "").split("|") if word.strip()]


def _tooltip(definition) -> tuple[str, int]:
    """The first sentence of a definition without its "(lesson link)" parentheses, and how
    many sentences the definition has."""
    for link in definition.find_all("a"):
        link.replace_with(LINKED + link.get_text() + LINKED)
    text = " ".join(definition.get_text().split())
    text = re.sub(rf"\s*\([^()]*{LINKED}[^()]*\)", "", text).replace(LINKED, "")
    sentences = SENTENCE_END.split(text)
    return sentences[0], len(sentences)


def parse(text: str, extensions=None, extension_configs=None,
          where: str = f"docs/{GLOSSARY}") -> list[Entry]:
    """The entries of a glossary page's Markdown; PluginError if one is malformed."""
    body, _ = get_data(text)  # without the front matter
    md = markdown.Markdown(extensions=extensions or EXTENSIONS,
                           extension_configs=extension_configs or EXTENSION_CONFIGS)
    soup = BeautifulSoup(md.convert(body), "html.parser")
    for element in soup.find_all(["p", "li", "h2", "h3", "dd"]):
        if ANCHOR_LEFT.search(element.get_text()):
            raise PluginError(f"{where}: {element.get_text().strip()!r} is not a glossary "
                              f"entry: a term line needs a definition on the next line, "
                              f"':   One to three sentences.'")
    entries, anchors, owners = [], set(), {}
    for term in soup.find_all("dt"):
        name = " ".join(term.get_text().split())
        anchor = term.get("id")
        if not anchor:
            raise PluginError(f"{where}: the entry {name!r} has no anchor: write "
                              f"'{name} {{ #{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')} }}'")
        if anchor in anchors:
            raise PluginError(f"{where}: two entries have the anchor #{anchor}")
        anchors.add(anchor)
        definition = term.find_next_sibling(["dt", "dd"])
        while definition is not None and definition.name == "dt":  # terms sharing one definition
            definition = definition.find_next_sibling(["dt", "dd"])
        if definition is None or not definition.get_text().strip():
            raise PluginError(f"{where}: the entry {name!r} has no definition")
        if not definition.find("a", href=True):
            raise PluginError(f"{where}: the entry {name!r} links to no lesson that teaches it")
        first = SENTENCE_END.split(" ".join(definition.get_text().split()))[0]
        if any(math.get_text() in first for math in definition.select(".arithmatex")):
            raise PluginError(f"{where}: the first sentence of {name!r} is its tooltip: "
                              f"keep math out of it")
        short, sentences = _tooltip(BeautifulSoup(str(definition), "html.parser").dd)
        if sentences > 3:
            raise PluginError(f"{where}: the entry {name!r} has {sentences} sentences; "
                              f"a glossary entry has one to three")
        words = _words(term.get("data-terms")) or [name.lower()]
        terms = tuple(dict.fromkeys(form for word in words for form in (word, plural(word))))
        for form in terms:
            if form in owners:
                raise PluginError(f"{where}: {form!r} stands for both {owners[form]!r} and {name!r}")
            owners[form] = name
        entries.append(Entry(name, anchor, terms, tuple(_words(term.get("data-except"))), short))
    if not entries:
        raise PluginError(f"{where}: no entries; write 'Term {{ #anchor }}' then ':   Definition.'")
    return entries


def _whole(words) -> re.Pattern:
    """Any of ``words``, longest first ("hidden layer" before "layer"), as whole words."""
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def _in_prose(node) -> bool:
    in_prose = False
    for parent in node.parents:
        if parent.name in SKIP_TAGS or SKIP_CLASSES & set(parent.get("class") or ()):
            return False
        in_prose = in_prose or parent.name in PROSE
    return in_prose


def link_first_uses(page_html: str, entries: list[Entry], glossary_url: str) -> str:
    """``page_html`` with the first use of each entry's terms linked to ``glossary_url#anchor``."""
    by_term = {term: entry for entry in entries for term in entry.terms}
    pattern = _whole(by_term)
    excepts = {entry.anchor: _whole(entry.excepts) for entry in entries if entry.excepts}
    soup = BeautifulSoup(page_html, "html.parser")
    done: set[str] = set()
    for node in list(soup.find_all(string=pattern)):
        if type(node) is not NavigableString or not _in_prose(node):
            continue  # comments, CDATA; code, links, headings, math
        text, pieces, start = str(node), [], 0
        for match in pattern.finditer(text):
            entry = by_term[match.group(0).lower()]
            if entry.anchor in done:
                continue
            if entry.anchor in excepts and any(
                    m.start() <= match.start() < m.end() for m in excepts[entry.anchor].finditer(text)):
                continue  # "height, width": a word that means something else here
            done.add(entry.anchor)
            link = soup.new_tag("a", attrs={"class": "glossary-term",
                                            "href": f"{glossary_url}#{entry.anchor}",
                                            "title": f"{entry.name}: {entry.short}"})
            link.string = match.group(0)
            pieces += [text[start:match.start()], link]
            start = match.end()
        if pieces:
            pieces.append(text[start:])
            node.replace_with(*[piece for piece in pieces if piece != ""])
        if len(done) == len(entries):
            break
    return str(soup) if done else page_html


# ---------------------------------------------------------------- MkDocs events

_state: dict = {}


def on_files(files, config):
    glossary = files.get_file_from_path(GLOSSARY)
    if glossary is None:
        raise PluginError(f"hooks/glossary.py needs docs/{GLOSSARY}, the glossary it links to")
    _state["entries"] = parse(glossary.content_string, config.markdown_extensions,
                              config.mdx_configs)
    _state["glossary"] = glossary
    return files


@event_priority(-50)  # after the mnist-course plugin has put the figures and tables in
def on_page_content(page_html: str, page, config, files) -> str:
    if not page.file.src_uri.startswith(LINKED_FOLDERS):
        return page_html
    url = get_relative_url(_state["glossary"].url, page.url)
    return link_first_uses(page_html, _state["entries"], url)
