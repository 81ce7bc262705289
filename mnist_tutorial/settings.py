"""Every ``MNIST_TUTORIAL_*`` environment variable of the course, in one place.

Each variable is a ``Setting``: its name, its default, the values it allows and a one-line
help. ``read(name)`` is the one place a variable is read: it returns the value (or the
default) and raises ``SettingError`` for a bad one, naming the variable, the value, what is
allowed and the fix. ``kernel_environment`` is the contract between the site's build and a
notebook's kernel: the variables the build sets for a kernel, defined once.

The README's tables of environment variables are checked against ``SETTINGS``
(tests/test_settings.py). This module must not import torch: the site's build and the
command-line help read it without starting torch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PREFIX = "MNIST_TUTORIAL_"
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class SettingError(ValueError):
    """An environment variable of the course has a value it does not allow."""


@dataclass(frozen=True)
class Setting:
    name: str  # without the prefix: PROFILE for $MNIST_TUTORIAL_PROFILE
    default: str  # "" when unset means "not given"
    help: str
    choices: tuple[str, ...] = ()  # the values allowed, compared lower-case; () allows any
    pattern: str = ""  # a regular expression the value must match, when choices do not say it
    allowed: str = ""  # how the error message names the allowed values, when choices do not
    noun: str = "a value it allows"  # what a bad value is not: "a device", "a profile"

    @property
    def variable(self) -> str:
        return PREFIX + self.name


def _flag(name: str, default: str, help: str) -> Setting:
    return Setting(name, default, help, choices=TRUE + FALSE, noun="on or off",
                   allowed=f"one of {', '.join(TRUE)} (on) or {', '.join(FALSE)} (off)")


SETTINGS: dict[str, Setting] = {s.name: s for s in [
    # What the learner's package reads.
    Setting("PROFILE", "full", "full, or smoke: the same code on a few hundred images and one epoch",
            choices=("full", "smoke"), noun="a profile"),
    Setting("DATA", "~/.cache/mnist_tutorial", "the folder that holds MNIST/raw/"),
    _flag("DOWNLOAD", "1", "0 to never download MNIST (default: download the files missing)"),
    Setting("DEVICE", "auto", "where lessons train: auto (CUDA, then MPS, else CPU), cpu, cuda, "
            "cuda:N or mps", pattern=r"auto|cpu|mps|cuda(:\d+)?",
            allowed="auto, cpu, cuda, cuda:N or mps", noun="a device"),
    Setting("PRECISION", "auto", "what training computes in: auto (bf16 where clearly faster), "
            "fp32 or bf16", choices=("auto", "fp32", "bf16"), allowed="auto, fp32 or bf16",
            noun="a precision"),
    Setting("CHECKPOINTS", "~/.cache/mnist_tutorial/checkpoints",
            "where lessons save the networks later lessons load"),
    Setting("REPORT", "", "set by the site's build: the folder a notebook's report.json goes to"),
    # What the site's build reads.
    Setting("CACHE", ".cache/", "where the site's build caches the runs of the homes"),
    Setting("ONLY", "", "under mkdocs serve, run only these homes (comma-separated) and those they use"),
    Setting("FETCH", "0", "1: under mkdocs serve, fetch the published runs first", choices=("0", "1"),
            noun="0 or 1"),
    Setting("RUNS_URL", "", "the published site `fetch` reads runs from (default: SITE_URL)"),
    _flag("OFFLINE_COPY", "0", "1: this build also writes the offline copy of the site"),
    _flag("OFFLINE", "false", "set in the offline copy's own build (mkdocs.yml)"),
    Setting("LINKS_CACHE", ".pytest_cache/check-links",
            "where the link check (tests/test_links.py) keeps the answers of other sites"),
    # What mkdocs.yml reads (!ENV): the deploy sets them.
    Setting("SITE_URL", "", "the site's address: sitemap, canonical links, 404 page"),
    Setting("GITHUB_REPO", "", "OWNER/NAME: Open in Colab buttons, the install cell's fallback"),
    Setting("REPO_URL", "", "the repository link in the header"),
    Setting("EDIT_URI", "", "each page's edit button"),
    _flag("DIRECTORY_URLS", "true", "false: page.html links instead of page/ (mkdocs.yml)"),
]}


def _setting(name: str) -> Setting:
    return SETTINGS[name.removeprefix(PREFIX)]


def read(name: str, environ: Mapping[str, str] | None = None, default: str | None = None) -> str:
    """``$MNIST_TUTORIAL_<name>``, stripped, else ``default`` or the setting's default (also
    when set but empty): the site's build trains in fp32 where the package's default is auto.

    Raises ``SettingError`` naming the variable, its value, the values allowed and the fix."""
    setting = _setting(name)
    raw = (os.environ if environ is None else environ).get(setting.variable, "")
    value = raw.strip() or (setting.default if default is None else default)
    bad = ((setting.choices and value.lower() not in setting.choices)
           or (setting.pattern and not re.fullmatch(setting.pattern, value)))
    if bad:
        allowed = setting.allowed or "one of " + ", ".join(setting.choices)
        raise SettingError(f"{setting.variable}={raw!r} is not {setting.noun}: use {allowed} "
                           f"(the fix: set {setting.variable} to one of those, "
                           f"or unset it for the default, {setting.default}).")
    return value


def flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """A yes/no variable: 1/true/yes/on or 0/false/no/off, any case."""
    return read(name, environ).lower() in TRUE


def path(name: str, environ: Mapping[str, str] | None = None,
         default: str | None = None) -> Path | None:
    """A folder variable, with ``~`` expanded; None when unset and without a default."""
    value = read(name, environ, default)
    return Path(value).expanduser() if value else None


def kernel_environment(profile: str, report: Path, checkpoints: Path, precision: str | None = None,
                       environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables the site's build sets for a notebook's kernel, over ``environ``.

    The kernel runs in another folder, so the data root is made absolute; the device and the
    rest of the learner's variables pass through as they are."""
    environ = dict(os.environ if environ is None else environ)
    env = {**environ,
           SETTINGS["PROFILE"].variable: profile,
           SETTINGS["REPORT"].variable: str(report),
           SETTINGS["CHECKPOINTS"].variable: str(checkpoints)}
    if precision:
        env[SETTINGS["PRECISION"].variable] = precision
    if environ.get(SETTINGS["DATA"].variable):
        env[SETTINGS["DATA"].variable] = str(path("DATA", environ).resolve())
    return env
