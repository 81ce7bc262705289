"""The figure sanitiser (``sitebuild/svg.py``): known SVG attacks are removed, and what
matplotlib writes, in test figures and in the cached figures the site publishes, passes
unchanged. The allowlist is exactly what matplotlib writes: the figures here use every
element and attribute on it."""

from __future__ import annotations

import datetime
import io
import json
import re
import xml.etree.ElementTree as ET

import matplotlib.pyplot as plt
import numpy as np
import pytest

from mnist_tutorial import plots
from sitebuild import cache, homes
from sitebuild.plugin import publishing
from sitebuild.svg import ALLOWED, SVGError, sanitize

OPEN = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def lines_legend_and_log_scale() -> str:
    seeds = np.random.default_rng(0).uniform(0.1, 2.0, (3, 40)).cumsum(axis=1)[:, ::-1] / 40
    return plots.loss_curves(seeds, steps_per_epoch=10, val_losses=seeds[:, 9::10])


def scatter_image_colorbar_and_math() -> str:
    rng = np.random.default_rng(1)
    with plots.figure(1, 3, figsize=(9, 3)) as (fig, (left, middle, right)):
        points = left.scatter(*rng.normal(size=(2, 60)), c=rng.uniform(size=60), s=12)
        fig.colorbar(points, ax=left)
        middle.imshow(rng.uniform(size=(8, 8)), cmap="gray")  # an embedded PNG
        right.imshow(rng.uniform(size=(4, 4)), interpolation="none", alpha=0.5)  # scaled by SVG
        right.set_title(r"$\sigma(z) = \frac{1}{1 + e^{-z}}$")
        left.text(0.5, 0.5, "rotated", rotation=30, transform=left.transAxes)
        left.plot([0, 1], [0, 1], url="#figure_1")  # a link within the figure
        return plots.to_svg(fig)


def bars_hatches_and_shading() -> str:
    with plots.figure(1, 2, figsize=(8, 3), layout="constrained") as (fig, (left, right)):
        left.bar(["a", "b", "c"], [3, 1, 2], hatch="//", edgecolor="#ad1457", alpha=0.6)
        left.annotate("tallest", (0, 3), xytext=(1, 2.5), arrowprops={"arrowstyle": "->"})
        right.tripcolor([0, 1, 0, 1], [0, 0, 1, 1], [0, 1, 2, 3], shading="gouraud")
        return plots.to_svg(fig)


def text_as_paths_with_metadata() -> str:
    metadata = {"Title": "a figure", "Date": datetime.datetime(2024, 1, 1), "Creator": "the course",
                "Contributor": ["a", "b"], "Publisher": "p", "Rights": "r", "Keywords": ["x", "y"],
                **{key: key.lower() for key in ("Coverage", "Description", "Identifier", "Language",
                                                "Relation", "Source")}}
    with plots.figure(figsize=(3, 2)) as (fig, ax):
        ax.plot([1, 2, 3], [1, 4, 9], marker="o", label="squares")
        ax.set_title(r"$x^2$ and $\sqrt{x}$", color="#2e7d32")
        ax.legend()
        buffer = io.StringIO()
        with plt.rc_context({**plots.STYLE, "svg.fonttype": "path", "svg.id": "figure"}):
            fig.savefig(buffer, format="svg", metadata=metadata)
        return buffer.getvalue()


FIGURES = [lines_legend_and_log_scale, scatter_image_colorbar_and_math, bars_hatches_and_shading,
           text_as_paths_with_metadata]


@pytest.fixture(scope="module")
def figures() -> dict[str, str]:
    return {draw.__name__: draw() for draw in FIGURES}


def canonical(svg: str) -> str:
    """Tags, attributes and text: what a browser draws (comments, the DOCTYPE and where a
    namespace is declared make no difference)."""
    return ET.canonicalize(svg)


@pytest.mark.parametrize("name", [draw.__name__ for draw in FIGURES])
def test_a_matplotlib_figure_passes_unchanged(figures, name):
    clean, removed = sanitize(figures[name])
    assert removed == []
    assert canonical(clean) == canonical(figures[name])


def test_the_allowlist_is_what_matplotlib_writes(figures):
    written: dict[str, set[str]] = {}
    for svg in figures.values():
        for element in ET.fromstring(svg).iter():
            written.setdefault(element.tag, set()).update(element.attrib)
    assert written == {tag: set(attributes) for tag, attributes in ALLOWED.items()}


