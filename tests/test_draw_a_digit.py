"""Tests of the "Draw a digit" page: the home's functions, and the page in a real browser.

Unit tests: MNIST's preprocessing as the home implements it (fits the 20×20 box, centres
the mass, ignores where and how large the digit was drawn), the float16 export and the
numpy mirror of the page's arithmetic.

Browser tests (Debian's chromium on the smoke site, skipped without it): the page's own
JavaScript classifies the exported test images as PyTorch did at build time and
preprocesses the exported drawings as the home's ``preprocess`` did; a stroke drawn with
the mouse and one with a pen (pointer events) gets a prediction; the keyboard
alternative (the list of test images) gives the same readout, in an aria-live region;
no console error, no request to another host, axe finds nothing serious in the light
and the dark scheme; without JavaScript a message says what is missing. The time per
prediction is printed (``pytest -s``).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from lesson_code import definitions

pytest.register_assert_rewrite("browser_util")  # before the import: it is also our plugin

from browser_util import new_context, page_problems  # noqa: E402

pytest_plugins = ["browser_util"]

lesson = definitions("draw_a_digit")
SIZE, BOX = lesson.SIZE, lesson.BOX


def centre_of_mass(image):
    rows, cols = np.indices(image.shape) + 0.5
    return (rows * image).sum() / image.sum(), (cols * image).sum() / image.sum()


def blob(height, width, top, left, canvas=(280, 280)):
    """An ink rectangle with a hole, on an empty canvas: a shape with a known box."""
    ink = np.zeros(canvas)
    ink[top:top + height, left:left + width] = 1.0
    ink[top + height // 3:top + 2 * height // 3, left + width // 3:left + 2 * width // 3] = 0.0
    return ink


# ---------------------------------------------------------------- the home's functions


def test_resize_weights_average_what_each_pixel_covers():
    R = lesson.resize_weights(280, 28)
    assert R.shape == (28, 280)
    np.testing.assert_allclose(R.sum(axis=1), 1.0)
    np.testing.assert_allclose(R[3, 30:40], 0.1)  # ten input pixels, equally
    assert R[3, :30].sum() == 0 and R[3, 40:].sum() == 0
    up = lesson.resize_weights(3, 7)  # growing: still rows that sum to one
    np.testing.assert_allclose(up.sum(axis=1), 1.0)


@pytest.mark.parametrize("height, width", [(200, 120), (60, 180), (30, 30)])
def test_preprocess_fits_the_box_and_centres_the_mass(height, width):
    image = lesson.preprocess(blob(height, width, top=17, left=41))
    rows, cols = np.nonzero(image > 1e-9)
    extent = (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    longer = max(height, width)
    assert max(extent) == BOX  # the longer side fills the 20×20 box...
    assert abs(min(extent) - BOX * min(height, width) / longer) <= 1  # ...keeping the aspect
    y, x = centre_of_mass(image)
    assert abs(y - SIZE / 2) <= 0.5 and abs(x - SIZE / 2) <= 0.5  # whole-pixel shift
    assert image.max() <= 1 + 1e-12 and image.min() >= 0


def test_preprocess_forgets_where_and_how_large_the_digit_was_drawn():
    here = lesson.preprocess(blob(200, 120, top=10, left=20))
    there = lesson.preprocess(blob(200, 120, top=70, left=150))
    np.testing.assert_array_equal(here, there)
    # Twice as large: the same box at 20×20, up to the anti-aliased edge pixels.
    small = lesson.preprocess(blob(100, 60, top=5, left=5))
    large = lesson.preprocess(blob(200, 120, top=5, left=5))
    assert np.abs(small - large).mean() < 0.05


def test_preprocess_of_an_empty_pad_is_empty():
    assert not lesson.preprocess(np.zeros((280, 280))).any()
    faint = np.full((280, 280), lesson.INK_THRESHOLD / 2)  # below the threshold: not ink
    assert not lesson.preprocess(faint).any()


def test_shifted_and_shrunk_keep_the_ink():
    image = np.zeros((SIZE, SIZE))
    image[4:24, 6:22] = np.linspace(0, 1, 16)
    moved = lesson.shifted(image, 3, -4)
    np.testing.assert_array_equal(moved[7:27, 2:18], image[4:24, 6:22])
    np.testing.assert_array_equal(lesson.shifted(moved, -3, 4), image)
    small = lesson.shrunk(image, 14, 2, 9)
    assert math.isclose(small.sum() * 4, image.sum())  # a quarter of the area, same shade


def test_float16_export_round_trips_and_page_forward_is_the_network():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    layers = lesson.linear_layers(net)
    data = lesson.export_float16(layers)
    assert len(data) == 2 * sum(p.numel() for p in net.parameters())
    back = lesson.import_float16(data, [W.shape for W, _ in layers])
    for (W, b), (W16, b16) in zip(layers, back):
        np.testing.assert_array_equal(W16, W.astype(np.float16).astype(np.float32))
        np.testing.assert_array_equal(b16, b.astype(np.float16).astype(np.float32))
    with pytest.raises(ValueError):
        lesson.import_float16(data + b"\0\0", [W.shape for W, _ in layers])
    X = torch.randn(20, 12)
    with torch.no_grad():
        expected = torch.softmax(net(X), dim=1).numpy()
    np.testing.assert_allclose(lesson.page_forward(layers, X.numpy()), expected, atol=1e-6)
    np.testing.assert_allclose(lesson.page_forward(back, X.numpy()), expected, atol=1e-2)



def test_the_page_script_run_in_v8_computes_what_page_forward_computes():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 3))
    layers = lesson.linear_layers(net)
    weights = lesson.export_float16(layers)
    shapes = [list(W.shape) for W, _ in layers]
    engine = lesson.page_script_engine(weights, {"layers": shapes, "mean": 0.5, "std": 2.0,
                                                 "box": 20, "inkThreshold": 0.1})
    ink = np.random.default_rng(0).random((30, 12))
    run = json.loads(engine.call("classifyAll", ink.tolist()))
    expected = lesson.page_forward(lesson.import_float16(weights, shapes), (ink - 0.5) / 2.0)
    np.testing.assert_allclose(run["probs"], expected, rtol=0, atol=1e-12)
    assert run["ms"] >= 0

# ---------------------------------------------------------------- the page in a browser

PAGE = "lessons/draw-a-digit/"

PARITY = """async () => {
  const api = await window.drawDigit;
  const samples = [...api.data.samples, ...api.data.mistakes];
  const argmax = (p) => p.indexOf(Math.max(...p));
  const results = samples.map((s) => {
    const probs = api.classifyStored(s.pixels);
    return {index: s.index, page: argmax(probs), torch: argmax(s.torch),
            diff: Math.max(...probs.map((p, d) => Math.abs(p - s.torch[d])))};
  });
  const drawings = api.data.drawings.map((d) => {
    const ink = Array.from(api.decodePixels(d.pixels), (v) => v / 255);
    const mine = api.preprocess(ink, 28, 28);
    return Math.max(...d.preprocessed.map((v, i) => Math.abs(v - mine[i])));
  });
  const runs = 100;
  const start = performance.now();
  for (let i = 0; i < runs; i++) api.classifyStored(samples[i % samples.length].pixels);
  return {results, drawings, ms: (performance.now() - start) / runs};
}"""

PEN_STROKE = """() => {
  const pad = document.querySelector(".draw-digit__pad");
  const box = pad.getBoundingClientRect();
  const at = (x, y) => ({clientX: box.left + x * box.width, clientY: box.top + y * box.height,
                         pointerId: 7, pointerType: "pen", isPrimary: true, bubbles: true,
                         pressure: 0.5});
  pad.dispatchEvent(new PointerEvent("pointerdown", at(0.5, 0.15)));
  for (let t = 0; t <= 1; t += 0.05)
    pad.dispatchEvent(new PointerEvent("pointermove", at(0.5, 0.15 + 0.7 * t)));
  pad.dispatchEvent(new PointerEvent("pointerup", at(0.5, 0.85)));
}"""


def readout(page) -> str:
    return page.locator(".draw-digit__readout").inner_text()


def draw_with_mouse(page) -> None:
    """A 7: a bar across the top, then a stroke down to the bottom left."""
    box = page.locator(".draw-digit__pad").bounding_box()
    points = [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]
    x, y = box["x"], box["y"]
    page.mouse.move(x + points[0][0] * box["width"], y + points[0][1] * box["height"])
    page.mouse.down()
    for px, py in points[1:]:
        page.mouse.move(x + px * box["width"], y + py * box["height"], steps=12)
    page.mouse.up()


@pytest.fixture(scope="module")
def page_url(site_dir, site_url) -> str:
    assert (site_dir / PAGE / "index.html").is_file(), f"{PAGE} is not in the built site"
    return site_url + PAGE


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_classifies_like_pytorch_and_can_be_drawn_on(browser, page_url, scheme):
    from test_accessibility import COLOUR_RULES, gate, run_axe

    context = new_context(browser, scheme=scheme)
    page = context.new_page()
    problems = page_problems(page, page_url)
    page.wait_for_selector(".draw-digit--active")

    # The page's own code, fed the exported test images and drawings.
    parity = page.evaluate(PARITY)
    results = parity["results"]
    assert len(results) >= 20
    wrong = [r for r in results if r["page"] != r["torch"]]
    assert not wrong, f"the page predicts otherwise than PyTorch for test images {wrong}"
    assert max(r["diff"] for r in results) < 5e-3  # float16 weights: far below a point
    assert parity["drawings"] and max(parity["drawings"]) < 1e-9, parity["drawings"]
    print(f"\n{scheme}: {parity['ms']:.2f} ms per prediction in chromium "
          f"({len(results)} test images agree with PyTorch)")

    # Drawing with the mouse, then with a pen: each stroke gets a prediction.
    draw_with_mouse(page)
    assert "Your drawing: the network says" in readout(page)
    assert page.locator(".draw-digit__top").count() == 1
    ink = page.evaluate("""() => {
      const view = document.querySelectorAll(".draw-digit__view")[1];
      const data = view.getContext("2d").getImageData(0, 0, 28, 28).data;
      let dark = 0;
      for (let i = 0; i < data.length; i += 4) dark += data[i] < 128;
      return dark;
    }""")
    assert 20 < ink < 400, f"the preprocessed view shows {ink} dark pixels"
    page.locator(".draw-digit").get_by_role("button", name="Clear").click()
    assert "Cleared" in readout(page)
    page.evaluate(PEN_STROKE)
    assert "the network says" in readout(page)

    # The keyboard alternative: a test image from the list, the same readout as text.
    assert page.locator(".draw-digit__readout[aria-live=polite]").count() == 1
    select = page.get_by_label("Or pick a test image:")
    select.focus()
    first_mistake = page.evaluate("(async () => (await window.drawDigit).data.mistakes[0])()")
    select.select_option("mistakes:0")
    said = readout(page)
    predicted = int(np.argmax(first_mistake["torch"]))
    assert f"the network says {predicted} " in said and f"a {first_mistake['label']};" in said, said
    assert page.locator(".draw-digit__top .draw-digit__digit").inner_text() == str(predicted)

    # Accessibility of the page with the widget in use.
    violations = run_axe(page, COLOUR_RULES if scheme == "dark" else None)
    found, _ = gate(violations, f"{scheme} /{PAGE}")
    problems += found
    watch = context.watch
    problems += watch.console_errors + watch.page_errors + watch.offsite + watch.failed
    context.close()
    assert not problems, "\n".join(problems)


def test_without_javascript_the_page_says_what_is_missing(browser, page_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(page_url)
    message = page.locator(".draw-digit__noscript")
    assert message.is_visible() and "needs JavaScript" in message.inner_text()
    assert page.locator("#draw-digit-weights").is_visible()
    context.close()
