"""Accessibility of every page: axe-core in Debian's chromium, and meaningful alt text.

axe-core (the copy bundled in the axe-playwright-python wheel, injected into the page, so
nothing is fetched) runs on every page of the smoke site, found by walking the built
folder: all rules in the light scheme, and the colour rules again in the dark scheme.
A serious or critical violation fails the test unless THEME_FINDINGS lists it: those
are Material's own markup, each with the reason it is not fixed here. What could be
fixed is: colours and link underlines in docs/stylesheets/extra.css ("accessibility
fixes"), and a few lines in overrides/main.html that make a formula or table wider than
the column focusable, so it can be scrolled from the keyboard. Moderate and minor
findings do not fail; every violation of any impact, allowed or not, is written to
test-artifacts/accessibility.json for a person to read.

Every image in the content needs alt text that says what it shows: not empty, not a file
name, at least a few words (figures from the results hook state their real numbers).

The self-tests open a copy of the site with deliberate defects (a missing alt text,
grey-on-white text) and show that both checks report them.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.register_assert_rewrite("browser_util")  # before the import: it is also our plugin

from browser_util import ARTIFACTS, alt_text_problems, color_scheme, new_context, open_page, site_pages  # noqa: E402

pytest_plugins = ["browser_util"]

GATED_IMPACTS = {"serious", "critical"}
# The rules whose outcome depends on colours: the only ones that can differ in dark mode.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]


@dataclass(frozen=True)
class Allowed:
    rule: str     # axe rule id
    target: str   # regular expression searched in the node's CSS selector
    reason: str


# Findings in Material's own markup that no CSS rule can fix. Anything else fails.
THEME_FINDINGS = [
    Allowed("aria-dialog-name", r"^\.md-search$",
            "Material's search overlay <div class='md-search' role='dialog'> has no "
            "accessible name (material/templates/partials/search.html). Naming it means "
            "copying that whole partial into overrides/, which would freeze Material's "
            "search markup at today's version across upgrades; the search input inside "
            "it is labelled."),
]


def axe_script() -> Path:
    try:
        import axe_playwright_python
    except ImportError:
        pytest.fail("axe-playwright-python is not installed (it is in requirements.txt): "
                    "pip install -r requirements.txt")
    return Path(axe_playwright_python.__file__).parent / "axe.min.js"


# axe's colour-contrast check costs milliseconds per text element and is most of its run
# time. Code blocks and rendered math are made of hundreds of tiny spans that repeat the
# same colours: a code token of one kind looks the same throughout a page (same class,
# colour and box), and every glyph of a formula has the formula's colour. So only the
# first token of each kind and the first glyph of each formula are checked; the others
# are marked and left out (about 60% fewer elements on a lesson, same verdicts). The
# notebook pages' code cells (mkdocs-jupyter's .highlight-ipynb) are the same case, and
# their tokens were most of the sweep's time.
MARK_REPEATS = """() => {
  const seen = new Set();
  const tokens = ".highlight code span[class], .highlight-ipynb pre span[class]";
  for (const span of document.querySelectorAll(tokens)) {
    if (span.children.length) continue;  // a line or highlight wrapper: keep it and its tokens
    const box = span.closest(".hll, .admonition, details, .tabbed-block");
    const key = [span.className, getComputedStyle(span).color, box ? box.className : ""].join("|");
    if (seen.has(key)) span.setAttribute("data-axe-repeat", "");
    else seen.add(key);
  }
  for (const formula of document.querySelectorAll(".katex-html")) {
    const glyphs = [...formula.querySelectorAll("span")].filter(
      span => !span.children.length && span.textContent.trim());
    glyphs.slice(1).forEach(span => span.setAttribute("data-axe-repeat", ""));
  }
}"""


def start_axe(page, rules: list[str] | None = None) -> None:
    """Start axe-core on the open page (all rules, or only ``rules``) without waiting, so
    that two pages can be checked at once; ``axe_violations`` collects the result."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(axe_script()))
    page.evaluate(MARK_REPEATS)
    options = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    page.evaluate("""options => {
      window.__axeResult = null;
      axe.run({exclude: [["[data-axe-repeat]"]]}, options).then(
        results => { window.__axeResult = {violations: results.violations}; },
        error => { window.__axeResult = {error: String(error)}; });
    }""", options)


def axe_violations(page) -> list[dict]:
    page.wait_for_function("window.__axeResult !== null", timeout=180_000)
    result = page.evaluate("window.__axeResult")
    if "error" in result:
        pytest.fail(f"axe-core failed on {page.url}: {result['error']}")
    return result["violations"]


