"""The MkDocs plugin ``mnist-course`` (sitebuild/plugin/): its shape, its state across
builds, and the fixes it makes to mkdocs-jupyter's HTML, checked on mkdocs-jupyter's own
output so that an upgrade that changes what a fix patches fails here.

Quick: no site build and no kernel (the notebook below is executed by hand).
"""

from __future__ import annotations

import ast
import dataclasses
import os
import subprocess
import sys
import tempfile
from importlib.metadata import entry_points
from pathlib import Path

import nbformat
import pytest
from mkdocs.config import load_config
from mkdocs.exceptions import PluginError
from mkdocs_jupyter import convert
from mkdocs_jupyter.plugin import get_nb_toc

from conftest import ROOT
from mnist_tutorial.report import Format
from sitebuild.plugin import jupyter_fixes, results, shortcodes
from sitebuild.plugin.course import CoursePlugin
from sitebuild.plugin.staging import PREFIX, Staging
from sitebuild.plugin.state import BuildState

PLUGIN = ROOT / "sitebuild" / "plugin"
MUTABLE = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)


def test_the_entry_point_names_the_plugin():
    (point,) = [p for p in entry_points(group="mkdocs.plugins") if p.name == "mnist-course"]
    assert point.load() is CoursePlugin, "pip install -e . --no-deps registers it again"


# background.py: the runs behind `mkdocs serve`, whose runner the plugin object holds
@pytest.mark.parametrize("module", [*sorted(PLUGIN.glob("*.py")), ROOT / "sitebuild" / "background.py"],
                         ids=lambda p: p.name)
def test_each_module_is_small_and_keeps_no_module_level_state(module: Path):
    source = module.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 250, f"{module.name}: split it by concern"
    assert "sys.path" not in source
    tree = ast.parse(source)
    assert tree.body and isinstance(tree.body[0], ast.Expr), f"{module.name}: no docstring"
    for node in tree.body:
        value = getattr(node, "value", None)
        assert not (isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(value, MUTABLE)), (
            f"{module.name}:{node.lineno}: module-level mutable state; keep it on the build's state")
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Global)], module.name


def test_every_build_starts_from_a_new_state(monkeypatch):
    """``mkdocs serve`` keeps the plugin object across rebuilds: nothing of one build
    (the notebook pages' stylesheets, the runs) may reach the next."""
    monkeypatch.setenv("MNIST_TUTORIAL_PROFILE", "smoke")
    config = load_config(str(ROOT / "mkdocs.yml"))
    plugin = config.plugins["mnist-course"]
    plugin.on_startup(command="serve", dirty=False)
    plugin.on_config(config)
    first = plugin.state
    first.shared_css["assets/notebooks/x.css"] = "p {}"
    first.reports["page"] = {}
    plugin.on_config(config)
    assert plugin.state is not first and plugin.state.serving
    assert plugin.state.shared_css == {} and plugin.state.reports == {}
    staging = plugin.staging()
    assert plugin.staging() == staging and staging.is_dir()
    assert not staging.is_relative_to(ROOT / ".cache"), "notebooks are staged outside the run cache"
    plugin.on_shutdown()
    assert not staging.exists()


