/* "Draw a digit": the course's trained MLP, run in the page as the reader draws.
 *
 * Markup (docs/lessons/draw-a-digit.md):
 *   <div class="draw-digit" data-weights="ID" data-digits="ID"> <noscript>…</noscript> </div>
 * where ID names a link on the page to a file the build published (lessons/draw_a_digit.py,
 * report.asset): the float16 weights and a JSON file with the layer shapes, the
 * normalisation and some test images. Links, so that MkDocs checks and rewrites them and
 * the page works from any folder; without JavaScript the reader keeps the links, the
 * <noscript> message and the page's static figure.
 *
 * Everything runs here, nothing is fetched from another host:
 *   preprocess()  MNIST's preprocessing, the same algorithm as preprocess() in the lesson's
 *                 notebook: bounding box, fit into 20×20 keeping the aspect ratio (box
 *                 filter, so anti-aliased), whole-pixel shift of the centre of mass to the
 *                 centre of the 28×28 image;
 *   forward()     three matrix-vector products, ReLU between them, softmax at the end, with
 *                 the weights in Float32Arrays (widened from float16) and sums in
 *                 JavaScript numbers: the arithmetic the notebook's page_forward() mirrors.
 * window.drawDigit exposes both (and the loaded data) for the browser test. Without a
 * document (a bare JavaScript engine), the file defines drawDigitClassifier() instead: the
 * build runs the page's own forward() in V8 with it, to check and time it.
 */
