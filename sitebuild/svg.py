"""The figure sanitiser: an SVG keeps only what matplotlib's SVG backend writes.

Figures reach the site twice: as ``generated/<home>/<key>.svg`` files and inline in each
notebook's page (mkdocs-jupyter copies the SVG output into the HTML). Inline, anything
active in a figure runs in the site's origin, so a figure is reduced to a picture: an
allowlist of the elements and attributes that ``matplotlib.backends.backend_svg`` emits
(survey it there when matplotlib is upgraded; ``tests/test_svg.py`` checks real figures),
links only within the figure or to an embedded PNG, and no CSS that can fetch anything.
Every other element goes with its subtree, every other attribute on its own; comments,
processing instructions and the DOCTYPE are not kept.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.parsers import expat

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
DC = "http://purl.org/dc/elements/1.1/"
CC = "http://creativecommons.org/ns#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PREFIXES = {SVG: "", XLINK: "xlink", DC: "dc", CC: "cc", RDF: "rdf"}
for _uri, _prefix in PREFIXES.items():  # the output keeps matplotlib's prefixes
    ET.register_namespace(_prefix, _uri)

HREF = f"{{{XLINK}}}href"
STYLE = f"{{{SVG}}}style"
FRAME = ("width", "height", "x", "y")
PLACED = ("id", "style", "clip-path", "transform", "shape-rendering", "filter")

# Element -> its allowed attributes, as backend_svg writes them (matplotlib 3.11).
ALLOWED = {
    f"{{{SVG}}}{tag}": frozenset(attributes) for tag, attributes in {
        "svg": ("width", "height", "viewBox", "version", "id"),
        "title": (),
        "metadata": (),
        "defs": (),
        "style": ("type",),
        "g": (*PLACED, "stroke", "stroke-width"),
        "path": (*PLACED, "d", "fill", "fill-opacity"),
        "use": (HREF, "x", "y", "style", "transform"),
        "clipPath": ("id",),
        "rect": (*FRAME, "fill"),
        "image": (HREF, "id", *FRAME, "transform", "opacity", "style"),
        "text": ("x", "y", "style", "transform"),
        "tspan": ("x", "y", "style"),
        "a": (HREF, "target"),  # an artist's url=; the href must pass LINK like any other
        "pattern": ("id", "patternUnits", *FRAME),  # hatches
        "linearGradient": ("id", "gradientUnits", "x1", "y1", "x2", "y2"),  # Gouraud shading
        "stop": ("offset", "style"),
        "filter": ("id",),
        "feComposite": ("in", "in2", "operator", "k2", "k3"),
        "feColorMatrix": ("type", "values"),
    }.items()
} | {f"{{{RDF}}}{tag}": frozenset() for tag in ("RDF", "Bag", "li")} | {
    f"{{{CC}}}{tag}": frozenset() for tag in ("Work", "Agent")
} | {f"{{{DC}}}{tag}": frozenset() for tag in (
    "title", "coverage", "date", "description", "format", "identifier", "language",
    "relation", "source", "creator", "contributor", "publisher", "rights", "subject")
} | {f"{{{DC}}}type": frozenset({f"{{{RDF}}}resource"})}  # a name for the RDF reader, never fetched

# A URL as a browser reads it: tabs and newlines go wherever they are, controls and spaces
# at either end (java&#x09;script: is javascript:).
URL_TABS = re.compile(r"[\t\n\r]")
URL_EDGES = "".join(map(chr, range(0x21)))
# Within the figure, or a PNG; base64 skips whitespace (matplotlib starts a line after the comma).
LINK = re.compile(r"#.*|(?i:data:image/png;base64,)[A-Za-z0-9+/= \t\n\f\r]*")
# CSS is searched with every blank and control removed: none can split a token there.
BLANKS = re.compile(r"[\x00-\x20\x7f]+")
FRAGMENT_URL = re.compile(r"url\(#[\w.:-]+\)")
# A <style> inside an inline SVG styles the whole page: only matplotlib's one rule passes.
STYLE_SHEET = re.compile(r"\s*\*\s*\{\s*(stroke-line(join|cap)\s*:\s*[a-z]+\s*;?\s*)*\}\s*")


class SVGError(ValueError):
    """The input is not a well-formed SVG document that a figure could be."""


def _name(qualified: str) -> str:
    """``{uri}local`` as the prefixed name that a reader of the SVG knows."""
    uri, _, local = qualified[1:].partition("}")
    if not qualified.startswith("{") or uri not in PREFIXES:
        return qualified
    return f"{PREFIXES[uri]}:{local}" if PREFIXES[uri] else local


def _fetches(value: str) -> bool:
    """Whether an attribute value, read as CSS (presentation attributes are), can load
    something from outside the figure. Escapes are refused outright: ``\\75 rl(`` is url(."""
    compact = BLANKS.sub("", value).lower()
    return "\\" in compact or "url(" in FRAGMENT_URL.sub("", compact)


def _unsafe_css(declarations: str) -> bool:
    """Whether a style attribute does more than set properties: a function other than
    url(#id) (image-set, expression, ...), an at-rule, an escape."""
    compact = FRAGMENT_URL.sub("", BLANKS.sub("", declarations).lower())
    return any(sign in compact for sign in ("(", "@", "\\"))


def _link_allowed(value: str) -> bool:
    return LINK.fullmatch(URL_TABS.sub("", value).strip(URL_EDGES)) is not None


def _refuse_internal_subset(data: bytes) -> None:
    """Entities would be expanded into values that nothing checked; a figure's DOCTYPE
    (matplotlib writes SVG 1.1's) never has an internal subset. Expat calls this handler
    before it reads the subset, so nothing in it is expanded."""
    def doctype(name, system_id, public_id, has_internal_subset):
        if has_internal_subset:
            raise SVGError("its DOCTYPE has an internal subset (entity declarations), "
                           "which a figure never needs")

    scanner = expat.ParserCreate()
    scanner.StartDoctypeDeclHandler = doctype
    scanner.Parse(data, True)


def _drop(parent: ET.Element, child: ET.Element) -> None:
    """Remove ``child`` and its subtree; the text after it belongs to ``parent``."""
    if child.tail:
        index = list(parent).index(child)
        if index:
            previous = parent[index - 1]
            previous.tail = (previous.tail or "") + child.tail
        else:
            parent.text = (parent.text or "") + child.tail
    parent.remove(child)


def _clean_attributes(element: ET.Element, removed: list[str]) -> None:
    where = f"<{_name(element.tag)}>"
    for key, value in list(element.attrib.items()):
        if key not in ALLOWED[element.tag]:
            removed.append(f"attribute {_name(key)} on {where}")
        elif key == HREF and not _link_allowed(value):
            shown = value if len(value) <= 40 else value[:40] + "…"
            removed.append(f"href {shown!r} on {where}")
        elif _fetches(value) or (key == "style" and _unsafe_css(value)):
            removed.append(f"attribute {_name(key)}={value!r} on {where}")
        else:
            continue
        del element.attrib[key]


def sanitize(svg: str) -> tuple[str, list[str]]:
    """The SVG reduced to the allowlist, and what was removed, one line per element or
    attribute (an element's subtree is not itemised). Raises SVGError for input that is
    not well-formed, has an internal DTD subset, or whose root is not an <svg>."""
    data = svg.encode("utf-8")
    try:
        _refuse_internal_subset(data)
        root = ET.fromstring(data)  # refuses entities that an external DTD might define
    except (expat.ExpatError, ET.ParseError) as error:
        raise SVGError(f"not well-formed SVG ({error})") from None
    if root.tag != f"{{{SVG}}}svg":
        raise SVGError(f"the root element is <{_name(root.tag)}>, not an SVG <svg>")
    removed: list[str] = []
    _clean_attributes(root, removed)
    unvisited = [root]  # a stack, not recursion: nesting depth is the input's choice
    while unvisited:
        parent = unvisited.pop()
        for child in list(parent):
            if child.tag not in ALLOWED:
                removed.append(f"element <{_name(child.tag)}>")
                _drop(parent, child)
            elif child.tag == STYLE and (len(child) or not STYLE_SHEET.fullmatch(child.text or "")):
                # Children are refused too: the text after a child is part of the sheet.
                removed.append(f"element <style> with {(child.text or '').strip()[:40]!r}")
                _drop(parent, child)
            else:
                _clean_attributes(child, removed)
                unvisited.append(child)
    return ET.tostring(root, encoding="unicode"), removed


def sanitize_svg(svg: str) -> str:
    """The SVG reduced to the allowlist (see ``sanitize``)."""
    return sanitize(svg)[0]
