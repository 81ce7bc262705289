"""The built site: strict smoke build, shortcode errors, offline assets, real numbers, links.

Uses the session fixtures of ``conftest.py``: ``site_dir`` (the smoke site with directory
URLs, as served) and ``flat_site_dir`` (``page.html`` URLs, so that anchors can be checked),
and ``build_site`` for builds of temporary projects that reuse the course's mkdocs.yml
through ``INHERIT``. Nothing here downloads; every build uses the smoke profile and the
experiment cache, so after the first build each takes a few seconds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup

from conftest import ROOT, build_site, write_project
from mnist_tutorial.report import Format, metric, table_text
from sitebuild.plugin import shortcodes
from sitebuild.plugin.boxes import reading_minutes

# ---------------------------------------------------------------- helpers


def html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def soup_of(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def results_of(site: Path) -> dict:
    return json.loads((site / "results.json").read_text(encoding="utf-8"))


def resolve(site: Path, document: Path, ref: str) -> Path:
    """The file that a same-site ``ref`` in ``document`` (an .html or .css file) points to."""
    path = unquote(urlsplit(ref).path)
    target = site / path.lstrip("/") if path.startswith("/") else document.parent / path
    if path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target.resolve()


# ---------------------------------------------------------------- (a) the smoke build


def test_smoke_build_says_so_on_every_page(site_dir):
    results = results_of(site_dir)
    assert results["profile"] == "smoke"
    assert results["homes"], "results.json lists no home"
    for name, result in results["homes"].items():
        assert result["provenance"]["profile"] == "smoke", name

    pages = html_pages(site_dir)
    assert len(pages) >= 3  # home, a lesson, 404
    for page in pages:
        soup = soup_of(page)
        banner = soup.select_one(".md-banner .mnist-smoke-notice[data-mnist-profile=smoke]")
        assert banner is not None, f"{page.relative_to(site_dir)} has no smoke-build notice"
        assert "smoke" in banner.get_text() and "one epoch" in banner.get_text()

        note = soup.select_one(".md-footer .mnist-results-note")
        assert note is not None, f"{page.relative_to(site_dir)} has no results note"
        assert "(smoke profile)" in note.get_text(" ", strip=True)
        link = note.find("a")
        assert link.get_text() == "results.json"
        assert resolve(site_dir, page, link["href"]) == (site_dir / "results.json").resolve()


def test_home_page_maps_every_lesson_and_exercise(site_dir):
    home = site_dir / "index.html"
    linked = {resolve(site_dir, home, a["href"]) for a in soup_of(home).find_all("a", href=True)
              if not urlsplit(a["href"]).scheme}
    pages = sorted([*(site_dir / "lessons").glob("*/index.html"),
                    *(site_dir / "exercises").glob("*/index.html")])
    assert pages
    missing = [str(page.parent.relative_to(site_dir)) for page in pages
               if page.resolve() not in linked]
    assert not missing, f"docs/index.md's course map does not link to: {', '.join(missing)}"


def test_templates_without_smoke_profile(tmp_path):
    """No banner on a full build. A stand-in hook plays the mnist-course plugin's part in the
    templates: it sets ``config.extra.mnist_profile``."""
    hook = tmp_path / "stand_in_hook.py"
    hook.write_text("def on_config(config):\n"
                    "    config.extra['mnist_profile'] = 'full'\n")
    config = write_project(
        tmp_path, {"index.md": "# Home\n\nNo results here.\n"},
        f"hooks:\n  - {hook}\nplugins:\n  - search\nnav:\n  - index.md\n", copy_docs=False)
    site = tmp_path / "site"
    process = build_site(site, config=config)
    assert process.returncode == 0, process.stderr[-3000:]
    home = soup_of(site / "index.html")
    assert home.select_one(".md-banner") is None, "a banner on a full build"
    assert "(full profile)" in home.select_one(".mnist-results-note").get_text(" ", strip=True)


# ---------------------------------------------------------------- (b) shortcode errors


@pytest.mark.parametrize("page, shortcode, named", [
    ("bad-key.md", "<!-- metric training.no_such_key -->", "no_such_key"),
    ("bad-home.md", '<!-- figure no_such_home.loss_curve alt="A" caption="B" -->', "no_such_home"),
    ("bad-kind.md", "<!-- Metric training.test_accuracy -->", "malformed shortcode"),
])
def test_unknown_shortcode_fails_the_build(tmp_path, site_dir, page, shortcode, named):
    config = write_project(
        tmp_path, {page: f"# Broken\n\nThe value is {shortcode}.\n"},
        "hooks: []\n"  # the plugin alone (hooks/glossary.py's path is relative to the config)
        # the page is not in the nav: make that harmless, so only the shortcode can fail
        "validation:\n  nav:\n    omitted_files: info\n")
    process = build_site(tmp_path / "site", config=config)
    output = process.stdout + process.stderr
    assert process.returncode != 0, f"the build passed despite {shortcode}"
    assert page in output and named in output, output[-3000:]


# ---------------------------------------------------------------- (c) nothing from other hosts

TAG_ATTRIBUTES = {
    "script": ["src"], "img": ["src", "srcset"], "source": ["src", "srcset"],
    "iframe": ["src"], "video": ["src", "poster"], "audio": ["src"], "track": ["src"],
    "embed": ["src"], "object": ["data"], "input": ["src"],
}
FETCHED_LINK_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload",
                     "modulepreload", "prefetch", "preconnect", "dns-prefetch", "manifest"}
CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^'")\s]+))\s*\)""")
CSS_IMPORT = re.compile(r"""@import\s+["']([^"']+)["']""")


