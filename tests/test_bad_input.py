"""Bad input, as a careless or unlucky user gives it: each case ends with one clear
message naming the cause and the fix, the right exit code, no traceback, and no wrong
number published.

Covers: missing, damaged, truncated, compressed-only or unreadable data, and a data path
that is a file; bad settings in the environment; bad command-line values; a cache that is
a file, read-only or unreadable; tampered and mis-shaped entries, a truncated file beside
an entry; a build killed while writing, interrupted with Ctrl-C, or run twice at once;
shortcodes in code (tests/test_plugin.py has the malformed ones); notebook cell markers;
a figure carrying a script."""

from __future__ import annotations

import concurrent.futures
import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, cli
from sitebuild import cache, homes, run
from sitebuild.plugin import shortcodes

sys.path.insert(0, str(ROOT / "tests"))
from test_sitebuild import HOME, write_course  # noqa: E402


def deny_access(monkeypatch, folder, writes_only=False):
    """Make ``folder`` unwritable, and unless ``writes_only`` unreadable, for this process.

    chmod does it where it binds; root (CI here) passes every permission check, so for
    root the calls that touch ``folder`` fail with the PermissionError the OS would give
    another user. The caller restores the mode, so that pytest can clean up.
    """
    folder.chmod(0o555 if writes_only else 0)
    if os.geteuid() != 0:
        return

    def refuse(real):
        def call(path, *args, **kwargs):
            if not isinstance(path, int) and os.fspath(path).startswith(str(folder)):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real(path, *args, **kwargs)
        return call

    names = ("mkdir", "rename") if writes_only else ("stat", "mkdir", "listdir", "scandir", "rename")
    for name in names:
        monkeypatch.setattr(os, name, refuse(getattr(os, name)))


def clean_failure(out, code, *phrases):
    assert out.returncode == code, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    for phrase in phrases:
        assert phrase in out.stderr, (phrase, out.stderr[-2000:])


# ---------------------------------------------------------------- data and settings


def test_only_compressed_files_are_named_with_the_fix(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"x")
    out = cli("data", env={"MNIST_TUTORIAL_DATA": str(tmp_path), "MNIST_TUTORIAL_DOWNLOAD": "off"})
    clean_failure(out, 2, "downloads are off", "compressed", "gunzip")


@pytest.mark.parametrize("value", ["False", "OFF", "no", "0"])
def test_every_usual_false_spelling_forbids_downloads(tmp_path, value):
    out = cli("data", env={"MNIST_TUTORIAL_DATA": str(tmp_path), "MNIST_TUTORIAL_DOWNLOAD": value})
    clean_failure(out, 2, "downloads are off")


def test_an_unknown_download_setting_is_refused(tmp_path):
    out = cli("data", env={"MNIST_TUTORIAL_DATA": str(tmp_path), "MNIST_TUTORIAL_DOWNLOAD": "maybe"})
    clean_failure(out, 2, "MNIST_TUTORIAL_DOWNLOAD='maybe'", "off")


def test_a_data_path_that_is_a_file(tmp_path):
    path = tmp_path / "mnist.zip"
    path.write_bytes(b"PK")
    out = cli("data", env={"MNIST_TUTORIAL_DATA": str(path), "MNIST_TUTORIAL_DOWNLOAD": "0"})
    clean_failure(out, 2, "MNIST is not in", "MNIST_TUTORIAL_DATA")


