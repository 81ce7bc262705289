"""MkDocs hook: run each page's code home, publish its notebook, put its numbers on pages.

Listed under ``hooks:`` in ``mkdocs.yml``. Before the pages are read it

* runs every code home (``lessons/*.py``) as a notebook in a fresh kernel, or loads the
  run from the cache (``sitebuild``): only homes whose code changed run again;
* publishes each executed notebook twice: as a page that mkdocs-jupyter renders with
  its outputs (``notebooks/<page>/``) and as a download (``downloads/<page>.ipynb``),
  whose setup cell installs the course where it is missing (the site's wheel, else this
  commit on GitHub) and whose last cell holds the site's numbers, so a learner who reruns
  it sees whether theirs agree;
* publishes each figure as a generated SVG and every number as ``results.json``, and the
  files a report records with ``report.asset`` (weights an interactive page loads) beside
  its figures, ``generated/<home>/<file>``;
* publishes the course's wheel and, if ``$MNIST_TUTORIAL_OFFLINE_COPY`` is set, an
  offline copy of the whole site (``sitebuild.downloads``).

Then on each page it replaces the shortcodes with the home's results, each linked to
the notebook cell that computed it:

    <!-- metric training.test_accuracy -->     the number, linked to its cell (#in-N)
    <!-- figure training.loss_curve -->        the figure, alt text, caption, provenance
    <!-- table activations.comparison -->     a table
    <!-- provenance training -->              where and how the run was made

and puts "notebook / download / Colab" buttons under the title of each lesson.
``<!-- course_map SECTION -->`` (a nav section's title, lower case, ``_`` for spaces)
becomes a table of that section's pages with the ``description`` of their front matter. An
unknown shortcode, home or key fails the build, naming the page. Nothing is written
into ``docs/`` (that would make ``mkdocs serve`` rebuild forever).
"""

from __future__ import annotations

import html
import json
import logging
import os
import posixpath
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urljoin

import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url
from mkdocs.utils.meta import get_data

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mnist_tutorial.config import current_profile  # noqa: E402
from sitebuild import background, cache, downloads, homes, run, share, svg  # noqa: E402

log = logging.getLogger("mkdocs.hooks.course")
# Under `mkdocs serve` a failed home is reported on this logger: outside "mkdocs.", so that
# `strict: true` does not count it and stop serving the other pages.
serve_log = logging.getLogger("mnist_tutorial.serve")
if not serve_log.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(levelname)-8s-  %(message)s"))
    serve_log.addHandler(_handler)
    serve_log.setLevel(logging.INFO)
    serve_log.propagate = False

SHORTCODE = re.compile(r"<!--\s*(metric|figure|table|provenance|course_map)\s+([a-z0-9_]+)"
                       r"(?:\.([a-z0-9_]+))?\s*-->")
# A comment that starts with a shortcode's kind (any case) but does not parse must fail:
# otherwise it stays an HTML comment and the page silently shows nothing. Any other
# comment is the author's own and passes.
LOOKS_LIKE = re.compile(r"<!--\s*(?:metric|figure|table|provenance|course_map)\b.*?-->",
                        re.IGNORECASE | re.DOTALL)
# Code, where a shortcode is an example to show, not to replace: fenced blocks (also
# indented, inside admonitions and tabs) and inline code.
FENCED = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[^\n]*\n.*?^[ \t]*(?P=fence)[ \t]*$",
                    re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"(?P<ticks>`+)(?!`).+?(?<!`)(?P=ticks)(?!`)")


def code_ranges(text: str) -> list[tuple[int, int]]:
    """(start, end) of every fenced block and inline code span of a Markdown text."""
    ranges = [m.span() for m in FENCED.finditer(text)]

    def in_fence(pos):
        return any(start <= pos < end for start, end in ranges)

    return ranges + [m.span() for m in INLINE.finditer(text) if not in_fence(m.start())]


def shortcodes(text: str):
    """The shortcode matches of ``text`` that are not inside code."""
    code = code_ranges(text)
    return [m for m in SHORTCODE.finditer(text)
            if not any(start <= m.start() < end for start, end in code)]
