# ---
# jupyter:
#   mnist_tutorial:
#     uses: [training]
#     reads: [docs/javascripts/draw-digit.js]
# ---

# %% [markdown]
# # Draw a digit
#
# The code and the runs of the page *Draw a digit*: export the training lesson's network
# (the final recipe, seed 0) as float16 weights for the page's JavaScript, check that the
# exported network, run in the page's arithmetic, predicts what PyTorch predicts on the
# whole test set, and measure what MNIST's preprocessing (fit into 20×20, centre by centre
# of mass) is worth on digits that are drawn off-centre or small. Under a minute on a
# laptop CPU once the training notebook's file is there. `MNIST_TUTORIAL_PROFILE=smoke`
# gives a quick run.

# %%
# --8<-- [start:setup]
import base64
import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import mnist_tutorial
from mnist_tutorial import plots
from mnist_tutorial.config import TrainConfig, current_profile
from mnist_tutorial.data import MEAN, STD, load_mnist, make_split
from mnist_tutorial.models import count_parameters
from mnist_tutorial.training import checkpoint_dir, load_mlp, pick_device, train_model

SIZE = 28  # MNIST's images are 28×28...
BOX = 20  # ...and each digit fits in a 20×20 box inside
INK_THRESHOLD = 0.1  # ink fainter than this does not count for the bounding box


@dataclass(frozen=True)
class Config:
    train: TrainConfig = TrainConfig.recipe("final", seed=0)  # the training notebook's seed 0
    samples_per_digit: int = 3  # test images the page offers, per digit...
    num_mistakes: int = 8  # ...and misclassified ones, the first in test-set order
    max_shift: int = 4  # pixels: MNIST's 4-pixel margin, so no ink leaves the image
    shrink: int = 14  # side of a "small drawing" (the digit at half size)
    min_agreement: float = 0.999  # exported network vs PyTorch, share of equal predictions
    max_prob_diff: float = 0.01  # ... and no probability further apart than this
    max_own_change: float = 0.02  # preprocessing MNIST's own digits again: accuracy change
    min_gain: float = 0.1  # preprocessing moved or shrunk digits: accuracy won back
    max_gap: float = 0.05  # ... to within this of MNIST's own digits as they are
    num_js_images: int = 1000  # test images the page's script classifies in V8 at build
    claims_need_full: bool = True  # preprocessing claims hold for a trained network only


FULL = Config()
SMOKE = dataclasses.replace(FULL, train=FULL.train.smoke(), claims_need_full=False)
CONFIG = FULL if current_profile() == "full" else SMOKE

device = pick_device()
# --8<-- [end:setup]
from mnist_tutorial.report import Report

report = Report("draw_a_digit", seeds=[CONFIG.train.seed], device=device)

# %% tags=["report"]
report.config(CONFIG)

# %% [markdown]
# ## The trained network
#
# The training notebook saved its first final-recipe run (see the evaluation notebook);
# without that file the same run is trained here.

# %%
mnist = load_mnist()
checkpoint = checkpoint_dir() / "mlp-final-seed0.pt"
note = checkpoint.with_suffix(".json")
if note.is_file() and json.loads(note.read_text())["config"] == repr(CONFIG.train):
    net = load_mlp(checkpoint, CONFIG.train, "cpu")
else:
    print(f"No {checkpoint.name} for this recipe and profile: training it here.")
    net = train_model(CONFIG.train, mnist, device=str(device), progress=True).net.cpu()
net.eval()
split = make_split(mnist, CONFIG.train.train_size, CONFIG.train.val_size, CONFIG.train.test_size)
images = mnist.test_images[split.test].numpy() / 255.0  # (N, 28, 28) ink in [0, 1]
labels = mnist.test_labels[split.test].numpy()  # (N,)
num_test = len(labels)


