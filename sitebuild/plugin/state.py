"""What one build of the site knows about the course's runs, for its pages to use.

The plugin makes a new ``BuildState`` at the start of every build (``on_config``): under
``mkdocs serve`` the plugin object lives across rebuilds, its state does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mkdocs.structure.files import File, Files

from sitebuild.homes import Home


@dataclass
class BuildState:
    profile: str
    repo: str  # OWNER/NAME on GitHub, or "" (no Colab buttons)
    serving: bool  # under `mkdocs serve`
    offline: bool  # the offline copy's own build
    offline_copy: bool  # this build also writes downloads/course-offline.zip
    homes: dict[str, Home] = field(default_factory=dict)  # every home a page may name
    reports: dict[str, dict] = field(default_factory=dict)
    provenance: dict[str, dict] = field(default_factory=dict)
    notebook_files: dict[str, File] = field(default_factory=dict)  # the notebook pages
    failures: dict[str, Exception] = field(default_factory=dict)  # under serve only
    pending: dict[str, object] = field(default_factory=dict)  # name -> its Runner, or None
    false_claims: dict[str, list[str]] = field(default_factory=dict)  # under serve only
    sections: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # course map
    files: Files | None = None
    shared_css: dict[str, str] = field(default_factory=dict)  # site path -> stylesheet

    def home_of_page(self, src_uri: str) -> Home | None:
        """The home whose lesson page is ``src_uri``."""
        return next((h for h in self.homes.values() if h.page == src_uri), None)

    def home_of_notebook(self, src_uri: str) -> Home | None:
        """The home whose notebook page is ``src_uri``."""
        return next((self.homes[name] for name, file in self.notebook_files.items()
                     if file.src_uri == src_uri), None)