(function () {
  "use strict";

  // ------------------------------------------------------------ the network and its input

  function halfToFloat(h) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) return sign * fraction * 2 ** -24; // subnormal
    if (exponent === 31) return fraction ? NaN : sign * Infinity;
    return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }

  /** The layers [{W, b, nOut, nIn}] from the float16 file (row-major W, then b, per layer). */
  function readLayers(buffer, shapes) {
    const view = new DataView(buffer);
    let offset = 0;
    const take = (n) => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++, offset += 2) out[i] = halfToFloat(view.getUint16(offset, true));
      return out;
    };
    const layers = shapes.map(([nOut, nIn]) => ({ nOut, nIn, W: take(nOut * nIn), b: take(nOut) }));
    if (offset !== buffer.byteLength) throw new Error(`weights: ${buffer.byteLength} bytes, layers need ${offset}`);
    return layers;
  }

  /** Probabilities (10) for x: 784 normalised pixels. */
  function forward(layers, x) {
    let h = Float32Array.from(x);
    layers.forEach((layer, l) => {
      const z = new Float32Array(layer.nOut);
      for (let j = 0; j < layer.nOut; j++) {
        let sum = 0;
        const row = j * layer.nIn;
        for (let i = 0; i < layer.nIn; i++) sum += layer.W[row + i] * h[i];
        z[j] = sum + layer.b[j];
        if (l < layers.length - 1 && z[j] < 0) z[j] = 0; // ReLU, except on the logits
      }
      h = z;
    });
    const top = Math.max(...h);
    const exps = Array.from(h, (v) => Math.exp(v - top)); // shifted: exp cannot overflow
    const total = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / total);
  }

  // ------------------------------------------------------------ MNIST's preprocessing

  const SIZE = 28;
  let BOX = 20;
  let INK_THRESHOLD = 0.1;

  /** (nOut × nIn, row-major): output pixel i averages the input pixels its span covers. */
  function resizeWeights(nIn, nOut) {
    const scale = nIn / nOut;
    const R = new Float64Array(nOut * nIn);
    for (let i = 0; i < nOut; i++) {
      const lo = i * scale;
      const hi = (i + 1) * scale;
      for (let k = Math.floor(lo); k < Math.min(nIn, Math.ceil(hi)); k++) {
        const overlap = Math.min(hi, k + 1) - Math.max(lo, k);
        if (overlap > 0) R[i * nIn + k] = overlap / scale;
      }
    }
    return R;
  }

  /** R_rows · image · R_colsᵀ: the (outH × outW) resampling of an (h × w) image. */
  function resize(image, h, w, outH, outW) {
    const rows = resizeWeights(h, outH);
    const cols = resizeWeights(w, outW);
    const tmp = new Float64Array(outH * w);
    for (let i = 0; i < outH; i++) {
      for (let k = 0; k < h; k++) {
        const r = rows[i * h + k];
        if (r === 0) continue;
        for (let c = 0; c < w; c++) tmp[i * w + c] += r * image[k * w + c];
      }
    }
    const out = new Float64Array(outH * outW);
    for (let i = 0; i < outH; i++) {
      for (let j = 0; j < outW; j++) {
        let sum = 0;
        for (let c = 0; c < w; c++) sum += tmp[i * w + c] * cols[j * w + c];
        out[i * outW + j] = sum;
      }
    }
    return out;
  }

  /** ink (height × width, row-major, values in [0, 1]) -> 28×28 as MNIST prepared its digits. */
  function preprocess(ink, width, height) {
    let top = height, bottom = -1, left = width, right = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (ink[y * width + x] > INK_THRESHOLD) {
          top = Math.min(top, y); bottom = Math.max(bottom, y);
          left = Math.min(left, x); right = Math.max(right, x);
        }
      }
    }
    const image = new Float64Array(SIZE * SIZE);
    if (bottom < 0) return image; // nothing drawn
    const h = bottom - top + 1;
    const w = right - left + 1;
    const crop = new Float64Array(h * w);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) crop[y * w + x] = ink[(top + y) * width + left + x];
    }
    const scale = BOX / Math.max(h, w); // the longer side becomes 20 pixels
    const outH = Math.max(1, Math.floor(h * scale + 0.5));
    const outW = Math.max(1, Math.floor(w * scale + 0.5));
    const small = resize(crop, h, w, outH, outW);
    let mass = 0, my = 0, mx = 0;
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        const v = small[y * outW + x];
        mass += v; my += v * (y + 0.5); mx += v * (x + 0.5);
      }
    }
    const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
    const y0 = clamp(Math.floor(SIZE / 2 - my / mass + 0.5), SIZE - outH);
    const x0 = clamp(Math.floor(SIZE / 2 - mx / mass + 0.5), SIZE - outW);
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) image[(y0 + y) * SIZE + x0 + x] = small[y * outW + x];
    }
    return image;
  }

  /** The whole drawing shrunk to 28×28, nothing else: what a naive page would feed. */
  function shrinkOnly(ink, width, height) {
    return resize(ink, height, width, SIZE, SIZE);
  }

  function decodePixels(text) {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  }

  // ------------------------------------------------------------ the widget

  const PEN = 0.075; // stroke width, as a share of the pad's side

  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  const percent = (p) => `${(100 * p).toFixed(1)}\u00a0%`;
  const ranked = (probs) => probs.map((p, d) => [d, p]).sort((a, b) => b[1] - a[1]);

  function setUp(container, api) {
    if (container.dataset.ready) return;
    container.dataset.ready = "true";
    const { data } = api;

    const pad = element("canvas", {
      class: "draw-digit__pad", width: "280", height: "280", role: "img",
      "aria-label": "Drawing area: draw one digit with the mouse, a pen or a finger " +
        "(or pick a test image in the list below it)",
    });
    const clear = element("button", { type: "button", class: "md-button", text: "Clear" });
    const skip = element("input", { type: "checkbox", id: "draw-digit-skip" });
    const skipLabel = element("label", { for: "draw-digit-skip" }, skip,
      " Skip the preprocessing: feed the drawing shrunk to 28×28 as it is");
    const select = element("select", { id: "draw-digit-sample" });
    select.append(element("option", { value: "", text: "Choose a test image…" }));
    const group = (label, samples, kind) => {
      const optgroup = element("optgroup", { label });
      samples.forEach((s, i) => optgroup.append(element("option", {
        value: `${kind}:${i}`,
        text: `Test image ${s.index.toLocaleString("en")}: a ${s.label}`,
      })));
      select.append(optgroup);
    };
    group("Test images", data.samples, "samples");
    group("Misclassified by the network", data.mistakes, "mistakes");
    const selectLabel = element("label", { for: "draw-digit-sample", text: "Or pick a test image: " });

    const view = () => {
      const canvas = element("canvas", { width: String(SIZE), height: String(SIZE), class: "draw-digit__view" });
      const caption = element("span");
      const guess = element("span", { class: "draw-digit__guess" });
      const figure = element("figure", {}, canvas, element("figcaption", {}, caption, element("br"), guess));
      return { canvas, caption, guess, figure };
    };
    const raw = view();
    const prepared = view();
    const captions = (sampled) => {
      raw.caption.textContent = sampled ? "The test image" : "The drawing shrunk to 28×28";
      prepared.caption.textContent = sampled ? "What the network sees: the same (MNIST prepared it)"
        : "Preprocessed: what the network sees";
      // The 28×28 views are images: their name is their caption (the readout says the digit).
      raw.canvas.setAttribute("aria-label", raw.caption.textContent);
      prepared.canvas.setAttribute("aria-label", prepared.caption.textContent);
    };
    captions(false);
    raw.canvas.setAttribute("role", "img");
    prepared.canvas.setAttribute("role", "img");

    const bars = element("ol", { class: "draw-digit__bars", start: "0", "aria-label": "Probability of each digit" });
    const rows = Array.from({ length: 10 }, (_, d) => {
      const fill = element("span", { class: "draw-digit__fill" });
      const value = element("span", { class: "draw-digit__value", text: "–" });
      const row = element("li", {}, element("span", { class: "draw-digit__digit", text: String(d) }),
        element("span", { class: "draw-digit__bar", "aria-hidden": "true" }, fill), value);
      bars.append(row);
      return { row, fill, value };
    });
    const readout = element("p", { class: "draw-digit__readout", "aria-live": "polite",
      text: "Draw a digit in the box, or pick a test image." });
    const timing = element("p", { class: "draw-digit__timing" });

    container.append(element("div", { class: "draw-digit__layout" },
      element("div", { class: "draw-digit__input" }, pad,
        element("div", { class: "draw-digit__controls" }, clear, skipLabel,
          element("div", {}, selectLabel, select))),
      element("div", { class: "draw-digit__output" },
        element("div", { class: "draw-digit__views" }, raw.figure, prepared.figure),
        bars, readout, timing)));
    container.classList.add("draw-digit--active");

    const context = pad.getContext("2d", { willReadFrequently: true });
    let sample = null; // the test image shown, or null for the reader's drawing

    function paint(canvas, image) {
      const pixels = canvas.getContext("2d").createImageData(SIZE, SIZE);
      image.forEach((v, i) => {
        const grey = Math.round(255 * (1 - Math.min(1, Math.max(0, v)))); // dark ink on white
        pixels.data.set([grey, grey, grey, 255], 4 * i);
      });
      canvas.getContext("2d").putImageData(pixels, 0, 0);
    }

    function describe(image, label) {
      const ink = image.reduce((a, v) => a + (v > 0.5), 0);
      return `${label}, ${ink} of 784 pixels inked`;
    }

    function show(probs, said, announce) {
      const order = ranked(probs);
      rows.forEach(({ row, fill, value }, d) => {
        fill.style.width = `${(100 * probs[d]).toFixed(2)}%`;
        value.textContent = percent(probs[d]);
        row.classList.toggle("draw-digit__top", d === order[0][0]);
      });
      // The live region speaks when a stroke ends, not at every frame of it.
      if (announce) readout.textContent = `${said}: the network says ${order[0][0]} with ${percent(order[0][1])}; ` +
        `next ${order[1][0]} (${percent(order[1][1])}).`;
    }

    function update(announce) {
      let source, width, height, said;
      if (sample) {
        source = Float64Array.from(decodePixels(sample.pixels), (v) => v / 255);
        width = height = SIZE;
      } else {
        const pixels = context.getImageData(0, 0, pad.width, pad.height).data;
        source = new Float64Array(pad.width * pad.height);
        for (let i = 0; i < source.length; i++) source[i] = pixels[4 * i + 3] / 255; // alpha = ink
        width = pad.width;
        height = pad.height;
      }
      const shrunk = sample ? source : shrinkOnly(source, width, height);
      const fixed = sample ? source : preprocess(source, width, height);
      if (!fixed.some((v) => v > 0)) return;
      const start = performance.now();
      const probsRaw = api.classify(shrunk);
      const probsFixed = api.classify(fixed);
      const ms = (performance.now() - start) / 2;
      paint(raw.canvas, shrunk);
      paint(prepared.canvas, fixed);
      raw.guess.textContent = `guess ${ranked(probsRaw)[0][0]} (${percent(ranked(probsRaw)[0][1])})`;
      prepared.guess.textContent = `guess ${ranked(probsFixed)[0][0]} (${percent(ranked(probsFixed)[0][1])})`;
      raw.canvas.setAttribute("aria-label", describe(shrunk, "The drawing shrunk to 28 by 28"));
      prepared.canvas.setAttribute("aria-label", describe(fixed, "The network's 28 by 28 input"));
      timing.textContent = `One prediction took ${ms.toFixed(2)}\u00a0ms in your browser.`;
      if (sample) {
        const torch = ranked(sample.torch)[0];
        said = `Test image ${sample.index.toLocaleString("en")} (a ${sample.label}; PyTorch at ` +
          `build time: ${torch[0]} with ${percent(torch[1])})`;
      } else {
        said = skip.checked ? "Your drawing, not preprocessed" : "Your drawing";
      }
      show(sample || !skip.checked ? probsFixed : probsRaw, said, announce);
    }

    function clearPad() {
      context.clearRect(0, 0, pad.width, pad.height);
    }

    function showSample() {
      const [kind, i] = select.value.split(":");
      sample = kind ? data[kind][Number(i)] : null;
      clearPad();
      skip.disabled = Boolean(sample); // a test image already is an MNIST image
      captions(Boolean(sample));
      if (sample) {
        // The test image, enlarged, on the pad: drawing on it starts a new drawing.
        const pixels = decodePixels(sample.pixels);
        const scale = pad.width / SIZE;
        const ink = getComputedStyle(pad).color;
        pixels.forEach((v, i) => {
          if (!v) return;
          context.globalAlpha = v / 255;
          context.fillStyle = ink;
          context.fillRect((i % SIZE) * scale, Math.floor(i / SIZE) * scale, scale, scale);
        });
        context.globalAlpha = 1;
        update(true);
      }
    }

    // Pointer events: mouse, pen and touch alike (touch-action: none keeps the page still).
    let last = null;
    let pending = false;
    const at = (event) => {
      const box = pad.getBoundingClientRect();
      return [(event.clientX - box.left) * (pad.width / box.width),
        (event.clientY - box.top) * (pad.height / box.height)];
    };
    const stroke = (from, to) => {
      context.strokeStyle = getComputedStyle(pad).color;
      context.lineWidth = PEN * pad.width;
      context.lineCap = "round";
      context.lineJoin = "round";
      context.beginPath();
      context.moveTo(...from);
      context.lineTo(...to);
      context.stroke();
    };
    const later = () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; update(false); });
    };
    pad.addEventListener("pointerdown", (event) => {
      if (sample) { select.value = ""; showSample(); }
      try {
        pad.setPointerCapture(event.pointerId); // the stroke goes on outside the pad
      } catch (error) {
        // The pointer is already gone (lifted as the event arrived): no capture needed.
      }
      last = at(event);
      stroke(last, last);
      later();
      event.preventDefault();
    });
    pad.addEventListener("pointermove", (event) => {
      if (!last) return;
      const point = at(event);
      stroke(last, point);
      last = point;
      later();
    });
    const end = () => {
      if (!last) return;
      last = null;
      update(true);
    };
    pad.addEventListener("pointerup", end);
    pad.addEventListener("pointercancel", end);
    clear.addEventListener("click", () => {
      select.value = "";
      showSample();
      rows.forEach(({ row, fill, value }) => {
        fill.style.width = "0";
        value.textContent = "–";
        row.classList.remove("draw-digit__top");
      });
      [raw, prepared].forEach(({ canvas, guess }) => {
        canvas.getContext("2d").clearRect(0, 0, SIZE, SIZE);
        guess.textContent = "";
      });
      readout.textContent = "Cleared: draw a digit in the box, or pick a test image.";
    });
    skip.addEventListener("change", () => update(true));
    select.addEventListener("change", showSample);
  }

  // ------------------------------------------------------------ loading

  /** The classifier for the weights file's bytes and the digits file's data: what the
   * page runs, and what the build runs in V8 (lessons/draw_a_digit.py) to time it. */
  function classifier(buffer, data) {
    BOX = data.box;
    INK_THRESHOLD = data.inkThreshold;
    const layers = readLayers(buffer, data.layers);
    const normalise = (pixels) => Float32Array.from(pixels, (v) => (v - data.mean) / data.std);
    return {
      data,
      layers,
      preprocess,
      /** Probabilities for a 28×28 image with ink in [0, 1]. */
      classify: (image) => forward(layers, normalise(image)),
      /** Probabilities for a test image's stored bytes (base64, 0..255). */
      classifyStored: (text) => forward(layers, normalise(Array.from(decodePixels(text), (v) => v / 255))),
      decodePixels,
    };
  }

  async function load(container) {
    const href = (id) => {
      const link = document.getElementById(container.dataset[id]);
      if (!link) throw new Error(`draw-digit: no link #${container.dataset[id]} on the page`);
      return link.href;
    };
    const [buffer, data] = await Promise.all([
      window.courseAsset(href("weights")),  // fetch(), or file:// (javascripts/assets.js)
      window.courseJson(href("digits")),
    ]);
    return classifier(buffer, data);
  }

  function setUpAll() {
    const container = document.querySelector(".draw-digit");
    if (!container) return;
    if (!window.drawDigit) {
      window.drawDigit = load(container);
      window.drawDigit.catch((error) => {
        container.append(element("p", { class: "draw-digit__error",
          text: `The network could not be loaded (${error.message}).` }));
        console.error(error);
      });
    }
    window.drawDigit.then((api) => setUp(container, api), () => null);
  }

  if (typeof document === "undefined") { // a bare JavaScript engine: the build's timing
    globalThis.drawDigitClassifier = classifier;
  } else if (typeof document$ !== "undefined") {
    document$.subscribe(setUpAll);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpAll);
  } else {
    setUpAll();
  }
})();