def torch_probs(images):
    """PyTorch's probabilities (N, 10) for ink images (N, 28, 28) in [0, 1]."""
    X = torch.as_tensor((images - MEAN) / STD, dtype=torch.float32).unsqueeze(1)  # (N, 1, 28, 28)
    with torch.inference_mode():
        return torch.softmax(net(X), dim=1).numpy()


# %% [markdown]
# ## Export: float16 weights
#
# Three `nn.Linear` layers, each a weight matrix (out, in) and a bias, written one after
# the other as little-endian float16: half the size of float32, and float16 keeps about
# three significant digits, plenty for weights of this size.

# %%
# --8<-- [start:export]
def linear_layers(net):
    """(weight (out, in), bias (out,)) of each nn.Linear of the MLP, in order, as numpy."""
    return [(m.weight.detach().numpy(), m.bias.detach().numpy())
            for m in net.modules() if isinstance(m, torch.nn.Linear)]


def export_float16(layers) -> bytes:
    """W1, b1, W2, b2, W3, b3, row-major, little-endian float16, back to back."""
    return b"".join(a.astype("<f2").tobytes() for layer in layers for a in layer)
# --8<-- [end:export]


def import_float16(data: bytes, shapes):
    """The layers back from ``export_float16``'s bytes, widened to float32."""
    values = np.frombuffer(data, dtype="<f2").astype(np.float32)
    layers, start = [], 0
    for n_out, n_in in shapes:
        W = values[start:start + n_out * n_in].reshape(n_out, n_in)
        b = values[start + n_out * n_in:start + n_out * n_in + n_out]
        layers.append((W, b))
        start += n_out * n_in + n_out
    if start != len(values):
        raise ValueError(f"{len(values)} weights for layers of {start}")
    return layers


# %%
layers = linear_layers(net)
shapes = [W.shape for W, _ in layers]
weights = export_float16(layers)
exported = import_float16(weights, shapes)
num_parameters = count_parameters(net)

# %% tags=["report"]
weight_megabytes = len(weights) / 1e6
weight_file_holds_two_bytes_per_parameter = len(weights) == 2 * num_parameters
weight_file_reads_back_rounded = all(np.array_equal(W, np.float32(w).astype(np.float16).astype(np.float32))
                                     for (W, _), (w, _) in zip(exported, layers))

# %% [markdown]
# ## The page's arithmetic, in numpy
#
# The page keeps the weights in `Float32Array`s, multiplies and adds in JavaScript numbers
# (float64) and stores each layer's outputs in a `Float32Array` again. The same steps in
# numpy, on the whole test set, against PyTorch's float32 network:

# %%
# --8<-- [start:page_forward]
def page_forward(layers, X):
    """Probabilities (N, 10) as the page computes them; X: (N, 784) normalised pixels."""
    h = X.astype(np.float32)
    for i, (W, b) in enumerate(layers):
        z = (h.astype(np.float64) @ W.astype(np.float64).T + b).astype(np.float32)  # (N, out)
        h = np.maximum(z, 0) if i < len(layers) - 1 else z  # ReLU, except on the logits
    z = h.astype(np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))  # softmax, shifted so exp cannot overflow
    return z / z.sum(axis=1, keepdims=True)
# --8<-- [end:page_forward]


def page_probs(images):
    return page_forward(exported, ((images - MEAN) / STD).reshape(len(images), -1))


# %%
p_torch = torch_probs(images)  # (N, 10)
p_page = page_probs(images)
y_torch, y_page = p_torch.argmax(axis=1), p_page.argmax(axis=1)
agreement = float((y_torch == y_page).mean())
max_prob_diff = float(np.abs(p_torch - p_page).max())

# %% tags=["report"]
num_disagreements = int((y_torch != y_page).sum())
page_accuracy = float((y_page == labels).mean())
exported_predicts_as_torch = agreement >= CONFIG.min_agreement
exported_probabilities_stay_close = max_prob_diff < CONFIG.max_prob_diff
min_agreement = CONFIG.min_agreement
max_prob_diff_allowed = CONFIG.max_prob_diff

