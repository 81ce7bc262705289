"""The shortcodes a page writes to show a run's results: one registry, a parser, a check.

    <!-- metric training.test_accuracy -->     the number, linked to its cell (#in-N)
    <!-- config training.train.lr -->          a setting of the run (report.config), linked
    <!-- figure training.loss_curve -->        the figure, alt text, caption, provenance
    <!-- table activations.comparison -->     a table
    <!-- provenance training -->              where and how the run was made
    <!-- course_map why_neural_networks -->   a nav section's pages and descriptions

Pure functions of the Markdown text: ``find`` lists the shortcodes outside code (a
shortcode in a code block or inline code is an example to show), ``check_wellformed``
fails on a comment that starts like a shortcode but does not parse (it would otherwise
stay a comment and the page would silently show nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

from mkdocs.exceptions import PluginError


@dataclass(frozen=True)
class Kind:
    name: str
    section: str | None  # the report's section that holds its keys; None: no key
    block: bool = False  # block HTML (a figure, a table), not a phrase
    names_home: bool = True  # its first word names a home (else a nav section)


KINDS = MappingProxyType({kind.name: kind for kind in (  # read-only: the one registry
    Kind("metric", "metrics"),
    Kind("config", "config"),
    Kind("figure", "figures", block=True),
    Kind("table", "tables", block=True),
    Kind("provenance", None),
    Kind("course_map", None, names_home=False),
)})

_ALTERNATIVES = "|".join(KINDS)
# HOME.KEY; a setting's key is its path in the configuration (train.lr).
SHORTCODE = re.compile(rf"<!--\s*({_ALTERNATIVES})\s+([a-z0-9_]+)(?:\.([a-z0-9_]+(?:\.[a-z0-9_]+)*))?\s*-->")
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
    return [Shortcode(KINDS[m.group(1)], m.group(2), m.group(3), m.start(), m.end())
            for m in _outside_code(SHORTCODE.finditer(text), text)]


def check_wellformed(text: str, where: str) -> None:
    """Fail on a comment outside code that looks like a shortcode but does not parse."""
    for match in _outside_code(LOOKS_LIKE.finditer(text), text):
        if not SHORTCODE.fullmatch(match.group(0)):
            line = text.count("\n", 0, match.start()) + 1
            raise PluginError(f"{where}:{line}: malformed shortcode {match.group(0)!r}; write "
                              f"<!-- metric HOME.KEY --> (lower case, digits, underscores; "
                              f"kinds: {', '.join(KINDS)})")


def replace(text: str, render) -> str:
    """``text`` with each shortcode replaced by ``render(shortcode)``."""
    pieces, done = [], 0
    for shortcode in find(text):
        pieces += [text[done:shortcode.start], render(shortcode)]
        done = shortcode.end
    return "".join(pieces) + text[done:]
