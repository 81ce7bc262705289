"""Tests of the one-script lesson: the script the page shows is self-contained and correct.

The script is the ``script`` section of ``lessons/one_script.py``; the page includes that
section as one code block, so these tests check exactly what a learner copies. The run
the page quotes and its claim are checked when the home runs as a notebook
(tests/test_notebooks.py and the site build).
"""

from __future__ import annotations

import ast
import runpy
import sys

import pytest
import torch
from torch import nn
from torch.utils.data import RandomSampler, SequentialSampler

from conftest import ROOT
from mnist_tutorial.data import split_indices
from mnist_tutorial.models import MLP, count_parameters

HOME = ROOT / "lessons" / "one_script.py"
ALLOWED = {"torch", "torchvision"}  # besides the standard library


def script_source() -> str:
    """The text between the home's script markers: what the page shows."""
    text = HOME.read_text(encoding="utf-8")
    start, end = "# --8<-- [start:script]\n", "# --8<-- [end:script]"
    assert text.count(start) == 1 and text.count(end) == 1, "one script section in the home"
    return text[text.index(start) + len(start):text.index(end)]


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    """The script saved as its own file and loaded as a module, as a learner would."""
    path = tmp_path_factory.mktemp("copy") / "one_script.py"
    path.write_text(script_source(), encoding="utf-8")
    return runpy.run_path(str(path), run_name="one_script")


def test_the_script_imports_only_torch_torchvision_and_the_standard_library():
    tree = ast.parse(script_source())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports in a standalone script"
            modules.add(node.module.split(".")[0])
    assert {"torch", "torchvision"} <= modules
    outside = {m for m in modules - ALLOWED if m not in sys.stdlib_module_names}
    assert not outside, f"the script needs more than torch and torchvision: {sorted(outside)}"
    assert not {"importlib", "mnist_tutorial"} & modules
    calls = {node.func.id for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert "__import__" not in calls and "exec" not in calls


def test_the_script_is_short_and_has_a_main_guard():
    lines = script_source().splitlines()
    assert 60 <= len(lines) <= 90, f"the script has {len(lines)} lines"
    assert max(map(len, lines)) <= 100  # fits the page's code block without much scrolling
    tree = ast.parse(script_source())
    last = tree.body[-1]
    assert isinstance(last, ast.If) and ast.unparse(last.test) == "__name__ == '__main__'"
    # main() with its defaults, or with the smoke profile's shorter run (the snippet test's)
    assert ast.unparse(last.body[-1]).startswith("main(")


def test_importing_the_script_runs_nothing(tmp_path, capsys):
    path = tmp_path / "one_script.py"
    path.write_text(script_source(), encoding="utf-8")
    namespace = runpy.run_path(str(path), run_name="one_script")
    assert callable(namespace["main"])
    assert capsys.readouterr().out == ""  # no training started


def test_the_net_ends_in_a_linear_layer_and_returns_logits(script):
    torch.manual_seed(0)
    net = script["make_net"]()
    assert isinstance(net[-1], nn.Linear) and net[-1].out_features == 10
    assert not any(isinstance(m, (nn.Softmax, nn.LogSoftmax)) for m in net.modules())
    assert count_parameters(net) == count_parameters(MLP())  # the course's MLP
    y_hat = net(torch.randn(4, 1, 28, 28))
    assert y_hat.shape == (4, 10)
    assert not torch.allclose(y_hat.sum(dim=1), torch.ones(4))  # logits, not probabilities


def test_only_the_training_loader_shuffles_and_the_split_is_the_courses(script, mnist_root):
    train_loader, val_loader, test_loader = script["load_data"](batch_size=64, train_size=300)
    assert isinstance(train_loader.sampler, RandomSampler)
    assert isinstance(val_loader.sampler, SequentialSampler)
    assert isinstance(test_loader.sampler, SequentialSampler)
    assert len(train_loader.dataset) == 300 and len(test_loader.dataset) == 10_000
    train, val = split_indices()
    assert val_loader.dataset.indices == val.tolist()
    assert train_loader.dataset.dataset.indices[:300] == train[:300].tolist()
    X, y = next(iter(train_loader))
    assert X.shape == (64, 1, 28, 28) and X.dtype == torch.float32 and y.shape == (64,)
    # Normalised: background pixels are (0 - mean) / std, about -0.42, not 0
    assert X.min().item() == pytest.approx(-0.1307 / 0.3081, abs=1e-5)


def test_no_download_when_it_is_switched_off(script, tmp_path, monkeypatch):
    from torchvision import datasets

    def no_download(self):
        raise AssertionError("the script tried to download MNIST")

    monkeypatch.setattr(datasets.MNIST, "download", no_download)
    monkeypatch.setenv("MNIST_TUTORIAL_DATA", str(tmp_path))  # an empty folder
    monkeypatch.setenv("MNIST_TUTORIAL_DOWNLOAD", "0")
    with pytest.raises(RuntimeError, match="Dataset not found"):
        script["load_data"](batch_size=64)


def test_the_device_order_is_cuda_then_mps_then_cpu(script, monkeypatch):
    get_device = script["get_device"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device().type == "cuda"


def test_main_trains_on_a_few_hundred_images_and_is_reproducible(script, mnist_root, capsys):
    first = script["main"](num_epochs=1, train_size=300, seed=0)
    printed = capsys.readouterr().out
    assert "epoch 1: validation accuracy" in printed and "test accuracy" in printed
    assert 0 <= first <= 1
    assert first > 0.3  # far above chance (0.1) after one epoch on 300 images
    if script["get_device"]().type == "cpu":  # GPU kernels need not be bitwise reproducible
        assert script["main"](num_epochs=1, train_size=300, seed=0) == first
