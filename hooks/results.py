"""MkDocs hook: put the results of the course's experiments into the pages.

Listed under ``hooks:`` in ``mkdocs.yml``. Before the pages are rendered it finds the
shortcodes in every page, runs the experiments they name (or loads them from the
cache, see ``mnist_tutorial.registry``), publishes each figure as a generated SVG and
all numbers as ``results.json`` at the site root, then replaces the shortcodes:

    <!-- metric mlp.test_accuracy -->    the number, as results.json has it
    <!-- figure mlp.loss_curve -->       the figure, its alt text, caption and provenance
    <!-- table activations.comparison --> a table
    <!-- provenance mlp -->              where and how a result was computed

An unknown shortcode, experiment or key fails the build with the page and key named.
Nothing is written into ``docs/`` (that would make ``mkdocs serve`` rebuild forever).
"""

from __future__ import annotations

import html
import json
import logging
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mnist_tutorial import registry  # noqa: E402
from mnist_tutorial.config import current_profile  # noqa: E402

log = logging.getLogger("mkdocs.hooks.results")

SHORTCODE = re.compile(r"<!--\s*([a-z_]+)\s+([a-z0-9_]+)(?:\.([a-z0-9_]+))?\s*-->")
KINDS = {"metric": "metrics", "figure": "figures", "table": "tables", "provenance": None}
GENERATED = "generated"

_results: dict[str, dict] = {}
_profile = "full"


def on_config(config):
    global _profile
    try:
        _profile = current_profile()
    except ValueError as error:
        raise PluginError(str(error)) from None
    config.extra["mnist_profile"] = _profile
    return config


def _shortcodes(text: str):
    for match in SHORTCODE.finditer(text):
        yield match, match.group(1), match.group(2), match.group(3)


def _check(kind: str, name: str, key: str | None, where: str) -> None:
    code = f"<!-- {kind} {name}{'.' + key if key else ''} -->"
    if kind not in KINDS:
        raise PluginError(f"{where}: unknown shortcode {code!r}; "
                          f"known kinds: {', '.join(KINDS)}")
    if name not in _results:
        raise PluginError(f"{where}: {code} names unknown experiment {name!r}")
    section = KINDS[kind]
    if section is None:
        if key:
            raise PluginError(f"{where}: {code} takes an experiment name only")
        return
    if not key or key not in _results[name][section]:
        known = ", ".join(_results[name][section]) or "none"
        raise PluginError(f"{where}: {code}: experiment {name!r} has no {kind} {key!r} "
                          f"(its {section}: {known})")


def on_files(files: Files, config) -> Files:
    pages = [f for f in files.documentation_pages() if f.src_uri.endswith(".md")]
    wanted: dict[str, str] = {}  # experiment -> first page that uses it
    for page in pages:
        for _, kind, name, _key in _shortcodes(page.content_string):
            wanted.setdefault(name, page.src_uri)

    known = registry.experiments()
    _results.clear()
    for name, page in wanted.items():
        if name not in known:
            raise PluginError(f"{page}: shortcode names unknown experiment {name!r}; "
                              f"known: {', '.join(known)}")
        try:
            _results[name] = registry.get_result(name, _profile, log=log.info)
        except Exception as error:  # data missing, experiment failed: say which and why
            raise PluginError(f"{page}: experiment {name!r} could not run: {error}") from None

    for page in pages:
        for _, kind, name, key in _shortcodes(page.content_string):
            _check(kind, name, key, page.src_uri)

    public = {}
    for name, result in _results.items():
        figures = {}
        for key, figure in result["figures"].items():
            path = f"{GENERATED}/{name}/{key}.svg"
            files.append(File.generated(config, path, content=figure["svg"]))
            figures[key] = {"path": path, "alt": figure["alt"], "caption": figure["caption"]}
        public[name] = {**result, "figures": figures}
    document = {"profile": _profile, "experiments": public}
    files.append(File.generated(config, "results.json",
                                content=json.dumps(document, indent=1, sort_keys=True)))
    return files


def provenance(result: dict) -> str:
    p = result["provenance"]
    seeds = p.get("seeds")
    parts = [
        f"{p['profile']} profile",
        f"commit {p['commit']}" if p.get("commit") else "no git commit",
        f"torch {p['torch']}",
        p["device"],
        f"seed{'s' if seeds and len(seeds) > 1 else ''} {', '.join(map(str, seeds))}" if seeds else None,
        f"{p['wall_time_s']:.1f} s",
        p["date"][:10],
    ]
    return " · ".join(part for part in parts if part)


def _render(kind: str, name: str, key: str | None, page) -> str:
    result = _results[name]
    ref = f"{name}.{key}" if key else name
    if kind == "metric":
        text = html.escape(result["metrics"][key]["text"])
        return f'<span class="result-value" data-result="{ref}">{text}</span>'
    if kind == "provenance":
        return f'<span class="result-provenance" data-result="{ref}">{html.escape(provenance(result))}</span>'
    if kind == "figure":
        figure = result["figures"][key]
        src = get_relative_url(f"{GENERATED}/{name}/{key}.svg", page.url)
        return (
            f'<figure class="result-figure" data-result="{ref}">'
            f'<img src="{html.escape(src)}" alt="{html.escape(figure["alt"])}" loading="lazy">'
            f'<figcaption>{html.escape(figure["caption"])}'
            f'<span class="result-provenance">{html.escape(provenance(result))}</span>'
            f"</figcaption></figure>"
        )
    table = result["tables"][key]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table["columns"])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in table["rows"])
    caption = f"<caption>{html.escape(table['caption'])}</caption>" if table.get("caption") else ""
    return (f'<div class="result-table" data-result="{ref}"><table>{caption}'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def on_page_markdown(markdown: str, page, config, files) -> str:
    def replace(match):
        kind, name, key = match.group(1), match.group(2), match.group(3)
        _check(kind, name, key, page.file.src_uri)
        return _render(kind, name, key, page)

    return SHORTCODE.sub(replace, markdown)
