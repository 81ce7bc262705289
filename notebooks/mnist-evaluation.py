# %% [markdown]
# # Evaluation: what the test accuracy hides
#
# The notebook of the lesson *Evaluation*: train the lesson MLP once with the final
# recipe (about half a minute on a laptop CPU, seconds on a GPU), compute its test
# accuracy the right way, then its confusion matrix, per-class accuracy and a gallery of
# its mistakes.

# %% [markdown]
# ## Setup
#
# In a copy of the course repository, `pip install -r requirements.txt` installs
# everything this notebook needs, including the course package `mnist_tutorial`. On
# Google Colab the next cell installs the package from GitHub; elsewhere it does nothing.

# %%
import sys

COURSE_REPO = None  # OWNER/NAME of the course on GitHub; the course website fills it in

if "google.colab" in sys.modules:
    import subprocess

    if COURSE_REPO is None:
        raise RuntimeError("Set COURSE_REPO to the OWNER/NAME of the course repository on GitHub.")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    f"git+https://github.com/{COURSE_REPO}"], check=True)

# %%
from IPython.display import SVG, display
from torch import nn

from mnist_tutorial import evaluation as ev
from mnist_tutorial.config import TrainConfig, current_profile
from mnist_tutorial.data import TensorBatches, load_mnist, make_split
from mnist_tutorial.training import evaluate, pick_device, train_model

device = pick_device()  # CUDA if a GPU is visible, else the CPU
config = TrainConfig.recipe("final", seed=0)
if current_profile() == "smoke":  # MNIST_TUTORIAL_PROFILE=smoke: the course's quick tests
    config = config.smoke()
print(config)
print("device:", device)

# %% [markdown]
# ## Train the final recipe once

# %%
mnist = load_mnist()
run = train_model(config, mnist, device=str(device))
net = run.net
print(f"trained {len(run.epoch_seconds)} epochs in {sum(run.epoch_seconds):.1f} s; "
      f"test accuracy {run.test_accuracy:.2%}")

# %% [markdown]
# ## Test accuracy, computed the right way
#
# `evaluate` switches to `eval()` mode, runs under `torch.inference_mode()` and counts on
# the device; the test batches keep their stored order (`shuffle=False`).

# %%
split = make_split(mnist, config.train_size, config.val_size, config.test_size)
images, labels = mnist.test_images[split.test], mnist.test_labels[split.test]
test_batches = TensorBatches(images, labels, 1000, shuffle=False, device=device)
test_loss, test_accuracy = evaluate(net, test_batches, nn.CrossEntropyLoss())
print(f"test loss {test_loss:.4f}, test accuracy {test_accuracy:.2%}")

# Shuffled test batches give the same accuracy, but their predictions no longer line up
# with the labels in stored order:
shuffled = TensorBatches(images, labels, 1000, shuffle=True, seed=1, device=device)
print(f"accuracy on shuffled batches: {evaluate(net, shuffled, nn.CrossEntropyLoss())[1]:.2%}")
shuffled_probs, _ = ev.predict(net, shuffled)
print(f"shuffled predictions vs labels in stored order: "
      f"{(shuffled_probs.argmax(dim=1) == labels).float().mean():.2%}  (chance level)")

# %% [markdown]
# ## Confusion matrix

# %%
probs, y = ev.predict(net, test_batches)  # (N, 10), (N,), in test-set order
y_pred = probs.argmax(dim=1)
cm = ev.confusion_matrix(y, y_pred)
print("accuracy from the confusion matrix:", f"{cm.trace().item() / len(y):.2%}")
display(SVG(ev.confusion_figure(cm)))
for true, pred, count in ev.most_confused(cm, k=5):
    print(f"true {true} predicted as {pred}: {count} images")

# %% [markdown]
# ## Per-class accuracy

# %%
per_class = ev.per_class_accuracy(cm)
for digit in range(10):
    print(f"digit {digit}: {per_class[digit]:.2%} of {cm[digit].sum().item()} test images")

# %% [markdown]
# ## The mistakes

# %%
wrong = ev.misclassified(y, y_pred, k=24)
display(SVG(ev.mistakes_figure(images[wrong], y[wrong], y_pred[wrong],
                               probs[wrong].max(dim=1).values)))

# %% [markdown]
# ## Try it
#
# * Show the next 24 mistakes: `ev.misclassified(y, y_pred, k=48)[24:]`.
# * Which mistakes was the model most *sure* about? Sort `wrong` by
#   `probs[wrong].max(dim=1).values`.
# * Train the plain recipe instead (`TrainConfig.recipe("plain")`): which digits gain
#   the most from the final recipe?
