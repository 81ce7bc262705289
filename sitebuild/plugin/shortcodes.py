"""The shortcodes a page writes to show a run's results: one registry, a parser, a check.

    <!-- metric training.test_accuracy        the notebook's variable test_accuracy,
         percent 1 -->                         linked to the cell that set it (#in-N), as
                                               the words say (mnist_tutorial.report.Format:
                                               a unit, digits, timing, varies, tolerance=)
    <!-- metric batch_sizes.val_loss.64 -->   a dict's value: val_loss[64]
    <!-- config training.train.lr -->          a setting of the run (report.config), linked
    <!-- figure training.loss_curve            the figure, with the page's alt text and
         alt="Line chart: ..." caption="..." -->  caption; {first_loss} in them quotes a
                                               number (or a setting) of the same home,
                                               {first_loss number 3} with a number's words,
                                               a setting before a number of the same
                                               name, {metric:lr} for the number
    <!-- table activations.comparison         a table, with the page's caption
         caption="..." -->
    <!-- claim training.reaches_98 -->        after the words that state a claim: a mark
                                               that the notebook's variable reaches_98 is
                                               True (the build fails if it is not)
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

from mnist_tutorial.report import Format


@dataclass(frozen=True)
class Kind:
    name: str
    section: str | None  # the report's section that holds its keys; None: no key
    block: bool = False  # block HTML (a figure, a table), not a phrase
    names_home: bool = True  # its first word names a home (else a nav section)
    words: bool = False  # takes words after HOME.KEY (a number's Format)
    attributes: tuple[str, ...] = ()  # the page writes these (alt="..."), all of them


KINDS = MappingProxyType({kind.name: kind for kind in (  # read-only: the one registry
    Kind("metric", "values", words=True),
    Kind("claim", "values"),
    Kind("config", "config"),
    Kind("figure", "figures", block=True, attributes=("alt", "caption")),
    Kind("table", "tables", block=True, attributes=("caption",)),
    Kind("provenance", None),
    Kind("course_map", None, names_home=False),
)})

_ALTERNATIVES = "|".join(KINDS)
# HOME.KEY; a setting's key is its path in the configuration (train.lr); then the
# attributes, which may run over several lines (in an admonition, indented with it).
ATTRIBUTE = re.compile(r'\s+([a-z]+)="([^"<>{}]*(?:\{(?:metric:|config:)?[a-z0-9_.]+(?: [a-z0-9_.=]+)*\}'
                       r'[^"<>{}]*)*)"')
WORDS = r"((?:\s+[a-z0-9_.=]+(?![a-z0-9_.=]*\"))*)"  # a number's words: percent 1 timing
SHORTCODE = re.compile(rf"<!--\s*({_ALTERNATIVES})\s+([a-z0-9_]+)(?:\.([a-z0-9_]+(?:\.[a-z0-9_]+)*))?"
                       rf"{WORDS}((?:{ATTRIBUTE.pattern})*)\s*-->")
# {key} in an attribute: a setting or else a number of the shortcode's home, {key percent 1}
# with a number's words; {metric:key} for the number where a setting has that name.
PLACEHOLDER = re.compile(r"\{(?:(metric|config):)?([a-z0-9_.]+)((?: [a-z0-9_.=]+)*)\}")
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
    words: tuple[str, ...] = ()  # a number's: Format.parse(words)

    @property
    def text(self) -> str:
        return f"<!-- {' '.join((self.kind.name, self.ref, *self.words))} -->"

    @property
    def format(self) -> Format:
        return Format.parse(self.words)

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
                      _attributes(m.group(5)), tuple(m.group(4).split()))
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
        shown = " ".join(match.group(0).split())
        words = parsed.group(4).split()
        if words and not kind.words:
            raise PluginError(f"{where}:{line}: {shown!r}: a {kind.name} takes no words after "
                              f"its name ({' '.join(words)})")
        placeholders = [found.group(3).split()
                        for _, value in ATTRIBUTE.findall(parsed.group(5) or "")
                        for found in PLACEHOLDER.finditer(value)]
        for quoted in [words, *placeholders]:
            try:
                Format.parse(quoted)
            except ValueError as error:
                raise PluginError(f"{where}:{line}: {shown!r}: {error}") from None
        given = [name for name, _ in ATTRIBUTE.findall(parsed.group(5) or "")]
        if sorted(given) != sorted(kind.attributes):
            takes = (" ".join(f'{name}="..."' for name in kind.attributes) + ", each once"
                     if kind.attributes else "no attributes")
            raise PluginError(f"{where}:{line}: {shown!r}: a {kind.name} takes {takes}; this one "
                              f"has {', '.join(given) or 'none'}")


def published_formats(pages, settings: dict[str, set] | None = None) -> dict[str, dict[str, Format]]:
    """How the site quotes each number of each home, from ``pages`` ((src_uri, Markdown)
    pairs): the words of its metric shortcodes, the first page's (in path order) where
    pages quote it with other digits, else those of a {key} in a figure's or table's text
    (``settings``: each home's configuration keys, which such a {key} names first). That
    is what results.json publishes and a rerun is compared with; two metric shortcodes
    must agree on how (timing, varies, tolerance=)."""
    formats: dict[str, dict[str, Format]] = {}
    quoted_in: dict[tuple[str, str], str] = {}
    in_text = []
    for where, text in sorted(pages):
        for code in find(text):
            for value in code.attributes.values():
                setting = (settings or {}).get(code.name, ())
                in_text += [(code.name, key, words) for kind, key, words in PLACEHOLDER.findall(value)
                            if kind == "metric" or not kind and key not in setting]
            if code.kind.name != "metric" or not code.key:
                continue
            first = formats.setdefault(code.name, {}).setdefault(code.key, code.format)
            quoted_in.setdefault((code.name, code.key), where)
            if first.flags() != code.format.flags():
                raise PluginError(f"{where}: {code.text}: {quoted_in[code.name, code.key]} quotes "
                                  f"it with other words on how a rerun compares (timing, "
                                  f"varies, tolerance=): say the same in both")
    for name, key, words in in_text:
        formats.setdefault(name, {}).setdefault(key, Format.parse(words.split()))
    return formats


def published_claims(pages) -> dict[str, dict[str, str]]:
    """Each home's claims, from ``pages`` ((src_uri, Markdown) pairs): the key of each
    claim shortcode, with the first page (in path order) that states it."""
    claims: dict[str, dict[str, str]] = {}
    for where, text in sorted(pages):
        for code in find(text):
            if code.kind.name == "claim" and code.key:
                claims.setdefault(code.name, {}).setdefault(code.key, where)
    return claims


def replace(text: str, render) -> str:
    """``text`` with each shortcode replaced by ``render(shortcode)``."""
    pieces, done = [], 0
    for shortcode in find(text):
        pieces += [text[done:shortcode.start], render(shortcode)]
        done = shortcode.end
    return "".join(pieces) + text[done:]
