"""The shortcodes a page writes to show a run's results: one registry, a parser, a check.

    <!-- metric training.test_accuracy -->     the number, linked to its cell (#in-N)
    <!-- config training.train.lr -->          a setting of the run (report.config), linked
    <!-- figure training.loss_curve            the figure, with the page's alt text and
         alt="Line chart: ..." caption="..." -->  caption; {first_loss} in them quotes a
                                               number (or a setting) of the same home,
                                               {config:lr} where a number has that key too
    <!-- table activations.comparison         a table, with the page's caption
         caption="..." -->
    <!-- provenance training -->              where and how the run was made
    <!-- course_map why_neural_networks -->   a nav section's pages and descriptions

Pure functions of the Markdown text: ``find`` lists the shortcodes outside code (a
shortcode in a code block or inline code is an example to show), ``check_wellformed``
fails on a comment that starts like a shortcode but does not parse (it would otherwise
stay a comment and the page would silently show nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType

from mkdocs.exceptions import PluginError


@dataclass(frozen=True)
class Kind:
    name: str
    section: str | None  # the report's section that holds its keys; None: no key
    block: bool = False  # block HTML (a figure, a table), not a phrase
    names_home: bool = True  # its first word names a home (else a nav section)
    attributes: tuple[str, ...] = ()  # the page writes these (alt="..."), all of them


KINDS = MappingProxyType({kind.name: kind for kind in (  # read-only: the one registry
    Kind("metric", "metrics"),
    Kind("config", "config"),
    Kind("figure", "figures", block=True, attributes=("alt", "caption")),
    Kind("table", "tables", block=True, attributes=("caption",)),
    Kind("provenance", None),
    Kind("course_map", None, names_home=False),
)})

_ALTERNATIVES = "|".join(KINDS)
# HOME.KEY; a setting's key is its path in the configuration (train.lr); then the
# attributes, which may run over several lines (in an admonition, indented with it).
ATTRIBUTE = re.compile(r'\s+([a-z]+)="([^"<>{}]*(?:\{(?:metric:|config:)?[a-z0-9_.]+\}[^"<>{}]*)*)"')
SHORTCODE = re.compile(rf"<!--\s*({_ALTERNATIVES})\s+([a-z0-9_]+)(?:\.([a-z0-9_]+(?:\.[a-z0-9_]+)*))?"
                       rf"((?:{ATTRIBUTE.pattern})*)\s*-->")
# {key} in an attribute: a number or a setting of the shortcode's home; {metric:key} or
# {config:key} where the home records both under that key.
PLACEHOLDER = re.compile(r"\{(?:(metric|config):)?([a-z0-9_.]+)\}")
SECTIONS = MappingProxyType({"metric": "metrics", "config": "config"})
# Any comment that starts with a kind's name, in any case: it must parse.
LOOKS_LIKE = re.compile(rf"<!--\s*(?:{_ALTERNATIVES})\b.*?-->", re.IGNORECASE | re.DOTALL)
# Fenced blocks (also indented, inside admonitions and tabs) and inline code.
FENCED = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[^\n]*\n.*?^[ \t]*(?P=fence)[ \t]*$",
                    re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"(?P<ticks>`+)(?!`).+?(?<!`)(?P=ticks)(?!`)")


@dataclass(frozen=True)
class Shortcode:
    kind: Kind
    name: str  # a home, or a nav section for course_map
    key: str | None
    start: int
    end: int
    attributes: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    @property
    def text(self) -> str:
        return f"<!-- {self.kind.name} {self.ref} -->"

    @property
    def ref(self) -> str:
        return f"{self.name}.{self.key}" if self.key else self.name


def code_ranges(text: str) -> list[tuple[int, int]]:
    """(start, end) of every fenced block and inline code span of a Markdown text."""
    ranges = [m.span() for m in FENCED.finditer(text)]

    def in_fence(pos):
        return any(start <= pos < end for start, end in ranges)

    return ranges + [m.span() for m in INLINE.finditer(text) if not in_fence(m.start())]


def _outside_code(matches, text: str) -> list[re.Match]:
    code = code_ranges(text)
    return [m for m in matches if not any(start <= m.start() < end for start, end in code)]


def find(text: str) -> list[Shortcode]:
    """The shortcodes of ``text`` that are not inside code, in order."""
    return [Shortcode(KINDS[m.group(1)], m.group(2), m.group(3), m.start(), m.end(),
                      _attributes(m.group(4)))
            for m in _outside_code(SHORTCODE.finditer(text), text)]


def _attributes(text: str) -> MappingProxyType:
    # Whitespace runs (a line break and the indent after it) are one space.
    return MappingProxyType({name: " ".join(value.split())
                             for name, value in ATTRIBUTE.findall(text or "")})


def check_wellformed(text: str, where: str) -> None:
    """Fail on a comment outside code that looks like a shortcode but does not parse, or
    whose attributes are not the ones its kind takes."""
    for match in _outside_code(LOOKS_LIKE.finditer(text), text):
        line = text.count("\n", 0, match.start()) + 1
        parsed = SHORTCODE.fullmatch(match.group(0))
        if not parsed:
            raise PluginError(f"{where}:{line}: malformed shortcode {match.group(0)!r}; write "
                              f"<!-- metric HOME.KEY --> (lower case, digits, underscores; "
                              f'attributes as name="text" without quotes, < or > in the text, '
                              f"braces only around a key; kinds: {', '.join(KINDS)})")
        kind = KINDS[parsed.group(1)]
        given = [name for name, _ in ATTRIBUTE.findall(parsed.group(4) or "")]
        if sorted(given) != sorted(kind.attributes):
            takes = (" ".join(f'{name}="..."' for name in kind.attributes) + ", each once"
                     if kind.attributes else "no attributes")
            raise PluginError(f"{where}:{line}: {' '.join(match.group(0).split())!r}: a "
                              f"{kind.name} takes {takes}; this one has {', '.join(given) or 'none'}")


def replace(text: str, render) -> str:
    """``text`` with each shortcode replaced by ``render(shortcode)``."""
    pieces, done = [], 0
    for shortcode in find(text):
        pieces += [text[done:shortcode.start], render(shortcode)]
        done = shortcode.end
    return "".join(pieces) + text[done:]
