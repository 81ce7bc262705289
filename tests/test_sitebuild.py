"""The build machinery: homes and pages, notebooks from homes, the cache, running homes.

Small homes are written into temporary folders, so these tests run in seconds and never
touch the course's cache; the course's own homes are checked by the site build and
tests/test_notebooks.py.
"""

from __future__ import annotations

import json
import textwrap

import nbformat
import pytest

from mnist_tutorial.report import Format, compare, metric
from sitebuild import cache, homes, run

HOME = '''\
# %% [markdown]
# # {title}

# %%
from mnist_tutorial.report import Report

report = Report("{name}")
VALUE = {value}

# %%
# --8<-- [start:shown]
def double(x):
    return 2 * x
# --8<-- [end:shown]

# %% tags=["report"]
doubled = double(VALUE)
stays_positive = doubled > 0
'''


def write_course(tmp_path, pages: dict[str, str]) -> tuple:
    """docs/lessons/<page>.md and lessons/<home>.py for each home -> source."""
    docs, lessons = tmp_path / "docs", tmp_path / "lessons"
    (docs / "lessons").mkdir(parents=True)
    lessons.mkdir()
    for name, source in pages.items():
        (docs / "lessons" / f"{name.replace('_', '-')}.md").write_text(f"# {name}\n")
        (lessons / f"{name}.py").write_text(source)
    return docs, lessons


