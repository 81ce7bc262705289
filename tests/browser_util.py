"""Real-browser checks of the built site, shared by test_browser.py and test_accessibility.py.

Loaded by those two files as a pytest plugin (``pytest_plugins = ["browser_util"]``), so
its fixtures exist once per run: ``site_url`` serves the smoke site (conftest's
``site_dir``) on 127.0.0.1, and ``browser`` is a chromium driven by Playwright, one per
test module: Debian's /usr/bin/chromium where it is, else Playwright's own build (installed
once with ``python -m playwright install chromium``). With neither, the tests skip with a
message saying how to install one.

The checking functions return lists of problems as plain sentences instead of asserting,
so the same code runs on the real site and, in the self-tests, on a copy of it with
deliberate defects (``make_broken_site``), where it must report each one.

Nothing here reaches another host: every request from the browser to an address other
than 127.0.0.1/localhost is recorded and aborted, and chromium's own host resolver is
told to resolve nothing else.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"  # git-ignored: screenshots and reports for a person to look at
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (CI's container, .ci/run)
NO_CHROMIUM = (
    "no chromium for the browser tests: /usr/bin/chromium is missing and Playwright's own "
    "chromium is not installed. Install either, once: `python -m playwright install chromium` "
    "(any system; on Linux `python -m playwright install --with-deps chromium` also installs "
    "the system libraries it needs), or on Debian `apt-get install chromium`")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    # A second fence behind the request router: no host name but ours resolves at all.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
VIEWPORT = {"width": 1280, "height": 900}


# ---------------------------------------------------------------- the site, served


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature is http.server's
        pass


@contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 (a free port) from a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def site_pages(site: Path) -> list[str]:
    """Every HTML page of the built site, as the URL path a visitor uses ("lessons/data/").

    The list comes from walking the folder, so pages added later are checked without
    a change here (the sitemap lists no URLs: site_url is set only when deploying).
    """
    pages = []
    for path in sorted(site.rglob("*.html")):
        relative = path.relative_to(site).as_posix()
        pages.append(relative[: -len("index.html")] if path.name == "index.html" else relative)
    return pages


def page_file(site: Path, page: str) -> Path:
    """The file behind a URL path of ``site_pages``."""
    return site / (page + "index.html" if page == "" or page.endswith("/") else page)


def pages_with(site: Path, text: str) -> list[str]:
    """The pages whose HTML contains ``text`` (a plain text test, no parsing)."""
    return [page for page in site_pages(site)
            if text in page_file(site, page).read_text(encoding="utf-8")]


# ---------------------------------------------------------------- the browser


def chromium_executable(debian: Path) -> str | None:
    """The chromium to drive: Debian's where it is installed, else None, which tells
    Playwright to start its own build (if ``playwright install`` put one there)."""
    return str(debian) if debian.is_file() else None


@contextmanager
def launch() -> Iterator:
    """A headless chromium through Playwright (``chromium_executable``); skips the test,
    saying how to install one, when neither Debian's nor Playwright's is there."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    executable = chromium_executable(CHROMIUM)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except PlaywrightError as error:
            # Playwright's message when its browser was never downloaded.
            if executable is None and "Executable doesn't exist" in str(error):
                pytest.skip(NO_CHROMIUM)
            raise
        try:
            yield browser
        finally:
            browser.close()


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome-error", "file"):  # file: the offline copy
        return True
    return parts.hostname in LOCAL_HOSTS


@dataclass
class Watch:
    """What one browser context did: requests to other hosts, errors, failed loads.

    ``offsite`` accumulates for the context's lifetime; ``reset()`` clears the per-page
    lists (console, page errors, failed responses) before the next page is opened.
    """

    offsite: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.offsite.clear()
        self.console_errors.clear()
        self.page_errors.clear()
        self.failed.clear()

    def _record_offsite(self, url: str) -> None:
        if url not in self.offsite:
            self.offsite.append(url)

    def attach(self, context) -> None:
        def route(route):
            url = route.request.url
            if is_local(url):
                route.continue_()
            else:
                self._record_offsite(url)
                route.abort("blockedbyclient")

        context.route("**/*", route)
        # Requests that the router does not see (should there be any) are caught here.
        context.on("request", lambda request: None if is_local(request.url)
                   else self._record_offsite(request.url))
        context.on("page", self._watch_page)

    def _watch_page(self, page) -> None:
        page.on("console", lambda message: self.console_errors.append(
            f"{message.text} ({message.location.get('url', '')})")
            if message.type == "error" else None)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("response", lambda response: self.failed.append(
            f"{response.url} answered {response.status}") if response.status >= 400 else None)
        # ERR_ABORTED is a load cancelled by leaving the page, not a broken resource.
        page.on("requestfailed", lambda request: self.failed.append(
            f"{request.url} failed: {request.failure}")
            if is_local(request.url) and "ERR_ABORTED" not in (request.failure or "") else None)