def test_a_killed_builds_staging_folder_goes_at_the_next_build(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    left = tmp_path / f"{PREFIX}{dead}-abc"
    (left / "notebooks").mkdir(parents=True)
    alive = tmp_path / f"{PREFIX}{os.getppid()}-def"
    alive.mkdir()
    staging = Staging()
    assert staging.path.parent == tmp_path and staging.path.is_dir()
    assert not left.exists() and alive.exists()
    staging.cleanup()
    assert not staging.path.exists()


def test_a_wrong_github_repo_fails_naming_the_setting(monkeypatch):
    from mkdocs.exceptions import PluginError

    monkeypatch.setenv("MNIST_TUTORIAL_GITHUB_REPO", "not a repo")
    config = load_config(str(ROOT / "mkdocs.yml"))
    with pytest.raises(PluginError, match="github_repo .* OWNER/NAME"):
        config.plugins["mnist-course"].on_config(config)


def test_one_registry_of_shortcode_kinds():
    text = "".join(f"<!-- {kind} home.key -->" for kind in shortcodes.KINDS)
    assert [code.kind.name for code in shortcodes.find(text)] == list(shortcodes.KINDS)
    with pytest.raises(TypeError):
        shortcodes.KINDS["new"] = None


def test_a_settings_key_is_its_path_in_the_configuration():
    (code,) = shortcodes.find("Trained for <!-- config training.train.num_epochs --> epochs.")
    assert (code.kind.name, code.name, code.key) == ("config", "training", "train.num_epochs")
    shortcodes.check_wellformed("<!-- config training.train.lr -->", "page.md")


FIGURE_IN_A_NOTE = """!!! note "A figure in an admonition"

    <!-- figure training.loss_curve
         alt="Line chart: the loss falls to {final_loss}
              after {final.num_epochs} epochs."
         caption="Training loss." -->
"""


def test_a_figure_takes_its_alt_text_and_caption_from_the_page():
    (code,) = shortcodes.find(FIGURE_IN_A_NOTE)
    assert dict(code.attributes) == {
        "alt": "Line chart: the loss falls to {final_loss} after {final.num_epochs} epochs.",
        "caption": "Training loss."}
    shortcodes.check_wellformed(FIGURE_IN_A_NOTE, "page.md")
    state = BuildState(profile="smoke", repo="", serving=False, offline=False, offline_copy=False,
                       reports={"training": {"values": {"final_loss": {"value": 0.0314, "cell": 4}},
                                             "config": {"final.num_epochs": {"text": "5"}},
                                             "figures": {"loss_curve": {"cell": 4}}}})
    assert results.check(state, code, "page.md")
    assert results.fill(state.reports["training"], code.attributes["alt"], "page.md", "training") == (
        "Line chart: the loss falls to 0.03 after 5 epochs.")
    assert results.fill(state.reports["training"], "{final_loss number 3}", "page.md",
                        "training") == "0.031"
    (unknown,) = shortcodes.find(FIGURE_IN_A_NOTE.replace("{final_loss}", "{last_loss}"))
    with pytest.raises(PluginError, match=r"page\.md: .*\{last_loss\}: lessons/training\.py has "
                                          r"no number or setting 'last_loss' \(its numbers: final_loss\)"):
        results.check(state, unknown, "page.md")


def test_a_metric_quotes_the_notebooks_variable_in_the_pages_words():
    state = BuildState(profile="smoke", repo="", serving=False, offline=False, offline_copy=False,
                       reports={"training": {"values": {
                           "test_accuracy": {"value": [0.981, 0.983], "cell": 7},
                           "val_acc": {"value": {"64": 0.97}, "cell": 9}}, "config": {}}})
    (code, family, unknown) = shortcodes.find(
        "<!-- metric training.test_accuracy percent 1 --> <!-- metric training.val_acc.64 percent -->"
        " <!-- metric training.val_acc.32 -->")
    assert results.check(state, code, "page.md") and results.check(state, family, "page.md")
    assert code.format == Format("percent", 1)
    quoted = results.published_metrics(state.reports["training"],
                                       {"test_accuracy": code.format}, "training")
    assert quoted["test_accuracy"]["text"] == "98.2\u00a0±\u00a00.1\u00a0%"
    assert quoted["test_accuracy"]["cell"] == 7
    with pytest.raises(PluginError, match=r"page\.md: .*has no variable holding a number "
                                          r"'val_acc\.32' \(its numbers: test_accuracy, val_acc\)"):
        results.check(state, unknown, "page.md")


def test_pages_that_quote_a_number_agree_on_how_a_rerun_compares_it():
    pages = [("b.md", "<!-- metric speedrun.seconds seconds 1 -->"),
             ("a.md", "<!-- metric speedrun.seconds seconds 2 --> <!-- metric speedrun.best -->")]
    formats = shortcodes.published_formats(pages)
    assert formats == {"speedrun": {"seconds": Format("seconds", 2), "best": Format()}}  # a.md first
    with pytest.raises(PluginError, match=r"b\.md: .*a\.md quotes it with other words"):
        shortcodes.published_formats(pages + [("b.md", "<!-- metric speedrun.best varies -->")])


def test_a_claim_is_a_variable_of_the_notebook_that_must_be_true():
    values = {"reaches": {"value": True, "cell": 5}, "gains": {"value": {"adamw": False}, "cell": 6},
              "count": {"value": 3, "cell": 2}}
    full = BuildState(profile="full", repo="", serving=False, offline=False, offline_copy=False,
                      reports={"training": {"values": values, "config": {}}})
    assert results.claim_values(full, full.reports["training"], ["reaches", "gains.adamw", "unset"],
                                "training") == {"reaches": True, "gains.adamw": False, "unset": False}
    # The smoke profile skips the claims its few images cannot show: never set, not checked.
    smoke = dataclasses.replace(full, profile="smoke")
    assert results.claim_values(smoke, smoke.reports["training"], ["unset"], "training") == {"unset": None}
    (number,) = shortcodes.find("<!-- claim training.count -->")
    with pytest.raises(PluginError, match=r"lessons/training\.py's count is 3, not True or False"):
        results.check(full, number, "page.md")
    pages = [("b.md", "Fits <!-- claim training.reaches -->."),
             ("a.md", "It reaches 98 % <!-- claim training.reaches -->, AdamW gains "
                      "<!-- claim training.gains.adamw --> <!-- metric training.count -->.")]
    assert shortcodes.published_claims(pages) == {"training": {"reaches": "a.md", "gains.adamw": "a.md"}}
    with pytest.raises(PluginError, match="a claim takes no words"):
        shortcodes.check_wellformed("# T\n\nIt holds <!-- claim training.reaches percent -->.\n", "p.md")


def test_a_key_that_is_both_a_number_and_a_setting_reads_as_the_setting_unless_told():
    report = {"values": {"compare_at": {"value": 0.975, "cell": 3}},
              "config": {"compare_at": {"text": "0.975"}}}
    assert results.fill(report, "{metric:compare_at percent 1} (target {compare_at})", "page.md",
                        "speedrun") == "97.5\u00a0% (target 0.975)"
    assert results.fill(report, "{config:compare_at}", "page.md", "speedrun") == "0.975"
    (code,) = shortcodes.find('<!-- figure speedrun.curve alt="{metric:compare_at}" caption="C" -->')
    assert code.attributes["alt"] == "{metric:compare_at}"


@pytest.mark.parametrize("text, problem", [
    ("The value is <!-- metric training.<script> -->.", "malformed shortcode"),
    ("The value is <!-- Metric training.test_accuracy -->.", "malformed shortcode"),
    ("The value is <!-- metric Training.test_accuracy -->.", "malformed shortcode"),
    ("The value is <!-- metric training.test_accuracy extra -->.", "cannot read 'extra'"),
    ("The value is <!-- metric training.test_accuracy percent percent -->.", "cannot read 'percent'"),
    ("The value is <!-- config training.train.lr percent -->.", "a config takes no words"),
    ('<!-- figure training.loss alt="{first_loss furlongs}" caption="." -->', "cannot read 'furlongs'"),
    ("<!-- figure training.loss_curve -->", "takes alt=.* caption=.*; this one has none"),
    ('<!-- figure training.loss_curve alt="A" -->', "this one has alt$"),
    ('<!-- figure training.loss_curve alt="A" caption="B" alt="C" -->', "this one has alt, caption, alt"),
    ('<!-- metric training.test_accuracy alt="A" -->', "a metric takes no attributes"),
    ('<!-- figure training.loss_curve alt="a "quoted" word" caption="B" -->', "malformed"),
    ('<!-- figure training.loss_curve alt="{Test}" caption="B" -->', "malformed"),
])
def test_a_malformed_shortcode_fails_naming_page_and_line(text, problem):
    with pytest.raises(PluginError, match=rf"page\.md:3: .*{problem}"):
        shortcodes.check_wellformed(f"# Title\n\n{text}\n", "page.md")


def test_an_unknown_setting_fails_naming_the_ones_the_home_records():
    state = BuildState(profile="smoke", repo="", serving=False, offline=False, offline_copy=False,
                       reports={"training": {"values": {}, "config": {"final.lr": {}}}})
    (known,) = shortcodes.find("<!-- config training.final.lr -->")
    assert results.check(state, known, "page.md")
    (unknown,) = shortcodes.find("<!-- config training.final.epochs -->")
    with pytest.raises(PluginError, match=r"page\.md: .*records no config 'final\.epochs' "
                                          r"\(its config: final\.lr\)"):
        results.check(state, unknown, "page.md")


# ---------------------------------------------------------------- mkdocs-jupyter's HTML


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A tiny executed notebook through mkdocs-jupyter's converter, as the site's
    mkdocs.yml configures it: (its HTML, its table of contents)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A notebook\n\nIts introduction."),
        nbformat.v4.new_markdown_cell("## Batches: `Dataset` and `DataLoader`"),
        nbformat.v4.new_code_cell("print(1 + 1)", execution_count=3, outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="2\n")]),
    ]
    path = tmp_path_factory.mktemp("notebook") / "page.ipynb"
    nbformat.write(nb, path)
    page_html = convert.nb2html(str(path), execute=False, allow_errors=False,
                                include_requirejs=False, custom_mathjax_url="data:,")
    toc, _ = get_nb_toc(str(path), 3)
    return page_html, toc


