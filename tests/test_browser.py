"""The built site in a real browser: Debian's chromium, driven by Playwright.

Every page of the smoke site (found by walking the built folder, so new lessons are
included without a change here) is served on 127.0.0.1 and opened, and must have:
no console error or uncaught exception, no failed load, no request to any other host,
every image loaded (figures included), its math rendered by KaTeX (no raw TeX left, no
KaTeX error, KaTeX's fonts loaded) and no link to a missing page or anchor. Search must
find the course's key terms; a glossary link shows its definition in Material's styled
tooltip; the palette toggle must switch to the dark scheme and back, with figures still on
a light card. Screenshots of the home page and a lesson with a
figure (the viewport at its first figure), light and dark, go to
test-artifacts/screenshots/ for a person to look at.

The self-tests at the end open a copy of the site with deliberate defects and show
that each check reports its defect. Skipped with a reason where /usr/bin/chromium is
missing (CI installs it).
"""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("browser_util")  # before the import: it is also our plugin

from browser_util import (  # noqa: E402
    ARTIFACTS,
    LinkChecker,
    color_scheme,
    dark_figure_problems,
    new_context,
    open_page,
    page_problems,
    pages_with,
    search,
    site_pages,
    toggle_palette,
)

pytest_plugins = ["browser_util"]

SEARCH_TERMS = ["ReLU", "backpropagation"]  # each must be found: the lessons teach them
SCREENSHOTS = ARTIFACTS / "screenshots"


def lesson_with_figure(site_dir) -> str:
    pages = [page for page in pages_with(site_dir, 'class="result-figure"')
             if page.startswith("lessons/")]
    assert pages, "no lesson page shows a figure"
    return pages[0]


def screenshot_at_figure(page, path) -> None:
    """The viewport with the page's first figure in the middle (cheaper than full_page)."""
    page.evaluate("document.querySelector('.md-content figure').scrollIntoView({block: 'center'})")
    page.screenshot(path=path)


def test_every_page_works_in_a_real_browser(site_dir, site_url, browser):
    pages = site_pages(site_dir)
    assert len(pages) >= 3 and "" in pages and "404.html" in pages, pages
    # The checks below must have something to look at: math and figures are on the site.
    assert pages_with(site_dir, 'class="arithmatex"'), "no page has math"
    assert pages_with(site_dir, 'class="result-figure"'), "no page has a figure"

    context = new_context(browser)
    page = context.new_page()
    links = LinkChecker(site_url)
    problems = []
    for path in pages:
        problems += page_problems(page, site_url + path, links)
    context.close()
    assert not problems, f"{len(problems)} problem(s) on {len(pages)} pages:\n" + "\n".join(problems)


def test_search_finds_the_key_terms(site_url, browser):
    context = new_context(browser)
    page = context.new_page()
    open_page(page, site_url)
    missing = [term for term in SEARCH_TERMS if not search(page, term)]
    # A control: the search really answers, and a word on no page finds nothing.
    assert search(page, "MNIST"), "search finds nothing for MNIST: is the search index built?"
    assert search(page, "xyzzyplughquux") == []
    watch = context.watch
    context.close()
    assert not missing, (f"search finds no page for {missing}: the lessons that teach "
                         f"{' and '.join(missing)} are missing or do not use the word")
    assert not watch.offsite and not watch.console_errors and not watch.page_errors, watch


def test_a_glossary_link_shows_its_definition_in_a_styled_tooltip(site_dir, site_url, browser):
    """content.tooltips: Material replaces the browser's plain title= box with its own."""
    lesson = pages_with(site_dir, 'class="glossary-term"')[0]
    context = new_context(browser)
    page = context.new_page()
    open_page(page, site_url + lesson)
    link = page.locator("article a.glossary-term").first
    definition = link.get_attribute("title") or ""
    link.hover()
    tooltip = page.locator(".md-tooltip2--active .md-tooltip2__inner")
    tooltip.wait_for(state="visible", timeout=5_000)
    shown = tooltip.inner_text()
    context.close()
    assert definition and shown.strip() == definition.strip(), (definition, shown)


def test_a_numbers_link_opens_the_folded_cell_that_recorded_it(site_dir, site_url, browser):
    """On the notebook pages the reporting cells' code is folded, their output in view; a
    lesson's number links to such a cell, which opens to show its prompt."""
    lesson = site_url + "lessons/training/"
    context = new_context(browser)
    page = context.new_page()
    open_page(page, lesson)
    href = page.locator('article a.result-value[data-result="training.softmax_wrong_accuracy"]'
                        ).get_attribute("href")
    open_page(page, lesson + href)
    folds = page.locator("details.mnist-folded")
    assert folds.count() >= 3  # the setup cell, the comparison and the home's own
    assert page.locator("details.mnist-folded:not([open])").count() == folds.count() - 1
    prompt = page.locator("#" + href.partition("#")[2])
    assert prompt.is_visible() and prompt.locator("xpath=ancestor::details[@open]").count() == 1
    outputs = page.locator(".celltag_report .jp-Cell-outputWrapper")
    assert outputs.first.is_visible()  # what a folded cell printed stays in view
    page.locator("details.mnist-folded:not([open]) > summary").first.click()
    assert page.locator("details.mnist-folded:not([open])").count() == folds.count() - 2
    context.close()


