"""``mkdocs serve`` with an empty cache and no published runs serves at once: a page whose
run is pending says so, the run goes on in the background, and the open page shows its
numbers without a manual reload when the run ends (MkDocs' live reload).

The course as it is, smoke profile, an empty cache of its own; ``MNIST_TUTORIAL_ONLY``
keeps the background work to one cheap home (backpropagation), and the other pages say
that they were left out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

pytest.register_assert_rewrite("browser_util")  # before the import: it is also our plugin

from browser_util import new_context  # noqa: E402
from conftest import ROOT  # noqa: E402
from test_serve_failure import free_port  # noqa: E402

pytest_plugins = ["browser_util"]
pytestmark = pytest.mark.slow

ANSWER_WITHIN_S = 30


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def test_serve_answers_at_once_and_the_page_fills_in_when_its_run_ends(
        tmp_path, browser, mnist_root):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path / "serve.log"
    env = {**os.environ, "MNIST_TUTORIAL_PROFILE": "smoke",
           "MNIST_TUTORIAL_CACHE": str(tmp_path / "cache"),
           "MNIST_TUTORIAL_ONLY": "backpropagation"}
    env.pop("MNIST_TUTORIAL_RUNS_URL", None)
    started = time.monotonic()
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{port}"],
                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        while not answers(url):
            assert server.poll() is None, f"mkdocs serve stopped:\n{log.read_text()[-3000:]}"
            assert time.monotonic() - started < ANSWER_WITHIN_S, (
                f"mkdocs serve did not answer within {ANSWER_WITHIN_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        context = new_context(browser)
        page = context.new_page()
        page.goto(url + "lessons/backpropagation/")
        box = page.locator(".result-pending-box")
        numbers = page.locator('.result-value[data-result^="backpropagation."]')
        # Either still pending (the usual case) or, on a fast machine, already run.
        if box.count():
            assert "This page's run is in progress" in box.inner_text()
            assert "runs in the background: run 1 of 1" in box.inner_text()
            assert page.locator(".result-pending").count() > 0
        numbers.first.wait_for(timeout=240_000)  # no reload from here: live reload does it
        # Live reload may reload the page once more (a later rebuild): wait out a page that
        # is being replaced rather than count on a blank one.
        expect(page.locator("a.mnist-notebook")).to_have_count(1, timeout=60_000)  # published
        expect(page.locator(".result-pending-box")).to_have_count(0)
        expect(page.locator(".result-pending")).to_have_count(0)
        # A page that MNIST_TUTORIAL_ONLY leaves out says so, and stays pending.
        page.goto(url + "lessons/training/")
        assert "MNIST_TUTORIAL_ONLY" in page.locator(".result-pending-box").inner_text()
        context.close()
        output = log.read_text()
        assert "run 1 of 1: lessons/backpropagation.py" in output
        assert "running lessons/training.py" not in output
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_fetches_the_published_runs_when_asked_and_runs_nothing(
        tmp_path, site_dir, site_url, mnist_root):
    # The session's smoke site stands in for the published one.
    published = json.loads((site_dir / "runs" / "index.json").read_text())["homes"]
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "MNIST_TUTORIAL_PROFILE": "smoke",
           "MNIST_TUTORIAL_CACHE": str(tmp_path / "cache"),
           "MNIST_TUTORIAL_FETCH": "1", "MNIST_TUTORIAL_RUNS_URL": site_url}
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{port}"],
                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        page = ""
        while 'class="result-value"' not in page:  # once the fetch is in and the site rebuilt
            assert server.poll() is None, f"mkdocs serve stopped:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lessons/training/",
                                            timeout=10) as response:
                    page = response.read().decode()
            except (urllib.error.URLError, OSError):
                page = ""
        assert "result-pending" not in page
        assert "fetched from the published site" in page
        output = log.read_text()
        assert f"fetched {len(published)} runs from {site_url}" in output, output[-2000:]
        assert "running lessons/" not in output
    finally:
        server.terminate()
        server.wait(timeout=30)