def test_each_code_cell_prompt_gets_its_anchor(rendered):
    page_html, count = jupyter_fixes.anchor_prompts(rendered[0])
    assert count == 1, "mkdocs-jupyter's prompt changed: update PROMPT in jupyter_fixes.py"
    assert '<div class="jp-InputPrompt jp-InputArea-prompt" id="in-3">In\xa0[3]:</div>' in page_html


def test_the_table_of_contents_links_the_headings_ids(rendered):
    page_html, toc = rendered
    before = [item.id for item in list(toc)[0].children]
    assert before == ["batches-and"], (
        "mkdocs-jupyter's table of contents keeps inline code now: match_toc_to_headings "
        "may be unneeded")
    assert jupyter_fixes.match_toc_to_headings(toc, page_html)
    assert [item.id for item in list(toc)[0].children] == ["batches-dataset-and-dataloader"]


def test_the_large_inlined_stylesheets_are_shared(rendered):
    shared = {}
    page_html, count = jupyter_fixes.share_large_styles(rendered[0], "notebooks/page/", shared)
    assert count >= 1, "mkdocs-jupyter inlines no large stylesheet now: share_large_styles is unneeded"
    assert len(shared) == count and all(len(css) >= jupyter_fixes.LARGE_CSS for css in shared.values())
    assert len(page_html) < len(rendered[0]) / 2
    assert '<link rel="stylesheet" href="../../assets/notebooks/' in page_html


def test_the_intro_goes_under_the_title(rendered):
    page_html, found = jupyter_fixes.insert_after_title(rendered[0], "<p>INTRO</p>")
    assert found, "mkdocs-jupyter's page has no <h1> now"
    assert page_html.index("</h1><p>INTRO</p>") < page_html.index("Its introduction")


def test_the_edit_button_opens_the_code_home():
    url = jupyter_fixes.edit_url_of_home("https://github.com/o/n/edit/main/docs/notebooks/data.ipynb",
                                         "lessons/data.py", "notebooks/data.ipynb")
    assert url == "https://github.com/o/n/edit/main/lessons/data.py"
