/* A slider over pre-rendered figures, e.g. one trained fit per network width.
 *
 * Markup (written in the lesson's Markdown):
 *   <div class="fit-slider" data-label="Hidden units" data-unit="hidden units"
 *        data-unit-one="hidden unit" markdown>
 *     <!-- figure exp.fit_1 -->  <!-- figure exp.fit_2 --> ...
 *   </div>
 * The mnist-course plugin turns each shortcode into <figure data-result="exp.fit_N">. This script
 * adds a labelled <input type="range"> above them and shows one figure at a time; the
 * value shown is the number at the end of each figure's key (fit_8 -> 8). Without
 * JavaScript nothing is hidden: every figure stays on the page, one under the other.
 * The range input brings the keyboard for free (arrows, Home/End, Page Up/Down).
 *
 * Material emits document$ on every page load (and after each instant navigation, should
 * that be turned on), so sliders on a newly shown page are set up too; without Material,
 * DOMContentLoaded does it once.
 */
(function () {
  "use strict";

  let count = 0;

  function valueOf(figure, index) {
    const match = /_(\d+)$/.exec(figure.dataset.result || "");
    return match ? match[1] : String(index + 1);
  }

  function setUp(container) {
    if (container.dataset.sliderReady) return;
    const figures = Array.from(container.querySelectorAll("figure"));
    if (figures.length < 2) return;
    container.dataset.sliderReady = "true";

    const id = `fit-slider-${++count}`;
    const values = figures.map(valueOf);
    const unit = (value) =>
      (value === "1" && container.dataset.unitOne) || container.dataset.unit || "";

    const controls = document.createElement("div");
    controls.className = "fit-slider__controls";
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = `${container.dataset.label || "Figure"}: `;
    const output = document.createElement("output");
    output.setAttribute("for", id);
    output.className = "fit-slider__value";
    label.append(output);

    const input = document.createElement("input");
    input.type = "range";
    input.id = id;
    input.min = "0";
    input.max = String(figures.length - 1);
    input.step = "1";

    // Tick marks, one per figure, and the values written under the track.
    const ticks = document.createElement("datalist");
    ticks.id = `${id}-ticks`;
    const scale = document.createElement("div");
    scale.className = "fit-slider__scale";
    scale.setAttribute("aria-hidden", "true");
    values.forEach((value, index) => {
      const option = document.createElement("option");
      option.value = String(index);
      ticks.append(option);
      const mark = document.createElement("span");
      mark.textContent = value;
      // Centred under its tick: the thumb's centre runs from half a thumb in from each end.
      const fraction = index / (values.length - 1);
      mark.style.left = `calc(${fraction * 100}% + ${0.5 - fraction} * var(--fit-slider-thumb))`;
      scale.append(mark);
    });
    input.setAttribute("list", ticks.id);

    controls.append(label, input, ticks, scale);
    container.prepend(controls);
    container.classList.add("fit-slider--active");

    function show(index) {
      figures.forEach((figure, j) => {
        figure.hidden = j !== index;
      });
      input.value = String(index);
      output.textContent = values[index];
      input.setAttribute("aria-valuetext", `${values[index]} ${unit(values[index])}`.trim());
      // Lazy images that were hidden when the page loaded: load the one now shown.
      const image = figures[index].querySelector("img[loading='lazy']");
      if (image) image.loading = "eager";
    }

    input.addEventListener("input", () => show(Number(input.value)));
    show(0);
  }

  function setUpAll() {
    document.querySelectorAll(".fit-slider").forEach(setUp);
  }

  if (typeof document$ !== "undefined") {
    document$.subscribe(setUpAll);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpAll);
  } else {
    setUpAll();
  }
})();

