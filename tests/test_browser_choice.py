"""Which chromium the browser tests drive (tests/browser_util.py), without starting one.

Debian's /usr/bin/chromium where it is; else Playwright's own build; with neither, the
browser tests skip with a message that says how to install one. Playwright is replaced
by a stand-in here, so these tests run (and pass or fail) the same on every machine.
"""

from __future__ import annotations

from contextlib import contextmanager

import playwright.sync_api
import pytest

pytest.register_assert_rewrite("browser_util")  # before the import: it is also a plugin

import browser_util  # noqa: E402


class StandInPlaywright:
    """Plays ``sync_playwright()``'s part: records each launch, or raises ``error``."""

    def __init__(self, error: Exception | None = None):
        self.error = error
        self.executables: list[str | None] = []
        self.chromium = self

    def launch(self, executable_path=None, args=()):
        if self.error is not None:
            raise self.error
        self.executables.append(executable_path)
        return StandInBrowser()


class StandInBrowser:
    closed = False

    def close(self):
        self.closed = True


@pytest.fixture
def stand_in(monkeypatch):
    """Installs a StandInPlaywright (set its ``error`` to make launching fail)."""
    fake = StandInPlaywright()

    @contextmanager
    def sync_playwright():
        yield fake

    monkeypatch.setattr(playwright.sync_api, "sync_playwright", sync_playwright)
    return fake


def test_debian_chromium_where_it_is_else_playwrights_own(tmp_path):
    debian = tmp_path / "chromium"
    assert browser_util.chromium_executable(debian) is None  # None: Playwright's own build
    debian.write_text("#!/bin/sh\n")
    assert browser_util.chromium_executable(debian) == str(debian)


@pytest.mark.parametrize("debian_installed", [True, False])
def test_launch_drives_the_chromium_it_picked(tmp_path, monkeypatch, stand_in, debian_installed):
    debian = tmp_path / "chromium"
    if debian_installed:
        debian.write_text("#!/bin/sh\n")
    monkeypatch.setattr(browser_util, "CHROMIUM", debian)
    with browser_util.launch() as browser:
        assert not browser.closed
    assert stand_in.executables == [str(debian) if debian_installed else None]
    assert browser.closed


def test_without_any_chromium_the_tests_skip_saying_how_to_install_one(tmp_path, monkeypatch,
                                                                       stand_in):
    monkeypatch.setattr(browser_util, "CHROMIUM", tmp_path / "no-chromium")
    # What Playwright raises when its browser was never downloaded (Playwright 1.65).
    stand_in.error = playwright.sync_api.Error(
        "BrowserType.launch: Executable doesn't exist at /home/me/.cache/ms-playwright/"
        "chromium_headless_shell-1255/chrome-headless-shell-linux64/chrome-headless-shell")
    with pytest.raises(pytest.skip.Exception) as skipped:
        with browser_util.launch():
            pass
    message = str(skipped.value)
    assert "python -m playwright install chromium" in message
    assert "apt-get install chromium" in message


def test_a_chromium_that_fails_to_start_is_an_error_not_a_skip(tmp_path, monkeypatch, stand_in):
    debian = tmp_path / "chromium"
    debian.write_text("#!/bin/sh\n")
    monkeypatch.setattr(browser_util, "CHROMIUM", debian)
    stand_in.error = playwright.sync_api.Error("BrowserType.launch: Target page, context or "
                                               "browser has been closed")
    with pytest.raises(playwright.sync_api.Error):
        with browser_util.launch():
            pass
