"""What a page's run reports: its tables and figures; its numbers and the truth of its
claims are the notebook's own variables, which the page quotes.

Every notebook of the course makes one ``Report`` and ends with ``report.finish()``::

    report = Report("training", seeds=[0, 1, 2], device=device)
    test_accuracy = [run.test_accuracy for run in runs]      # a number the page quotes
    reaches_98 = min(test_accuracy) >= 0.98                  # a claim the page states
    dropout_helps = significant_gain(dropout_accuracy, baseline_accuracy)   # > 2 s.e.
    report.figure("loss_curve", fig)            # alt text and caption: on the page
    report.table("recipes", ["recipe", "epochs", "test accuracy"],   # caption: on the page
                 [["plain", 8, [0.975, 0.977]], ["final", 5, [0.981, 0.982]]],
                 units={"test accuracy": ("percent", 1)})
    report.finish()

Like myst-nb's ``glue``, the values are the notebook's variables and the page says what
they mean: ``finish`` records every variable that holds a number, True or False, or a
list or dict of them (``notebook_values``), with the cell that last assigned it. The page
quotes a number in its own words (``<!-- metric training.test_accuracy percent 1 -->``,
``Format``: a list of per-seed values reads mean ± std) and states a claim right before
``<!-- claim training.reaches_98 -->``: the build fails if that variable is not True.
When the site is built, ``$MNIST_TUTORIAL_REPORT`` names a folder and ``finish`` writes
everything there as ``report.json``, which the pages' shortcodes read: the numbers on a
page are the numbers its notebook computed. A figure's alt text and caption are written
on the page, next to the prose they belong to, quoting the run's numbers by name::

    <!-- figure training.loss_curve alt="... falls to {final_loss number 3} ..." caption="..." -->

Run by hand, ``finish`` compares the numbers the course website quotes (given as
``site``) with this run's, and fails if a claim the site states is not True in this run.
``report.asset`` records a file a page's script loads (an interactive page's network
weights), published beside the figures.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import re
import statistics
import sys
from pathlib import Path

from . import settings
from .config import current_profile

UNITS = ("percent", "seconds", "number", "count", "scientific")
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
NBSP, THIN = "\u00a0", "\u202f"


class ClaimFailed(AssertionError):
    """A claim the page states is not True in this run."""


def scientific_text(value: float, digits: int = 2) -> str:
    """0.27, 42 or 1.2 × 10⁻¹⁶: for numbers that span many powers of ten."""
    if value == 0:
        return "0"
    if 1e-2 <= abs(value) < 10 ** digits:
        return f"{value:.{digits}g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}{NBSP}×{NBSP}10{str(int(exponent)).translate(SUPERSCRIPT)}"


def format_value(value: float, unit: str = "number", digits: int = 2,
                 std: float | None = None) -> str:
    """The text a page shows for a number (so prose, notebook and results.json agree)."""
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; use one of {UNITS}")
    if unit == "scientific":
        return scientific_text(value, digits)
    if unit == "count":
        return f"{int(value):,}".replace(",", THIN)
    scale, suffix = {"percent": (100, f"{NBSP}%"), "seconds": (1, f"{NBSP}s"), "number": (1, "")}[unit]
    text = f"{value * scale:.{digits}f}"
    if std is not None:
        text += f"{NBSP}±{NBSP}{std * scale:.{digits}f}"
    return text + suffix


def seed_difference(a, b) -> tuple[float, float]:
    """mean(a) - mean(b) and its standard error, from the sample variance of each set of
    per-seed values (Welch's: the two sets may spread differently)."""
    a, b = [float(v) for v in a], [float(v) for v in b]
    if len(a) < 2 or len(b) < 2:
        raise ValueError("a difference between runs needs at least 2 seeds a side")
    error = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
    return statistics.fmean(a) - statistics.fmean(b), error


def significant_gain(better, worse, k: float = 2.0) -> bool:
    """Whether the per-seed values ``better`` exceed ``worse`` on average by more than
    ``k`` standard errors of the difference (``seed_difference``).

    With 3 seeds a side, a gain of 2 standard errors is what a t-test would call
    significant at about the 6 % level, one-sided: a claim that one method beats another
    must hold for the method, not for one draw of seeds."""
    difference, error = seed_difference(better, worse)
    return difference > k * error


def mean_std(per_seed) -> tuple[float, float | None]:
    """The mean of per-seed values and their (population) std; no std for a single seed."""
    return (statistics.fmean(per_seed),
            statistics.pstdev(per_seed) if len(per_seed) > 1 else None)


def _unit_of(column: str, unit) -> list:
    """[unit, digits] from ``"count"`` (2 digits) or ``("percent", 1)``."""
    unit, digits = (unit, 2) if isinstance(unit, str) else unit
    if unit not in UNITS:
        raise ValueError(f"column {column!r}: unknown unit {unit!r}; use one of {UNITS}")
    return [unit, int(digits)]


def table_text(table: dict) -> list[list[str]]:
    """The rows of a recorded table as a page shows them: a number in a column that has a
    unit reads like a metric (a list of per-seed values as mean ± std), any other cell as
    it was recorded."""
    units = [table.get("units", {}).get(column) for column in table["columns"]]

    def text(cell, unit) -> str:
        if unit is None or isinstance(cell, str):
            return str(cell)
        if isinstance(cell, list):
            mean, std = mean_std(cell)
            return format_value(mean, *unit, std=std)
        return format_value(cell, *unit)

    return [[text(cell, unit) for cell, unit in zip(row, units)] for row in table["rows"]]


def _plain(value):
    """A number (or a list of numbers) as JSON can hold it: tensors and numpy scalars too."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # a tensor or numpy value
        return _plain(value.tolist())
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    return float(value)


MAX_NUMBERS = 10_000  # a variable holding more numbers than this is data, not a result


def _publishable(value, budget: list[int] | None = None):
    """``value`` as JSON holds it if a page can quote it: a number or True or False (a 0-d
    tensor or numpy scalar too), or a list, tuple or dict of them (per-seed values, one
    per batch size) of at most ``MAX_NUMBERS`` in all; else None."""
    budget = [MAX_NUMBERS] if budget is None else budget
    if isinstance(value, (bool, int, float)) or (
            type(value).__module__.split(".")[0] in ("numpy", "torch")
            and getattr(value, "ndim", 1) == 0):
        budget[0] -= 1
        return (value.item() if hasattr(value, "item") else value) if budget[0] >= 0 else None
    if isinstance(value, (list, tuple, dict)) and 0 < len(value) <= budget[0]:
        if isinstance(value, dict):
            if not all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in value):
                return None
            items = {str(k): _publishable(v, budget) for k, v in value.items()}
            return items if all(item is not None for item in items.values()) else None
        items = [_publishable(v, budget) for v in value]
        return items if all(item is not None for item in items) else None
    return None


def _assigned_names(source: str) -> set[str]:
    """The names a cell's code assigns (``x = ...``, ``x[k] = ...``, ``for x in``, ``x += ``),
    at any depth outside the functions and classes it defines."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names, todo = set(), list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            while isinstance(node, ast.Subscript):
                node = node.value
            if isinstance(node, ast.Name):
                names.add(node.id)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return names


def notebook_values(namespace: dict) -> dict[str, dict]:
    """``{name: {"value": ..., "cell": N}}`` for each variable of ``namespace`` (a
    notebook's or script's globals) that a page can quote, with the notebook cell that
    last assigned it (None outside a notebook): the values of glue, the page picks how
    each reads (``<!-- metric training.test_accuracy percent 1 -->``)."""
    history = namespace.get("In")  # IPython's inputs: In[N] is the source of cell [N]
    cells = {}
    if isinstance(history, list):
        for number, source in enumerate(history):
            cells |= dict.fromkeys(_assigned_names(source), number)
    values = {}
    for name, value in namespace.items():
        if name.startswith("_") or name in ("In", "Out"):
            continue
        plain = _publishable(value)
        if plain is not None:
            values[name] = {"value": plain, "cell": cells.get(name)}
    return values


def lookup(values: dict[str, dict], key: str) -> tuple:
    """(value, cell) of ``key`` in ``notebook_values``: a variable's name, then a dict's
    keys or a list's indices (``val_accuracy.64``, ``sweep.4.0``); the value is a number or
    a list of per-seed numbers. KeyError if there is no such number."""
    name, *path = key.split(".")
    value = values[name]["value"]
    for part in path:
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(key)
    if isinstance(value, dict) or isinstance(value, list) and any(
            isinstance(v, (list, dict)) for v in value):
        raise KeyError(key)
    return value, values[name]["cell"]


@dataclasses.dataclass(frozen=True)
class Format:
    """How a page quotes a number (``<!-- metric HOME.KEY percent 1 timing -->``) and how
    a rerun may differ from it.

    ``unit`` (default: count for a whole number, else number) and ``digits``; ``mean``:
    per-seed values read as their mean alone, not mean ± std. ``timing``, a measure of
    speed that depends on the machine, and ``varies``, a value that may be anything in its
    range from one run to the next (the winner of a race), are not compared;
    ``tolerance``, how far a rerun may land and still reproduce it (a number, or a setting
    of the home's configuration: ``tolerance=race_tolerance``; default: the seed spread if
    there is one, else equal to 1 part in a million)."""
    unit: str | None = None
    digits: int = 2
    mean: bool = False
    timing: bool = False
    varies: bool = False
    tolerance: float | str | None = None

    @classmethod
    def parse(cls, words) -> Format:
        """From a shortcode's words after HOME.KEY; ValueError naming a word it cannot read."""
        fields = {}
        for word in words:
            name, _, setting = word.partition("=")
            if word in UNITS and "unit" not in fields:
                fields["unit"] = word
            elif word.isdigit() and "digits" not in fields:
                fields["digits"] = int(word)
            elif word in ("mean", "timing", "varies") and word not in fields:
                fields[word] = True
            elif name == "tolerance" and setting and "tolerance" not in fields:
                try:
                    fields["tolerance"] = float(setting)
                except ValueError:
                    if not re.fullmatch(r"[a-z_][a-z0-9_.]*", setting):
                        raise ValueError(f"tolerance={setting}: neither a number nor a "
                                         f"setting's name") from None
                    fields["tolerance"] = setting
            else:
                raise ValueError(f"cannot read {word!r}: a number's words are a unit "
                                 f"({', '.join(UNITS)}), a count of digits, mean, timing, "
                                 f"varies or tolerance=NUMBER (or =SETTING), each once")
        return cls(**fields)

    def flags(self) -> tuple:
        """What decides how a rerun is compared (not how the number reads)."""
        return self.timing, self.varies, self.tolerance


def metric(value, fmt: Format = Format(), config: dict | None = None) -> dict:
    """A number as a page quotes it and a rerun compares it: its value (a list of per-seed
    values: their mean, with the std and the values), its text, and ``fmt``'s unit and
    flags; ``config``, the home's recorded configuration, holds a tolerance given by name."""
    if isinstance(value, bool) or isinstance(value, list) and any(isinstance(v, bool) for v in value):
        raise ValueError(f"it holds {value}, not a number: a page states a claim with "
                         f"<!-- claim HOME.KEY -->")
    per_seed = std = None
    if isinstance(value, list):
        per_seed = [float(v) for v in value]
        value, std = mean_std(per_seed)
    whole = isinstance(value, int) or bool(per_seed) and all(v.is_integer() for v in per_seed)
    unit = fmt.unit or ("count" if whole else "number")
    value = float(value)
    if math.isnan(value):
        raise ValueError("the value is NaN")
    tolerance = fmt.tolerance
    if isinstance(tolerance, str):
        if tolerance not in (config or {}):
            raise ValueError(f"tolerance={tolerance}: the configuration has no setting {tolerance!r}")
        tolerance = float(config[tolerance]["value"])
    return {"value": value, "std": std, "per_seed": per_seed, "unit": unit,
            "digits": fmt.digits, "timing": fmt.timing or unit == "seconds",
            "varies": fmt.varies, "tolerance": tolerance,
            "text": format_value(value, unit, fmt.digits, None if fmt.mean else std)}


def _settings_of(config, prefix: str = ""):
    """(key, value) for each field of the dataclass ``config`` that a page can quote."""
    for field in dataclasses.fields(config):
        value, key = getattr(config, field.name), prefix + field.name
        if dataclasses.is_dataclass(value):
            yield from _settings_of(value, key + ".")
        elif _quotable(value) or (isinstance(value, tuple) and value
                                  and all(_quotable(v) for v in value)):
            yield key, value


def _quotable(value) -> bool:
    return isinstance(value, (int, float, str)) and not isinstance(value, bool)


def _setting_text(value) -> str:
    if isinstance(value, tuple):
        return ", ".join(_setting_text(v) for v in value)
    if isinstance(value, int):
        return format_value(value, "count")
    if isinstance(value, float):  # as the configuration writes it: 0.975, not 0.97
        mantissa, _, exponent = f"{value:.15g}".partition("e")
        return mantissa + (f"{NBSP}×{NBSP}10{str(int(exponent)).translate(SUPERSCRIPT)}"
                           if exponent else "")
    return value


def _cell() -> int | None:
    """The execution count of the notebook cell running now (None outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None:
        return None
    return shell.execution_count - 1  # IPython counts the running cell before it runs it


def _show(obj) -> None:
    try:
        from IPython.display import display
    except ImportError:
        print(obj)
    else:
        display(obj)


class Report:
    """The tables, figures, files and (``finish``) the values of one page's run."""

    def __init__(self, page: str, seeds=None, device="cpu", precision: str | None = None):
        """``precision``: what the page's runs train in, if not what ``pick_precision``
        picks for ``device`` (a page that trains in fp32 whatever the machine)."""
        self.page = page
        self.profile = current_profile()
        self.seeds = list(seeds) if seeds is not None else None
        self.device = str(device)
        self.precision = precision
        self.settings: dict[str, dict] = {}  # the configuration (report.config)
        self.values: dict[str, dict] = {}  # the notebook's variables (finish)
        self.tables: dict[str, dict] = {}
        self.figures: dict[str, dict] = {}
        self.assets: dict[str, dict] = {}

    def _new(self, section: dict, key: str) -> None:
        if not key.replace("_", "").isalnum() or not key.islower():
            raise ValueError(f"report keys are lower case, digits and underscores: {key!r}")
        if key in section:
            raise ValueError(f"{key!r} is recorded twice in the report of {self.page!r}")

    def config(self, config) -> None:
        """Record the run's configuration (a dataclass) once, and print it.

        Each field that holds a number, a word or a tuple of them can be quoted on the page
        by its path (``<!-- config training.train.num_epochs -->`` for
        ``CONFIG.train.num_epochs``). It is what the run was told, not what it found: a
        rerun's comparison leaves it out."""
        if self.settings:
            raise ValueError(f"the configuration of {self.page!r} is recorded twice")
        cell = _cell()
        for key, value in _settings_of(config):
            self.settings[key] = {"value": _plain(value), "text": _setting_text(value),
                                  "cell": cell}
        print(config)

    def table(self, key: str, columns: list[str], rows: list[list],
              units: dict | None = None) -> None:
        """Record a table as data: its numbers stay numbers, and ``units`` says how a
        column's numbers read (``{"test accuracy": ("percent", 1), "parameters": "count"}``,
        the units and digits of ``metric``); a list of per-seed values reads mean ± std.
        The page that shows it gives its caption (``<!-- table PAGE.KEY caption="..." -->``)."""
        self._new(self.tables, key)
        units = {column: _unit_of(column, unit) for column, unit in (units or {}).items()}
        if unknown := sorted(set(units) - set(columns)):
            raise ValueError(f"table {key!r}: units for columns it does not have: {unknown}; "
                             f"its columns are {list(columns)}")

        def cell_data(cell, column):
            if isinstance(cell, (list, tuple)) and column not in units:
                raise ValueError(f"table {key!r}, column {column!r}: per-seed values need the "
                                 f"column's unit (units={{{column!r}: \"number\"}})")
            value = _plain(cell)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            return value if number or isinstance(value, list) else str(cell)

        data = []
        for row in rows:
            if len(row) != len(columns):
                raise ValueError(f"table {key!r}: a row of {len(row)} cells under "
                                 f"{len(columns)} columns: {row!r}")
            data.append([cell_data(cell, column) for cell, column in zip(row, columns)])
        self.tables[key] = {"columns": list(columns), "rows": data, "units": units,
                            "cell": _cell()}
        shown = [list(map(str, columns)), *table_text(self.tables[key])]
        widths = [max(map(len, column)) for column in zip(*shown)]
        print("\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in shown))

    def figure(self, key: str, fig) -> None:
        """Record a matplotlib figure (or SVG text) and show it. The page that shows it
        gives its alt text and caption (``<!-- figure PAGE.KEY alt="..." caption="..." -->``)."""
        from . import plots

        self._new(self.figures, key)
        svg = fig if isinstance(fig, str) else plots.to_svg(fig)
        self.figures[key] = {"svg": svg, "cell": _cell()}
        try:
            from IPython.display import SVG
        except ImportError:
            print(f"[figure {key}: {len(svg):,} bytes of SVG]")
        else:
            _show(SVG(svg))

    def asset(self, key: str, data: bytes, suffix: str) -> str:
        """Record a file that a page's script loads (weights, sample images): the site
        publishes it as ``generated/<page>/<key><suffix>``, beside the figures. Returns
        that file name. When the site is built it is written next to ``report.json``."""
        self._new(self.assets, key)
        if not re.fullmatch(r"\.[a-z0-9]+", suffix) or suffix == ".svg":
            raise ValueError(f"asset {key!r}: suffix {suffix!r} must look like '.bin' "
                             f"(figures, the .svg files, go through report.figure)")
        name = key + suffix
        self.assets[key] = {"file": name, "bytes": len(data),
                            "sha256": hashlib.sha256(data).hexdigest(), "cell": _cell()}
        target = settings.path("REPORT")
        if target:
            folder = Path(target) / "assets"
            folder.mkdir(exist_ok=True)
            (folder / name).write_bytes(data)
        print(f"asset {name}: {len(data):,} bytes")
        return name

    def _precision(self) -> str:
        from .training import pick_precision

        return self.precision or pick_precision(self.device)

    def as_dict(self) -> dict:
        import torch

        threads = f"{torch.get_num_threads()} threads"
        device = self.device
        if device.startswith("cuda") and torch.cuda.is_available():
            device = f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
        elif device == "cpu":
            device = f"cpu ({threads})"
        return {
            "page": self.page,
            "config": self.settings, "values": self.values, "tables": self.tables, "figures": self.figures,
            "assets": self.assets,
            "provenance": {"profile": self.profile, "seeds": self.seeds, "device": device,
                           "precision": self._precision(),
                           "torch": torch.__version__, "python": platform.python_version()},
        }

    def finish(self, site: dict | None = None, rows: int | None = 40) -> None:
        """Save the report for the site's build and, given the ``site``'s results, compare
        this run's numbers with them and fail (``ClaimFailed``) if a claim the site states
        is not True in this run.

        The numbers and claims are the notebook's own variables, read here
        (``notebook_values``): a page quotes ``<!-- metric training.test_accuracy -->``
        for the variable ``test_accuracy`` as it is when the notebook ends. ``rows``: how
        many numbers that are not simply the same the comparison lists (``None``: every
        number, the same ones and those not compared too)."""
        self.values = notebook_values(sys._getframe(1).f_globals)
        target = settings.path("REPORT")
        if target:
            path = Path(target) / "report.json"
            tmp = path.with_name(".report.json.tmp")
            tmp.write_text(json.dumps(self.as_dict()), encoding="utf-8")
            os.replace(tmp, path)
        print(f"{len(self.values)} values, {len(self.tables)} tables, {len(self.figures)} "
              f"figures ({self.profile} profile).")
        if site is None:
            return
        for line in compare(rerun_metrics(self.values, site.get("metrics", {})),
                            self.profile, site, self._precision(), rows):
            print(line)
        if site.get("profile") != self.profile:
            return
        claims = site.get("claims", [])
        false, unset = false_claims(self.values, claims)
        print(f"Of the {len(claims)} claims the page states, {len(claims) - len(false) - len(unset)} "
              f"hold in this run" + (f", {len(false)} do not" if false else "")
              + (f"; {len(unset)} were not checked here ({', '.join(unset)}: this run never set "
                 f"them)" if unset else "") + ".")
        if false:
            raise ClaimFailed(f"{self.page}: {len(false)} claim(s) of the page do not hold in "
                              f"this run (each is a variable of this notebook; the page says "
                              f"what it claims):\n" + "\n".join(f"  - {line}" for line in false))


def false_claims(values: dict[str, dict], claims) -> tuple[list[str], list[str]]:
    """Of ``claims`` (the keys of HOME.KEY), 'key = value (cell N)' for each whose variable
    in ``values`` is not True, and the keys of those it never set (a claim whose gate, a
    profile or a file the run did not have, kept it from being checked)."""
    false, unset = [], []
    for key in claims:
        try:
            holds, cell = lookup(values, key)
        except KeyError:
            unset.append(key)
            continue
        if holds is not True:
            false.append(f"{key} = {holds}" + (f" (cell [{cell}])" if cell else ""))
    return false, unset


def rerun_metrics(values: dict[str, dict], published: dict[str, dict]) -> dict[str, dict]:
    """The numbers of a rerun (its ``notebook_values``) that the site publishes, quoted
    as the site quotes them; a number the rerun lacks is left out."""
    found = {}
    for key, theirs in published.items():
        try:
            value, _ = lookup(values, key)
        except KeyError:
            continue
        found[key] = metric(value, Format(theirs["unit"], theirs.get("digits", 2)))
    return found


# How a rerun's number compares with the published one: one rule and one set of words, for
# the notebook's last cell (``compare``) and for ``python -m sitebuild verify``.
SAME = "same"
WITHIN_SPREAD = "within mean ± 2 std"
WITHIN_TOLERANCE = "within the tolerance the lesson declares"
TIMING = "a measure of speed: depends on the machine"
VARIES = "varies from run to run: not compared"
DIFFERENT = "DIFFERENT"
VERDICTS = (SAME, WITHIN_SPREAD, WITHIN_TOLERANCE, TIMING, VARIES, DIFFERENT)


def reproduces(published: dict, rerun: dict) -> str:
    """One of ``VERDICTS``: whether ``rerun``'s number reproduces the ``published`` one.

    A measure of speed is not compared, nor a number the lesson says varies; otherwise the
    numbers must be equal (to 1 part in a million), or within the published mean ± 2 std
    where it has a seed spread, or within the tolerance its page declares (``Format``)."""
    if published.get("timing") or published["unit"] == "seconds":
        return TIMING
    if published.get("varies"):
        return VARIES
    if math.isclose(rerun["value"], published["value"], rel_tol=1e-6, abs_tol=1e-12):
        return SAME
    gap = abs(rerun["value"] - published["value"])
    if published.get("std") and gap <= 2 * published["std"]:
        return WITHIN_SPREAD
    if published.get("tolerance") is not None and gap <= published["tolerance"]:
        return WITHIN_TOLERANCE
    return DIFFERENT


def compare(metrics: dict, profile: str, site: dict, precision: str | None = None,
            rows: int = 40) -> list[str]:
    """A short account of whether this run agrees with the site's: a verdict, how many
    numbers fell under each rule, then one line per number that is not simply the same
    (those that differ first), at most ``rows`` of them. Each number was printed where
    its cell computed it; ``rows=None`` lists every number here as well."""
    if site.get("profile") != profile:
        return [f"The site's numbers come from the {site.get('profile')} profile and this run "
                f"used the {profile} profile: they are not comparable. Unset "
                f"MNIST_TUTORIAL_PROFILE (or set it to {site.get('profile')}) and rerun."]
    verdicts = {key: reproduces(theirs, metrics[key])
                for key, theirs in site.get("metrics", {}).items() if key in metrics}
    counts = {verdict: sum(v == verdict for v in verdicts.values()) for verdict in VERDICTS}
    outside = counts[DIFFERENT]
    head = ("Your run agrees with the site's." if not outside else
            f"{outside} number(s) differ from the site's beyond its seed spread: another "
            f"torch version, device or a changed cell can explain it.")
    theirs = site.get("precision")
    if outside and precision and theirs and theirs != precision:
        head += (f" So can the precision: the site trained in {theirs}, this run in "
                 f"{precision} (set MNIST_TUTORIAL_PRECISION={theirs} to train as the site did).")
    tally = "; ".join(f"{count} {verdict}" for verdict, count in counts.items() if count)
    unremarkable = (SAME, TIMING, VARIES)
    shown = [key for verdict in (DIFFERENT, WITHIN_TOLERANCE, WITHIN_SPREAD, *unremarkable)
             for key, v in verdicts.items() if v == verdict and (rows is None or v not in unremarkable)]
    lines = [head, f"Of {len(verdicts)} number{'' if len(verdicts) == 1 else 's'}: {tally}."]
    for key in shown[:rows]:
        lines.append(f"  {key}: yours {metrics[key]['text']}, site "
                     f"{site['metrics'][key]['text']}: {verdicts[key]}")
    if rows is not None and len(shown) > rows:
        lines.append(f"  ... and {len(shown) - rows} more not the same: "
                     f"report.finish(site=SITE_RESULTS, rows=None) lists every number.")
    return lines
