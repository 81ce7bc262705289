"""``pick_device("auto")`` warns, once, when an NVIDIA GPU is here that torch cannot use.

The GPU is faked: the driver's /proc files and /dev/nvidia0 in a temporary folder, or an
``nvidia-smi`` script on PATH; torch is told it sees no GPU.
"""

from __future__ import annotations

import os
import sys
import warnings

import pytest
import torch

from mnist_tutorial import gpu
from mnist_tutorial.gpu import GPUUnusableWarning, NvidiaGPU, find_nvidia_gpu, unusable_gpu_message
from mnist_tutorial.training import pick_device

NVRM = ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\n"
        "GCC version:  gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)\n")
NVRM_OPEN = ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.104.05  Release Build  "
             "(dvs-builder@U16-I3-B03-4-3)  Tue Aug 29 19:51:29 UTC 2023\n")
INFORMATION = ("Model: \t\t NVIDIA GeForce RTX 3080\nIRQ:   \t\t 139\n"
               "Bus Location: \t 0000:01:00.0\nDevice Minor: \t 0\n")


@pytest.fixture
def no_gpu(monkeypatch, tmp_path):
    """A machine where torch sees no GPU and there is none to find, checked afresh."""
    monkeypatch.delenv("MNIST_TUTORIAL_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(gpu, "PROC_NVIDIA", tmp_path / "proc")
    monkeypatch.setattr(gpu, "DEV", tmp_path / "dev")
    monkeypatch.setattr(gpu, "NVIDIA_SMI", "no-such-nvidia-smi")
    monkeypatch.setattr(gpu, "_checked", False)
    return tmp_path


@pytest.fixture
def nvidia(no_gpu):
    """The driver's files of one RTX 3080 on driver 550.54.14, and its device file."""
    (no_gpu / "proc/gpus/0000:01:00.0").mkdir(parents=True)
    (no_gpu / "proc/version").write_text(NVRM)
    (no_gpu / "proc/gpus/0000:01:00.0/information").write_text(INFORMATION)
    (no_gpu / "dev").mkdir()
    (no_gpu / "dev/nvidia0").touch()
    return no_gpu


def gpu_warnings(device="auto") -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert pick_device(device) == torch.device("cpu")
    return [str(w.message) for w in caught if issubclass(w.category, GPUUnusableWarning)]


def test_old_driver_warns_naming_the_driver_and_the_fix(nvidia):
    with pytest.warns(GPUUnusableWarning) as caught:
        assert pick_device() == torch.device("cpu")
    assert caught[0].filename == __file__  # it points at the caller of pick_device
    message = str(caught[0].message)
    for words in ("NVIDIA GeForce RTX 3080, driver 550.54.14", "built for CUDA 13.0",
                  "CUDA 13 needs driver 580 or newer", "update the NVIDIA driver to 580 or newer",
                  "pip install torch torchvision --index-url https://download.pytorch.org/whl/cu126",
                  "MNIST_TUTORIAL_DEVICE=cpu"):
        assert words in message, message


def test_it_warns_once_per_process(nvidia):
    assert len(gpu_warnings()) == 1
    assert gpu_warnings() == []


def test_no_gpu_no_warning(no_gpu):
    assert gpu_warnings() == []


def test_explicit_cpu_does_not_warn(nvidia, monkeypatch):
    assert gpu_warnings("cpu") == []
    monkeypatch.setenv("MNIST_TUTORIAL_DEVICE", "cpu")
    assert gpu_warnings(None) == []
    assert not gpu._checked  # not even looked for


def test_cpu_only_torch(nvidia, monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", None)
    [message] = gpu_warnings()
    assert "is a CPU-only build" in message, message
    assert "install a torch built for CUDA 12.6" in message and "/whl/cu126" in message, message
    assert "too old" not in message


def test_driver_files_without_a_device_file_are_not_a_gpu(nvidia):
    # a container without GPUs still sees the host's /proc/driver/nvidia
    (nvidia / "dev/nvidia0").unlink()
    assert find_nvidia_gpu() is None
    assert gpu_warnings() == []


def test_open_kernel_module_version(nvidia):
    (nvidia / "proc/version").write_text(NVRM_OPEN)
    assert find_nvidia_gpu() == NvidiaGPU(("NVIDIA GeForce RTX 3080",), "535.104.05")


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for nvidia-smi")
def test_nvidia_smi_when_there_is_no_proc(no_gpu, monkeypatch):
    bin_ = no_gpu / "bin"
    bin_.mkdir()
    smi = bin_ / "nvidia-smi"
    smi.write_text("#!/bin/sh\n"
                   'test "$1" = --query-gpu=name,driver_version || exit 9\n'
                   "echo 'NVIDIA GeForce RTX 3080, 550.54.14'\necho 'NVIDIA RTX A4000, 550.54.14'\n")
    smi.chmod(0o755)
    monkeypatch.setattr(gpu, "NVIDIA_SMI", "nvidia-smi")
    monkeypatch.setenv("PATH", f"{bin_}{os.pathsep}{os.environ['PATH']}")
    assert find_nvidia_gpu() == NvidiaGPU(("NVIDIA GeForce RTX 3080", "NVIDIA RTX A4000"), "550.54.14")
    [message] = gpu_warnings()
    assert "NVIDIA GeForce RTX 3080, NVIDIA RTX A4000, driver 550.54.14" in message, message
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate "
                   "with the NVIDIA driver.'\nexit 9\n")
    assert find_nvidia_gpu() is None  # a failing nvidia-smi is no GPU


def test_messages_for_other_drivers():
    ancient = NvidiaGPU(("Tesla K80",), "470.82.01")
    message = unusable_gpu_message(ancient, "13.0", build="2.14.1")
    assert "CUDA 13 needs driver 580 or newer" in message
    assert "pip install" not in message  # no torch build that current torch ships runs on 470
    message = unusable_gpu_message(NvidiaGPU((), "580.65.06"), None, build="2.14.1+cpu")
    assert "cannot use (driver 580.65.06)" in message and "/whl/cu130" in message, message
    message = unusable_gpu_message(NvidiaGPU((), "580.65.06"), "13.0", build="2.14.1")
    assert "too old" not in message and "nvidia-smi" in message, message