# %% [markdown]
# ## The page's own code, in Chrome's JavaScript engine
#
# The numpy replica checks the arithmetic; this runs the page's file itself,
# `docs/javascripts/draw-digit.js`, in V8 (the engine inside Chrome, through the
# `mini-racer` package), on the first test images: its predictions against PyTorch's and
# the replica's, and the time one prediction takes on the machine that built the site.
# It needs the course's files: a notebook without them (on Colab) skips it.

# %%
PAGE_SCRIPT = Path(mnist_tutorial.__file__).resolve().parents[1] / "docs" / "javascripts" / "draw-digit.js"


def page_script_engine(weights: bytes, data: dict):
    """V8 with the page's script loaded and its classifier made from ``weights``."""
    try:
        from py_mini_racer import MiniRacer
    except ImportError:
        raise ImportError("this cell runs the page's script in V8: pip install mini-racer "
                          "(pip install -r requirements.txt installs it)") from None
    engine = MiniRacer()
    engine.eval(PAGE_SCRIPT.read_text(encoding="utf-8"))
    halves = np.frombuffer(weights, dtype="<u2").tolist()
    engine.eval(f"var api = drawDigitClassifier(new Uint16Array({halves}).buffer, {json.dumps(data)});")
    engine.eval("""var classifyAll = (images) => {  // probabilities, and ms per prediction
                     let start;  // the first half lets V8 compile forward(), the second is timed
                     const probs = images.map((image, i) => {
                       if (i === images.length >> 1) start = Date.now();
                       return api.classify(image);
                     });
                     const timed = images.length - (images.length >> 1);
                     return JSON.stringify({probs, ms: (Date.now() - start) / timed});
                   };""")
    return engine


# What the page's script needs besides the weights; the page reads it from digits.json.
settings = {"layers": [list(shape) for shape in shapes],  # (out, in) of each layer, in file order
            "mean": MEAN, "std": STD, "box": BOX, "inkThreshold": INK_THRESHOLD}
if PAGE_SCRIPT.is_file():
    engine = page_script_engine(weights, settings)
    js_images = images[:CONFIG.num_js_images].reshape(-1, SIZE * SIZE).tolist()
    js_run = json.loads(engine.call("classifyAll", js_images))
    p_js, ms_per_prediction = np.array(js_run["probs"]), js_run["ms"]  # (n, 10), ms
    js_agreement = float((p_js.argmax(axis=1) == y_torch[:len(p_js)]).mean())
    js_vs_replica = float(np.abs(p_js - p_page[:len(p_js)]).max())
    js_num_test = len(p_js)
    page_script_predicts_as_torch = js_agreement >= CONFIG.min_agreement
    page_script_matches_replica = js_vs_replica < 1e-6  # rounding in the last bits only
    print(f"{ms_per_prediction:.2f} ms per prediction in V8, {js_agreement:.2%} agreement "
          f"with PyTorch, {js_vs_replica:.1e} from the replica on {len(p_js):,} test images")
else:
    print(f"skipped: the page's script is not here ({PAGE_SCRIPT}); it is in the course's files")

# %% [markdown]
# ## MNIST's preprocessing
#
# MNIST's digits were scanned, cut to their bounding box, scaled (keeping the aspect
# ratio, with anti-aliasing) to fit a 20×20 box, and placed in a 28×28 image so that their
# centre of mass falls on the centre. A drawing on the page goes through the same steps
# (in `docs/javascripts/draw-digit.js`, the same algorithm as here).

# %%
# --8<-- [start:preprocess]
def resize_weights(n_in, n_out):
    """(n_out, n_in): output pixel i averages the input pixels its span covers, each
    weighted by the overlap (a box filter: anti-aliased when shrinking)."""
    scale = n_in / n_out  # input pixels per output pixel
    edges = np.arange(n_out + 1) * scale  # output pixel i spans [edges[i], edges[i + 1])
    k = np.arange(n_in)
    overlap = np.minimum(edges[1:, None], k + 1) - np.maximum(edges[:-1, None], k)
    return np.clip(overlap, 0, None) / scale


