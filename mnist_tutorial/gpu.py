"""Saying so when an NVIDIA GPU is here but torch cannot use it.

``pick_device("auto")`` falls back to the CPU when torch sees no GPU. That is right on a
laptop without one, and a silent trap on a machine with an NVIDIA GPU that torch cannot
use: a torch built for the CPU only, or an NVIDIA driver older than the CUDA that torch
was built for (the default Linux wheel of the torch this course is built with is built for
CUDA 13, which needs driver 580 or newer). Training then runs, many times slower, without
a word.

``warn_if_gpu_unusable()`` looks for an NVIDIA GPU without torch (the driver's
``/proc/driver/nvidia`` on Linux, else ``nvidia-smi``) and, if it finds one, warns once per
process (``GPUUnusableWarning``) naming the GPU, its driver, what torch was built for, why
they do not fit and how to fix it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

PROC_NVIDIA = Path("/proc/driver/nvidia")  # the Linux driver's files: version, gpus/*/information
DEV = Path("/dev")  # /dev/nvidia0, ...: the GPUs this system (or container) may open
NVIDIA_SMI = "nvidia-smi"
SMI_TIMEOUT_S = 5
# The oldest driver branch each CUDA major release runs on (NVIDIA's CUDA compatibility
# guide, "minor version compatibility").
MIN_DRIVER = {11: 450, 12: 525, 13: 580}
# CUDA builds of torch to suggest, newest first: (index, CUDA, oldest driver).
WHEELS = (("cu130", "13.0", 580), ("cu126", "12.6", 525))
WHEEL_INDEX = "https://download.pytorch.org/whl/"
DRIVER_DOWNLOAD = "https://www.nvidia.com/Download/index.aspx"

_checked = False  # the check runs once per process


class GPUUnusableWarning(UserWarning):
    """An NVIDIA GPU is here, but torch cannot use it, so ``auto`` trains on the CPU."""


@dataclass(frozen=True)
class NvidiaGPU:
    names: tuple[str, ...]  # the models, one per GPU; empty where the driver does not say
    driver: str  # the driver's version, e.g. "550.54.14"

    @property
    def driver_major(self) -> int:
        return int(self.driver.split(".")[0])

    def __str__(self) -> str:
        return ", ".join([*self.names, f"driver {self.driver}"])


def find_nvidia_gpu() -> NvidiaGPU | None:
    """The NVIDIA GPUs here and their driver, found without torch; None if there are none."""
    return _from_proc() or _from_nvidia_smi()


def _from_proc() -> NvidiaGPU | None:
    # A container sees the host's /proc/driver/nvidia even when it was given no GPU, so the
    # driver's files count only where a GPU's device file is here too.
    try:
        version = (PROC_NVIDIA / "version").read_text(errors="replace")
        if not any(DEV.glob("nvidia[0-9]*")):
            return None
    except OSError:
        return None
    # "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024"
    # "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  Release Build ..."
    found = re.search(r"^NVRM version:.*?(?<!\S)(\d+\.\d+(?:\.\d+)*)(?!\S)", version, re.MULTILINE)
    if not found:
        return None
    names = []
    for info in sorted(PROC_NVIDIA.glob("gpus/*/information")):
        try:
            model = re.search(r"^Model:\s*(.+?)\s*$", info.read_text(errors="replace"), re.MULTILINE)
        except OSError:
            continue
        if model:
            names.append(model.group(1))
    return NvidiaGPU(tuple(names), found.group(1))


def _from_nvidia_smi() -> NvidiaGPU | None:
    smi = shutil.which(NVIDIA_SMI)
    if not smi:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=SMI_TIMEOUT_S,
                             creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    # "NVIDIA GeForce RTX 3080, 550.54.14", one line per GPU
    gpus = [found.groups() for line in out.stdout.splitlines()
            if (found := re.fullmatch(r"\s*(.+?),\s*(\d+\.\d+(?:\.\d+)*)\s*", line))]
    if not gpus:
        return None
    return NvidiaGPU(tuple(name for name, _ in gpus), gpus[0][1])


def unusable_gpu_message(gpu: NvidiaGPU, cuda: str | None, build: str | None = None) -> str:
    """Why torch (built for CUDA ``cuda``; None: built without CUDA) cannot use ``gpu``, and the fix."""
    build = build or torch.__version__
    said = [f"Training on the CPU, but there is an NVIDIA GPU here that torch cannot use ({gpu})."]
    # The newest CUDA build of torch that this driver runs, if any.
    wheel = next(((index, version) for index, version, oldest in WHEELS if gpu.driver_major >= oldest), None)
    install = f"pip install torch torchvision --index-url {WHEEL_INDEX}{wheel[0]}" if wheel else None

    def update(oldest: int) -> str:
        return f"update the NVIDIA driver to {oldest} or newer ({DRIVER_DOWNLOAD})"

    needs = MIN_DRIVER.get(int(cuda.split(".")[0])) if cuda else None
    if cuda is None:
        kind = "a ROCm build, for AMD GPUs" if getattr(torch.version, "hip", None) else "a CPU-only build"
        said.append(f"Cause: this torch ({build}) is {kind}.")
        said.append(f"Fix: install a torch built for CUDA {wheel[1]}, which this driver runs: {install}"
                    if wheel else f"Fix: {update(WHEELS[-1][2])}, then install a torch built for CUDA: "
                    f"pip install torch torchvision --index-url {WHEEL_INDEX}{WHEELS[-1][0]}")
    elif needs is not None and gpu.driver_major < needs:
        major = cuda.split(".")[0]
        said.append(f"Cause: this torch ({build}) is built for CUDA {cuda}, and driver {gpu.driver} is too "
                    f"old for it: CUDA {major} needs driver {needs} or newer.")
        older = wheel and int(wheel[1].split(".")[0]) < int(major)
        said.append(f"Fix: {update(needs)}, or install a torch built for CUDA {wheel[1]}, which this "
                    f"driver runs: {install}" if older else f"Fix: {update(needs)}.")
    else:
        hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
        said.append(f"This torch ({build}) is built for CUDA {cuda}, which driver {gpu.driver} should run, "
                    "yet torch finds no GPU it can use"
                    + (f": CUDA_VISIBLE_DEVICES={hidden!r} may hide it." if hidden is not None else "."))
        said.append("Check that `nvidia-smi` lists the GPU, and read any warning torch gave above.")
    said.append("To train on the CPU without this warning, set MNIST_TUTORIAL_DEVICE=cpu.")
    return "\n".join(said)


def warn_if_gpu_unusable() -> None:
    """Warn (``GPUUnusableWarning``, once per process) if an NVIDIA GPU is here.

    For ``pick_device("auto")`` when torch sees no GPU: the warning points at the code that
    called ``pick_device``.
    """
    global _checked
    if _checked:
        return
    _checked = True
    gpu = find_nvidia_gpu()
    if gpu is not None:
        warnings.warn(unusable_gpu_message(gpu, torch.version.cuda), GPUUnusableWarning,
                      stacklevel=3)

