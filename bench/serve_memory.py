"""Whether ``mkdocs serve`` keeps its memory flat over rebuilds.

    python bench/serve_memory.py                  # smoke profile, 10 rebuilds
    python bench/serve_memory.py --rebuilds 20

Serves a copy of the checkout (``build_time.copy_project``: the edits never touch the
checkout, and other work in it triggers no rebuild) with the checkout's run cache, on a
free loopback port. Once the first build and the reload that the background runner asks
for are done, it saves a docs page unchanged N times, each time waiting for the
"Documentation built" line of the rebuild it causes, and prints the resident memory
(VmRSS in /proc/PID/status) of the serve process, and of it with its children, after
rebuild 1, every fifth and the last. Flat: state does not pile up from one rebuild to the next.

Linux only (/proc). Run it from the repository root with the course's environment.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from build_time import ROOT, copy_project

SAVED_PAGE = "docs/index.md"
BUILT = "Documentation built"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def descendants(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children += [int(child) for child in text]
    return children + [grandchild for child in children for grandchild in descendants(child)]


def wait_for(log: Path, count: int, process: subprocess.Popen, timeout: float = 300) -> bool:
    """Until the log holds ``count`` "Documentation built" lines; False after ``timeout``."""
    deadline = time.monotonic() + timeout
    while log.read_text(errors="replace").count(BUILT) < count:
        if process.poll() is not None:
            sys.exit(f"mkdocs serve stopped:\n{log.read_text(errors='replace')[-4000:]}")
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def settle(log: Path, quiet_s: float = 5.0) -> int:
    """The number of builds once no new one has started for ``quiet_s`` seconds."""
    count, since = log.read_text(errors="replace").count(BUILT), time.monotonic()
    while time.monotonic() - since < quiet_s:
        time.sleep(0.5)
        now = log.read_text(errors="replace").count(BUILT)
        if now != count:
            count, since = now, time.monotonic()
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuilds", type=int, default=10, metavar="N")
    parser.add_argument("--profile", choices=("smoke", "full"), default="smoke")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mnist-serve-memory-") as work:
        project = copy_project(Path(work) / "project")
        log = Path(work) / "serve.log"
        env = {**os.environ, "MNIST_TUTORIAL_PROFILE": args.profile, "NO_MKDOCS_2_WARNING": "1",
               "MNIST_TUTORIAL_CACHE": os.environ.get("MNIST_TUTORIAL_CACHE", str(ROOT / ".cache"))}
        with open(log, "w") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{free_port()}"],
                cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            if not wait_for(log, 1, server):
                sys.exit(f"mkdocs serve did not build:\n{log.read_text(errors='replace')[-4000:]}")
            builds = settle(log)
            page = project / SAVED_PAGE
            text = page.read_bytes()
            figures = {}
            for rebuild in range(1, args.rebuilds + 1):
                # A save without a change; again if the watcher missed it (a save while
                # the previous rebuild was reloading the browsers is sometimes dropped).
                for _ in range(3):
                    page.write_bytes(text)
                    if wait_for(log, builds + rebuild, server, timeout=60):
                        break
                else:
                    sys.exit(f"no rebuild {rebuild} after three saves:\n"
                             f"{log.read_text(errors='replace')[-4000:]}")
                time.sleep(1)  # the rebuild's last events
                if rebuild == 1 or rebuild % 5 == 0 or rebuild == args.rebuilds:
                    children = descendants(server.pid)
                    figures[rebuild] = (rss_kib(server.pid),
                                        rss_kib(server.pid) + sum(map(rss_kib, children)))
        finally:
            server.send_signal(signal.SIGINT)  # Ctrl-C: the plugin removes its staging folder
            server.wait(timeout=60)
    print(f"mkdocs serve, {args.profile} profile: resident memory after each rebuild")
    for rebuild, (own, total) in figures.items():
        print(f"  rebuild {rebuild:>2}: serve {own / 1024:7.1f} MiB, with children {total / 1024:7.1f} MiB")
    # The first rebuilds still fill the interpreter's and the libraries' caches.
    warm = min(5, args.rebuilds)
    first, last = figures[warm][0], figures[args.rebuilds][0]
    print(f"  growth {warm} -> {args.rebuilds}: {(last - first) / 1024:+.1f} MiB")


if __name__ == "__main__":
    main()