def new_context(browser, scheme: str = "light"):
    """A fresh context (its own storage: the palette choice starts from the default)."""
    context = browser.new_context(viewport=VIEWPORT, color_scheme=scheme,
                                  reduced_motion="reduce", service_workers="block")
    watch = Watch()
    watch.attach(context)
    context.watch = watch
    return context


def open_page(page, url: str, *others) -> None:
    """Open ``url`` and wait until it is complete: lazy images loaded, fonts, network idle.

    With ``others`` (more pages, in other contexts: the other colour scheme) it opens
    ``url`` in all of them at once, so that their loads and network-idle waits overlap.
    """
    pages = (page, *others)
    for each in pages:
        each.goto(url, wait_until="commit")  # the response has started: navigation runs on
    for each in pages:
        each.wait_for_load_state("load")
        each.evaluate(LOAD_ALL_IMAGES)
    for each in pages:
        each.wait_for_load_state("networkidle")


# Figures are loading="lazy": make every image load now, so that a broken one is seen.
LOAD_ALL_IMAGES = """async () => {
  const images = [...document.images];
  for (const image of images) image.loading = "eager";
  await Promise.all(images.map(image => image.decode().catch(() => null)));
  await document.fonts.ready;
}"""


# ---------------------------------------------------------------- what a page must satisfy

PAGE_FACTS = r"""async () => {
  const RAW = /\$\$|\\\(|\\\)|\\\[|\\\]/;
  const visible = element => {
    const clone = element.cloneNode(true);
    clone.querySelectorAll(".katex-mathml").forEach(node => node.remove());
    return clone.textContent;
  };
  const facts = {images: [], math: 0, rendered: 0, shown: 0, raw: [], errors: [], stray: [],
                 katexFont: false};
  for (const image of document.images) {
    facts.images.push({src: image.getAttribute("src"), ok: image.complete && image.naturalWidth > 0});
  }
  for (const element of document.querySelectorAll(".arithmatex")) {
    facts.math += 1;
    if (element.querySelector(".katex")) facts.rendered += 1;
    if (element.getClientRects().length) facts.shown += 1;  // not inside a closed <details>
    const text = visible(element);
    if (RAW.test(text)) facts.raw.push(text.trim().slice(0, 80));
  }
  for (const element of document.querySelectorAll(".katex-error")) {
    facts.errors.push((element.getAttribute("title") || element.textContent).slice(0, 120));
  }
  // TeX delimiters left in prose (outside code and rendered math) are math nobody rendered.
  const content = document.querySelector(".md-content") || document.body;
  const walker = document.createTreeWalker(content, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest("pre, code, script, style, textarea, .katex, .arithmatex")) continue;
    if (RAW.test(node.textContent)) facts.stray.push(node.textContent.trim().slice(0, 80));
  }
  await document.fonts.ready;  // the layout above asked for the fonts the math needs
  facts.katexFont = [...document.fonts].some(
    font => font.family.replace(/["']/g, "").startsWith("KaTeX") && font.status === "loaded");
  facts.links = [...document.querySelectorAll("a[href]")].map(a => a.href);
  return facts;
}"""


def page_problems(page, url: str, links: LinkChecker | None = None) -> list[str]:
    """Open ``url`` in ``page`` and return every problem found, each as a sentence.

    Checks: console errors and uncaught exceptions; failed loads (4xx/5xx); requests to
    another host; images that did not load; math left as raw TeX, KaTeX errors, KaTeX
    fonts not loaded; and (with ``links``) links to missing pages or anchors.
    """
    watch: Watch = page.context.watch
    watch.reset()
    open_page(page, url)
    facts = page.evaluate(PAGE_FACTS)
    where = urlsplit(url).path
    problems = [f"{where}: console error: {text}" for text in watch.console_errors]
    problems += [f"{where}: uncaught exception: {text}" for text in watch.page_errors]
    problems += [f"{where}: {text}" for text in watch.failed]
    problems += [f"{where}: request to another host: {other}" for other in watch.offsite]
    problems += [f"{where}: image did not load: {image['src']}"
                 for image in facts["images"] if not image["ok"]]
    if facts["rendered"] < facts["math"]:
        problems.append(f"{where}: {facts['math'] - facts['rendered']} of {facts['math']} "
                        f".arithmatex elements have no KaTeX rendering")
    problems += [f"{where}: raw TeX in rendered math: {text!r}" for text in facts["raw"]]
    problems += [f"{where}: KaTeX error: {text}" for text in facts["errors"]]
    problems += [f"{where}: TeX delimiters left in the text: {text!r}" for text in facts["stray"]]
    if facts["shown"] and not facts["katexFont"]:
        problems.append(f"{where}: the page has math but no KaTeX font loaded (blank glyphs)")
    if links is not None:
        problems += [f"{where}: {problem}" for problem in links.check(facts["links"])]
    return problems