BLOCK = "MNISTRESULTBLOCK{}END"  # stands in for a figure/table until the HTML exists
BLOCK_IN_HTML = re.compile(r"(?:<p>\s*)?MNISTRESULTBLOCK(\d+)END(?:\s*</p>)?")
KINDS = {"metric": "metrics", "figure": "figures", "table": "tables", "provenance": None}
GENERATED, NOTEBOOKS, DOWNLOADS = "generated", "notebooks", "downloads"
GENERATED_LINK = re.compile(rf"{GENERATED}/([a-z0-9_]+)/([\w.-]+)")
PAGES_BRANCH = "gh-pages"  # where the deploy workflow publishes the built site

_state: dict = {}


def on_startup(command: str, dirty: bool) -> None:
    """``mkdocs serve`` serves at once and runs the homes behind the pages
    (``sitebuild.background``; with ``--no-livereload``, which could not show a run that
    ends later, it runs them first), and keeps serving when a home fails (the page shows why);
    ``mkdocs build`` runs every home first and stops with the home, the claim and its
    numbers."""
    _state["serving"] = command == "serve"


def on_serve(server, config, builder):
    """A finished background run touches a file in this folder: MkDocs rebuilds and the
    open pages reload with its results."""
    folder = background.signal_folder()
    server.watch(str(folder))

    def after_start():  # a run that ended before the watcher started: rebuild once it has
        deadline = time.monotonic() + 60
        while not server.observer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        background.touch(folder)

    threading.Thread(target=after_start, name="mnist-first-reload", daemon=True).start()
    return server


def on_shutdown() -> None:
    run.stop_kernels()


def on_config(config):
    try:
        profile = current_profile()
    except ValueError as error:
        raise PluginError(str(error)) from None
    repo = (config.extra.get("github_repo") or "").strip().strip("/")
    if repo and not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise PluginError(f"extra.github_repo must look like OWNER/NAME, not {repo!r}")
    _state.update(profile=profile, repo=repo, reports={}, provenance={}, notebook_files={},
                  homes={}, failures={}, pending={})
    config.extra["mnist_profile"] = profile
    # The offline copy's own build: Material's offline plugin would load its Worker shim
    # from unpkg.com; the copy loads the site's (docs/assets/iframe-worker/).
    _state["offline"] = downloads.truthy(downloads.OFFLINE_ENV)
    if _state["offline"]:
        config.extra["polyfills"] = ["assets/iframe-worker/shim.js"]
    _state["offline_copy"] = (not _state["offline"] and not _state.get("serving", False)
                              and downloads.truthy(downloads.OFFLINE_COPY_ENV))
    config.extra["offline_copy"] = ("self" if _state["offline"]
                                    else "download" if _state["offline_copy"] else None)
    return config


def _commit() -> str | None:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def colab_url(repo: str, slug: str) -> str:
    return (f"https://colab.research.google.com/github/{repo}/blob/{PAGES_BRANCH}/"
            f"{DOWNLOADS}/{slug}.ipynb")


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        cache.write_atomically(path, text.encode("utf-8"))


def _malformed(text: str, where: str) -> None:
    code = code_ranges(text)
    for match in LOOKS_LIKE.finditer(text):
        if any(start <= match.start() < end for start, end in code):
            continue
        if not SHORTCODE.fullmatch(match.group(0)):
            line = text.count("\n", 0, match.start()) + 1
            raise PluginError(f"{where}:{line}: malformed shortcode {match.group(0)!r}; write "
                              f"<!-- metric HOME.KEY --> (lower case, digits, underscores; "
                              f"kinds: metric, figure, table, provenance, course_map)")


