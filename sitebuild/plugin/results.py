"""A run's results as HTML on a page: what each shortcode becomes.

Each value links to the notebook cell that computed it (``#in-N`` on the notebook's
page). ``check`` says whether a shortcode can be rendered (an unknown home or key fails
the build, naming the page); ``missing`` is what stands in under ``mkdocs serve`` for a
result that a failed or pending run has not recorded.
"""

from __future__ import annotations

import html
import re

from mkdocs.exceptions import PluginError
from mkdocs.utils import get_relative_url

from mnist_tutorial.report import Format, format_value, lookup, metric, table_text
from sitebuild.plugin.shortcodes import PLACEHOLDER, Shortcode
from sitebuild.plugin.state import BuildState

GENERATED, NOTEBOOKS = "generated", "notebooks"


def provenance_text(p: dict) -> str:
    seeds = p.get("seeds")
    failed = p.get("failed")
    parts = [
        "a run that FAILED" if failed else None,
        f"{p['profile']} profile",
        f"commit {p['commit']}" if p.get("commit") else "no git commit",
        f"torch {p['torch']}" if p.get("torch") else None,
        p.get("device"),
        p.get("precision"),  # fp32 or bf16: what training ran in
        f"seed{'s' if seeds and len(seeds) > 1 else ''} {', '.join(map(str, seeds))}" if seeds else None,
        None if failed else f"{p['wall_time_s']:.1f} s",
        p["date"][:10],
        "fetched from the published site" if p.get("origin") else None,
    ]
    return " · ".join(part for part in parts if part)


def cell_link(state: BuildState, name: str, cell: int | None, page) -> str:
    # The URL of the notebook's page, as mkdocs-jupyter made it (the file's own URL is
    # the .ipynb's): notebooks/<slug>/ or notebooks/<slug>.html.
    slug = state.homes[name].slug
    notebook = state.files.get_file_from_path(f"{NOTEBOOKS}/{slug}.ipynb")
    url = get_relative_url(notebook.url, page.url)
    return f"{url}#in-{cell}" if cell else url


def check(state: BuildState, code: Shortcode, where: str) -> bool:
    """Whether the shortcode can be rendered: an error for an unknown home or key, False
    for a result that a failed run (under ``mkdocs serve``) did not record."""
    name, key, section = code.name, code.key, code.kind.section
    if name in state.pending:
        return False
    if name in state.failures and (name not in state.reports or (
            section is not None and not _has(state.reports[name], section, key))):
        return False
    if name not in state.reports:
        raise PluginError(f"{where}: {code.text} names unknown home {name!r} "
                          f"(known: {', '.join(sorted(state.reports))})")
    if section is None:
        if key:
            raise PluginError(f"{where}: {code.text} takes a home name only")
        return True
    recorded = state.reports[name].get(section, {})
    if code.kind.name == "claim":
        if not key:
            raise PluginError(f"{where}: {code.text}: a claim names the variable that holds it, "
                              f"<!-- claim {name}.KEY -->")
        claim_values(state, state.reports[name], [key], name)  # True, False or None
        return True
    if not key or not _has(state.reports[name], section, key):
        known = ", ".join(recorded) or "none"
        what = "has no variable holding a number" if section == "values" else f"records no {code.kind.name}"
        raise PluginError(f"{where}: {code.text}: lessons/{name}.py {what} {key!r} (its "
                          f"{'numbers' if section == 'values' else section}: {known})")
    if code.kind.name == "metric":
        _quote(state.reports[name], key, code.format, f"{where}: {code.text}", name)
    for value in code.attributes.values():
        fill(state.reports[name], value, f"{where}: {code.text}", name)
    return True


def _has(report: dict, section: str, key: str | None) -> bool:
    if section != "values":
        return key in report.get(section, {})
    try:
        lookup(report.get("values", {}), key)
    except KeyError:
        return False
    return True


def _quote(report: dict, key: str, fmt: Format, where: str, name: str) -> dict:
    """The number ``key`` of a home's run as ``fmt`` quotes it (``mnist_tutorial.report.metric``)."""
    value, cell = lookup(report["values"], key)
    try:
        return {**metric(value, fmt, report.get("config")), "cell": cell}
    except ValueError as error:
        raise PluginError(f"{where}: lessons/{name}.py's {key}: {error}") from None


def claim_values(state: BuildState, report: dict, keys, name: str) -> dict[str, bool | None]:
    """Whether each claim the pages state (``keys``) holds in the run: True or False, or
    None where it was not checked (the smoke profile skips the claims its few images
    cannot show: their variables are never set). A claim whose variable is unset on the
    full profile is False; one that holds something else than True or False fails."""
    values = {}
    for key in keys:
        try:
            holds, _ = lookup(report.get("values", {}), key)
        except KeyError:
            values[key] = None if state.profile == "smoke" else False
            continue
        if not isinstance(holds, bool):
            raise PluginError(f"<!-- claim {name}.{key} -->: lessons/{name}.py's {key} is "
                              f"{holds!r}, not True or False")
        values[key] = holds
    return values


def published_metrics(report: dict, formats: dict[str, Format], name: str) -> dict[str, dict]:
    """The numbers of a home's run that the pages quote, as results.json publishes them and
    a rerun is compared with them (``shortcodes.published_formats``); a key the run lacks
    is left to the page's check to report."""
    return {key: _quote(report, key, fmt, "results.json", name)
            for key, fmt in sorted(formats.items()) if _has(report, "values", key)}


