"""What a build publishes from the runs, beside the pages.

* each executed notebook twice: as a page that mkdocs-jupyter renders with its outputs
  (``notebooks/<page>/``, from a file staged in ``staging``: mkdocs-jupyter reads its
  pages from disk) and as a download (``downloads/<page>.ipynb``), whose setup cell
  installs the course where it is missing and whose last cell holds the site's numbers;
* each figure as a sanitised SVG, the files a report records with ``report.asset``
  (``generated/<home>/<file>``), and every number as ``results.json``;
* the runs themselves (``runs/``, ``sitebuild.share``), the course's wheel and a
  placeholder for the offline copy (``sitebuild.downloads``).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from pathlib import Path

import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

from sitebuild import cache, downloads, homes, run, share, svg
from sitebuild.plugin import shortcodes
from sitebuild.plugin.buttons import DOWNLOADS
from sitebuild.plugin.results import GENERATED, NOTEBOOKS, claim_values, published_metrics
from sitebuild.plugin.runs import serve_log
from sitebuild.plugin.state import BuildState

log = logging.getLogger("mkdocs.plugins.mnist_course")
GENERATED_LINK = re.compile(rf"{GENERATED}/([a-z0-9_]+)/([\w.-]+)")


def publish(state: BuildState, config, files: Files, found: dict, entries: dict,
            failures: dict, staging: Path) -> None:
    """Add the published files to ``files`` and record each home's results in ``state``."""
    # A served site publishes no wheel (and serve's site_url is its own address).
    wheel = (downloads.wheel_name() if not state.serving and not state.offline
             and downloads.has_package() else None)
    course = downloads.course_addresses(config.site_url, wheel, state.repo,
                                        _commit() if state.repo else None)
    results = [(name, entry.report, entry.provenance, entry.notebook, entry.assets)
               for name, entry in entries.items()]
    for name, error in failures.items():
        state.failures[name] = error
        state.homes[name] = found[name]
        if error.notebook is not None:  # else not run: a home it uses failed
            results.append((name, *_failed_run(state, error), error.notebook, {}))
    public, false = {}, []
    pages = [(page.src_uri, page.content_string) for page in files.documentation_pages()
             if page.src_uri.endswith(".md")]
    quoted = shortcodes.published_formats(
        pages, {name: set(report.get("config", {})) for name, report, *_ in results})
    stated = shortcodes.published_claims(pages)
    for name, report, provenance, notebook, assets in results:
        home = found[name]
        state.homes[name], state.reports[name], state.provenance[name] = home, report, provenance
        executed = (notebook if isinstance(notebook, nbformat.NotebookNode)
                    else nbformat.read(notebook, as_version=4))
        numbers = published_metrics(report, quoted.get(name, {}), name)
        claims = claim_values(state, report, stated.get(name, {}), name)
        if name not in state.failures:
            state.false_claims[name] = [f"{stated[name][key]}: {name}.{key}"
                                        for key, holds in claims.items() if holds is False]
            false += [f"{home.where}: {line}" for line in state.false_claims[name]]
        checked = [key for key, holds in claims.items() if holds is not None]
        text = homes.publish(executed, course, {**report, "metrics": numbers, "claims": checked})
        state.notebook_files[name] = _notebook_page(config, files, staging, home.slug, text)
        files.append(File.generated(config, f"{DOWNLOADS}/{home.slug}.ipynb", content=text))
        figures = {}
        for key, figure in report["figures"].items():
            src = f"{GENERATED}/{name}/{key}.svg"
            files.append(File.generated(config, src, content=sanitized(home, key, figure["svg"])))
            figures[key] = {"cell": figure["cell"], "path": src}
        for filename, path in assets.items():  # verified against the entry's manifest
            files.append(File.generated(config, f"{GENERATED}/{name}/{filename}",
                                        abs_src_path=str(path)))
            if state.offline:  # file:// pages cannot fetch() it: a script hands it over
                files.append(File.generated(config, f"{GENERATED}/{name}/{filename}.js",
                                            content=downloads.asset_script(Path(path).read_bytes())))
        public[name] = {**{k: v for k, v in report.items() if k != "values"},
                        "metrics": numbers, "claims": claims, "figures": figures,
                        "provenance": provenance}
    if false:
        message = (f"{len(false)} claim(s) the pages state do not hold in this build's runs "
                   f"(each is a variable of the home's notebook, False or unset):\n"
                   + "\n".join(f"  - {line}" for line in false))
        if not state.serving:
            raise PluginError(message)
        serve_log.error(f"{message}\n  The pages mark them; fix the code or the claim and save.")
    document = {"profile": state.profile, "homes": public}
    files.append(File.generated(config, "results.json",
                                content=json.dumps(document, indent=1, sort_keys=True)))
    if state.pending:
        _stand_ins_for_pending_assets(state, config, files)
    if not state.serving and not state.offline:  # a reader's copy needs no runs
        _publish_runs(state, config, files, found, entries)
    if wheel:
        try:
            files.append(File.generated(config, f"{DOWNLOADS}/{wheel}",
                                        content=downloads.build_wheel()))
        except downloads.DownloadError as error:
            raise PluginError(str(error)) from None
    if state.offline_copy:  # written after the build (on_post_build); linked before
        files.append(File.generated(config, downloads.OFFLINE_ZIP, content=b""))