@event_priority(100)  # before mkdocs-jupyter turns the published notebooks into pages
def on_files(files: Files, config) -> Files:
    try:
        # The course itself: every home has a page. A project with some of the pages
        # (a preview, a test) runs the homes of those pages and what they use.
        docs = Path(config.docs_dir).resolve()
        found = homes.discover(docs=docs, complete=docs == homes.DOCS)
    except homes.HomeError as error:
        raise PluginError(str(error)) from None
    for page in files.documentation_pages():
        if page.src_uri.endswith(".md"):
            _malformed(page.content_string, page.src_uri)
    serving = _state.get("serving", False)
    names = [h.name for h in found.values() if h.page]
    try:
        if serving and "--no-livereload" not in sys.argv:
            entries, failures = _serve(found, names)
            _stand_ins_for_pending_assets(config, files)
        elif serving:  # no live reload: a page could not show a run that ends later
            entries, failures = run.build_all(_state["profile"], names, log=log.info,
                                              homes=found, keep_going=True)
        else:
            if os.environ.get(background.ONLY_ENV):
                raise PluginError(f"{background.ONLY_ENV} is for `mkdocs serve`: a build runs "
                                  f"every page. Unset it to build.")
            entries, failures = run.build_all(_state["profile"], names, log=log.info,
                                              homes=found)
    except (homes.HomeError, run.BuildError, RuntimeError, ValueError) as error:
        raise PluginError(str(error)) from None

    # A served site publishes no wheel (and serve's site_url is its own address).
    wheel = (downloads.wheel_name() if not serving and not _state["offline"]
             and downloads.has_package() else None)
    course = downloads.course_addresses(config.site_url, wheel, _state["repo"],
                                        _commit() if _state["repo"] else None)
    published_dir = cache.cache_dir() / "site" / _state["profile"]
    public = {}
    results = [(name, entry.report, entry.provenance, entry.notebook, entry.assets)
               for name, entry in entries.items()]
    for name, error in failures.items():  # only under `mkdocs serve`
        serve_log.error(f"{error}\n  Its page shows this; the other pages are built as usual. "
                        f"Fix it and save: the home runs again.")
        _state["failures"][name] = error
        _state["homes"][name] = found[name]
        if error.notebook is None:  # not run: a home it uses failed
            continue
        report = error.report or {"metrics": {}, "tables": {}, "figures": {}, "claims": [],
                                  "provenance": {"profile": _state["profile"]}}
        provenance = {"commit": run.git_commit(), "wall_time_s": 0.0, "date": "",
                      "torch": "", "device": "", **report["provenance"], "failed": True}
        results.append((name, report, provenance, error.notebook, {}))
    for name, report, provenance, notebook, assets in results:
        home = found[name]
        _state["homes"][name] = home
        _state["reports"][name] = report
        _state["provenance"][name] = provenance
        executed = (notebook if isinstance(notebook, nbformat.NotebookNode)
                    else nbformat.read(notebook, as_version=4))
        text = homes.publish(executed, course, report)
        src_uri = f"{NOTEBOOKS}/{home.slug}.ipynb"
        _write_if_changed(published_dir / src_uri, text)
        # A file under a src_dir of its own (not docs/, not in memory): mkdocs-jupyter's
        # page wrapper reads the notebook from src_dir/src_uri.
        page = File(src_uri, src_dir=str(published_dir), dest_dir=config.site_dir,
                    use_directory_urls=config.use_directory_urls)
        files.append(page)
        files.append(File.generated(config, f"{DOWNLOADS}/{home.slug}.ipynb", content=text))
        _state["notebook_files"][name] = page
        figures = {}
        for key, figure in report["figures"].items():
            src = f"{GENERATED}/{name}/{key}.svg"
            files.append(File.generated(config, src, content=_sanitized(home, key, figure["svg"])))
            figures[key] = {k: figure[k] for k in ("alt", "caption", "cell")} | {"path": src}
        for filename, path in assets.items():  # verified against the entry's manifest
            files.append(File.generated(config, f"{GENERATED}/{name}/{filename}",
                                        abs_src_path=str(path)))
            if _state["offline"]:  # file:// pages cannot fetch() it: a script hands it over
                files.append(File.generated(config, f"{GENERATED}/{name}/{filename}.js",
                                            content=downloads.asset_script(Path(path).read_bytes())))
        public[name] = {**report, "figures": figures, "provenance": provenance}
    document = {"profile": _state["profile"], "homes": public}
    files.append(File.generated(config, "results.json",
                                content=json.dumps(document, indent=1, sort_keys=True)))
    if not serving and not _state["offline"]:  # a reader's copy needs no runs
        _publish_runs(config, files, found, entries)
    if wheel:
        try:
            files.append(File.generated(config, f"{DOWNLOADS}/{wheel}",
                                        content=downloads.build_wheel()))
        except downloads.DownloadError as error:
            raise PluginError(str(error)) from None
    if _state["offline_copy"]:  # written after the build (on_post_build); linked before
        files.append(File.generated(config, downloads.OFFLINE_ZIP, content=b""))
    return files