def run_axe(page, rules: list[str] | None = None) -> list[dict]:
    """axe-core's violations on the open page (all rules, or only ``rules``)."""
    start_axe(page, rules)
    return axe_violations(page)


def _selector(node: dict) -> str:
    # A target is a list of selectors, one per frame or shadow root (which may be lists).
    return " >>> ".join(" ".join(part) if isinstance(part, list) else part
                        for part in node["target"])


def gate(violations: list[dict], where: str,
         allowed: list[Allowed] = THEME_FINDINGS) -> tuple[list[str], set[Allowed]]:
    """The serious/critical violations that no allowlist entry covers, as sentences, and
    the entries that covered something."""
    problems, used = [], set()
    for violation in violations:
        if violation["impact"] not in GATED_IMPACTS:
            continue
        for node in violation["nodes"]:
            selector = _selector(node)
            match = next((entry for entry in allowed if entry.rule == violation["id"]
                          and re.search(entry.target, selector)), None)
            if match:
                used.add(match)
                continue
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            problems.append(f"{where}: {violation['id']} ({violation['impact']}) at "
                            f"{selector}: {node['html'][:160]} -- {summary[:300]} "
                            f"[{violation['helpUrl']}]")
    return problems, used


@pytest.fixture(scope="module")
def sweep(site_dir, site_url, browser) -> dict:
    """Every page once in each scheme: axe's violations, and alt-text problems (light)."""
    results = {"axe": {}, "alt": []}
    light = new_context(browser, scheme="light").new_page()
    dark = new_context(browser, scheme="dark").new_page()
    for path in site_pages(site_dir):
        # The page in both schemes, opened and checked by axe in both at once (two cores,
        # two renderers).
        open_page(light, site_url + path, dark)
        assert color_scheme(light) == "default", f"/{path}: not in the light scheme"
        assert color_scheme(dark) == "slate", f"/{path}: not in the dark scheme"
        results["alt"] += [f"/{path}: {problem}" for problem in alt_text_problems(light)]
        start_axe(light)
        start_axe(dark, COLOUR_RULES)
        results["axe"][f"light /{path}"] = axe_violations(light)
        results["axe"][f"dark /{path}"] = axe_violations(dark)
    light.context.close()
    dark.context.close()

    ARTIFACTS.mkdir(exist_ok=True)
    report = {where: [{"rule": v["id"], "impact": v["impact"], "help": v["help"],
                       "nodes": [{"target": _selector(n), "html": n["html"][:300]}
                                 for n in v["nodes"]]}
                      for v in violations]
              for where, violations in results["axe"].items()}
    (ARTIFACTS / "accessibility.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return results


def test_no_serious_accessibility_violation(sweep):
    problems, used = [], set()
    for where, violations in sweep["axe"].items():
        found, allowed = gate(violations, where)
        problems += found
        used |= allowed
    assert len(sweep["axe"]) >= 6  # at least home, a lesson and 404, in both schemes
    assert not problems, (f"{len(problems)} serious/critical accessibility violation(s) "
                          f"(all findings: test-artifacts/accessibility.json):\n"
                          + "\n".join(problems))
    for entry in set(THEME_FINDINGS) - used:
        warnings.warn(f"THEME_FINDINGS entry no longer needed, remove it: {entry}", stacklevel=1)


def test_every_image_has_meaningful_alt_text(sweep):
    assert not sweep["alt"], "\n".join(sweep["alt"])


# ---------------------------------------------------------------- the gates bite


def test_accessibility_checks_report_defects(broken_site_url, browser):
    context = new_context(browser)
    page = context.new_page()

    open_page(page, broken_site_url + "selftest-missing-alt.html")
    alt = "\n".join(alt_text_problems(page))
    problems, used = gate(run_axe(page), "missing-alt")
    assert "has no alt text" in alt, alt
    assert "has a file name as alt text" in alt, alt
    assert "too short an alt text" in alt and "'A plot'" in alt, alt
    assert any(" image-alt (critical) " in problem for problem in problems), problems
    # The allowlist covers the theme's finding and nothing of the page's own.
    assert used == set(THEME_FINDINGS), used
    assert not any("aria-dialog-name" in problem for problem in problems)

    open_page(page, broken_site_url + "selftest-low-contrast.html")
    problems, _ = gate(run_axe(page, COLOUR_RULES), "low-contrast")
    assert any(" color-contrast (serious) " in problem and "Grey on white" in problem
               for problem in problems), problems

    # An allowlist entry only covers its own rule and selector.
    violation = {"id": "color-contrast", "impact": "serious", "helpUrl": "",
                 "nodes": [{"target": [".md-search"], "html": "<div>", "failureSummary": ""}]}
    assert gate([violation], "synthetic")[0], "an entry for another rule hid a violation"
    context.close()
