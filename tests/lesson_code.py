"""The code a page shows, for its tests: a code home's definitions, without its run.

``definitions("linear_collapse")`` executes only the top-level imports, functions,
classes and UPPER_CASE constants (two letters or more: ``X`` is data) of
``lessons/linear_collapse.py`` (milliseconds), and returns them as a module. The home's
runs and claims are tested by running the whole notebook (tests/test_notebooks.py and the
site build).
"""

from __future__ import annotations

import ast
import functools
import sys
import types
from pathlib import Path

HOMES = Path(__file__).resolve().parent.parent / "lessons"
KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_constant(node: ast.stmt) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return (isinstance(node, (ast.Assign, ast.AnnAssign)) and
            all(isinstance(t, ast.Name) and t.id.isupper() and len(t.id) > 1 for t in targets))


@functools.cache
def definitions(name: str) -> types.ModuleType:
    path = HOMES / f"{name}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    tree.body = [node for node in tree.body if isinstance(node, KEPT) or _is_constant(node)]
    module = types.ModuleType(f"lessons.{name}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(tree, str(path), "exec"), module.__dict__)
    return module