def test_a_link_out_of_a_figure_is_removed():
    with plots.figure(figsize=(3, 2)) as (fig, ax):
        ax.plot([0, 1], [0, 1], url="https://example.org/")
        clean, removed = sanitize(plots.to_svg(fig))
    assert removed == ["href 'https://example.org/' on <a>"]
    assert "example.org" not in clean and "<a target=\"_blank\">" in clean


def test_the_cached_figures_pass_unchanged():
    """The figures the site publishes (notebook outputs and generated/*.svg) lose nothing."""
    notebooks = sorted(cache.cache_dir().glob("*/*/notebook.ipynb"))
    if not notebooks:
        pytest.skip(f"no cached notebooks in {cache.cache_dir()}")
    for notebook in notebooks:
        outputs = [output for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
                   for output in cell.get("outputs", [])]
        report = json.loads((notebook.parent / "report.json").read_text(encoding="utf-8"))
        svgs = [output["data"]["image/svg+xml"] for output in outputs
                if "image/svg+xml" in output.get("data", {})]
        for svg in [*svgs, *(figure["svg"] for figure in report.get("figures", {}).values())]:
            svg = "".join(svg)  # a notebook may store its text as a list of lines
            clean, removed = sanitize(svg)
            assert removed == [], f"{notebook.parent}: {removed}"
            assert canonical(clean) == canonical(svg), notebook.parent


# ------------------------------------------------------------------- attacks

LINK_VALUES = ["java&#x09;script:alert(1)", "java&#x0A;script:alert(1)", "java&#x0D;script:alert(1)",
               "   javascript:alert(1)", "JaVaScRiPt:alert(1)",
               "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
               "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+",
               "data:image/png;base64,iVBO'onload='alert(1)"]
PAYLOADS = {
    **{f"a {attribute}={value!r}": f'<a {attribute}="{value}"><text>x</text></a>'
       for attribute in ("href", "xlink:href") for value in LINK_VALUES},
    "animate": '<a xlink:href="#x"><animate attributeName="href" values="javascript:alert(1)"/></a>',
    "set": '<a xlink:href="#x"><set attributeName="href" to="javascript:alert(1)"/></a>',
    "animateTransform": '<g><animateTransform attributeName="transform" type="rotate" to="9"/></g>',
    "animateMotion": '<path d="M 0 0"><animateMotion path="M 0 0 L 9 9" dur="1s"/></path>',
    "discard": '<g><discard begin="1s"/></g>',
    "image href": '<image href="https://evil.example/x.png"/>',
    "image xlink:href": '<image xlink:href="https://evil.example/x.png"/>',
    "use href": '<use href="https://evil.example/s.svg#a"/>',
    "use xlink:href": '<use xlink:href="https://evil.example/s.svg#a"/>',
    "style @import": "<style>@import url(https://evil.example/x.css)</style>",
    "style url": "<style>*{fill: url(https://evil.example/x.svg#p)}</style>",
    "style page-wide": "<style>body{display: none}</style>",
    "style text after a child": "<style>*{stroke-linecap: butt}<g/>@import 'https://evil.example/x'</style>",
    "style attribute url": '<path d="M 0 0" style="background:url(https://evil.example/)"/>',
    "style attribute image-set": '<path d="M 0 0" style="fill:image-set(\'https://evil.example/x\' 1x)"/>',
    "style attribute escape": '<path d="M 0 0" style="background:\\75 rl(https://evil.example/)"/>',
    "style attribute expression": '<path d="M 0 0" style="width:expression(alert(1))"/>',
    "fill url": '<rect fill="url(https://evil.example/#x)"/>',
    "clip-path url": '<g clip-path="url( https://evil.example/#p)"/>',
    "script": "<script>alert(1)</script>",
    "script src": '<script xlink:href="https://evil.example/x.js"/>',
    "namespaced script": '<html:script xmlns:html="http://www.w3.org/1999/xhtml">alert(1)</html:script>',
    "onclick": '<path d="M 0 0" onclick="alert(1)" onmouseover="alert(2)"/>',
    "foreignObject": '<foreignObject><iframe xmlns="http://www.w3.org/1999/xhtml" '
                     'src="https://evil.example/"/></foreignObject>',
    "iframe": '<iframe src="https://evil.example/"/>',
    "embed": '<embed src="https://evil.example/x.swf"/>',
    "object": '<object data="https://evil.example/x.html"/>',
    "feImage": '<filter id="f"><feImage xlink:href="https://evil.example/x.png"/></filter>',
}
FORBIDDEN = ("javascript", "evil", "script", "alert", "@import", "onload", "onclick", "animate",
             "<set", "discard", "foreignobject", "iframe", "embed", "object", "feimage", "data:text",
             "data:image/svg", "xhtml", "display", "expression", "image-set")