class LinkChecker:
    """Follows same-site links over HTTP; a missing page or anchor is a problem.

    Results are remembered, so each target is fetched once per run.
    """

    ID = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""")

    def __init__(self, base: str):
        self.base = base
        self._status: dict[str, tuple[int, set[str]]] = {}

    def _fetch(self, url: str) -> tuple[int, set[str]]:
        if url not in self._status:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:  # 127.0.0.1 only
                    body = response.read()
                    ids = set()
                    if "html" in response.headers.get("Content-Type", ""):
                        ids = set(self.ID.findall(body.decode("utf-8", "replace")))
                    self._status[url] = (response.status, ids)
            except urllib.error.HTTPError as error:
                self._status[url] = (error.code, set())
        return self._status[url]

    def check(self, hrefs: list[str]) -> list[str]:
        problems = []
        for href in dict.fromkeys(hrefs):
            if not href.startswith(self.base):
                continue  # another host (a link, never fetched) or mailto: and the like
            target, fragment = urldefrag(href)
            status, ids = self._fetch(target)
            path = target[len(self.base) - 1:]
            if status != 200:
                problems.append(f"broken link to {path} (HTTP {status})")
            elif fragment and fragment not in ids:
                problems.append(f"broken link to {path}#{fragment} (no such anchor)")
        return problems


# ---------------------------------------------------------------- search, palette


def search(page, term: str) -> list[str]:
    """Type ``term`` into Material's search box; return the titles of the results (maybe []).

    Material reads the box on keyup and answers each query asynchronously, so typing key by
    key leaves answers to prefixes of ``term`` on the screen for a moment. Instead the box
    is emptied (a keyup Material sees: it shows its placeholder once the index is loaded),
    then filled with the whole term and one keyup sent: the next answer is ``term``'s.
    """
    box = page.locator("input.md-search__input")
    meta = page.locator(".md-search-result__meta")
    box.click(force=True)
    box.fill("")
    box.press("End")
    page.wait_for_function(
        """() => /type to start/i.test(
             document.querySelector(".md-search-result__meta")?.textContent ?? "")""",
        timeout=15_000)
    box.fill(term)
    box.press("End")
    page.wait_for_function(
        """() => {
          const meta = document.querySelector(".md-search-result__meta").textContent;
          if (/no matching/i.test(meta)) return true;
          const titles = [...document.querySelectorAll(
            ".md-search-result__item .md-search-result__article h1")];
          return /match/i.test(meta) && titles.some(title => title.textContent.trim());
        }""", timeout=15_000)
    if re.search("no matching", meta.inner_text(), re.I):
        return []
    return page.locator(".md-search-result__item .md-search-result__article h1, "
                        ".md-search-result__item .md-search-result__article h2").all_inner_texts()


def color_scheme(page) -> str:
    return page.evaluate("document.body.getAttribute('data-md-color-scheme')")


def toggle_palette(page) -> str:
    """Click the header's palette toggle once; return the scheme it leads to."""
    page.locator("form[data-md-component=palette] label:visible").click()
    return color_scheme(page)


FIGURE_BACKGROUNDS = """() => [...document.querySelectorAll(".md-content figure img")].map(img => {
  // The first non-transparent background from the image up: what the figure is drawn on.
  for (let element = img; element; element = element.parentElement) {
    const color = getComputedStyle(element).backgroundColor;
    const parts = color.match(/[\\d.]+/g).map(Number);
    const alpha = parts.length > 3 ? parts[3] : 1;
    if (alpha > 0) {
      return {src: img.getAttribute("src"), color, element: element.tagName,
              rgb: parts.slice(0, 3), alpha};
    }
  }
  return {src: img.getAttribute("src"), color: "none", element: "none", rgb: [0, 0, 0], alpha: 0};
})"""


