"""The built site's links to other sites, checked with pytest-check-links (opt-in).

The links inside the site are checked on every run already (the strict build, and
``test_site_build.py``/``test_browser.py`` follow every internal link and anchor). A link
to another site can only be checked over the network, and breaks without any change here,
so that check is opt-in: it carries the marker ``links``, and ``conftest.py`` deselects it
unless ``-m`` names it:

    python -m pytest -m links          # needs the internet; .github/workflows/links.yml, weekly

It runs pytest-check-links over the HTML pages of the smoke site (the same pages, text and
links as the full site) and ignores every link that is not http(s) to another host: the
site's own relative links, and localhost (TensorBoard's address in the lessons). Answers
go through pytest-check-links' request cache (requests-cache, an SQLite file): a URL that
many pages link to is fetched once, and for a day a rerun asks again only for the links
that failed (failures are never cached).

The default run keeps one offline check of the options themselves: on a page with every
kind of link, pytest-check-links must collect exactly the external ones.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from mnist_tutorial import settings

# pytest-check-links skips non-http(s) schemes (mailto:, data:) itself; these patterns
# (re.match on the link as written) drop the rest of what is not another site.
NOT_HTTP = r"^(?!https?://)"  # relative links and anchors: the site's own pages
LOCALHOST = r"^https?://(localhost|127\.0\.0\.1|\[::1\])([:/]|$)"
CACHE = settings.path("LINKS_CACHE", default=str(ROOT / ".pytest_cache" / "check-links"))
# (requests-cache adds ".sqlite")
CACHE_SECONDS = 24 * 3600


def check_links_command(site: Path, cache: Path, collect_only: bool = False) -> list[str]:
    """pytest-check-links over ``site``'s HTML pages, external links only, with its cache."""
    command = [
        sys.executable, "-m", "pytest", "--check-links", "--links-ext", "html",
        "--check-links-ignore", NOT_HTTP, "--check-links-ignore", LOCALHOST,
        "--check-links-cache", "--check-links-cache-name", str(cache),
        "--check-links-cache-expire-after", str(CACHE_SECONDS),
        # Cache successes only (its default caches every status up to 511): a link that
        # failed once, maybe a server's bad minute, is asked again on the next run.
        "--check-links-cache-backend-opt", "allowable_codes:[200]",
        "-p", "no:cacheprovider", "--rootdir", str(site), "-q", str(site),
    ]
    return command + (["--collect-only"] if collect_only else [])


def run(command: list[str], site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=site, capture_output=True, text=True, timeout=1800)


@pytest.mark.links
def test_external_links_answer(site_dir):
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    process = run(check_links_command(site_dir, CACHE), site_dir)
    assert process.returncode == 0, f"broken external links:\n{process.stdout[-8000:]}"
    assert re.search(r"\b\d+ passed\b", process.stdout), process.stdout[-3000:]


def test_only_external_links_are_collected(tmp_path):
    """Offline: of every kind of link on a page, exactly the ones to other sites are checked
    (collected as items); nothing is fetched, and the cache options are accepted."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        "<!doctype html><html><body>"
        '<a href="lessons/data/">a page</a> <a href="#top">an anchor</a>'
        '<a href="../index.html">up</a> <a href="mailto:someone@example.org">mail</a>'
        '<a href="http://localhost:6006">TensorBoard</a> <a href="http://127.0.0.1:8000/">local</a>'
        '<a href="https://example.org/docs/">another site</a>'
        '<img src="generated/figure.svg" alt="a figure">'
        '<img src="http://example.com/logo.png" alt="a remote image">'
        "</body></html>", encoding="utf-8")
    process = run(check_links_command(site, tmp_path / "cache", collect_only=True), site)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    # -q --collect-only lists one item per link: "index.html::<path> <a href=URL>"
    targets = sorted(re.findall(r"<(?:a href|img src)=(\S+)>$", process.stdout, re.MULTILINE))
    assert targets == ["http://example.com/logo.png", "https://example.org/docs/"], process.stdout
    assert (tmp_path / "cache.sqlite").is_file(), "no request cache: is requests-cache installed?"
