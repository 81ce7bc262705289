"""The offline copy, ``downloads/course-offline.zip``, as a learner with no network uses it.

The smoke site (conftest's ``site_dir``, built with ``$MNIST_TUTORIAL_OFFLINE_COPY=1`` as
the deploy builds it) carries the copy; here it is unzipped and opened from ``file://`` in
chromium, where every request to a host is recorded and aborted: search finds the
backpropagation lesson, a lesson's figures and maths render, and the two interactive pages
load their data files (which a file:// page cannot fetch()).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

pytest.register_assert_rewrite("browser_util")  # before the import: it is also our plugin
from browser_util import new_context, search  # noqa: E402
from sitebuild import downloads, homes  # noqa: E402

pytest_plugins = ["browser_util"]


@pytest.fixture(scope="module")
def offline_dir(site_dir, tmp_path_factory) -> Path:
    archive = site_dir / downloads.OFFLINE_ZIP
    assert archive.is_file() and archive.stat().st_size > 0, f"no offline copy at {archive}"
    folder = tmp_path_factory.mktemp("offline")
    with zipfile.ZipFile(archive) as copy:
        assert {name.split("/")[0] for name in copy.namelist()} == {downloads.OFFLINE_FOLDER}
        copy.extractall(folder)
    return folder / downloads.OFFLINE_FOLDER


def test_the_home_page_offers_the_copy(site_dir):
    soup = BeautifulSoup((site_dir / "index.html").read_text(encoding="utf-8"), "html.parser")
    link = soup.select_one(".mnist-offline-note a[download]")
    assert link is not None and link["href"] == downloads.OFFLINE_ZIP


def test_the_copy_has_every_page_and_download_and_names_no_other_host(offline_dir):
    for home in homes.discover().values():
        assert (offline_dir / Path(home.page).with_suffix(".html")).is_file(), home.page
        assert (offline_dir / "downloads" / f"{home.slug}.ipynb").is_file(), home.slug
    assert (offline_dir / "search" / "search_index.js").is_file()
    assert (offline_dir / "assets" / "iframe-worker" / "shim.js").is_file()
    # A reader's copy: no runs for builders, no wheel.
    assert not (offline_dir / "runs").exists()
    assert not list(offline_dir.glob("downloads/*.whl"))
    for page in offline_dir.rglob("*.html"):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for tag in soup.find_all(["script", "link", "img", "iframe"]):
            address = tag.get("src") or tag.get("href") or ""
            assert not re.match(r"(https?:)?//", address), f"{page}: {tag}"


def _open(page, path: Path) -> None:
    page.goto(path.as_uri())
    page.wait_for_load_state("load")


def test_search_figures_maths_and_interactive_pages_work_from_file(offline_dir, browser):
    context = new_context(browser)
    watch = context.watch
    page = context.new_page()
    try:
        _open(page, offline_dir / "index.html")
        assert "Offline copy" in page.locator(".mnist-offline-note").inner_text()
        titles = search(page, "backpropagation")
        assert any("Backpropagation" in title for title in titles), titles

        _open(page, offline_dir / "lessons" / "activations.html")
        page.evaluate("document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
        page.wait_for_function("[...document.images].every(i => i.complete)")
        figures = page.evaluate("[...document.querySelectorAll('figure img')]"
                                ".map(i => [i.getAttribute('src'), i.naturalWidth])")
        assert figures and all(width > 0 for _, width in figures), figures
        page.wait_for_function("document.querySelectorAll('.katex').length > 0")

        _open(page, offline_dir / "lessons" / "draw-a-digit.html")
        verdicts = page.evaluate("""async () => {
          const api = await window.drawDigit;
          const argmax = (p) => p.indexOf(Math.max(...p));
          return api.data.samples.map((s) => argmax(api.classifyStored(s.pixels)) === argmax(s.torch));
        }""")
        assert verdicts and all(verdicts), verdicts

        _open(page, offline_dir / "lessons" / "universal-approximation.html")
        page.wait_for_function("window.bumpBuilder !== undefined")
        assert page.evaluate("window.bumpBuilder.evaluate().maxError") >= 0
    finally:
        context.close()
    assert not watch.offsite, f"requests to other hosts: {watch.offsite}"
    assert not watch.page_errors, watch.page_errors
    assert not watch.console_errors, watch.console_errors
    assert not watch.failed, watch.failed