def _refs_in_css(text: str) -> list[str]:
    refs = [next(g for g in match.groups() if g is not None) for match in CSS_URL.finditer(text)]
    return refs + CSS_IMPORT.findall(text)


def _refs_in_html(text: str) -> list[str]:
    soup = BeautifulSoup(text, "html.parser")
    refs = []
    for tag, attributes in TAG_ATTRIBUTES.items():
        for element in soup.find_all(tag):
            for attribute in attributes:
                value = element.get(attribute)
                if not value:
                    continue
                if attribute == "srcset":
                    refs += [part.strip().split()[0] for part in value.split(",") if part.strip()]
                else:
                    refs.append(value)
    for element in soup.find_all("link", href=True):
        if FETCHED_LINK_RELS & {rel.lower() for rel in element.get("rel", [])}:
            refs.append(element["href"])
    for element in soup.find_all(style=True):
        refs += _refs_in_css(element["style"])
    for element in soup.find_all("style"):
        refs += _refs_in_css(element.get_text())
    return refs


def offsite_or_missing(site: Path) -> tuple[list[str], int]:
    """Every resource reference of the site's .html and .css files that leaves the site or
    points to no file; and how many references were checked."""
    problems, checked = [], 0
    for document in sorted([*site.rglob("*.html"), *site.rglob("*.css")]):
        text = document.read_text(encoding="utf-8")
        refs = _refs_in_css(text) if document.suffix == ".css" else _refs_in_html(text)
        where = document.relative_to(site)
        for ref in refs:
            checked += 1
            parts = urlsplit(ref)
            if parts.scheme == "data" or (not parts.scheme and not parts.netloc and not parts.path):
                continue  # inline data, or a fragment such as url(#gradient)
            if parts.scheme or parts.netloc or ref.startswith("//"):
                problems.append(f"{where}: {ref} is on another host")
            elif not resolve(site, document, ref).is_file():
                problems.append(f"{where}: {ref} points to no file of the site")
    return problems, checked


def test_every_asset_comes_from_the_site_itself(site_dir):
    problems, checked = offsite_or_missing(site_dir)
    assert not problems, "\n".join(problems)
    assert checked > 50  # the checker really looked (scripts, styles, KaTeX fonts, figures)

    # The vendored KaTeX is what renders the math, on every page.
    for page in html_pages(site_dir):
        refs = _refs_in_html(page.read_text(encoding="utf-8"))
        for asset in ("katex.min.js", "auto-render.min.js", "javascripts/katex.js",
                      "katex.min.css", "stylesheets/extra.css"):
            assert any(ref.split("?")[0].endswith(asset) for ref in refs), f"{page}: {asset}"
    css = (site_dir / "assets/katex/katex.min.css").read_text(encoding="utf-8")
    fonts = _refs_in_css(css)
    assert fonts and all(font.endswith(".woff2") for font in fonts)


def test_asset_checker_flags_other_hosts_and_missing_files(tmp_path, site_dir):
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "ok.js").write_text("")
    (site / "sub" / "page.html").write_text(
        '<html><head><script src="../ok.js"></script>'
        '<script src="https://cdn.example/x.js"></script>'
        '<link rel="stylesheet" href="//fonts.example/css">'
        '<link rel="canonical" href="https://example.org/sub/page.html">'  # not fetched
        '</head><body><img src="missing.svg" alt="">'
        '<a href="https://example.org/">a link, not a resource</a></body></html>')
    (site / "style.css").write_text(
        "a{background:url(data:image/png;base64,AAAA)}"
        "@font-face{src:url('https://fonts.example/f.woff2')}")
    problems, checked = offsite_or_missing(site)
    assert checked == 6
    assert sorted(problems) == sorted([
        "sub/page.html: https://cdn.example/x.js is on another host",
        "sub/page.html: //fonts.example/css is on another host",
        "sub/page.html: missing.svg points to no file of the site",
        "style.css: https://fonts.example/f.woff2 is on another host",
    ])