def _sanitized(home: homes.Home, key: str, figure: str) -> str:
    """The figure through the SVG allowlist. matplotlib's figures lose nothing there, so
    anything removed is reported (a strict build fails): the page would differ from the run."""
    try:
        clean, removed = svg.sanitize(figure)
    except svg.SVGError as error:
        raise PluginError(f"{home.where}, figure {key}: {error}") from None
    if removed:
        log.warning(f"{home.where}, figure {key}: the SVG allowlist (sitebuild/svg.py) removed "
                    f"{'; '.join(removed[:5])}: a figure is a picture, without scripts, "
                    f"animations or links out of it")
    return clean


def _serve(found: dict, names: list[str]) -> tuple[dict, dict]:
    """Under ``mkdocs serve``: what is cached now, and the rest handed to the background
    runner (only what ``$MNIST_TUTORIAL_ONLY`` names, if set)."""
    allowed = background.only(found)
    entries, failures, pending, keys = background.status(_state["profile"], found, names,
                                                         log.info)
    runner = background.runner(_state["profile"], serve_log.info)
    runner.finished = lambda: background.touch(background.signal_folder())
    to_run = [name for name in pending if allowed is None or name in allowed]
    runner.request(found, to_run, keys)
    _state["pending"] = {name: runner if name in to_run else None for name in pending}
    for name in pending:
        _state["homes"][name] = found[name]
    if to_run:
        serve_log.info(f"{len(to_run)} page(s) wait for their runs: "
                       f"{', '.join(to_run)}")
    return entries, failures


def _stand_ins_for_pending_assets(config, files: Files) -> None:
    """A page links the files its run publishes (``generated/<home>/<file>``, for its
    scripts); until a pending run has made them, empty stand-ins keep the links valid."""
    wanted = set()
    for page in files.documentation_pages():
        for name, filename in GENERATED_LINK.findall(page.content_string):
            if name in _state["pending"]:
                wanted.add(f"{GENERATED}/{name}/{filename}")
    for src_uri in sorted(wanted):
        files.append(File.generated(config, src_uri, content=b""))


def _publish_runs(config, files: Files, found: dict, entries: dict) -> None:
    """The runs this build used, as ``runs/<home>/<key>.tar.gz`` and ``runs/index.json``
    (``sitebuild.share``): ``python -m sitebuild fetch`` brings them back into a cache."""
    plan = cache.plan(found, list(found), _state["profile"], cache.device_kind())
    archives = {name: share.pack(entry) for name, entry in entries.items()}
    for name, archive in archives.items():
        files.append(File.generated(config, share.archive_path(name, entries[name].manifest["key"]),
                                    content=archive))
    document = share.index(_state["profile"], entries, {name: plan[name][1] for name in entries},
                           archives)
    files.append(File.generated(config, share.INDEX, content=json.dumps(document, indent=1)))


# ---------------------------------------------------------------- rendering


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


def _cell_link(name: str, cell: int | None, page) -> str:
    # The URL of the notebook's page, as mkdocs-jupyter made it (the file's own URL is
    # the .ipynb's): notebooks/<slug>/ or notebooks/<slug>.html.
    slug = _state["homes"][name].slug
    url = get_relative_url(_state["files"].get_file_from_path(f"{NOTEBOOKS}/{slug}.ipynb").url,
                           page.url)
    return f"{url}#in-{cell}" if cell else url


