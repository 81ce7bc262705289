"""The glossary (docs/glossary.md) and the hook that links first uses to it (hooks/glossary.py).

The parser must accept the real glossary and refuse a malformed one; the linker must link
the first use of a term only, in running text only (never in code, links, headings,
admonition titles or math), plurals included. On the built smoke site every glossary
link of a lesson must point to an entry that exists, and every entry must be linked from
at least one lesson or exercise page.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from urllib.parse import urlsplit

import markdown
import pytest
from bs4 import BeautifulSoup
from mkdocs.exceptions import PluginError

from conftest import ROOT

GLOSSARY = ROOT / "docs" / "glossary.md"
# The words the course promises a definition of (issue 12).
REQUIRED = ["neuron", "unit", "layer", "input layer", "hidden layer", "output layer", "width",
            "depth", "weights", "bias", "activation function", "logit", "softmax", "loss",
            "cross-entropy", "gradient", "backpropagation", "epoch", "batch", "minibatch",
            "learning rate", "optimiser", "overfitting", "validation set", "test set",
            "regularisation", "parameter", "hyperparameter",
            # issue 24
            "capacity", "underfitting", "relu", "adam", "weight decay", "dropout",
            "augmentation", "data augmentation", "early stopping", "learning-rate schedule",
            "label smoothing", "vanishing gradient", "convolution", "confusion matrix", "mlp",
            "multilayer perceptron"]
# Entries that no lesson or exercise page uses in running text, each with the reason it
# stays in the glossary all the same. Keep it short: an entry that no page links usually
# has data-terms that miss the words the pages use.
NOT_LINKED: dict[str, str] = {}


def _load_hook():
    spec = importlib.util.spec_from_file_location("glossary_hook", ROOT / "hooks" / "glossary.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as MkDocs does: its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


hook = _load_hook()


@pytest.fixture(scope="module")
def entries():
    return hook.parse(GLOSSARY.read_text(encoding="utf-8"))


def entry(anchor, terms, name=None, excepts=()):
    return hook.Entry(name or anchor.title(), anchor, tuple(terms), tuple(excepts), f"About {anchor}.")


WEIGHTS = entry("weights", ["weight", "weights"])
LAYER = entry("layer", ["layer", "layers"])
HIDDEN = entry("hidden-layer", ["hidden layer", "hidden layers"])
WIDTH = entry("width", ["width"], excepts=["height, width"])


def linked(page_html, entries_=(WEIGHTS, LAYER, HIDDEN, WIDTH)):
    """(anchor, text) of every glossary link that the linker puts into ``page_html``."""
    soup = BeautifulSoup(hook.link_first_uses(page_html, list(entries_), "../../glossary/"),
                         "html.parser")
    return [(urlsplit(a["href"]).fragment, a.get_text()) for a in soup.select("a.glossary-term")]


# ---------------------------------------------------------------- the real glossary


def test_the_glossary_defines_the_course_words(entries):
    terms = {term for e in entries for term in e.terms}
    missing = [word for word in REQUIRED if word not in terms]
    assert not missing, f"docs/glossary.md defines no {missing}"
    anchors = [e.anchor for e in entries]
    assert len(anchors) == len(set(anchors))


def test_every_entry_has_a_short_plain_tooltip(entries):
    for e in entries:
        assert e.short.endswith((".", "?", "!")), e
        assert "\\(" not in e.short and "$" not in e.short, f"math in the tooltip of {e.name}"
        assert "lesson" not in e.short.lower() or "(" not in e.short, e.short  # link cut off
        assert 20 <= len(e.short) <= 200, e


def test_the_links_the_linker_writes_name_anchors_of_the_glossary(entries):
    body = markdown.Markdown(extensions=hook.EXTENSIONS, extension_configs=hook.EXTENSION_CONFIGS)
    ids = {tag["id"] for tag in BeautifulSoup(body.convert(GLOSSARY.read_text(encoding="utf-8")),
                                              "html.parser").find_all(id=True)}
    text = "<p>" + ". ".join(e.terms[0] for e in entries) + ".</p>"
    anchors = [anchor for anchor, _ in linked(text, entries)]
    assert sorted(anchors) == sorted(e.anchor for e in entries), "a term was not linked"
    assert set(anchors) <= ids


# ---------------------------------------------------------------- the linker


def test_only_the_first_use_is_linked():
    page = "<p>The weights change.</p><p>The weights change again, weight by weight.</p>"
    assert linked(page) == [("weights", "weights")]
    soup = BeautifulSoup(hook.link_first_uses(page, [WEIGHTS], "../../glossary/"), "html.parser")
    link = soup.select_one("a.glossary-term")
    assert link["href"] == "../../glossary/#weights"
    assert link["title"] == "Weights: About weights."
    assert soup.get_text() == BeautifulSoup(page, "html.parser").get_text(), "text changed"


@pytest.mark.parametrize("html, expected", [
    ("<p>One weight.</p>", [("weights", "weight")]),
    ("<p>Two Layers.</p>", [("layer", "Layers")]),  # plural, any case
    ("<p>A hidden layer, then a layer.</p>", [("hidden-layer", "hidden layer"), ("layer", "layer")]),
    ("<p>Weightless, multi-layer, layered.</p>", []),  # whole words only
    ("<ul><li>Its <strong>weights</strong></li></ul>", [("weights", "weights")]),
])
def test_terms_plurals_and_whole_words(html, expected):
    assert linked(html) == expected


@pytest.mark.parametrize("html", [
    "<p>Call <code>weights.sum()</code>.</p>",
    "<pre><code>weights = net.weights</code></pre>",
    '<p>See <a href="x/">the weights</a>.</p>',
    "<h2>The weights</h2>",
    '<div class="admonition note"><p class="admonition-title">Weights</p></div>',
    '<p>Math: <span class="arithmatex">\\(\\text{weights}\\)</span>.</p>',
    '<div class="arithmatex">\\[\\text{weights}\\]</div>',
    "<figure><figcaption>The weights</figcaption></figure>",
    "<table><tr><td>weights</td></tr></table>",
    "<div>weights outside any paragraph</div>",
    "<p><!-- weights --></p>",
])
def test_code_links_headings_and_math_are_left_alone(html):
    assert linked(html) == []
    assert hook.link_first_uses(html, [WEIGHTS], "g/") == html, "the page was rewritten"


def test_a_skipped_use_does_not_count_as_the_first():
    page = "<h2>Weights</h2><p><code>weights</code> hold the weights.</p>"
    assert linked(page) == [("weights", "weights")]


def test_excepted_phrases_do_not_count():
    page = "<p>Shape (batch, channel, height, width).</p><p>A layer of width 32.</p>"
    assert [anchor for anchor, _ in linked(page)] == ["layer", "width"]
    soup = BeautifulSoup(hook.link_first_uses(page, [WIDTH], "g/"), "html.parser")
    assert soup.select_one("a.glossary-term").parent.get_text() == "A layer of width 32."


# ---------------------------------------------------------------- malformed glossaries

GOOD = "Weights { #weights }\n:   The numbers a layer multiplies by. See [here](lessons/model.md).\n"


@pytest.mark.parametrize("text, message", [
    ("Weights\n:   The numbers. See [here](lessons/model.md).\n", "no anchor"),
    (GOOD + "\nBias { #bias }\n\nMore prose.\n", "needs a definition"),
    ("Weights { #weights }\n:   The numbers a layer multiplies by.\n", "links to no lesson"),
    (GOOD + "\nBias { #weights }\n:   An offset. See [here](lessons/model.md).\n", "#weights"),
    (GOOD + "\nWeight { #weight }\n:   Again. See [here](lessons/model.md).\n", "stands for both"),
    ("Bias { #bias }\n:   The number $b$ a unit adds. See [here](lessons/model.md).\n", "math"),
    ("Bias { #bias }\n:   One. Two. Three. Four [here](lessons/model.md).\n", "4 sentences"),
    ("# Glossary\n\nNo entries at all.\n", "no entries"),
])
def test_the_parser_refuses_a_malformed_glossary(text, message):
    with pytest.raises(PluginError, match="glossary") as error:
        hook.parse(text)
    assert message in str(error.value)


def test_the_parser_reads_terms_excepts_and_tooltip():
    text = ("---\ndescription: \"x\"\n---\n\n"
            'Batch { #batch data-terms="batch|minibatch" data-except="batch norm" }\n'
            ":   The images of one step ([data](lessons/data.md)). Its size is a setting.\n")
    [batch] = hook.parse(text)
    assert batch.anchor == "batch" and batch.name == "Batch"
    assert batch.terms == ("batch", "batches", "minibatch", "minibatches")
    assert batch.excepts == ("batch norm",)
    assert batch.short == "The images of one step."


@pytest.mark.parametrize("word, plural", [("bias", "biases"), ("batch", "batches"),
                                          ("epoch", "epochs"), ("logit", "logits"),
                                          ("test set", "test sets"), ("activation", "activations")])
def test_plural(word, plural):
    assert hook.plural(word) == plural


# ---------------------------------------------------------------- the built site


def test_the_site_links_lessons_to_glossary_entries_that_exist(site_dir: Path):
    glossary = BeautifulSoup((site_dir / "glossary" / "index.html").read_text(encoding="utf-8"),
                             "html.parser")
    ids = {tag["id"] for tag in glossary.find_all(id=True)}
    assert not glossary.select("article a.glossary-term"), "the glossary links to itself"
    assert glossary.select_one("article figure.result-figure img[alt]"), "no network diagram"
    pages = sorted([*(site_dir / "lessons").glob("*/index.html"),
                    *(site_dir / "exercises").glob("*/index.html")])
    assert pages
    for page in pages:
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        links = soup.select("article a.glossary-term")
        where = page.parent.relative_to(site_dir)
        assert links, f"{where} links no term to the glossary"
        anchors = [urlsplit(a["href"]).fragment for a in links]
        assert len(anchors) == len(set(anchors)), f"{where} links a term twice"
        for a in links:
            target = (page.parent / urlsplit(a["href"]).path).resolve()
            assert target == (site_dir / "glossary").resolve(), (where, a["href"])
            assert urlsplit(a["href"]).fragment in ids, (where, a["href"])
            assert not a.find_parent(["code", "pre", "h1", "h2", "h3", "h4"]), (where, a)
    for notebook in (site_dir / "notebooks").glob("*/index.html"):
        assert "glossary-term" not in notebook.read_text(encoding="utf-8"), notebook


def glossary_links(site_dir: Path) -> dict[str, list[str]]:
    """Anchor -> the lesson and exercise pages of the built site that link that entry."""
    pages: dict[str, list[str]] = {}
    for page in sorted([*(site_dir / "lessons").glob("*/index.html"),
                        *(site_dir / "exercises").glob("*/index.html")]):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for a in soup.select("article a.glossary-term"):
            pages.setdefault(urlsplit(a["href"]).fragment, []).append(
                str(page.parent.relative_to(site_dir)))
    return pages


def test_every_glossary_entry_is_linked_from_a_lesson_or_exercise(site_dir: Path, entries):
    linked_from = glossary_links(site_dir)
    anchors = {e.anchor for e in entries}
    assert NOT_LINKED.keys() <= anchors, "NOT_LINKED names an entry the glossary lacks"
    assert all(reason.strip() for reason in NOT_LINKED.values()), "a NOT_LINKED entry needs a reason"
    unlinked = sorted(anchors - linked_from.keys() - NOT_LINKED.keys())
    assert not unlinked, (f"no lesson or exercise page links the glossary entries {unlinked}: "
                          f"give them the words the pages use (data-terms), or list them in "
                          f"NOT_LINKED with the reason")
    stale = sorted(NOT_LINKED.keys() & linked_from.keys())
    assert not stale, f"{stale} are linked from the pages now: take them out of NOT_LINKED"