# ---------------------------------------------------------------- (d) the numbers are results.json's


DOCS = ROOT / "docs"


def quoted_text(result: dict, key: str, words) -> str:
    """The text of a number of results.json in a shortcode's words (a quote that names no
    unit reads in the published one: both picked it from the value)."""
    number = result["metrics"][key]
    fmt = Format.parse(words)
    fmt = dataclasses.replace(fmt, unit=fmt.unit or number["unit"])
    return metric(number["per_seed"] or number["value"], fmt, result["config"])["text"]


def attributes_as_written(published) -> dict[tuple[str, str], list[dict[str, str]]]:
    """(kind, HOME.KEY) -> the attributes (alt, caption) of each figure or table shortcode in
    docs/, their {keys} filled in with the settings and numbers of results.json."""
    def fill(name, text):
        result = published[name]

        def value(match):
            kind, key, words = match.groups()
            if kind != "metric" and key in result["config"] and not words:
                return result["config"][key]["text"]
            return quoted_text(result, key, words.split())

        return shortcodes.PLACEHOLDER.sub(value, text)

    written = {}
    for source in DOCS.rglob("*.md"):
        for code in shortcodes.find(source.read_text(encoding="utf-8")):
            if code.kind.attributes:
                written.setdefault((code.kind.name, code.ref), []).append(
                    {name: fill(code.name, value) for name, value in code.attributes.items()})
    return written


def metrics_as_written(site_dir: Path) -> dict[Path, list]:
    """Each built page -> the metric shortcodes of its Markdown, in order."""
    quotes = {}
    for source in DOCS.rglob("*.md"):
        page = source.relative_to(DOCS).with_suffix("")
        built = site_dir / (page.parent if page.name == "index" else page) / "index.html"
        quotes[built] = [code for code in shortcodes.find(source.read_text(encoding="utf-8"))
                         if code.kind.name == "metric"]
    return quotes


def test_pages_show_exactly_the_results(site_dir):
    published = results_of(site_dir)["homes"]
    written = attributes_as_written(published)
    quotes = metrics_as_written(site_dir)
    seen = {"metric": 0, "config": 0, "figure": 0, "table": 0, "provenance": 0, "claim": 0}
    for page in html_pages(site_dir):
        if page.name == "404.html":
            continue
        html = page.read_text(encoding="utf-8")
        where = page.relative_to(site_dir)
        leftover = re.search(r"<!--\s*(metric|config|claim|figure|table|provenance)\s", html)
        assert leftover is None, f"{where}: shortcode left in the page: {leftover.group(0)}"
        soup = BeautifulSoup(html, "html.parser")
        values = soup.select(".result-value:not(.result-setting)")
        assert [v["data-result"] for v in values] == [q.ref for q in quotes.get(page, [])], where
        words = {id(v): q.words for v, q in zip(values, quotes.get(page, []))}
        for element in soup.select("[data-result]"):
            name, _, key = element["data-result"].partition(".")
            assert name in published, f"{where}: {element['data-result']} not in results.json"
            result, classes = published[name], element.get("class", [])
            if "result-setting" in classes:
                assert element.get_text() == result["config"][key]["text"], where
                seen["config"] += 1
            elif "result-value" in classes:  # in the words of its shortcode
                assert element.get_text() == quoted_text(result, key, words[id(element)]), where
                seen["metric"] += 1
            elif "result-figure" in classes:
                figure, img = result["figures"][key], element.find("img")
                target = resolve(site_dir, page, img["src"])
                assert target == (site_dir / figure["path"]).resolve(), where
                assert target.is_file(), f"{where}: {img['src']} is missing"
                assert target.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
                alt, caption = img["alt"], element.figcaption.get_text()
                assert any(alt == page["alt"] and caption.startswith(page["caption"])
                           for page in written["figure", element["data-result"]]), (where, alt, caption)
                seen["figure"] += 1
            elif "result-table" in classes:
                table = result["tables"][key]
                head = [th.get_text() for th in element.select("thead th")]
                rows = [[td.get_text() for td in tr.find_all("td")]
                        for tr in element.select("tbody tr")]
                assert head == [str(column) for column in table["columns"]], where
                caption = element.caption.get_text()
                assert any(caption.startswith(page["caption"] + " ")
                           for page in written["table", element["data-result"]]), (where, caption)
                assert rows == table_text(table), where
                seen["table"] += 1
            elif "result-provenance" in classes:
                assert not key and result["provenance"]["profile"] in element.get_text()
                seen["provenance"] += 1
            elif "result-claim" in classes:  # results.json says whether it held
                holds = result["claims"][key]
                assert holds is not False, f"{where}: {element['data-result']} does not hold"
                assert ("result-claim-unchecked" in classes) == (holds is None), where
                assert element.get_text() == ("○" if holds is None else "✓"), where
                seen["claim"] += 1
            else:
                pytest.fail(f"{where}: unexpected element with data-result: {element.name} {classes}")
    assert seen["metric"] and seen["config"] and seen["figure"] and seen["claim"], seen
    # Every claim the pages state is on its page: as many marks as claim shortcodes.
    stated = sum(code.kind.name == "claim" for source in DOCS.rglob("*.md")
                 for code in shortcodes.find(source.read_text(encoding="utf-8")))
    assert seen["claim"] == stated