def _check(kind: str, name: str, key: str | None, where: str) -> bool:
    """Whether the shortcode can be rendered: an error for an unknown home or key, False
    for a result that a failed run (under ``mkdocs serve``) did not record."""
    code = f"<!-- {kind} {name}{'.' + key if key else ''} -->"
    section = KINDS[kind]
    if name in _state["pending"]:
        return False
    if name in _state["failures"] and (name not in _state["reports"] or (
            section is not None and key not in _state["reports"][name][section])):
        return False
    if name not in _state["reports"]:
        raise PluginError(f"{where}: {code} names unknown home {name!r} "
                          f"(known: {', '.join(sorted(_state['reports']))})")
    section = KINDS[kind]
    if section is None:
        if key:
            raise PluginError(f"{where}: {code} takes a home name only")
        return True
    report = _state["reports"][name]
    if not key or key not in report[section]:
        known = ", ".join(report[section]) or "none"
        raise PluginError(f"{where}: {code}: lessons/{name}.py records no {kind} {key!r} "
                          f"(its {section}: {known})")
    return True


def _missing(kind: str, name: str, key: str | None) -> str:
    """What stands in for a result that a failed run did not record, or that a pending
    run has not recorded yet."""
    ref = f"{name}.{key}" if key else name
    if name in _state["pending"]:
        title = f"lessons/{name}.py has not run yet: see the box at the top of its page"
        if kind in ("metric", "provenance"):
            return (f'<span class="result-pending" data-result="{ref}" '
                    f'title="{html.escape(title)}">[{html.escape(ref)}: pending]</span>')
        return f'<p class="result-pending" data-result="{ref}">{html.escape(title)}.</p>'
    title = f"lessons/{name}.py failed before it recorded {ref}: see the box at the top of its page"
    if kind in ("metric", "provenance"):
        return (f'<span class="result-missing" data-result="{ref}" title="{html.escape(title)}">'
                f"[{html.escape(ref)}: run failed]</span>")
    return f'<p class="result-missing" data-result="{ref}">{html.escape(title)}.</p>'


def pending_box(name: str) -> str:
    """The box at the top of a page whose run is pending under ``mkdocs serve``."""
    runner = _state["pending"][name]
    where = html.escape(_state["homes"][name].where)
    progress = runner.progress(name) if runner is not None else None
    if runner is None:
        body = (f"<p><code>{where}</code> has no cached run, and "
                f"<code>{background.ONLY_ENV}</code> leaves it out: its numbers and figures "
                f"are not shown. Add it to that list (or unset it) to run it.</p>")
    elif progress is None:  # it ended between the status and this page
        body = f"<p><code>{where}</code> has just finished: this page reloads.</p>"
    else:
        k, n, left = progress
        eta = f"about {left:.0f} s left" if left is not None else "no earlier run to time it by"
        body = (f"<p><code>{where}</code> runs in the background: run {k} of {n}, {eta}. "
                f"This page reloads with its numbers and figures when it ends.</p>")
    return (f'<div class="admonition info result-pending-box" role="status" data-result="{name}">'
            f'<p class="admonition-title">This page\'s run is in progress</p>{body}</div>')


def failure_box(name: str, page) -> str:
    """The box at the top of a page whose home failed under ``mkdocs serve``: each false
    claim with its numbers and its cell, or the error and its cell."""
    from mnist_tutorial.report import claim_text

    error = _state["failures"][name]
    where = html.escape(_state["homes"][name].where)
    report = error.report
    false = [c for c in report["claims"] if not c.get("holds", True)] if report else []
    if false:
        def item(claim):
            link = html.escape(_cell_link(name, claim.get("cell"), page))
            return (f'<li>{html.escape(claim_text(claim))} (<a href="{link}">'
                    f"cell [{claim.get('cell')}]</a>)</li>")

        items = "".join(item(claim) for claim in false)
        body = (f"<p>{len(false)} claim(s) this page makes do not hold in this run of "
                f"<code>{where}</code>; the numbers on the page are that run's.</p><ul>{items}</ul>")
    elif error.notebook is not None:
        link = html.escape(_cell_link(name, error.cell, page))
        body = (f'<p><code>{where}</code> stopped in <a href="{link}">cell [{error.cell}] of its '
                f"notebook</a>:</p><pre><code>{html.escape(str(error))}</code></pre>")
    else:
        body = f"<p>{html.escape(str(error))}.</p>"
    return (f'<div class="admonition failure result-failure" role="alert" data-result="{name}">'
            f'<p class="admonition-title">This page\'s run failed</p>{body}'
            f"<p>Fix the code or the claim and save: <code>mkdocs serve</code> runs the home "
            f"again. <code>mkdocs build</code> stops on this.</p></div>")


