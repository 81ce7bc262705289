"""The bump builder of the universal-approximation page, in a real browser.

Debian's chromium on the smoke site (skipped without it), in the light and the dark
scheme: the page's JavaScript sums the same ReLU bumps as the lesson's ``relu_bump`` (the
error it shows equals numpy's on the build's grid), counts four hidden units per bump,
"Fit it for me" overlays the build's fit of the largest trained width the bumps can pay
for, the sliders work from the keyboard and a click on the plot moves the chosen bump;
no console error, no request to another host, nothing serious for axe.
"""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest
import torch

from lesson_code import definitions

pytest.register_assert_rewrite("browser_util")  # before the import: it is also our plugin

from browser_util import new_context, page_problems  # noqa: E402

pytest_plugins = ["browser_util"]

lesson = definitions("universal_approximation")
PAGE = "lessons/universal-approximation/"


def expected_error(curves, num_bumps, ramp_width):
    """Largest and mean squared error of ``num_bumps`` even bumps, by the lesson's relu_bump."""
    x, target = np.array(curves["x"]), np.array(curves["target"])
    lo, hi = x[0], x[-1]
    step = (hi - lo) / num_bumps
    centres = lo + (np.arange(num_bumps) + 0.5) * step
    heights = np.interp(centres, x, target)  # the page reads the target off the same grid
    X = torch.tensor(x, dtype=torch.float64)
    total = sum(lesson.relu_bump(X, c - step / 2, c + step / 2, h, ramp_width).numpy()
                for c, h in zip(centres, heights))
    errors = total - target
    return float(np.abs(errors).max()), float((errors ** 2).mean())


@pytest.fixture(scope="module")
def page_url(site_dir, site_url) -> str:
    assert (site_dir / PAGE / "index.html").is_file(), f"{PAGE} is not in the built site"
    return site_url + PAGE


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_bump_builder_sums_relu_bumps_and_shows_the_trained_fit(browser, page_url, scheme):
    from test_accessibility import COLOUR_RULES, gate, run_axe

    context = new_context(browser, scheme=scheme)
    page = context.new_page()
    problems = page_problems(page, page_url)
    builder = page.locator(".bump-builder")
    page.wait_for_selector(".bump-builder--active")
    href = page.evaluate("document.getElementById('bump-builder-curves').href")
    with urllib.request.urlopen(href) as response:  # 127.0.0.1: the site under test
        curves = json.load(response)

    # Eight even bumps: the page's error is the lesson's relu_bump sum's error.
    builder.locator("#bump-builder-even").select_option("8")
    builder.get_by_role("button", name="Place evenly").click()
    state = page.evaluate("(() => { const r = window.bumpBuilder.evaluate(); "
                          "return {units: r.units, trained: r.trained, max: r.maxError, mse: r.mse, "
                          "ramp: window.bumpBuilder.state.rampWidth}; })()")
    largest, mse = expected_error(curves, 8, state["ramp"])
    assert state["units"] == 32
    assert state["max"] == pytest.approx(largest, rel=1e-9)
    assert state["mse"] == pytest.approx(mse, rel=1e-9)
    trained = max(int(w) for w in curves["fits"] if int(w) <= 32)
    assert state["trained"] == trained
    readout = builder.locator(".bump-builder__readout")
    assert "8 bumps: a hidden layer of 32 ReLU units" in readout.inner_text()

    # Fit it for me: the build's curve appears, and the text says which width it is.
    fit = builder.get_by_role("button", name="Fit it for me")
    assert builder.locator(".bump-builder__fit").is_hidden()
    fit.click()
    assert fit.get_attribute("aria-pressed") == "true"
    assert builder.locator(".bump-builder__fit").is_visible()
    assert f"Training with {trained} hidden units" in readout.inner_text()
    assert builder.locator("[aria-live=polite]").inner_text() == readout.inner_text()

    # The keyboard moves the chosen bump; a click on the plot moves it too.
    centre = builder.get_by_label("Centre")
    before = float(centre.input_value())
    centre.focus()
    page.keyboard.press("ArrowRight")
    assert float(centre.input_value()) == pytest.approx(before + 0.05)
    error_after_key = page.evaluate("window.bumpBuilder.evaluate().maxError")
    assert error_after_key != pytest.approx(largest, rel=1e-9)
    box = builder.locator(".bump-builder__plot").bounding_box()
    page.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + 0.5 * box["height"])
    assert float(centre.input_value()) > 0.5  # three quarters across [-2, 2], minus the margin

    violations = run_axe(page, COLOUR_RULES if scheme == "dark" else None)
    problems += gate(violations, f"{scheme} /{PAGE}")[0]
    watch = context.watch
    problems += watch.console_errors + watch.page_errors + watch.offsite + watch.failed
    context.close()
    assert not problems, "\n".join(problems)


def test_without_javascript_the_builder_says_what_is_missing(browser, page_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(page_url)
    assert "needs JavaScript" in page.locator(".bump-builder noscript, .bump-builder p").first.inner_text()
    context.close()