@pytest.mark.parametrize("damage", ["missing", "truncated", "one byte changed"])
def test_damaged_data_names_the_file_and_the_fix(tmp_path, mnist_root, damage):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for path in (mnist_root / "MNIST" / "raw").iterdir():
        if not path.name.endswith(".gz"):
            (raw / path.name).symlink_to(path)
    labels = raw / "t10k-labels-idx1-ubyte"
    data = labels.read_bytes()
    labels.unlink()
    if damage == "truncated":
        labels.write_bytes(data[: len(data) // 2])
    elif damage == "one byte changed":
        labels.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    out = cli("data", env={"MNIST_TUTORIAL_DATA": str(tmp_path), "MNIST_TUTORIAL_DOWNLOAD": "0"})
    phrase = "missing: t10k-labels-idx1-ubyte" if damage == "missing" else f"{labels} is damaged"
    clean_failure(out, 2, phrase)


def test_an_unreadable_data_folder_names_it_and_the_fix(tmp_path, monkeypatch):
    from mnist_tutorial.data import MNISTDataError, ensure_mnist

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    deny_access(monkeypatch, raw)
    try:
        with pytest.raises(MNISTDataError, match="cannot be read .permission denied.") as error:
            ensure_mnist(tmp_path, download=False)
    finally:
        monkeypatch.undo()
        raw.chmod(0o755)
    assert str(raw) in str(error.value) and "MNIST_TUTORIAL_DATA" in str(error.value)


@pytest.mark.parametrize("device, phrase", [("tpu", "is not a device"),
                                            ("cuda", "torch sees no cuda device")])
def test_a_device_that_is_not_there_names_the_variable(device, phrase, mnist_root):
    out = cli("train", "--epochs", "1", "--train-size", "64",
              env={"MNIST_TUTORIAL_DEVICE": device})
    clean_failure(out, 2, f"MNIST_TUTORIAL_DEVICE={device!r}", phrase)


def test_an_unknown_profile_names_the_variable():
    out = cli("list", module="sitebuild", env={"MNIST_TUTORIAL_PROFILE": "fast"})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "fast" in out.stderr and "full" in out.stderr and "smoke" in out.stderr


@pytest.mark.parametrize("args, phrase", [
    (["--train-size", "-5"], "--train-size: must be above 0"),
    (["--batch-size", "0"], "--batch-size: must be above 0"),
    (["--epochs", "0"], "--epochs: must be above 0"),
    (["--lr=-1e-3"], "--lr: must be above 0"),
    (["--lr", "nan"], "--lr: must be above 0"),
    (["--seed", "-1"], "--seed: must be from 0"),
    (["--epochs", "two"], "--epochs: 'two' is not a int number"),
])
def test_nonsense_on_the_command_line_names_the_flag(args, phrase):
    clean_failure(cli("train", *args), 2, phrase)


def test_an_unwritable_logdir_fails_before_training(tmp_path, mnist_root):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = cli("train", "--epochs", "1", "--logdir", str(blocker / "runs"))
    clean_failure(out, 2, f"--logdir {blocker / 'runs'}: cannot write there")


def test_configs_refuse_nonsense():
    from mnist_tutorial.config import TrainConfig

    for bad in (dict(num_epochs=0), dict(batch_size=-1), dict(lr=0.0), dict(train_size=-5),
                dict(schedule="cosine")):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrainConfig(**bad)


# ---------------------------------------------------------------- the cache


@pytest.fixture
def course(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TUTORIAL_CACHE", str(tmp_path / "cache"))
    docs, lessons = write_course(tmp_path, {"page": HOME.format(title="P", name="page", value=3)})
    return homes.discover(docs, lessons)


@pytest.mark.kernel
@pytest.mark.parametrize("why", ["a file", "read-only", "unreadable"])
def test_a_cache_that_cannot_be_written_still_gives_the_result(course, tmp_path, monkeypatch, why):
    blocker = tmp_path / "unwritable-cache"
    if why == "a file":
        blocker.write_text("")
    else:
        blocker.mkdir()
    monkeypatch.setenv("MNIST_TUTORIAL_CACHE", str(blocker))
    log = []
    try:
        if why != "a file":
            deny_access(monkeypatch, blocker, writes_only=why == "read-only")
        entries = run.build("smoke", log=log.append, homes=course)
    finally:
        monkeypatch.undo()
        if blocker.is_dir():
            blocker.chmod(0o755)
    assert entries["page"].report["values"]["doubled"]["value"] == 6
    warning = next(line for line in log if line.startswith("warning"))
    assert str(blocker) in warning and "MNIST_TUTORIAL_CACHE" in warning


@pytest.mark.kernel
def test_a_tampered_entry_is_never_published(course):
    entry = run.build("smoke", log=lambda line: None, homes=course)["page"]
    report = entry.path / "report.json"
    report.write_text(report.read_text().replace('"value": 6', '"value": 99.9'))
    log = []
    again = run.build("smoke", log=log.append, homes=course)["page"]
    assert any("damaged" in line and "report.json" in line for line in log)
    assert again.report["values"]["doubled"]["value"] == 6


@pytest.mark.kernel
def test_a_truncated_file_beside_an_entry_is_run_again(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TUTORIAL_CACHE", str(tmp_path / "cache"))
    saves = HOME.format(title="P", name="page", value=3) + (
        "\nimport os\nwith open(os.path.join(os.environ['MNIST_TUTORIAL_CHECKPOINTS'], "
        "'net.pt'), 'wb') as f:\n    f.write(bytes(range(256)) * 4)\n")
    docs, lessons = write_course(tmp_path, {"page": saves})
    course = homes.discover(docs, lessons)
    entry = run.build("smoke", log=lambda line: None, homes=course)["page"]
    [checkpoint] = entry.files
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    log = []
    again = run.build("smoke", log=log.append, homes=course)["page"]
    assert any("damaged" in line and "net.pt" in line for line in log)
    assert again.files[0].stat().st_size == 1024


@pytest.mark.kernel
def test_a_mis_shaped_entry_is_set_aside_and_recomputed(course):
    entry = run.build("smoke", log=lambda line: None, homes=course)["page"]
    (entry.path / "report.json").write_text("[]")  # valid JSON, wrong shape...
    manifest = json.loads((entry.path / "manifest.json").read_text())
    manifest["digests"]["report.json"] = cache.sha256(b"[]")  # ...and a matching digest
    (entry.path / "manifest.json").write_text(json.dumps(manifest))
    log = []
    again = run.build("smoke", log=log.append, homes=course)["page"]
    assert any("damaged" in line for line in log) and any(line.startswith("running") for line in log)
    assert again.report["values"]["doubled"]["value"] == 6


@pytest.mark.kernel
def test_a_killed_build_leaves_nothing_that_lasts(course):
    folder = cache.cache_dir() / "page"
    folder.mkdir(parents=True)
    stale, fresh = folder / ".abc.old.tmp", folder / ".def.new.tmp"
    stale.mkdir()
    fresh.mkdir()
    old = time.time() - cache.STALE_AFTER_S - 60
    os.utime(stale, (old, old))
    run.build("smoke", log=lambda line: None, homes=course)
    assert not stale.exists() and fresh.exists()  # another build may still be writing it
    assert [p.name for p in folder.iterdir() if not p.name.startswith(".")]


@pytest.mark.kernel
def test_two_builds_at_once_agree(tmp_path):
    docs, lessons = write_course(tmp_path, {"page": HOME.format(title="P", name="page", value=3)})
    script = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from sitebuild import homes, run; "
              f"e = run.build('smoke', log=lambda l: None, homes=homes.discover("
              f"__import__('pathlib').Path({str(docs)!r}), __import__('pathlib').Path({str(lessons)!r})));"
              f"print(e['page'].report['values']['doubled']['value'])")
    env = {**os.environ, "MNIST_TUTORIAL_CACHE": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o[0].strip() for o in outs] == ["6", "6"]
    entries = [p for p in (tmp_path / "cache" / "page").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1


def test_builds_started_together_share_one_precision_probe(tmp_path, monkeypatch):
    """The probe times the machine, so two builds probing at once could disagree."""
    monkeypatch.setenv("MNIST_TUTORIAL_CACHE", str(tmp_path / "cache"))
    answers = iter(["cpu bf16", "cpu fp32"])

    def slow_probe(requested):
        time.sleep(0.5)
        return next(answers)

    monkeypatch.setattr(cache, "_ask_torch", slow_probe)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        kinds = list(pool.map(lambda _: cache.device_kind(), range(2)))
    assert kinds == ["cpu bf16", "cpu bf16"]


@pytest.mark.kernel
@pytest.mark.parametrize("moment", ["as the kernel starts", "in a cell"])
def test_ctrl_c_stops_the_build_and_keeps_what_finished(tmp_path, moment):
    in_cell = tmp_path / "in-the-slow-cell"
    slow = HOME.format(title="S", name="slow", value=2).replace(
        "# %%\n# --8<-- [start:shown]",
        f"# %%\nimport pathlib, time\npathlib.Path({str(in_cell)!r}).touch()\ntime.sleep(120)\n\n"
        f"# %%\n# --8<-- [start:shown]")
    docs, lessons = write_course(tmp_path, {"first": HOME.format(title="F", name="first", value=3),
                                            "slow": slow})
    # As in a terminal, Ctrl-C is live: a shell without job control (CI's `cmd &`) starts
    # its background commands with SIGINT ignored, and Python then never raises on it.
    script = (f"import faulthandler; faulthandler.enable()\n"  # SIGABRT: every thread's stack
              f"import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
              f"import sys, functools, pathlib; sys.path.insert(0, {str(ROOT)!r})\n"
              f"import sitebuild.__main__ as cli, sitebuild.run, sitebuild.homes as h\n"
              f"cli.discover = sitebuild.run.discover = functools.partial(h.discover, "
              f"pathlib.Path({str(docs)!r}), pathlib.Path({str(lessons)!r}))\n"
              f"sys.exit(cli.main(['--profile', 'smoke', 'run']))\n")
    cache_root = tmp_path / "cache"
    log = tmp_path / "build.log"
    # A terminal's Ctrl-C: SIGINT to the foreground process group, here a session of its own.
    with log.open("w") as err:
        build = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, start_new_session=True,
                                 env={**os.environ, "MNIST_TUTORIAL_CACHE": str(cache_root)},
                                 stdout=subprocess.DEVNULL, stderr=err, text=True)
        deadline = time.monotonic() + 180
        # As the slow home's kernel starts (still importing, before its handler exists: a
        # SIGINT there prints a traceback), or while its cell sleeps.
        while not ("running lessons/slow.py" in log.read_text() if moment == "as the kernel starts"
                   else in_cell.exists()):
            assert build.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        os.killpg(build.pid, signal.SIGINT)
        pressed = time.monotonic()
        try:
            build.wait(timeout=60)
        except subprocess.TimeoutExpired:
            build.send_signal(signal.SIGABRT)
            build.wait(timeout=30)
            pytest.fail(f"the build did not stop within 60 s of Ctrl-C:\n{log.read_text()[-6000:]}")
    err = log.read_text()
    assert build.returncode == 130 and "Traceback" not in err, err
    assert "interrupted: the homes that finished are cached" in err
    # The cell was stopped by the interrupt, not by the kill that follows 10 s later.
    assert time.monotonic() - pressed < 8
    assert [p.name for p in (cache_root / "first").iterdir()] != []
    assert not (cache_root / "slow").exists() or not any((cache_root / "slow").iterdir())


# ---------------------------------------------------------------- pages and homes


def test_comments_and_code_are_left_alone():
    text = ("# Title\n\n<!-- todo later -->\n\nWrite `<!-- metric training.test_accuracy -->` "
            "to show it.\n\n```markdown\n<!-- figure training.loss_curve -->\n<!-- Metric x -->\n```\n"
            "\n!!! note\n\n    ```\n    <!-- table a.b -->\n    ```\n\nIt is <!-- metric training.x -->.\n")
    shortcodes.check_wellformed(text, "page.md")  # no error
    found = [code.text for code in shortcodes.find(text)]
    assert found == ["<!-- metric training.x -->"]


def test_percent_markers_without_a_space_still_split_cells(tmp_path):
    docs, lessons = write_course(tmp_path, {"page": HOME.format(title="P", name="page", value=3)
                                            + "#%%\nsecond = 2\n"})
    nb = homes.to_notebook(homes.discover(docs, lessons)["page"])
    assert nb.cells[-3].source == "second = 2"


def test_a_figure_cannot_carry_a_script_onto_the_site():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
           'onload="alert(1)"><script>alert(2)</script><a xlink:href="javascript:alert(3)">'
           '<rect width="5" height="5" onclick="steal()"/></a><foreignObject><p>x</p>'
           '</foreignObject><text>kept</text></svg>')
    clean = homes.sanitize_svg(svg)
    for active in ("script", "alert", "onload", "onclick", "javascript:", "foreignObject"):
        assert active not in clean
    assert "<text>kept</text>" in clean and 'width="5"' in clean
    with pytest.raises(homes.HomeError, match="not well-formed SVG"):
        homes.sanitize_svg("<svg><unclosed></svg>")

