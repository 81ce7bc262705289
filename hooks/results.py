"""MkDocs hook: put the results of the course's experiments into the pages.

Listed under ``hooks:`` in ``mkdocs.yml``. Before the pages are rendered it finds the
shortcodes in every page, runs the experiments they name in a fresh process (or loads
them from the cache, see ``mnist_tutorial.registry``), publishes each figure as a
generated SVG and all numbers as ``results.json`` at the site root, then replaces the
shortcodes:

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
import os
import re
import subprocess
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mnist_tutorial.config import current_profile  # noqa: E402

SHORTCODE = re.compile(r"<!--\s*([a-z_]+)\s+([a-z0-9_]+)(?:\.([a-z0-9_]+))?\s*-->")
# A comment shaped like a shortcode (a kind and one word, any case) that does not parse
# must fail: otherwise it stays an HTML comment and the page silently shows nothing.
LOOKS_LIKE = re.compile(r"<!--\s*(?:metric|figure|table|provenance)\s+[^\s>]+\s*-->",
                        re.IGNORECASE)
BLOCK = "MNISTRESULTBLOCK{}END"  # stands in for a figure/table until the HTML exists
BLOCK_IN_HTML = re.compile(r"(?:<p>\s*)?MNISTRESULTBLOCK(\d+)END(?:\s*</p>)?")
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


def _malformed(text: str, where: str) -> None:
    for match in LOOKS_LIKE.finditer(text):
        if not SHORTCODE.fullmatch(match.group(0)):
            raise PluginError(f"{where}: malformed shortcode {match.group(0)!r}; write "
                              f"<!-- metric EXP.KEY --> (lower case, digits, underscores)")


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
        _malformed(page.content_string, page.src_uri)
        for _, kind, name, _key in _shortcodes(page.content_string):
            wanted.setdefault(name, page.src_uri)

    _results.clear()
    for name, entry in _run_experiments(list(wanted)).items():
        if "error" in entry:  # unknown, data missing, a claim failed: say where and why
            raise PluginError(f"{wanted[name]}: experiment {name!r} could not run: {entry['error']}")
        _results[name] = json.loads(Path(entry["path"]).read_text())

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


def _run_experiments(names: list[str]) -> dict:
    """Load (or run) the experiments in a fresh process, so that the code that runs is the
    code on disk now, even in a long ``mkdocs serve`` session after an edit to the package.
    Progress bars and messages go straight to the terminal; a cache hit costs ~0.2 s."""
    if not names:
        return {}
    command = [sys.executable, "-m", "mnist_tutorial", "run", "--profile", _profile,
               "--manifest", *names]
    process = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                 filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    if process.returncode != 0:
        raise PluginError(f"`{' '.join(command[1:])}` failed (exit {process.returncode}); "
                          f"its error is printed above")
    return json.loads(process.stdout.strip().splitlines()[-1])


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
    # Figures and tables are block HTML: Markdown wraps raw HTML that is not at the top
    # level (inside an admonition, a list, a tab) in <p>, and <p><figure> is invalid.
    # They go in as placeholders and are put in place in on_page_content.
    blocks = page.mnist_result_blocks = []

    def replace(match):
        kind, name, key = match.group(1), match.group(2), match.group(3)
        _check(kind, name, key, page.file.src_uri)
        rendered = _render(kind, name, key, page)
        if kind in ("figure", "table"):
            blocks.append(rendered)
            return BLOCK.format(len(blocks) - 1)
        return rendered

    _malformed(markdown, page.file.src_uri)
    return SHORTCODE.sub(replace, markdown)


def on_page_content(html_text: str, page, config, files) -> str:
    blocks = getattr(page, "mnist_result_blocks", [])
    return BLOCK_IN_HTML.sub(lambda m: blocks[int(m.group(1))], html_text)
