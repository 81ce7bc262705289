/* A slider over pre-rendered figures, e.g. one trained fit per network width.
 *
 * Markup (written in the lesson's Markdown):
 *   <div class="fit-slider" data-label="Hidden units" data-unit="hidden units"
 *        data-unit-one="hidden unit" markdown>
 *     <!-- figure exp.fit_1 -->  <!-- figure exp.fit_2 --> ...
 *   </div>
 * hooks/course.py turns each shortcode into <figure data-result="exp.fit_N">. This script
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