def test_palette_toggle_and_figures_in_both_schemes(site_dir, site_url, browser):
    lesson = lesson_with_figure(site_dir)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    context = new_context(browser, scheme="light")
    page = context.new_page()
    open_page(page, site_url)
    assert color_scheme(page) == "default"
    page.screenshot(path=SCREENSHOTS / "home-light.png", full_page=True)
    open_page(page, site_url + lesson)
    assert not dark_figure_problems(page)
    screenshot_at_figure(page, SCREENSHOTS / "lesson-light.png")

    # The toggle cycles system -> light -> dark: at most three clicks reach dark.
    seen = [color_scheme(page)]
    while seen[-1] != "slate" and len(seen) <= 3:
        seen.append(toggle_palette(page))
    assert "slate" in seen, f"the palette toggle never switched to the dark scheme: {seen}"

    # The choice sticks across pages, and figures stay on their light card.
    open_page(page, site_url + lesson)
    assert color_scheme(page) == "slate"
    figures = page.locator(".md-content figure img").count()
    assert figures > 0
    problems = dark_figure_problems(page)
    assert not problems, "\n".join(problems)
    screenshot_at_figure(page, SCREENSHOTS / "lesson-dark.png")
    open_page(page, site_url)
    assert color_scheme(page) == "slate"
    page.screenshot(path=SCREENSHOTS / "home-dark.png", full_page=True)

    # And back: one more click leaves the dark scheme.
    seen = [toggle_palette(page)]
    while seen[-1] == "slate" and len(seen) <= 3:
        seen.append(toggle_palette(page))
    assert seen[-1] == "default", f"the toggle does not leave the dark scheme: {seen}"

    # Self-test of the figure check: a transparent card on slate is reported.
    open_page(page, site_url + lesson)
    for _ in range(3):
        if color_scheme(page) == "slate":
            break
        toggle_palette(page)
    page.add_style_tag(content=".md-typeset figure img { background-color: transparent !important }")
    assert len(dark_figure_problems(page)) == figures
    watch = context.watch
    context.close()
    assert not watch.offsite and not watch.console_errors and not watch.page_errors, watch



def shown(figures) -> list[int]:
    """Which of a slider's figures are visible."""
    return [i for i in range(figures.count()) if figures.nth(i).is_visible()]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_width_sliders_show_one_figure_at_a_time_from_the_keyboard(site_dir, site_url, browser,
                                                                   scheme):
    pages = pages_with(site_dir, 'class="fit-slider"')
    assert {"lessons/capacity/", "lessons/universal-approximation/"} <= set(pages), pages
    context = new_context(browser, scheme=scheme)
    page = context.new_page()
    checked = 0
    for path in pages:
        open_page(page, site_url + path)
        for container in page.locator(".fit-slider").all():
            # A slider in a collapsed solution: open it, as a reader would.
            container.evaluate("c => { const d = c.closest('details'); if (d) d.open = true; }")
            figures = container.locator("figure")
            count = figures.count()
            assert count >= 2, path
            assert shown(figures) == [0], path
            slider = container.locator("input[type=range]")
            slider.focus()
            page.keyboard.press("End")
            assert shown(figures) == [count - 1], path
            value = container.locator("output").inner_text()
            assert slider.get_attribute("aria-valuetext").startswith(f"{value} "), path
            image = figures.nth(count - 1).locator("img")
            image.scroll_into_view_if_needed()
            page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                                   arg=image.element_handle())
            page.keyboard.press("ArrowLeft")
            assert shown(figures) == [count - 2], path
            checked += 1
    watch = context.watch
    context.close()
    assert checked >= 2
    assert not watch.offsite and not watch.console_errors and not watch.page_errors, watch

# ---------------------------------------------------------------- the gates bite


@pytest.mark.parametrize("name, expected", [
    ("selftest-broken-link.html", ["broken link to /lessons/no-such-lesson/ (HTTP 404)",
                                   "broken link to /index.html#no-such-anchor (no such anchor)"]),
    ("selftest-missing-image.html", ["image did not load: generated/no-such-figure.svg",
                                     "/generated/no-such-figure.svg answered 404"]),
    ("selftest-external-script.html", [
        "request to another host: https://cdn.example.invalid/katex.min.js",
        "request to another host: https://fonts.example.invalid/css?family=Roboto"]),
    ("selftest-page-error.html", ["uncaught exception: ", "selftest: a script that throws"]),
    ("selftest-broken-math.html", ["KaTeX error: ", "TeX delimiters left in the text: "
                                   "'Never rendered: $$ y = W x + b $$'"]),
])
def test_page_checks_report_each_defect(broken_site_url, browser, name, expected):
    context = new_context(browser)
    page = context.new_page()
    problems = page_problems(page, broken_site_url + name, LinkChecker(broken_site_url))
    context.close()
    report = "\n".join(problems)
    for text in expected:
        assert text in report, f"{name}: the checks missed {text!r}; they reported:\n{report}"