@pytest.fixture(scope="module")
def figure(figures) -> str:
    svg = figures["scatter_image_colorbar_and_math"]
    assert not [word for word in FORBIDDEN if word in svg.lower()], "the check would mean nothing"
    return svg


def _without_payload(svg: str) -> str:
    root = ET.fromstring(svg)
    root.remove(root.find("{http://www.w3.org/2000/svg}g[@id='payload']"))
    return canonical(ET.tostring(root, encoding="unicode"))


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_an_attack_is_removed_and_the_figure_kept(figure, payload):
    attacked = figure.replace("</svg>", f'<g id="payload">{payload}</g></svg>')
    clean, removed = sanitize(attacked)
    assert removed
    assert not [word for word in FORBIDDEN if word in clean.lower()], clean[-600:]
    assert _without_payload(clean) == canonical(figure)


def test_an_event_attribute_on_the_root_is_removed(figure):
    clean, removed = sanitize(figure.replace("<svg ", '<svg onload="alert(1)" ', 1))
    assert removed == ["attribute onload on <svg>"]
    assert canonical(clean) == canonical(figure)


@pytest.mark.parametrize("link, kept", [
    (" #glyph", True), ("&#x0A;#glyph&#x09; ", True), ("DATA:image/png;base64,\n iVBO+/=", True),
    ("d ata:image/png;base64,iVBO", False),  # a browser reads a relative URL: a fetch
    ("data:image/png ;base64,iVBO", False), ("data:image/png;base64,iVBO)", False),
    ("x.png", False), ("//evil.example/x.png", False),
])
def test_a_link_is_read_as_a_browser_reads_it(link, kept):
    svg = f'{OPEN}><image xlink:href="{link}"/></svg>'
    clean, removed = sanitize(svg)
    assert (removed == [] and canonical(clean) == canonical(svg)) if kept else "xlink:href" not in clean


ENTITIES = {
    "internal entity": '<!DOCTYPE svg [<!ENTITY js "javascript:alert(1)">]>'
                       f'{OPEN}><a xlink:href="&js;"/></svg>',
    "external entity": '<!DOCTYPE svg [<!ENTITY x SYSTEM "https://evil.example/x">]>'
                       f"{OPEN}><text>&x;</text></svg>",
    "parameter entity": '<!DOCTYPE svg [<!ENTITY % p SYSTEM "https://evil.example/x.dtd"> %p;]>'
                        f"{OPEN}/>",
    "billion laughs": '<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
                      f']>{OPEN}><text>&b;&b;&b;&b;</text></svg>',
    "attribute default": '<!DOCTYPE svg [<!ATTLIST svg onload CDATA "alert(1)">]>' f"{OPEN}/>",
}


@pytest.mark.parametrize("svg", ENTITIES.values(), ids=ENTITIES.keys())
def test_an_internal_dtd_subset_is_refused(svg):
    with pytest.raises(SVGError, match="internal subset"):
        sanitize(svg)
    with pytest.raises(homes.HomeError, match="a figure cannot be published: .*internal subset"):
        homes.sanitize_svg(svg)


@pytest.mark.parametrize("svg, message", [
    ("<svg><unclosed></svg>", "not well-formed SVG"),
    ('<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/'
     f'svg11.dtd">{OPEN}><text>&undefined;</text></svg>', "not well-formed SVG.*undefined entity"),
    ('<html:script xmlns:html="http://www.w3.org/1999/xhtml">alert(1)</html:script>',
     re.escape("root element is <{http://www.w3.org/1999/xhtml}script>")),
    ("<svg/>", re.escape("root element is <svg>, not an SVG <svg>")),  # no namespace: not SVG to a browser
])
def test_what_is_not_an_svg_figure_is_refused(svg, message):
    with pytest.raises(SVGError, match=message):
        sanitize(svg)


def test_the_build_reports_what_the_allowlist_removed_from_a_figure(figure, caplog):
    """A strict build fails on the warning: a figure the allowlist changed is not the run's."""
    home = homes.Home(name="page", path=homes.ROOT / "lessons" / "page.py", page=None, uses=())
    with caplog.at_level("WARNING", logger="mkdocs.plugins.mnist_course"):
        assert publishing.sanitized(home, "curve", figure) == sanitize(figure)[0]
        assert not caplog.records
        publishing.sanitized(home, "curve", figure.replace("</svg>", "<script>alert(1)</script></svg>"))
    assert [r.getMessage() for r in caplog.records if "element <script>" in r.getMessage()]