def _metric_title(name: str, metric: dict) -> str:
    from mnist_tutorial.report import format_value

    where = f"computed in cell [{metric['cell']}] of the notebook of lessons/{name}.py"
    parts = [where]
    if metric.get("per_seed"):
        values = ", ".join(format_value(v, metric["unit"], 2) for v in metric["per_seed"])
        parts.append(f"mean ± std over seeds: {values}")
    parts.append(provenance_text(_state["provenance"][name]))
    return "; ".join(parts)


def _provenance_html(name: str, cell: int | None, page) -> str:
    href = html.escape(_cell_link(name, cell, page))
    where = f"cell [{cell}] of the notebook" if cell else "the notebook"
    return (f'<span class="result-provenance">Computed in <a href="{href}">{where}</a> · '
            f"{html.escape(provenance_text(_state['provenance'][name]))}</span>")


def _render(kind: str, name: str, key: str | None, page) -> str:
    report = _state["reports"][name]
    ref = f"{name}.{key}" if key else name
    if kind == "metric":
        metric = report["metrics"][key]
        return (f'<a class="result-value" data-result="{ref}" '
                f'href="{html.escape(_cell_link(name, metric["cell"], page))}" '
                f'title="{html.escape(_metric_title(name, metric))}">'
                f'{html.escape(metric["text"])}</a>')
    if kind == "provenance":
        return (f'<span class="result-provenance" data-result="{ref}">'
                f'{html.escape(provenance_text(_state["provenance"][name]))} · '
                f'<a href="{html.escape(_cell_link(name, None, page))}">the notebook</a></span>')
    if kind == "figure":
        figure = report["figures"][key]
        src = get_relative_url(f"{GENERATED}/{name}/{key}.svg", page.url)
        return (f'<figure class="result-figure" data-result="{ref}">'
                f'<img src="{html.escape(src)}" alt="{html.escape(figure["alt"])}" loading="lazy">'
                f'<figcaption>{html.escape(figure["caption"])}'
                f'{_provenance_html(name, figure["cell"], page)}</figcaption></figure>')
    table = report["tables"][key]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table["columns"])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in table["rows"])
    caption = html.escape(table.get("caption") or "")
    return (f'<div class="result-table" data-result="{ref}"><table>'
            f"<caption>{caption} {_provenance_html(name, table['cell'], page)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _buttons(home: homes.Home) -> str:
    """Markdown links, relative to the page's source file: MkDocs checks and converts them."""
    here = posixpath.dirname(home.page)
    notebook = posixpath.relpath(f"{NOTEBOOKS}/{home.slug}.ipynb", here)
    download = posixpath.relpath(f"{DOWNLOADS}/{home.slug}.ipynb", here)
    parts = [f"[The notebook, with its outputs]({notebook}){{ .md-button .mnist-notebook }}",
             f'[Download .ipynb]({download}){{ .md-button download="{home.slug}.ipynb" }}']
    if _state["repo"]:
        parts.append(f"[Open in Colab]({colab_url(_state['repo'], home.slug)}){{ .md-button }}")
    return " ".join(parts)


WORDS_PER_MINUTE = 200  # technical prose, read with care (code and maths take longer still)


def reading_minutes(markdown: str) -> int:
    """Minutes to read a page's prose: its words, without code, comments or includes."""
    prose = re.sub(r"<!--.*?-->", "", FENCED.sub("", markdown), flags=re.DOTALL)
    prose = re.sub(r"^\s*-{2}8<-{2}.*$", "", prose, flags=re.MULTILINE)
    words = len(re.findall(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*", prose))
    return max(1, round(words / WORDS_PER_MINUTE))


def _objectives(page, home: homes.Home, markdown: str) -> str:
    """The box a lesson opens with: what the reader will be able to do (the page's
    ``objectives:``), how long it reads and how long its notebook ran in this build."""
    objectives = page.meta.get("objectives", [])
    if not (isinstance(objectives, list)
            and all(isinstance(item, str) and item.strip() for item in objectives)):
        raise PluginError(f"{page.file.src_uri}: 'objectives:' in the front matter is a list of "
                          f"sentences, what the reader will be able to do after the page")
    kind = "exercise" if page.file.src_uri.startswith("exercises/") else "lesson"
    seconds = _state["provenance"].get(home.name, {}).get("wall_time_s")
    if home.name in _state["pending"] or not seconds:
        ran = "Its notebook has not finished running yet."
    else:
        ran = (f"Its notebook ran in {seconds:.0f} s when this site was built"
               if seconds < 90 else
               f"Its notebook ran in {seconds / 60:.0f} minutes when this site was built")
        ran += f" ({_state['profile']} profile)."
    lines = [f'!!! abstract "In this {kind}"']
    if objectives:
        lines += ["    After it you can:", ""] + [f"    - {item.strip()}" for item in objectives] + [""]
    lines.append(f"    About {reading_minutes(markdown)} minutes to read. {ran}")
    return "\n".join(lines)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def on_nav(nav, config, files):
    """Remember each nav section's pages, with the title and description they declare,
    for the course map (pages are read one by one later, so read their heads here)."""
    sections = {}
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
        sections[_slug(item.title)] = pages
    _state["sections"] = sections
    return nav


def _course_map(match, page) -> str:
    """A table of a nav section's pages: links relative to the page's source file."""
    name = match.group(2)
    if name not in _state["sections"]:
        raise PluginError(f"{page.file.src_uri}: {match.group(0)} names no nav section; "
                          f"known: {', '.join(_state['sections'])}")
    here = posixpath.dirname(page.file.src_uri)
    rows = [f"| [{title}]({posixpath.relpath(src, here or '.')}) | {description} |"
            for src, title, description in _state["sections"][name]]
    return "\n".join(["| Page | What you will learn |", "| --- | --- |", *rows])


def on_page_markdown(markdown: str, page, config, files) -> str:
    _state["files"] = files
    # Figures and tables are block HTML: Markdown wraps raw HTML that is not at the top
    # level (inside an admonition, a list, a tab) in <p>, and <p><figure> is invalid.
    # They go in as placeholders and are put in place in on_page_content.
    blocks = page.mnist_result_blocks = []

    def replace(match):
        kind, name, key = match.group(1), match.group(2), match.group(3)
        if kind == "course_map":
            return _course_map(match, page)
        if _check(kind, name, key, page.file.src_uri):
            rendered = _render(kind, name, key, page)
        else:
            rendered = _missing(kind, name, key)
        if kind in ("figure", "table"):
            blocks.append(rendered)
            return BLOCK.format(len(blocks) - 1)
        return rendered

    _malformed(markdown, page.file.src_uri)
    pieces, done = [], 0
    for match in shortcodes(markdown):
        pieces += [markdown[done:match.start()], replace(match)]
        done = match.end()
    markdown = "".join(pieces) + markdown[done:]
    home = next((h for h in _state["homes"].values() if h.page == page.file.src_uri), None)
    if home is None:
        return markdown
    head = [_objectives(page, home, markdown)]
    if home.name in _state["notebook_files"]:
        head.append(_buttons(home))
    if home.name in _state["failures"]:
        blocks.append(failure_box(home.name, page))
        head.append(BLOCK.format(len(blocks) - 1))
    elif home.name in _state["pending"]:
        blocks.append(pending_box(home.name))
        head.append(BLOCK.format(len(blocks) - 1))
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return "\n".join(lines[: i + 1] + [line for part in head for line in ("", part)]
                             + [""] + lines[i + 1:]) + "\n"
    raise PluginError(f"{page.file.src_uri}: a lesson starts with a '# Title' line")


STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)
SHARED_CSS = "assets/notebooks"  # where the notebook pages' common stylesheets go


def on_post_page(output: str, page, config) -> str:
    """mkdocs-jupyter inlines ~600 kB of JupyterLab CSS into every notebook page: serve the
    large, identical style blocks once, as files every notebook page links to."""
    if _notebook_home(page) is None:
        return output
    shared = _state.setdefault("shared_css", {})

    def link(match):
        css = match.group(1)
        if len(css) < 8192:
            return match.group(0)
        name = f"{SHARED_CSS}/{cache.sha256(css.encode())[:16]}.css"
        shared[name] = css
        return f'<link rel="stylesheet" href="{get_relative_url(name, page.url)}">'

    return STYLE.sub(link, output)


def on_post_build(config) -> None:
    for name, css in _state.get("shared_css", {}).items():
        path = Path(config.site_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(css, encoding="utf-8")
    if _state["offline_copy"]:
        started = time.monotonic()
        try:
            path = downloads.build_offline_copy(config.config_file_path, config.site_dir)
        except downloads.DownloadError as error:
            raise PluginError(str(error)) from None
        log.info(f"Offline copy: {downloads.OFFLINE_ZIP}, {path.stat().st_size / 1e6:.1f} MB, "
                 f"built in {time.monotonic() - started:.0f} s")


# mkdocs-jupyter writes each code cell's prompt as <div class="jp-InputPrompt ...">In [N]:</div>
# (and already uses id="cell-N" for the hidden text of its copy buttons).
PROMPT = re.compile(r'<div class="(jp-InputPrompt[^"]*)">In(?:\xa0|&nbsp;| )\[(\d+)\]:</div>')


def _notebook_home(page) -> homes.Home | None:
    for name, file in _state["notebook_files"].items():
        if file.src_uri == page.file.src_uri:
            return _state["homes"][name]
    return None


HEADING = re.compile(r'<h[1-6][^>]*\bid="([^"]+)"')


def _match_toc_to_headings(toc, html_text: str) -> None:
    """mkdocs-jupyter's table of contents drops inline code from a heading's anchor
    ("Batches: `Dataset` and `DataLoader`" -> #batches-and) while the page's heading keeps
    it (#batches-dataset-and-dataloader). Both list the notebook's Markdown headings in
    order: give each entry the id of its heading."""
    entries, stack = [], list(reversed(list(toc)))
    while stack:  # depth first, in document order
        item = stack.pop()
        entries.append(item)
        stack.extend(reversed(list(item.children)))
    ids = HEADING.findall(html_text)
    if len(ids) == len(entries):
        for item, heading_id in zip(entries, ids):
            item.id = heading_id


def on_page_content(html_text: str, page, config, files) -> str:
    home = _notebook_home(page)
    if home is None:
        blocks = getattr(page, "mnist_result_blocks", [])
        return BLOCK_IN_HTML.sub(lambda m: blocks[int(m.group(1))], html_text)
    _match_toc_to_headings(page.toc, html_text)
    if page.edit_url:  # edit_uri is set (deploy): edit the code home, no docs/notebooks/ file
        page.edit_url = urljoin(page.edit_url, posixpath.relpath(
            home.where, posixpath.dirname(f"docs/{page.file.src_uri}")))
    # A notebook page: give each code cell an anchor (#in-N, N its execution count) for
    # the numbers on the lesson page to link to, and lead back to the lesson.
    html_text = PROMPT.sub(
        lambda m: f'<div class="{m.group(1)}" id="in-{m.group(2)}">In\xa0[{m.group(2)}]:</div>',
        html_text)
    lesson_file = files.get_file_from_path(home.page) if home.page else None
    lesson = (f'<a href="{get_relative_url(lesson_file.url, page.url)}">the lesson</a>'
              if lesson_file else "the lesson")
    download = get_relative_url(f"{DOWNLOADS}/{home.slug}.ipynb", page.url)
    colab = (f' <a class="md-button" href="{html.escape(colab_url(_state["repo"], home.slug))}">'
             f"Open in Colab</a>") if _state["repo"] else ""
    built = html.escape(provenance_text(_state["provenance"][home.name]))
    intro = (f'<p class="mnist-notebook-intro">This is <code>lessons/{home.name}.py</code> run '
             f'as a notebook when the site was built ({built}): '
             f'the outputs below are the numbers and figures of {lesson}.</p>'
             f'<p><a class="md-button" href="{download}" download="{home.slug}.ipynb">'
             f'Download .ipynb</a>{colab}</p>')
    title_end = html_text.find("</h1>")
    if title_end < 0:
        return intro + html_text
    title_end += len("</h1>")
    return html_text[:title_end] + intro + html_text[title_end:]