def preprocess(ink):
    """MNIST's preprocessing of a drawing: ink (H, W) in [0, 1] -> (28, 28) in [0, 1]."""
    rows, cols = np.nonzero(ink > INK_THRESHOLD)
    if len(rows) == 0:
        return np.zeros((SIZE, SIZE))
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]  # the bounding box
    h, w = crop.shape
    scale = BOX / max(h, w)  # the longer side becomes 20 pixels
    out_h, out_w = max(1, math.floor(h * scale + 0.5)), max(1, math.floor(w * scale + 0.5))
    small = resize_weights(h, out_h) @ crop @ resize_weights(w, out_w).T  # (out_h, out_w)
    mass = small.sum()
    centre_y = small.sum(axis=1) @ (np.arange(out_h) + 0.5) / mass  # centre of mass
    centre_x = small.sum(axis=0) @ (np.arange(out_w) + 0.5) / mass
    top = min(max(math.floor(SIZE / 2 - centre_y + 0.5), 0), SIZE - out_h)  # whole pixels
    left = min(max(math.floor(SIZE / 2 - centre_x + 0.5), 0), SIZE - out_w)
    image = np.zeros((SIZE, SIZE))
    image[top:top + out_h, left:left + out_w] = small
    return image
# --8<-- [end:preprocess]


# %% [markdown]
# To measure what it is worth, we move and shrink the test digits the way a reader's
# drawing may be off (whole pixels, no ink lost), and compare the network's accuracy on
# them as they are with its accuracy after `preprocess`.

# %%
# --8<-- [start:perturb]
def shifted(image, dy, dx):
    """The 28×28 image moved by (dy, dx) whole pixels, zeros coming in."""
    out = np.zeros_like(image)
    out[max(dy, 0):SIZE + min(dy, 0), max(dx, 0):SIZE + min(dx, 0)] = \
        image[max(-dy, 0):SIZE + min(-dy, 0), max(-dx, 0):SIZE + min(-dx, 0)]
    return out


def shrunk(image, side, top, left):
    """The 28×28 image scaled to side×side (anti-aliased) and placed at (top, left)."""
    out = np.zeros((SIZE, SIZE))
    R = resize_weights(SIZE, side)  # (side, 28)
    out[top:top + side, left:left + side] = R @ image @ R.T
    return out
# --8<-- [end:perturb]


