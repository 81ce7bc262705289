"""Where the notebook pages are staged for mkdocs-jupyter, which reads a page from disk.

A temporary folder of one build process (``mnist-notebook-pages-<pid>-*`` in the system's
temporary folder), not the run cache: builds that run at once (tests, an offline copy
beside its site) never read each other's notebooks. It is kept across ``mkdocs serve``
rebuilds and removed at shutdown, on Ctrl-C and at exit; a process killed outright
(SIGTERM, SIGKILL) leaves its folder, which the next build removes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "mnist-notebook-pages-"


class Staging:
    def __init__(self) -> None:
        remove_leftovers()
        self._folder = tempfile.TemporaryDirectory(prefix=f"{PREFIX}{os.getpid()}-")
        self.path = Path(self._folder.name)

    def cleanup(self) -> None:
        self._folder.cleanup()


def remove_leftovers() -> None:
    """Remove the staging folders of processes that no longer run."""
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*-*"):
        pid = folder.name[len(PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