/* "Build it from bumps": the reader's own one-hidden-layer ReLU network, made of bumps.
 *
 * Markup (docs/lessons/universal-approximation.md):
 *   <div class="bump-builder" data-curves="ID"> <noscript>…</noscript> </div>
 * where ID names a link on the page to the build's curves.json (lessons/
 * universal_approximation.py, report.asset): the target and each trained width's median
 * fit on one grid. Each bump is relu_bump() of the lesson, four ReLU units: a ramp up at
 * its left edge minus a ramp down at its right edge. The page shows the sum against the
 * target, the hidden width (4 units per bump) and the error on the grid's points; "Fit it
 * for me" overlays what training found with at most that many units. Sliders and buttons
 * work from the keyboard; a click on the plot moves the chosen bump there.
 * window.bumpBuilder exposes the state for the browser test.
 */
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const W = 600, H = 300, PAD = { left: 44, right: 10, top: 12, bottom: 28 };
  const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };

  const scientific = (v) => {
    if (v === 0) return "0";
    if (v >= 0.01 && v < 100) return v.toPrecision(2);
    const [mantissa, exponent] = v.toExponential(1).split("e");
    return `${mantissa}\u00a0×\u00a010${String(Number(exponent)).replace(/./g, (c) => SUPERSCRIPT[c])}`;
  };
  const relu = (v) => Math.max(v, 0);
  const ramp = (x, at, width) => (relu(x - at + width / 2) - relu(x - at - width / 2)) / width;
  const bumpAt = (x, b, width) => b.height * (ramp(x, b.left, width) - ramp(x, b.right, width));

  function element(tag, attributes = {}, ...children) {
    const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  function slider(id, label, min, max, step) {
    const input = element("input", { type: "range", id, min, max, step });
    const output = element("output", { for: id });
    return { input, output, row: element("div", { class: "bump-builder__slider" },
      element("label", { for: id, text: `${label}: ` }, output), input) };
  }

  function setUp(container, data) {
    if (container.dataset.ready) return;
    container.dataset.ready = "true";
    const xs = data.x;
    const lo = xs[0], hi = xs[xs.length - 1];
    const widths = Object.keys(data.fits).map(Number).sort((a, b) => a - b);
    const all = [...data.target, ...widths.flatMap((w) => data.fits[w].y)];
    const yMin = Math.min(...all) - 0.5, yMax = Math.max(...all) + 0.5;
    const sx = (x) => PAD.left + ((x - lo) / (hi - lo)) * (W - PAD.left - PAD.right);
    const sy = (y) => H - PAD.bottom - ((y - yMin) / (yMax - yMin)) * (H - PAD.top - PAD.bottom);
    const targetAt = (x) => { // linear interpolation of the target on the grid
      const t = ((x - lo) / (hi - lo)) * (xs.length - 1);
      const i = Math.min(xs.length - 2, Math.max(0, Math.floor(t)));
      return data.target[i] + (t - i) * (data.target[i + 1] - data.target[i]);
    };
    const path = (ys) => ys.map((y, i) => `${i ? "L" : "M"}${sx(xs[i]).toFixed(1)},${sy(y).toFixed(1)}`).join("");

    const state = { bumps: [], selected: -1, rampWidth: 0.1, showFit: false };

    // The plot: axes, target, bumps, their sum, the trained fit.
    const bumpsLayer = element("svg:g", { class: "bump-builder__bumps" });
    const sumPath = element("svg:path", { class: "bump-builder__sum" });
    const fitPath = element("svg:path", { class: "bump-builder__fit" });
    const axes = element("svg:g", { class: "bump-builder__axes" },
      element("svg:line", { x1: PAD.left, x2: W - PAD.right, y1: sy(0), y2: sy(0) }));
    for (let x = Math.ceil(lo); x <= hi; x++) {
      axes.append(element("svg:text", { x: sx(x), y: H - 8, "text-anchor": "middle", text: String(x) }));
    }
    for (let y = Math.ceil(yMin); y <= yMax; y++) {
      axes.append(element("svg:text", { x: PAD.left - 6, y: sy(y) + 4, "text-anchor": "end", text: String(y) }));
    }
    const plot = element("svg:svg", { viewBox: `0 0 ${W} ${H}`, class: "bump-builder__plot", role: "img" },
      axes, element("svg:path", { class: "bump-builder__target", d: path(data.target) }),
      bumpsLayer, fitPath, sumPath);

    const choose = element("select", { id: "bump-builder-choose" });
    const centre = slider("bump-builder-centre", "Centre", lo, hi, 0.05);
    const width = slider("bump-builder-width", "Width", 0.05, hi - lo, 0.05);
    const height = slider("bump-builder-height", "Height", Math.floor(yMin), Math.ceil(yMax), 0.05);
    const rampWidth = slider("bump-builder-ramp", "Ramp width of every bump", 0.02, 1, 0.02);
    const button = (text) => element("button", { type: "button", class: "md-button", text });
    const add = button("Add a bump");
    const remove = button("Remove this bump");
    const evenly = element("select", { id: "bump-builder-even" },
      ...[1, 2, 4, 8, 16].map((n) => element("option", { value: String(n), text: `${n} bump${n > 1 ? "s" : ""}` })));
    const even = button("Place evenly");
    const fit = button("Fit it for me");
    fit.setAttribute("aria-pressed", "false");
    // What the plot shows, in words: updated as sliders move; the live region, read out by
    // screen readers, only when a change is complete (not at every step of a drag).
    const readout = element("p", { class: "bump-builder__readout" });
    const live = element("p", { class: "bump-builder__live", "aria-live": "polite" });

    container.append(plot, element("div", { class: "bump-builder__controls" },
      element("div", {}, element("label", { for: "bump-builder-even", text: "Start from " }), evenly, " ", even),
      element("div", {}, element("label", { for: "bump-builder-choose", text: "Bump: " }), choose, " ", add, " ", remove),
      centre.row, width.row, height.row, rampWidth.row,
      element("div", {}, fit)), readout, live);
    container.classList.add("bump-builder--active");

    function evaluate() {
      const sum = xs.map((x) => state.bumps.reduce((s, b) => s + bumpAt(x, b, state.rampWidth), 0));
      const errors = sum.map((v, i) => v - data.target[i]);
      const units = 4 * state.bumps.length;
      const trained = widths.filter((w) => w <= Math.max(units, widths[0])).pop();
      return {
        sum, units, trained,
        maxError: Math.max(...errors.map(Math.abs)),
        mse: errors.reduce((s, e) => s + e * e, 0) / errors.length,
        fitMse: data.fits[trained].y.reduce((s, v, i) => s + (v - data.target[i]) ** 2, 0) / xs.length,
      };
    }

    function draw(announce) {
      const result = evaluate();
      bumpsLayer.replaceChildren(...state.bumps.map((b, i) => element("svg:path", {
        class: i === state.selected ? "bump-builder__bump bump-builder__bump--selected" : "bump-builder__bump",
        d: path(xs.map((x) => bumpAt(x, b, state.rampWidth))),
      })));
      sumPath.setAttribute("d", path(result.sum));
      fitPath.setAttribute("d", path(data.fits[result.trained].y));
      fitPath.style.display = state.showFit ? "" : "none";
      const count = state.bumps.length;
      const text = `${count} bump${count === 1 ? "" : "s"}: a hidden layer of ${result.units} ReLU units. ` +
        `Largest error ${scientific(result.maxError)}, mean squared error ${scientific(result.mse)}.`;
      plot.setAttribute("aria-label", `The target (grey), your sum of bumps (blue)` +
        `${state.showFit ? " and the trained fit (orange, dashed)" : ""}. ${text}`);
      const runs = data.numSeeds === 1 ? "one run" : `the median of ${data.numSeeds} runs`;
      readout.textContent = text + (state.showFit
        ? ` Training with ${result.trained} hidden unit${result.trained === 1 ? "" : "s"} (${runs}, ` +
          `orange) reached a mean squared error of ${scientific(result.fitMse)} on the same points.` : "");
      if (announce) live.textContent = readout.textContent;
    }

    function select(index) {
      state.selected = index;
      choose.replaceChildren(...state.bumps.map((b, i) => element("option", {
        value: String(i), text: `Bump ${i + 1}, centre ${((b.left + b.right) / 2).toFixed(2)}`,
      })));
      const b = state.bumps[index];
      [centre, width, height].forEach(({ input }) => { input.disabled = !b; });
      remove.disabled = !b;
      if (!b) return;
      choose.value = String(index);
      centre.input.value = String((b.left + b.right) / 2);
      width.input.value = String(b.right - b.left);
      height.input.value = String(b.height);
      centre.output.textContent = ((b.left + b.right) / 2).toFixed(2);
      width.output.textContent = (b.right - b.left).toFixed(2);
      height.output.textContent = b.height.toFixed(2);
    }

    function fromSliders() {
      const b = state.bumps[state.selected];
      if (!b) return;
      const c = Number(centre.input.value), w = Number(width.input.value);
      b.left = c - w / 2;
      b.right = c + w / 2;
      b.height = Number(height.input.value);
      select(state.selected);
    }

    function placeEvenly(n) {
      const step = (hi - lo) / n;
      state.bumps = Array.from({ length: n }, (_, i) => {
        const c = lo + (i + 0.5) * step;
        return { left: c - step / 2, right: c + step / 2, height: targetAt(c) };
      });
      select(0);
    }

    [centre, width, height].forEach(({ input }) => {
      input.addEventListener("input", () => { fromSliders(); draw(false); });
      input.addEventListener("change", () => draw(true));
    });
    rampWidth.input.addEventListener("input", () => {
      state.rampWidth = Number(rampWidth.input.value);
      rampWidth.output.textContent = state.rampWidth.toFixed(2);
      draw(false);
    });
    rampWidth.input.addEventListener("change", () => draw(true));
    choose.addEventListener("change", () => { select(Number(choose.value)); draw(false); });
    add.addEventListener("click", () => {
      state.bumps.push({ left: -0.25, right: 0.25, height: targetAt(0) });
      select(state.bumps.length - 1);
      draw(true);
    });
    remove.addEventListener("click", () => {
      state.bumps.splice(state.selected, 1);
      select(Math.min(state.selected, state.bumps.length - 1));
      draw(true);
    });
    even.addEventListener("click", () => { placeEvenly(Number(evenly.value)); draw(true); });
    fit.addEventListener("click", () => {
      state.showFit = !state.showFit;
      fit.setAttribute("aria-pressed", String(state.showFit));
      draw(true);
    });
    plot.addEventListener("pointerdown", (event) => { // move the chosen bump to the click
      const box = plot.getBoundingClientRect();
      const x = lo + (((event.clientX - box.left) * W / box.width - PAD.left) / (W - PAD.left - PAD.right)) * (hi - lo);
      const y = yMin + ((H - PAD.bottom - (event.clientY - box.top) * H / box.height) / (H - PAD.top - PAD.bottom)) * (yMax - yMin);
      if (x < lo || x > hi) return;
      if (!state.bumps.length) { state.bumps.push({ left: x - 0.25, right: x + 0.25, height: y }); state.selected = 0; }
      const b = state.bumps[state.selected];
      const w = b.right - b.left;
      Object.assign(b, { left: x - w / 2, right: x + w / 2, height: y });
      select(state.selected);
      draw(true);
    });

    rampWidth.input.value = String(state.rampWidth);
    rampWidth.output.textContent = state.rampWidth.toFixed(2);
    evenly.value = "4";
    placeEvenly(4);
    draw(true);
    window.bumpBuilder = { state, evaluate, targetAt };
  }

  function setUpAll() {
    const container = document.querySelector(".bump-builder");
    if (!container || container.dataset.ready) return;
    const link = document.getElementById(container.dataset.curves);
    if (!link) throw new Error(`bump-builder: no link #${container.dataset.curves} on the page`);
    window.courseJson(link.href)  // fetch(), or file:// (javascripts/assets.js)
      .then((data) => setUp(container, data))
      .catch((error) => {
        container.append(element("p", { text: `The build's fits could not be loaded (${error.message}).` }));
        console.error(error);
      });
  }

  if (typeof document$ !== "undefined") {
    document$.subscribe(setUpAll);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpAll);
  } else {
    setUpAll();
  }
})();