def _failed_run(state: BuildState, error: run.BuildError) -> tuple[dict, dict]:
    """The report and provenance of a run that failed under serve (what it recorded)."""
    report = error.report or {"values": {}, "tables": {}, "figures": {},
                              "provenance": {"profile": state.profile}}
    provenance = {"commit": run.git_commit(), "wall_time_s": 0.0, "date": "",
                  "torch": "", "device": "", **report["provenance"], "failed": True}
    return report, provenance


def _notebook_page(config, files: Files, staging: Path, slug: str, text: str) -> File:
    """The notebook page's file, staged on disk: mkdocs-jupyter's page wrapper reads the
    notebook from src_dir/src_uri. Unchanged text is not rewritten (a serve rebuild)."""
    src_uri = f"{NOTEBOOKS}/{slug}.ipynb"
    path = staging / src_uri
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        cache.write_atomically(path, text.encode("utf-8"))
    page = File(src_uri, src_dir=str(staging), dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls)
    files.append(page)
    return page


def sanitized(home: homes.Home, key: str, figure: str) -> str:
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


def _commit() -> str | None:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=homes.ROOT, capture_output=True,
                         text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def _stand_ins_for_pending_assets(state: BuildState, config, files: Files) -> None:
    """A page links the files its run publishes (``generated/<home>/<file>``, for its
    scripts); until a pending run has made them, empty stand-ins keep the links valid."""
    wanted = {f"{GENERATED}/{name}/{filename}"
              for page in files.documentation_pages()
              for name, filename in GENERATED_LINK.findall(page.content_string) if name in state.pending}
    for src_uri in sorted(wanted):
        files.append(File.generated(config, src_uri, content=b""))


def _publish_runs(state: BuildState, config, files: Files, found: dict, entries: dict) -> None:
    """The runs this build used, as ``runs/<home>/<key>.tar.gz`` and ``runs/index.json``
    (``sitebuild.share``): ``python -m sitebuild fetch`` brings them back into a cache."""
    plan = cache.plan(found, list(found), state.profile, cache.device_kind())
    archives = {name: share.pack(entry) for name, entry in entries.items()}
    for name, archive in archives.items():
        files.append(File.generated(config, share.archive_path(name, entries[name].manifest["key"]),
                                    content=archive))
    document = share.index(state.profile, entries, {name: plan[name][1] for name in entries},
                           archives)
    files.append(File.generated(config, share.INDEX, content=json.dumps(document, indent=1)))
