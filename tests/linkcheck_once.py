"""A pytest plugin for pytest-check-links: each page is parsed once, not once per link.

pytest-check-links checks a link to ``page.html#anchor`` by parsing ``page.html`` with
html5lib (pure Python), again for every such link: the smoke site's 3,700 links over 37
pages took two minutes, nearly all of it parsing the same pages again. Loaded with
``-p linkcheck_once`` (``check_links`` in test_site_build.py does), it keeps each file's
parse, keyed by its path and modification time. The tree is only searched for the anchor,
never changed, so sharing it changes no verdict; a parse of anything but a file on disk
is passed through. Should a new pytest-check-links stop calling ``html5lib.parse`` this
way, the plugin changes nothing and the check is only slower.
"""

from __future__ import annotations

import os
import types

import html5lib
from pytest_check_links import plugin

_parsed: dict[tuple, object] = {}


def parse(document, **options):
    path = getattr(document, "name", None)
    if not isinstance(path, str) or not os.path.isfile(path):
        return html5lib.parse(document, **options)
    key = (os.path.realpath(path), os.stat(path).st_mtime_ns, tuple(sorted(options.items())))
    if key not in _parsed:
        _parsed[key] = html5lib.parse(document, **options)
    return _parsed[key]


plugin.html5lib = types.SimpleNamespace(parse=parse)
