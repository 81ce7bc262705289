"""The MkDocs plugin ``mnist-course``: each page's code home runs, its numbers go on the page.

Listed under ``plugins:`` in ``mkdocs.yml``, after ``mkdocs-jupyter``. Before the pages
are read it runs every code home (``lessons/*.py``) as a notebook in a fresh kernel, or
loads the run from the cache (``sitebuild.run``), and publishes what the runs made
(``publishing``). On each page it replaces the shortcodes with the home's results
(``shortcodes``, ``results``, ``course_map``), puts the opening box and the notebook
buttons under each lesson's title (``boxes``, ``buttons``), and fixes the notebook pages
that mkdocs-jupyter renders (``jupyter_fixes``). An unknown shortcode, home or key fails
the build, naming the page. Nothing is written into ``docs/`` (that would make
``mkdocs serve`` rebuild forever).

``mkdocs serve`` keeps one plugin object across rebuilds (it has ``on_startup``); every
build starts from a new ``BuildState`` (``on_config``).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from mkdocs.config import config_options
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority

from mnist_tutorial.config import current_profile
from sitebuild import background, downloads, homes, run
from sitebuild.plugin import boxes, buttons, course_map, jupyter_fixes, results, runs, shortcodes
from sitebuild.plugin.publishing import publish
from sitebuild.plugin.staging import Staging
from sitebuild.plugin.state import BuildState

BLOCK = "MNISTRESULTBLOCK{}END"  # stands in for a figure/table until the HTML exists
BLOCK_IN_HTML = re.compile(r"(?:<p>\s*)?MNISTRESULTBLOCK(\d+)END(?:\s*</p>)?")


class CourseConfig(Config):
    # OWNER/NAME of the GitHub repository the site is published from: the lessons' "Open
    # in Colab" buttons and the notebooks' install cell. Empty: no Colab.
    github_repo = config_options.Type(str, default="")


class CoursePlugin(BasePlugin[CourseConfig]):
    serving = False  # under `mkdocs serve` (on_startup)
    state: BuildState
    _staging: Staging | None = None
    _runner: background.Runner | None = None  # runs homes behind `mkdocs serve`

    def on_startup(self, *, command: str, dirty: bool) -> None:
        """``mkdocs serve`` serves at once and runs the homes behind the pages (with
        ``--no-livereload``, which could not show a run that ends later, it runs them
        first), and keeps serving when a home fails (the page shows why); ``mkdocs build``
        runs every home first and stops with the home, the claim and its numbers."""
        self.serving = command == "serve"
        runs.set_up_serve_log()

    def on_serve(self, server, config, builder):
        runs.watch_background_runs(server)
        return server

    def on_shutdown(self) -> None:
        run.stop_kernels()
        if self._staging is not None:
            self._staging.cleanup()
            self._staging = None

    def on_config(self, config):
        try:
            profile = current_profile()
        except ValueError as error:
            raise PluginError(str(error)) from None
        repo = self.config.github_repo.strip().strip("/")
        if repo and not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
            raise PluginError(f"github_repo of the mnist-course plugin must look like OWNER/NAME, "
                              f"not {repo!r}")
        # The offline copy's own build: Material's offline plugin would load its Worker shim
        # from unpkg.com; the copy loads the site's (docs/assets/iframe-worker/).
        offline = downloads.truthy(downloads.OFFLINE_ENV)
        offline_copy = (not offline and not self.serving
                        and downloads.truthy(downloads.OFFLINE_COPY_ENV))
        self.state = BuildState(profile=profile, repo=repo, serving=self.serving,
                                offline=offline, offline_copy=offline_copy)
        config.extra["mnist_profile"] = profile
        if offline:
            config.extra["polyfills"] = ["assets/iframe-worker/shim.js"]
        config.extra["offline_copy"] = "self" if offline else "download" if offline_copy else None
        return config

    def staging(self) -> Path:
        """Where the notebook pages are staged for mkdocs-jupyter (``staging``)."""
        if self._staging is None:
            self._staging = Staging()
        return self._staging.path

    def runner(self) -> background.Runner:
        """The thread that runs the homes behind ``mkdocs serve`` (one per session)."""
        if self._runner is None or self._runner.profile != self.state.profile:
            self._runner = background.Runner(self.state.profile, runs.serve_log.info)
        return self._runner

    @event_priority(100)  # before mkdocs-jupyter turns the published notebooks into pages
    def on_files(self, files, config):
        try:
            # The course itself: every home has a page. A project with some of the pages
            # (a preview, a test) runs the homes of those pages and what they use.
            docs = Path(config.docs_dir).resolve()
            found = homes.discover(docs=docs, complete=docs == homes.DOCS)
        except homes.HomeError as error:
            raise PluginError(str(error)) from None
        for page in files.documentation_pages():
            if page.src_uri.endswith(".md"):
                shortcodes.check_wellformed(page.content_string, page.src_uri)
        entries, failures = runs.run_homes(self.state, found,
                                           live_reload="--no-livereload" not in sys.argv,
                                           runner=self.runner)
        runs.report_failures(failures)
        publish(self.state, config, files, found, entries, failures, self.staging())
        return files

    def on_nav(self, nav, config, files):
        self.state.sections = course_map.sections(nav)
        return nav

    def on_page_markdown(self, markdown, page, config, files):
        state, where = self.state, page.file.src_uri
        state.files = files
        # Figures and tables are block HTML: Markdown wraps raw HTML that is not at the top
        # level (inside an admonition, a list, a tab) in <p>, and <p><figure> is invalid.
        # They go in as placeholders and are put in place in on_page_content.
        blocks = page.mnist_result_blocks = []

        def block(rendered: str) -> str:
            blocks.append(rendered)
            return BLOCK.format(len(blocks) - 1)

        def render(code: shortcodes.Shortcode) -> str:
            if not code.kind.names_home:
                return course_map.course_map(state.sections, code, where)
            if results.check(state, code, where):
                rendered = results.render(state, code, page)
            else:
                rendered = results.missing(state, code)
            return block(rendered) if code.kind.block else rendered

        markdown = shortcodes.replace(markdown, render)
        home = state.home_of_page(where)
        if home is None:
            return markdown
        head = [boxes.objectives(state, page, home, markdown)]
        if home.name in state.notebook_files:
            head.append(buttons.lesson_buttons(state.repo, home))
        if home.name in state.failures:
            head.append(block(boxes.failure_box(state, home.name, page)))
        elif home.name in state.pending:
            head.append(block(boxes.pending_box(state, home.name)))
        elif state.false_claims.get(home.name):
            head.append(block(boxes.false_claims_box(state, home.name)))
        lines = markdown.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("# "):
                return "\n".join(lines[: i + 1] + [line for part in head for line in ("", part)]
                                 + [""] + lines[i + 1:]) + "\n"
        raise PluginError(f"{where}: a lesson starts with a '# Title' line")

    def on_page_content(self, html, page, config, files):
        home = self.state.home_of_notebook(page.file.src_uri)
        if home is None:
            blocks = getattr(page, "mnist_result_blocks", [])
            return BLOCK_IN_HTML.sub(lambda m: blocks[int(m.group(1))], html)
        where = f"notebooks page of {home.where}"
        html, anchored = jupyter_fixes.anchor_prompts(html)
        if not anchored and self.state.provenance[home.name].get("failed") is None:
            runs.log.warning(f"{where}: no code cell prompt found in mkdocs-jupyter's HTML "
                             f"(sitebuild/plugin/jupyter_fixes.py, PROMPT): the numbers' links "
                             f"to cells would break; has mkdocs-jupyter changed?")
        jupyter_fixes.match_toc_to_headings(page.toc, html)
        if page.edit_url:  # edit_uri is set (deploy): edit the code home
            page.edit_url = jupyter_fixes.edit_url_of_home(page.edit_url, home.where, page.file.src_uri)
        html, _ = jupyter_fixes.insert_after_title(
            html, buttons.notebook_intro(self.state, home, page, files))
        return html

    def on_post_page(self, output, page, config):
        if self.state.home_of_notebook(page.file.src_uri) is None:
            return output
        output, _ = jupyter_fixes.share_large_styles(output, page.url, self.state.shared_css)
        return output

    def on_post_build(self, config):
        for name, css in self.state.shared_css.items():
            path = Path(config.site_dir) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(css, encoding="utf-8")
        if self.state.offline_copy:
            started = time.monotonic()
            try:
                path = downloads.build_offline_copy(config.config_file_path, config.site_dir)
            except downloads.DownloadError as error:
                raise PluginError(str(error)) from None
            runs.log.info(f"Offline copy: {downloads.OFFLINE_ZIP}, {path.stat().st_size / 1e6:.1f} MB, "
                          f"built in {time.monotonic() - started:.0f} s")