def fill(report: dict, text: str, where: str, name: str) -> str:
    """``text`` with each {key} replaced by that setting of the home's configuration, or
    else by the number the home's notebook holds under that name ({key percent 1}: in
    those words; {metric:key}: the number even where a setting has that name)."""
    def value(match: re.Match) -> str:
        kind, key, words = match.groups()
        if kind != "metric" and key in report.get("config", {}) and not words:
            return report["config"][key]["text"]  # a setting, unless {metric:key}
        if kind != "config" and _has(report, "values", key):
            return _quote(report, key, Format.parse(words.split()), where, name)["text"]
        raise PluginError(f"{where}: {match.group(0)}: lessons/{name}.py has no "
                          f"{kind or 'number or setting'} {key!r} (its numbers: "
                          f"{', '.join(report.get('values', {})) or 'none'})")

    return PLACEHOLDER.sub(value, text)


def missing(state: BuildState, code: Shortcode) -> str:
    """What stands in for a result that a failed run did not record, or that a pending
    run has not recorded yet."""
    ref, name = code.ref, code.name
    if name in state.pending:
        title = f"lessons/{name}.py has not run yet: see the box at the top of its page"
        if not code.kind.block:
            return (f'<span class="result-pending" data-result="{ref}" '
                    f'title="{html.escape(title)}">[{html.escape(ref)}: pending]</span>')
        return f'<p class="result-pending" data-result="{ref}">{html.escape(title)}.</p>'
    title = f"lessons/{name}.py failed before it recorded {ref}: see the box at the top of its page"
    if not code.kind.block:
        return (f'<span class="result-missing" data-result="{ref}" title="{html.escape(title)}">'
                f"[{html.escape(ref)}: run failed]</span>")
    return f'<p class="result-missing" data-result="{ref}">{html.escape(title)}.</p>'


def _metric_title(state: BuildState, name: str, number: dict) -> str:
    parts = [f"computed in cell [{number['cell']}] of the notebook of lessons/{name}.py"]
    if number.get("per_seed"):
        values = ", ".join(format_value(v, number["unit"], number["digits"])
                           for v in number["per_seed"])
        parts.append(f"mean ± std over seeds: {values}")
    parts.append(provenance_text(state.provenance[name]))
    return "; ".join(parts)


def _claim_html(state: BuildState, code: Shortcode, page) -> str:
    name, ref = code.name, code.ref
    holds = claim_values(state, state.reports[name], [code.key], name)[code.key]
    if holds is None:
        label = f"not checked on the {state.profile} profile: its runs are too short to show it"
        return (f'<span class="result-claim result-claim-unchecked" data-result="{ref}" '
                f'title="{html.escape(label)}" aria-label="{html.escape(label)}">○</span>')
    try:
        cell = lookup(state.reports[name]["values"], code.key)[1]
    except KeyError:
        cell = None
    where = f"{code.key} in cell [{cell}] of the notebook of lessons/{name}.py"
    label = (f"checked on this build: holds ({where} is True)" if holds
             else f"DOES NOT HOLD on this build ({where} is not True)")
    title = f"{label}; {provenance_text(state.provenance[name])}"
    return (f'<a class="result-claim{"" if holds else " result-claim-false"}" data-result="{ref}" '
            f'href="{html.escape(cell_link(state, name, cell, page))}" title="{html.escape(title)}" '
            f'aria-label="{html.escape(label)}">{"✓" if holds else "✗"}</a>')


def _provenance_html(state: BuildState, name: str, cell: int | None, page) -> str:
    href = html.escape(cell_link(state, name, cell, page))
    where = f"cell [{cell}] of the notebook" if cell else "the notebook"
    return (f'<span class="result-provenance">Computed in <a href="{href}">{where}</a> · '
            f"{html.escape(provenance_text(state.provenance[name]))}</span>")


def render(state: BuildState, code: Shortcode, page) -> str:
    """The HTML of a shortcode that ``check`` accepted."""
    name, key, ref, kind = code.name, code.key, code.ref, code.kind.name
    report = state.reports[name]
    if kind == "metric":
        number = _quote(report, key, code.format, code.text, name)
        return (f'<a class="result-value" data-result="{ref}" '
                f'href="{html.escape(cell_link(state, name, number["cell"], page))}" '
                f'title="{html.escape(_metric_title(state, name, number))}">'
                f'{html.escape(number["text"])}</a>')
    if kind == "claim":
        return _claim_html(state, code, page)
    if kind == "config":
        setting = report["config"][key]
        title = (f"set in cell [{setting['cell']}] of the notebook of lessons/{name}.py "
                 f"(its configuration); {provenance_text(state.provenance[name])}")
        return (f'<a class="result-value result-setting" data-result="{ref}" '
                f'href="{html.escape(cell_link(state, name, setting["cell"], page))}" '
                f'title="{html.escape(title)}">{html.escape(setting["text"])}</a>')
    if kind == "provenance":
        return (f'<span class="result-provenance" data-result="{ref}">'
                f'{html.escape(provenance_text(state.provenance[name]))} · '
                f'<a href="{html.escape(cell_link(state, name, None, page))}">the notebook</a></span>')
    if kind == "figure":
        figure = report["figures"][key]
        src = get_relative_url(f"{GENERATED}/{name}/{key}.svg", page.url)
        alt, caption = (fill(report, code.attributes[attribute], code.text, name)
                        for attribute in ("alt", "caption"))
        return (f'<figure class="result-figure" data-result="{ref}">'
                f'<img src="{html.escape(src)}" alt="{html.escape(alt)}" loading="lazy">'
                f'<figcaption>{html.escape(caption)}'
                f'{_provenance_html(state, name, figure["cell"], page)}</figcaption></figure>')
    table = report["tables"][key]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table["columns"])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in table_text(table))
    caption = html.escape(fill(report, code.attributes["caption"], code.text, name))
    return (f'<div class="result-table" data-result="{ref}"><table>'
            f"<caption>{caption} {_provenance_html(state, name, table['cell'], page)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")