@pytest.fixture
def course(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TUTORIAL_CACHE", str(tmp_path / "cache"))
    docs, lessons = write_course(tmp_path, {
        "first_page": HOME.format(title="First", name="first_page", value=3),
        "second_page": "# ---\n# jupyter:\n#   mnist_tutorial:\n#     uses: [first_page]\n# ---\n\n"
                       + HOME.format(title="Second", name="second_page", value=5),
    })
    return docs, lessons


# ---------------------------------------------------------------- homes and pages


def test_the_course_has_one_home_per_page():
    found = homes.discover()
    assert len(found) >= 13
    for name, home in found.items():
        assert home.page and (homes.DOCS / home.page).is_file(), name
        assert home.path == homes.HOMES / f"{name}.py"
    assert found["evaluation"].uses == ("training",)


def test_a_page_without_home_and_a_home_without_page_fail(tmp_path):
    docs, lessons = write_course(tmp_path, {"only": HOME.format(title="T", name="only", value=1)})
    (docs / "lessons" / "new-page.md").write_text("# New\n")
    with pytest.raises(homes.HomeError,
                       match=r"docs/lessons/new-page.md has no code home: create lessons/new_page.py"):
        homes.discover(docs, lessons)
    (docs / "lessons" / "new-page.md").unlink()
    (lessons / "stray.py").write_text(HOME.format(title="S", name="stray", value=1))
    with pytest.raises(homes.HomeError, match="lessons/stray.py belongs to no page"):
        homes.discover(docs, lessons)
    assert homes.discover(docs, lessons, complete=False)["stray"].page is None


def test_uses_must_name_homes_without_cycles(tmp_path):
    header = "# ---\n# jupyter:\n#   mnist_tutorial:\n#     uses: [{}]\n# ---\n\n"
    docs, lessons = write_course(tmp_path, {
        "a": header.format("b") + HOME.format(title="A", name="a", value=1),
        "b": header.format("a") + HOME.format(title="B", name="b", value=1)})
    with pytest.raises(homes.HomeError, match="cycle: a -> b -> a"):
        homes.discover(docs, lessons)
    (lessons / "b.py").write_text(header.format("nowhere") + HOME.format(title="B", name="b", value=1))
    with pytest.raises(homes.HomeError, match="uses 'nowhere', which is no home"):
        homes.discover(docs, lessons)


def test_library_modules_follow_imports_through_the_package():
    training = {p.name for p in homes.library_modules("from mnist_tutorial.training import fit")}
    assert {"__init__.py", "training.py", "data.py", "models.py", "config.py"} <= training
    toy = {p.name for p in homes.library_modules("from mnist_tutorial import toy\nimport torch")}
    assert "toy.py" in toy and "training.py" not in toy and "data.py" not in toy


# ---------------------------------------------------------------- the notebook


def test_notebook_gets_setup_and_comparison_cells_and_loses_snippet_markers(course):
    docs, lessons = course
    home = homes.discover(docs, lessons)["first_page"]
    nb = homes.to_notebook(home)
    sources = [cell.source for cell in nb.cells]
    assert sources[0] == "# First" and nb.cells[0].cell_type == "markdown"
    assert sources[1] == homes.SETUP
    assert sources[-1] == homes.FINISH and sources[-2] == homes.FINISH_TEXT
    assert not any("--8<--" in source for source in sources)
    assert "def double(x):" in "\n".join(sources)
    assert [cell.id for cell in nb.cells] == [f"first-page-{i}" for i in range(len(nb.cells))]
    assert nbformat.writes(homes.to_notebook(home)) == nbformat.writes(nb)  # same bytes
    # The reporting cells (the home's tagged one, the build's setup and comparison) are
    # folded in JupyterLab; the lesson's code is not.
    folded = [cell.source.splitlines()[0] for cell in nb.cells
              if cell.metadata.get("jupyter", {}).get("source_hidden")]
    assert folded == [homes.SETUP.splitlines()[0], 'doubled = double(VALUE)',
                      homes.FINISH.splitlines()[0]]
    assert all(homes.REPORT_TAG in cell.metadata["tags"] for cell in nb.cells
               if cell.source.splitlines()[0] in folded)


def test_what_jupytext_writes_keeps_working(tmp_path):
    """A home saved from Jupyter: jupytext's header, cell titles and magics."""
    source = textwrap.dedent('''\
        # ---
        # jupyter:
        #   jupytext:
        #     text_representation:
        #       extension: .py
        #       format_name: percent
        #       format_version: '1.3'
        #       jupytext_version: 1.19.6
        #   kernelspec:
        #     display_name: Python 3
        #     name: python3
        # ---

        # %% [markdown]
        # # Saved from Jupyter

        # %% Load the extension
        # %load_ext tensorboard
        from mnist_tutorial.report import Report

        report = Report("saved")
        ''')
    docs, lessons = write_course(tmp_path, {"saved": source})
    nb = homes.to_notebook(homes.discover(docs, lessons)["saved"])
    code = nb.cells[2]
    assert code.source.startswith("%load_ext tensorboard")
    assert code.metadata.get("title") == "Load the extension"
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_a_home_must_start_with_a_title_and_make_a_report(tmp_path):
    docs, lessons = write_course(tmp_path, {"untitled": "# %%\nx = 1\n",
                                            "silent": "# %% [markdown]\n# # Silent\n\n# %%\nx = 1\n"})
    found = homes.discover(docs, lessons)
    with pytest.raises(homes.HomeError, match="first cell must be markdown"):
        homes.to_notebook(found["untitled"])
    with pytest.raises(homes.HomeError, match=r"report = Report\(\"silent\""):
        homes.to_notebook(found["silent"])


def test_published_notebook_names_the_course_and_the_site_numbers(course):
    docs, lessons = course
    nb = homes.to_notebook(homes.discover(docs, lessons)["first_page"])
    report = {"provenance": {"profile": "full"},
              "metrics": {"doubled": {**metric(6.0), "cell": 3},
                          "raced": {**metric(5, Format(tolerance=4)), "cell": 4}},
              "claims": ["stays_positive"]}
    course = ["https://o.github.io/n/downloads/x-1-py3-none-any.whl", "git+https://github.com/o/n@abc"]
    text = homes.publish(nb, course, report)
    cells = nbformat.reads(text, as_version=4).cells
    assert f"COURSE = {course!r}" in cells[1].source
    finish = cells[-1].source
    namespace = {"report": type("R", (), {"finish": lambda self, site: namespace.update(site=site)})()}
    exec(compile(finish, "finish", "exec"), namespace)
    site = namespace["site"]
    assert site == {"profile": "full", "precision": None, "metrics": {
        "doubled": {"value": 6.0, "unit": "number", "digits": 2, "text": "6.00"},
        "raced": {"value": 5.0, "unit": "count", "digits": 2, "text": "5", "tolerance": 4}},
        "claims": ["stays_positive"]}
    assert len(finish.splitlines()) == 5  # a line per number; the claims close the last
    # The learner's rerun is judged by the tolerance the lesson declared, not by equality.
    rerun = {"doubled": {"value": 6.0, "text": "6.00"}, "raced": {"value": 8.0, "text": "8"}}
    assert compare(rerun, "full", site)[0] == "Your run agrees with the site's."
    rerun["raced"] = {"value": 10.0, "text": "10"}
    assert "raced: yours 10, site 5: DIFFERENT" in "\n".join(compare(rerun, "full", site))
    # A run in another precision than the site's is told so, and how to match it.
    head = compare(rerun, "full", {**site, "precision": "bf16"}, "fp32")[0]
    assert "the site trained in bf16, this run in fp32" in head
    assert "MNIST_TUTORIAL_PRECISION=bf16" in head


# ---------------------------------------------------------------- the cache


REPORT = {"values": {}, "tables": {}, "figures": {}, "provenance": {}}


def _store(name="h", key="k" * 32):
    return cache.Cache().store(name, key, json.dumps(REPORT).encode(), b"{}", {}, {"wall_time_s": 1.0})


def test_entries_are_verified_and_a_damaged_one_is_moved_aside(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TUTORIAL_CACHE", str(tmp_path))
    entry = _store()
    assert cache.Cache().load("h", "k" * 32).report == REPORT
    (entry.path / "report.json").write_text(json.dumps({**REPORT, "provenance": {"tampered": 1}}))
    messages = []
    assert cache.Cache().load("h", "k" * 32, messages.append) is None
    assert "report.json does not match its digest" in messages[0]
    assert not entry.path.exists() and list((tmp_path / ".damaged").iterdir())


def test_an_interrupted_store_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TUTORIAL_CACHE", str(tmp_path))
    missing = tmp_path / "no-such-checkpoint.pt"
    with pytest.raises(FileNotFoundError):
        cache.Cache().store("h", "k" * 32, b"{}", b"{}", {"net.pt": missing}, {})
    assert list((tmp_path / "h").iterdir()) == []


def test_keys_change_with_the_home_what_it_uses_and_the_profile(course):
    docs, lessons = course
    found = homes.discover(docs, lessons)
    first = cache.key(found["first_page"], "smoke", {}, "cpu")
    second = cache.key(found["second_page"], "smoke", {"first_page": first}, "cpu")
    assert cache.key(found["first_page"], "full", {}, "cpu") != first
    assert cache.key(found["first_page"], "smoke", {}, "cuda") != first
    assert cache.key(found["first_page"], "smoke", {}, "cpu bf16") != cache.key(
        found["first_page"], "smoke", {}, "cpu fp32")
    assert cache.key(found["second_page"], "smoke", {"first_page": "other"}, "cpu") != second
    path = lessons / "first_page.py"
    path.write_text(path.read_text() + "# a comment\n")
    assert cache.key(found["first_page"], "smoke", {}, "cpu") != first
    assert cache.key(found["second_page"], "smoke", {"first_page": first}, "cpu") == second



def test_a_file_a_home_reads_joins_its_key_and_must_exist(tmp_path):
    script = tmp_path / "docs" / "page.js"
    header = "# ---\n# jupyter:\n#   mnist_tutorial:\n#     reads: [docs/page.js]\n# ---\n\n"
    docs, lessons = write_course(tmp_path, {"page": header + HOME.format(title="P", name="page", value=1)})
    with pytest.raises(homes.HomeError, match="reads 'docs/page.js', which is not a file"):
        homes.discover(docs, lessons)
    script.write_text("var x = 1;")
    home = homes.discover(docs, lessons)["page"]
    first = cache.key(home, "smoke", {}, "cpu")
    script.write_text("var x = 2;")
    assert cache.key(home, "smoke", {}, "cpu") != first

# ---------------------------------------------------------------- running homes


@pytest.mark.kernel
def test_build_runs_each_home_once_then_loads_it(course):
    docs, lessons = course
    found = homes.discover(docs, lessons)
    log = []
    entries = run.build("smoke", log=log.append, homes=found)
    assert [line for line in log if line.startswith("running")] == [
        "running lessons/first_page.py (smoke profile)...",
        "running lessons/second_page.py (smoke profile)..."]
    first = entries["first_page"]
    # The notebook's numbers, each with the cell that set it: setup [1], Report [2], double [3].
    assert first.report["values"]["doubled"] == {"value": 6, "cell": 4}
    assert first.report["values"]["VALUE"] == {"value": 3, "cell": 2}
    assert first.report["values"]["stays_positive"] == {"value": True, "cell": 4}  # a claim
    assert first.provenance["profile"] == "smoke" and first.provenance["home"] == "lessons/first_page.py"

    log.clear()
    (lessons / "second_page.py").write_text((lessons / "second_page.py").read_text() + "# edit\n")
    run.build("smoke", log=log.append, homes=found)
    assert [line for line in log if line.startswith("running")] == [
        "running lessons/second_page.py (smoke profile)..."]


@pytest.mark.kernel
def test_a_false_claim_is_the_runs_value_for_the_build_to_judge(course):
    docs, lessons = course
    path = lessons / "first_page.py"
    path.write_text(path.read_text().replace("VALUE = 3", "VALUE = -3"))
    entries = run.build("smoke", ["first_page"], log=lambda line: None,
                        homes=homes.discover(docs, lessons))
    # The run itself succeeds: which variables are claims, and must be True, is the pages' say.
    assert entries["first_page"].report["values"]["stays_positive"]["value"] is False


@pytest.mark.kernel
def test_keep_going_builds_the_others_and_remembers_the_failure(course):
    docs, lessons = course
    (lessons / "third_page.py").write_text(HOME.format(title="Third", name="third_page", value=7))
    path = lessons / "first_page.py"
    path.write_text(path.read_text().replace("VALUE = 3", "VALUE = 3\nraise RuntimeError('boom')"))
    found = homes.discover(docs, lessons, complete=False)
    log = []
    entries, failures = run.build_all("smoke", log=log.append, homes=found, keep_going=True)
    assert list(entries) == ["third_page"]
    assert failures["first_page"].cell == 2 and "RuntimeError: boom" in str(failures["first_page"])
    assert failures["first_page"].notebook is not None  # the page links to its traceback
    assert str(failures["second_page"]) == ("lessons/second_page.py was not run: it uses "
                                            "first_page, whose run failed")
    log.clear()  # a rebuild (mkdocs serve) does not run the same failing code again
    _, again = run.build_all("smoke", log=log.append, homes=found, keep_going=True)
    assert again["first_page"] is failures["first_page"]
    assert not [line for line in log if line.startswith("running")]


@pytest.mark.kernel
def test_other_seeds_shift_every_seed_and_report_flipped_claims(tmp_path, monkeypatch):
    from sitebuild.verify import other_seeds

    monkeypatch.setenv("MNIST_TUTORIAL_CACHE", str(tmp_path / "cache"))
    # random.Random(0).random() is 0.844, random.Random(1000).random() 0.777.
    docs, lessons = write_course(tmp_path, {"lucky": (
        "# %% [markdown]\n# # Lucky\n\n# %%\nimport random\n\n"
        "from mnist_tutorial.report import Report\n\nreport = Report('lucky')\n"
        "draw = random.Random(0).random()\n"
        "above = draw > 0.8\n"
        "is_fraction = 0 <= draw < 1\n")})
    (docs / "lessons" / "lucky.md").write_text(
        "# Lucky\n\nThe draw is above 0.8 <!-- claim lucky.above --> and a fraction "
        "<!-- claim lucky.is_fraction -->.\n")
    found = homes.discover(docs, lessons)
    entries = run.build("smoke", homes=found, log=lambda line: None)
    assert entries["lucky"].report["values"]["above"]["value"] is True  # with seed 0
    claims, errors = other_seeds("smoke", None, found, log=lambda line: None, docs=docs)
    assert not errors
    assert claims == [("lucky", "above", "lessons/lucky.md", False),
                      ("lucky", "is_fraction", "lessons/lucky.md", True)]
    assert list((tmp_path / "cache" / "lucky").iterdir()) != []  # only the seed-0 entry
    assert len(list((tmp_path / "cache" / "lucky").iterdir())) == 1


@pytest.mark.kernel
def test_a_home_gets_the_files_of_the_homes_it_uses(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TUTORIAL_CACHE", str(tmp_path / "cache"))
    saver = HOME.format(title="Saver", name="saver", value=1) + (
        "\n# %%\nfrom mnist_tutorial.training import checkpoint_dir\n\n"
        "checkpoint_dir().mkdir(parents=True, exist_ok=True)\n"
        "(checkpoint_dir() / 'weights.txt').write_text('trained')\n")
    loader = ("# ---\n# jupyter:\n#   mnist_tutorial:\n#     uses: [saver]\n# ---\n\n"
              + HOME.format(title="Loader", name="loader", value=1) +
              "\n# %%\nfrom mnist_tutorial.training import checkpoint_dir\n\n"
              "weights_arrive = (checkpoint_dir() / 'weights.txt').read_text() == 'trained'\n")
    docs, lessons = write_course(tmp_path, {"saver": saver, "loader": loader})
    entries = run.build("smoke", ["loader"], log=lambda line: None,
                        homes=homes.discover(docs, lessons))
    assert [p.name for p in entries["saver"].files] == ["weights.txt"]
    assert entries["loader"].files == []  # what it was given is not its own
    assert json.loads((entries["loader"].path / "report.json").read_text())["values"][
        "weights_arrive"]["value"] is True


@pytest.mark.kernel
def test_an_asset_is_kept_in_the_entry_and_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TUTORIAL_CACHE", str(tmp_path / "cache"))
    source = HOME.format(title="Weights", name="weights", value=1).replace(
        'doubled = ', 'report.asset("net", bytes(range(256)) * 3, ".bin")\n'
                      'doubled = ')
    docs, lessons = write_course(tmp_path, {"weights": source})
    found = homes.discover(docs, lessons)
    entry = run.build("smoke", log=lambda line: None, homes=found)["weights"]
    assert entry.report["assets"]["net"]["file"] == "net.bin"
    assert entry.assets["net.bin"].read_bytes() == bytes(range(256)) * 3
    assert entry.files == []  # an asset is published, not handed to other homes
    key = entry.path.name
    entry.assets["net.bin"].write_bytes(b"tampered")
    messages = []
    assert cache.Cache().load("weights", key, messages.append) is None
    assert "assets/net.bin does not match its digest" in messages[0]


def test_an_entry_without_the_asset_its_report_names_is_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TUTORIAL_CACHE", str(tmp_path))
    report = {**REPORT, "assets": {"net": {"file": "net.bin", "bytes": 3, "sha256": "0" * 64}}}
    cache.Cache().store("h", "k" * 32, json.dumps(report).encode(), b"{}", {}, {})
    messages = []
    assert cache.Cache().load("h", "k" * 32, messages.append) is None
    assert "asset net.bin is missing or differs" in messages[0]


# ---------------------------------------------------------------- do the numbers reproduce?


def test_one_rule_says_whether_a_rerun_reproduces():
    from mnist_tutorial.report import reproduces as verdict

    def metric(value, std=None, unit="number", timing=False, tolerance=None):
        return {"value": value, "std": std, "unit": unit, "timing": timing, "tolerance": tolerance}

    assert verdict(metric(0.5), metric(0.5)) == "same"
    assert verdict(metric(0.98, std=0.002), metric(0.983)) == "within mean ± 2 std"
    assert verdict(metric(0.98, std=0.002), metric(0.99)) == "DIFFERENT"
    assert verdict(metric(1.0, tolerance=0.01), metric(1.005)) == "within the tolerance the lesson declares"
    assert verdict(metric(1.0), metric(1.005)) == "DIFFERENT"
    assert verdict(metric(2.0, unit="seconds"), metric(9.0)) == "a measure of speed: depends on the machine"
    assert verdict(metric(12.0, timing=True), metric(30.0)) == "a measure of speed: depends on the machine"


@pytest.mark.kernel
def test_verify_reruns_from_scratch_and_compares(course):
    from sitebuild.verify import verify

    docs, lessons = course
    (docs / "lessons" / "first-page.md").write_text(
        "# First\n\nIt is <!-- metric first_page.doubled number 1 -->.\n")
    found = homes.discover(docs, lessons)
    log = []
    rows = verify("smoke", ["first_page"], found, log=log.append, docs=docs)
    assert rows == [("first_page", "doubled", "6.0", "6.0", "same")]  # each number the pages quote
    # the cached run first (run here: nothing cached yet), then the fresh one
    assert sum(line.startswith("running lessons/first_page.py") for line in log) == 2
    assert (cache.cache_dir() / "first_page").is_dir()  # the scratch cache is gone, not this one


def test_prune_keeps_the_entries_a_site_used_and_nothing_half_written(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TUTORIAL_CACHE", str(tmp_path))
    for path in ("first/used", "first/stale", "first/.k.x.tmp", "second/used2", ".damaged/x",
                 "site/smoke/notebooks", "mkdocs-jupyter/y"):
        (tmp_path / path).mkdir(parents=True)
    cache.Cache().prune(["first", "second"], None, log=lambda line: None)  # a failed build: keep all
    assert sorted(p.name for p in (tmp_path / "first").iterdir()) == ["stale", "used"]
    assert not (tmp_path / ".damaged").exists()
    removed = cache.Cache().prune(["first", "second"], {"first": "used", "second": "used2"},
                          log=lambda line: None)
    assert removed == 1
    assert [p.name for p in (tmp_path / "first").iterdir()] == ["used"]
    assert (tmp_path / "second" / "used2").is_dir()
    assert (tmp_path / "site" / "smoke" / "notebooks").is_dir()  # not the run cache's
    assert (tmp_path / "mkdocs-jupyter" / "y").is_dir()