def relative_luminance(rgb: list[float]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def dark_figure_problems(page) -> list[str]:
    """Figures are dark ink on transparent SVG: each must sit on an opaque, light card."""
    problems = []
    for figure in page.evaluate(FIGURE_BACKGROUNDS):
        if figure["alpha"] < 1 or relative_luminance(figure["rgb"]) < 0.8:
            problems.append(f"figure {figure['src']} sits on {figure['color']} "
                            f"(from <{figure['element'].lower()}>): not an opaque light background")
    return problems


# ---------------------------------------------------------------- alt text

ALT_FACTS = """() => [...document.querySelectorAll(".md-content img")].map(img => ({
  src: img.getAttribute("src"), alt: img.getAttribute("alt"),
  inFigure: Boolean(img.closest("figure")),
}))"""
FILENAME = re.compile(r"^\S+\.(svg|png|jpe?g|gif|webp|avif)$", re.IGNORECASE)
MIN_ALT_WORDS = 4


def alt_text_problems(page) -> list[str]:
    """Every image in the content needs alt text that says what it shows: words, not a name."""
    problems = []
    for image in page.evaluate(ALT_FACTS):
        alt, src = (image["alt"] or "").strip(), image["src"] or ""
        what = f"<img src={src}>"
        if not alt:
            problems.append(f"{what} has no alt text")
        elif FILENAME.match(alt) or alt == src.rsplit("/", 1)[-1] or alt == src:
            problems.append(f"{what} has a file name as alt text: {alt!r}")
        elif len(alt.split()) < MIN_ALT_WORDS:
            problems.append(f"{what} has too short an alt text to describe it: {alt!r}")
    return problems


# ---------------------------------------------------------------- a copy of the site with defects

# Each page is a real page of the site with one kind of defect in its article, so that the
# checks above can be shown to catch it. Keys are file names at the site root.
DEFECTS = {
    "selftest-broken-link.html":
        '<p><a href="lessons/no-such-lesson/">A lesson that does not exist</a> and '
        '<a href="index.html#no-such-anchor">an anchor that does not exist</a>.</p>',
    "selftest-missing-image.html":
        '<figure><img src="generated/no-such-figure.svg" '
        'alt="A figure file that the build never wrote"></figure>',
    "selftest-missing-alt.html":
        '<figure class="result-figure"><img src="{figure}"></figure>'
        '<figure class="result-figure"><img src="{figure}" alt="{figure_name}"></figure>'
        '<figure class="result-figure"><img src="{figure}" alt="A plot"></figure>',
    "selftest-external-script.html":
        '<script src="https://cdn.example.invalid/katex.min.js"></script>'
        '<link rel="stylesheet" href="https://fonts.example.invalid/css?family=Roboto">',
    "selftest-page-error.html":
        '<script>throw new Error("selftest: a script that throws");</script>',
    "selftest-broken-math.html":
        r'<p>Bad TeX: <span class="arithmatex">\(\frac{1}{\)</span>.</p>'
        r'<p>Never rendered: $$ y = W x + b $$</p>',
    "selftest-low-contrast.html":
        '<p style="color: #b0b0b0; background-color: #ffffff">Grey on white, hard to read.</p>',
}


def make_broken_site(site: Path, dest: Path) -> Path:
    """A copy of the built ``site`` plus one page per entry of ``DEFECTS`` (at the root)."""
    shutil.copytree(site, dest)
    home = (dest / "index.html").read_text(encoding="utf-8")
    figure = next(iter(sorted((dest / "generated").rglob("*.svg")))).relative_to(dest).as_posix()
    for name, defect in DEFECTS.items():
        defect = defect.replace("{figure}", figure).replace("{figure_name}", figure.rsplit("/", 1)[-1])
        assert "</article>" in home, "the home page has no <article>: Material changed?"
        (dest / name).write_text(home.replace("</article>", defect + "</article>", 1),
                                 encoding="utf-8")
    return dest


# ---------------------------------------------------------------- fixtures (a pytest plugin)


@pytest.fixture(scope="session")
def site_url(site_dir) -> Iterator[str]:
    """The smoke site served on 127.0.0.1 for the whole run."""
    with serve(site_dir) as url:
        yield url


@pytest.fixture(scope="module")
def broken_site_url(site_dir, tmp_path_factory) -> Iterator[str]:
    """A copy of the smoke site with the pages of ``DEFECTS`` added, served on 127.0.0.1."""
    site = make_broken_site(site_dir, tmp_path_factory.mktemp("broken") / "site")
    with serve(site) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One chromium per test module; each test opens its own contexts and pages."""
    with launch() as launched:
        yield launched