rng = np.random.default_rng(0)
m, s = CONFIG.max_shift, CONFIG.shrink
offsets = rng.integers(-m, m + 1, size=(num_test, 2))  # (N, 2): dy, dx
corners = rng.integers(0, SIZE - s + 1, size=(num_test, 2))  # (N, 2): top, left
conditions = {
    "as in MNIST": images,
    f"moved by up to {m} pixels": np.stack([shifted(x, *d) for x, d in zip(images, offsets)]),
    "half size, centred": np.stack([shrunk(x, s, (SIZE - s) // 2, (SIZE - s) // 2)
                                     for x in images]),
    "half size, anywhere": np.stack([shrunk(x, s, *c) for x, c in zip(images, corners)]),
}
accuracy, errors = {}, {}  # name: (as they are, after preprocess()), a share and a count
for name, raw in conditions.items():
    fixed = np.stack([preprocess(x) for x in raw])
    right = (page_probs(raw).argmax(axis=1) == labels, page_probs(fixed).argmax(axis=1) == labels)
    accuracy[name] = tuple(float(r.mean()) for r in right)
    errors[name] = tuple(int((~r).sum()) for r in right)
    print(f"{name}: raw {accuracy[name][0]:.2%}, preprocessed {accuracy[name][1]:.2%}")
report.table("preprocessing", ["test digits", "accuracy as they are", "after preprocess()"],
             [[name, a, b] for name, (a, b) in accuracy.items()],
             units={"accuracy as they are": ("percent", 1), "after preprocess()": ("percent", 1)})
(mnist_raw, mnist_fixed), *moved = accuracy.values()
worst_raw = min(a for a, _ in moved)
worst_fixed = min(b for _, b in moved)
# The same difference in errors: accuracy hides how many more digits go wrong.
errors_raw, errors_fixed = errors["as in MNIST"]

# %% tags=["report"]
error_increase = errors_fixed / max(errors_raw, 1) - 1
max_own_change = 100 * CONFIG.max_own_change
min_gain = 100 * CONFIG.min_gain
max_gap = 100 * CONFIG.max_gap
if CONFIG.claims_need_full:
    # the page's preprocessing is close to MNIST's...
    reprocessing_mnist_changes_little = abs(mnist_fixed - mnist_raw) <= CONFIG.max_own_change
    reprocessing_mnist_adds_errors = errors_fixed > errors_raw  # ...but not identical
    preprocessing_wins_back_moved_digits = all(b >= a + CONFIG.min_gain for a, b in moved)
    preprocessing_nears_mnist_accuracy = worst_fixed >= mnist_raw - CONFIG.max_gap

# %%
def before_after_figure(raw, fixed, probs_raw, probs_fixed):
    """Raw digits (top row) and the same after preprocess() (bottom), titled with the guess."""
    cols = len(raw)
    with plots.figure(2, cols, figsize=(cols * 1.2, 2 * 1.45), squeeze=False) as (fig, axes):
        for row, (shown, probs) in enumerate([(raw, probs_raw), (fixed, probs_fixed)]):
            for ax, image, p in zip(axes[row], shown, probs):
                ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"{p.argmax()} ({p.max():.0%})", fontsize=9, pad=2)
        axes[0, 0].set_ylabel("as drawn")
        axes[1, 0].set_ylabel("preprocessed")
        return plots.to_svg(fig)


raw = conditions["half size, anywhere"][:6]
fixed = np.stack([preprocess(x) for x in raw])
probs_raw, probs_fixed = page_probs(raw), page_probs(fixed)

# %% tags=["report"]
report.figure("before_after", before_after_figure(raw, fixed, probs_raw, probs_fixed))

# %% [markdown]
# ## What the page loads
#
# The weights, and a small JSON file: the layer shapes, the normalisation, a few dozen
# test images with PyTorch's probabilities (the page's keyboard alternative to drawing,
# and the browser test's reference), and a few raw drawings with their preprocessed
# images (to check that the page's preprocessing is this one).

# %%
def pixels_text(image):
    """A 28×28 image in [0, 1] as base64 of 784 bytes (0..255), row by row."""
    return base64.b64encode(np.round(image * 255).astype(np.uint8).tobytes()).decode()


def sample(i):
    return {"index": int(split.test[i]), "label": int(labels[i]), "pixels": pixels_text(images[i]),
            "torch": [round(float(p), 6) for p in p_torch[i]]}


first = [i for d in range(10) for i in np.flatnonzero(labels == d)[:CONFIG.samples_per_digit]]
wrong = np.flatnonzero(y_torch != labels)[:CONFIG.num_mistakes]
# Drawings for the preprocessing check: stored as bytes, so both sides start from the same ink.
drawings = [np.round(conditions["half size, anywhere"][i] * 255) / 255 for i in range(4)]
document = {
    **settings, "size": SIZE,
    "samples": [sample(i) for i in sorted(first)],
    "mistakes": [sample(i) for i in wrong],
    "drawings": [{"pixels": pixels_text(x), "preprocessed": [round(float(v), 9) for v in
                                                             preprocess(x).flat]}
                 for x in drawings],
}

# %% tags=["report"]
report.asset("mlp_f16", weights, ".bin")
report.asset("digits", json.dumps(document).encode(), ".json")
page_offers_mistakes = len(document["mistakes"]) > 0 or (y_torch == labels).all()
