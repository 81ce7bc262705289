"""What the deploy workflow publishes: a build with its variables set, as
``.github/workflows/deploy.yml`` sets them, against one without (a local build).

One small project (the home page and one lesson with its notebook) is built twice, in the
smoke profile, through the course's own mkdocs.yml, templates and plugin. The deployed
build must have Colab buttons that open the notebook it publishes (Colab reads it from
the gh-pages branch, where ``mkdocs gh-deploy`` puts the built site), a setup cell that
installs the course at this commit, edit buttons that lead to the right files, a plain
repository link (no GitHub API call at view time) and absolute URLs in the sitemap; the
local build none of these.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from conftest import ROOT, build_site, write_project
from sitebuild import downloads

pytestmark = pytest.mark.slow

REPO = "someone/course"
DEPLOY_ENV = {  # what deploy.yml sets, for a repository someone/course on branch main
    "MNIST_TUTORIAL_GITHUB_REPO": REPO,
    "MNIST_TUTORIAL_REPO_URL": f"https://github.com/{REPO}",
    "MNIST_TUTORIAL_EDIT_URI": "edit/main/docs/",
    "MNIST_TUTORIAL_SITE_URL": "https://someone.github.io/course/",
}
LOCAL_ENV = {name: "" for name in DEPLOY_ENV}  # empty is unset for mkdocs.yml's !ENV
LESSON, HOME, SLUG = "lessons/linear-collapse.md", "lessons/linear_collapse.py", "linear-collapse"


@pytest.fixture(scope="module")
def sites(tmp_path_factory, mnist_root) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("deploy")
    config = write_project(
        folder, {"index.md": "# Home\n\nThe course's home page.\n"},
        "hooks: []\n"  # the plugin alone (hooks/glossary.py's path is relative to the config)
        "validation:\n  links:\n    not_found: info\n"  # links to pages left out
        f"nav:\n  - index.md\n  - {LESSON}\n",
        copy_docs=("assets", "javascripts", "stylesheets", LESSON))
    built = {}
    for name, env in (("deployed", DEPLOY_ENV), ("local", LOCAL_ENV)):
        process = build_site(folder / name, extra_env=env, config=config)
        assert process.returncode == 0, process.stderr[-5000:]
        built[name] = folder / name
    return built


def soup(site: Path, page: str) -> BeautifulSoup:
    return BeautifulSoup((site / page / "index.html").read_text(encoding="utf-8"), "html.parser")


def test_colab_opens_the_notebook_that_the_site_publishes(sites):
    site = sites["deployed"]
    prefix = f"https://colab.research.google.com/github/{REPO}/blob/gh-pages/"
    for page in (f"lessons/{SLUG}", f"notebooks/{SLUG}"):
        links = [a["href"] for a in soup(site, page).find_all("a", href=True)
                 if a["href"].startswith("https://colab.research.google.com/")]
        assert len(links) == 1, f"{page}: Colab links {links}"
        assert links[0].startswith(prefix), links[0]
        # gh-deploy makes the built site the root of gh-pages: the path after the branch
        # is a file of the site, the notebook a learner downloads.
        published = site / links[0][len(prefix):]
        assert published.is_file(), f"{links[0]} opens {published}, which the build did not write"
        assert published == site / "downloads" / f"{SLUG}.ipynb"


def test_colab_installs_the_sites_wheel_else_the_commit_the_site_was_built_from(sites):
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    notebook = json.loads((sites["deployed"] / "downloads" / f"{SLUG}.ipynb").read_text())
    setup = "".join(notebook["cells"][1]["source"])
    wheel = f"https://someone.github.io/course/downloads/{downloads.wheel_name()}"
    assert f"COURSE = [{wheel!r}, 'git+https://github.com/{REPO}@{commit}']" in setup, setup
    assert (sites["deployed"] / "downloads" / downloads.wheel_name()).is_file()


def test_edit_buttons_lead_to_the_page_and_to_the_code_home(sites):
    site = sites["deployed"]
    expected = {"": f"https://github.com/{REPO}/edit/main/docs/index.md",
                f"lessons/{SLUG}": f"https://github.com/{REPO}/edit/main/docs/{LESSON}",
                f"notebooks/{SLUG}": f"https://github.com/{REPO}/edit/main/{HOME}"}
    for page, url in expected.items():
        edits = [a["href"] for a in soup(site, page).select('a[rel="edit"]')]
        assert edits == [url], f"{page or 'home'}: {edits}"


def test_the_repository_link_is_a_plain_link(sites):
    for page in ("", f"lessons/{SLUG}", f"notebooks/{SLUG}"):
        html = soup(sites["deployed"], page)
        links = html.select("a.md-source")
        assert links and all(a["href"] == f"https://github.com/{REPO}" for a in links)
        assert REPO in links[0].get_text()
        # data-md-component="source" is what makes Material's script call api.github.com.
        assert not html.select('[data-md-component="source"]'), f"{page}: GitHub API call"


def test_site_url_makes_sitemap_and_404_page_absolute(sites):
    deployed, local = sites["deployed"], sites["local"]
    sitemap = (deployed / "sitemap.xml").read_text(encoding="utf-8")
    assert f"<loc>https://someone.github.io/course/lessons/{SLUG}/</loc>" in sitemap
    assert '"/course/assets/' in (deployed / "404.html").read_text(encoding="utf-8")
    # The pages' own links stay relative either way.
    for site in (deployed, local):
        assert 'href="../../assets/stylesheets/' in (site / "lessons" / SLUG / "index.html").read_text()


def test_a_local_build_has_no_colab_repository_or_edit_links(sites):
    site = sites["local"]
    for page in ("", f"lessons/{SLUG}", f"notebooks/{SLUG}"):
        html = soup(site, page)
        assert not html.select('a.md-source, a[rel="edit"], link[rel="canonical"]'), page
        assert not [a for a in html.find_all("a", href=True) if "colab.research" in a["href"]]
    notebook = json.loads((site / "downloads" / f"{SLUG}.ipynb").read_text())
    assert "COURSE = []" in "".join(notebook["cells"][1]["source"])  # no address to give
