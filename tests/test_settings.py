"""The course's environment variables: one torch-free module defines them (name, default,
allowed values), the README documents exactly those, and a bad value names the fix."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_tutorial import settings

ROOT = Path(__file__).resolve().parent.parent
README_ROW = re.compile(r"^\| `(MNIST_TUTORIAL_\w+)` \| ([^|]*) \|", re.MULTILINE)


def readme_rows() -> dict[str, str]:
    return dict(README_ROW.findall((ROOT / "README.md").read_text(encoding="utf-8")))


def test_importing_the_settings_does_not_import_torch():
    out = subprocess.run([sys.executable, "-c", "import sys, mnist_tutorial.settings; "
                                                "print('torch' in sys.modules)"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_the_readme_documents_every_variable_and_no_other():
    documented = set(readme_rows())
    defined = {setting.variable for setting in settings.SETTINGS.values()}
    assert documented - defined == set(), "in the README but not in mnist_tutorial/settings.py"
    assert defined - documented == set(), "in mnist_tutorial/settings.py but not in the README"


@pytest.mark.parametrize("setting", [s for s in settings.SETTINGS.values() if s.default],
                         ids=lambda s: s.name)
def test_the_readme_names_each_default(setting):
    values = readme_rows()[setting.variable]
    assert f"`{setting.default}`" in values and "default" in values, (setting.variable, values)


def test_the_code_names_no_variable_the_settings_do_not_define():
    named = set()
    for folder in ("mnist_tutorial", "sitebuild", "lessons", ".github", ".ci"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".yml", ""):
                named |= set(re.findall(r"MNIST_TUTORIAL_[A-Z_]*[A-Z]", path.read_text(errors="ignore")))
    named |= set(re.findall(r"MNIST_TUTORIAL_[A-Z_]*[A-Z]", (ROOT / "mkdocs.yml").read_text()))
    defined = {setting.variable for setting in settings.SETTINGS.values()}
    assert named - defined == set()


def test_unset_or_empty_gives_the_default():
    assert settings.read("PROFILE", {}) == "full"
    assert settings.read("PROFILE", {"MNIST_TUTORIAL_PROFILE": " "}) == "full"
    assert settings.read("MNIST_TUTORIAL_PROFILE", {"MNIST_TUTORIAL_PROFILE": "smoke"}) == "smoke"
    assert settings.read("PRECISION", {}, default="fp32") == "fp32"
    assert settings.path("REPORT", {}) is None
    assert settings.path("DATA", {}) == Path("~/.cache/mnist_tutorial").expanduser()


@pytest.mark.parametrize("value, on", [("1", True), ("TRUE", True), (" on ", True), ("yes", True),
                                       ("0", False), ("false", False), ("Off", False)])
def test_flags_read_on_and_off_in_any_case(value, on):
    assert settings.flag("DOWNLOAD", {"MNIST_TUTORIAL_DOWNLOAD": value}) is on


@pytest.mark.parametrize("name, value, allowed", [
    ("PROFILE", "fast", "full, smoke"),
    ("DEVICE", "tpu", "auto, cpu, cuda, cuda:N or mps"),
    ("DEVICE", "cuda:x", "auto, cpu, cuda, cuda:N or mps"),
    ("PRECISION", "fp16", "auto, fp32 or bf16"),
    ("DOWNLOAD", "maybe", "1, true, yes, on"),
    ("FETCH", "yes", "0, 1"),
])
def test_a_bad_value_names_the_variable_the_value_what_is_allowed_and_the_fix(name, value, allowed):
    variable = "MNIST_TUTORIAL_" + name
    with pytest.raises(settings.SettingError) as error:
        settings.read(name, {variable: value})
    message = str(error.value)
    assert f"{variable}={value!r}" in message and allowed in message
    assert f"set {variable} to one of those" in message


def test_devices_torch_names_pass():
    for value in ("auto", "cpu", "cuda", "cuda:1", "mps"):
        assert settings.read("DEVICE", {"MNIST_TUTORIAL_DEVICE": value}) == value


def test_the_kernel_environment_is_the_builds_contract(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = settings.kernel_environment("smoke", tmp_path / "report", tmp_path / "checkpoints", "fp32",
                                      environ={"MNIST_TUTORIAL_DATA": "mnist", "OTHER": "kept"})
    assert env == {"MNIST_TUTORIAL_PROFILE": "smoke", "MNIST_TUTORIAL_REPORT": str(tmp_path / "report"),
                   "MNIST_TUTORIAL_CHECKPOINTS": str(tmp_path / "checkpoints"),
                   "MNIST_TUTORIAL_PRECISION": "fp32",
                   "MNIST_TUTORIAL_DATA": str((tmp_path / "mnist").resolve()), "OTHER": "kept"}
    unset = settings.kernel_environment("full", tmp_path, tmp_path, None, environ={})
    assert "MNIST_TUTORIAL_PRECISION" not in unset and "MNIST_TUTORIAL_DATA" not in unset


def test_no_module_reads_a_variable_of_the_course_but_the_settings():
    # lessons/one_script.py is the exception by design: it needs only torch and torchvision.
    read = re.compile(r"os\.(environ\.get\(|environ\[|getenv\()[^\n]*(MNIST_TUTORIAL_|_ENV\b)")
    readers = [f"{path.relative_to(ROOT)}:{text[:match.start()].count(chr(10)) + 1}"
               for folder in ("mnist_tutorial", "sitebuild", "lessons")
               for path in sorted((ROOT / folder).rglob("*.py"))
               if path.name not in ("settings.py", "one_script.py")
               for text in [path.read_text(encoding="utf-8")]
               for match in read.finditer(text)]
    assert readers == [], "read these through mnist_tutorial.settings"