# ---------------------------------------------------------------- (e) links and anchors


def check_links(site: Path, *pages: Path) -> subprocess.CompletedProcess:
    """pytest-check-links over the built pages (default: all of them): internal links,
    images and anchors. tests/linkcheck_once.py makes it parse each page once."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--check-links", "--check-anchors",
         "--links-ext", "html", "--check-links-ignore", r"^https?://",
         "--ignore", str(site / "404.html"),  # 404.html links from the site root
         "-p", "no:cacheprovider", "-p", "linkcheck_once", "--rootdir", str(site), "-q",
         *map(str, pages or [site])],
        cwd=site, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))})


def test_no_broken_internal_link_or_anchor(flat_site_dir):
    process = check_links(flat_site_dir)
    assert process.returncode == 0, process.stdout[-5000:]
    assert " passed" in process.stdout


def test_link_check_catches_a_broken_anchor(tmp_path, flat_site_dir):
    site = tmp_path / "site"
    shutil.copytree(flat_site_dir, site)
    page = site / "index.html"
    text = page.read_text(encoding="utf-8")
    heading = re.search(r'<h2 id="([\w-]+)"', text).group(1)
    # A good anchor into the page first, so that the broken one is checked against the
    # parse that linkcheck_once kept.
    page.write_text(text.replace(
        "</article>", f'<a href="index.html#{heading}">good</a>'
                      f'<a href="index.html#no-such-anchor">broken</a></article>', 1),
        encoding="utf-8")
    process = check_links(site, page)  # the page with the defect is enough
    assert process.returncode != 0
    assert "1 failed" in process.stdout and "no-such-anchor" in process.stdout, \
        process.stdout[-3000:]


@pytest.mark.parametrize("page", sorted(p.relative_to(ROOT / "docs").as_posix()
                                         for folder in ("lessons", "exercises")
                                         for p in (ROOT / "docs" / folder).glob("*.md")))
def test_every_page_ends_with_key_ideas_and_self_checks(page):
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    assert '!!! abstract "Key ideas"' in text, f"{page}: no Key ideas box"
    checks = text.split("## Check yourself", 1)
    assert len(checks) == 2, f"{page}: no 'Check yourself' section"
    assert checks[1].count('??? question "') >= 2, f"{page}: fewer than two self-checks"


LESSON_PAGES = sorted(p.relative_to(ROOT / "docs").as_posix()
                      for folder in ("lessons", "exercises")
                      for p in (ROOT / "docs" / folder).glob("*.md"))


@pytest.mark.parametrize("page", LESSON_PAGES)
def test_every_page_opens_with_objectives_and_times(page, site_dir):
    """Under the title: what the reader will be able to do, the reading time and how long
    the page's notebook ran in this build (sitebuild/plugin/boxes.py, objectives)."""
    html = BeautifulSoup((site_dir / page.removesuffix(".md") / "index.html")
                         .read_text(encoding="utf-8"), "html.parser")
    article = html.select_one("article")
    first_box = article.find("h1").find_next_sibling(class_="admonition")
    assert first_box is not None and "abstract" in first_box["class"], f"{page}: no opening box"
    title = first_box.select_one(".admonition-title").get_text()
    assert title in ("In this lesson", "In this exercise"), title
    objectives = [li.get_text(" ", strip=True) for li in first_box.select("li")]
    assert len(objectives) >= 2, f"{page}: objectives {objectives}"
    text = first_box.get_text(" ", strip=True)
    assert re.search(r"About \d+ minutes to read\.", text), text
    assert re.search(r"Its notebook ran in \d+ (s|minutes) when this site was built", text), text


def test_reading_time_counts_prose_not_code():
    prose = " ".join(["word"] * 1000)
    code = "```python\n" + "x = 1\n" * 5000 + "```\n"
    assert reading_minutes(prose) == 5
    assert reading_minutes(prose + "\n\n" + code + "<!-- " + prose + " -->") == 5
    assert reading_minutes("Short.") == 1
