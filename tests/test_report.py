"""The report a lesson's run makes: its numbers' text, its claims, the comparison with the site."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mnist_tutorial.report import (
    DIFFERENT,
    SAME,
    TIMING,
    VARIES,
    WITHIN_SPREAD,
    ClaimFailed,
    Format,
    Report,
    compare,
    false_claims,
    format_value,
    lookup,
    metric,
    notebook_values,
    scientific_text,
    seed_difference,
    significant_gain,
    table_text,
)


def test_text_of_numbers():
    assert format_value(0.98421, "percent", 1) == "98.4\u00a0%"
    assert format_value(0.98421, "percent", 2, std=0.0012) == "98.42\u00a0±\u00a00.12\u00a0%"
    assert format_value(1068810, "count") == "1\u202f068\u202f810"
    assert format_value(2.345, "seconds", 1) == "2.3\u00a0s"
    assert scientific_text(1.9e-16) == "1.9\u00a0×\u00a010⁻¹⁶"
    assert scientific_text(0.27) == "0.27" and scientific_text(0) == "0"
    with pytest.raises(ValueError, match="unknown unit"):
        format_value(1, "furlongs")


def test_a_page_quotes_a_number_in_its_words():
    per_seed = metric([0.97, 0.98, 0.99], Format("percent", 1))
    assert per_seed["value"] == pytest.approx(0.98) and per_seed["per_seed"] == [0.97, 0.98, 0.99]
    assert per_seed["std"] == pytest.approx(0.00816, abs=1e-5)
    assert per_seed["text"] == "98.0\u00a0±\u00a00.8\u00a0%"
    assert metric([0.97, 0.98, 0.99], Format("percent", 1, mean=True))["text"] == "98.0\u00a0%"
    assert metric(60_000)["text"] == "60\u202f000"  # a whole number counts
    assert metric(0.5)["text"] == "0.50"  # any other is a number, 2 digits
    assert metric(2.5, Format("seconds"))["timing"]  # seconds always are a measure of speed
    assert metric(0.6, Format(tolerance="race"), {"race": {"value": 0.03}})["tolerance"] == 0.03
    with pytest.raises(ValueError, match="NaN"):
        metric(float("nan"))
    with pytest.raises(ValueError, match="a page states a claim with <!-- claim"):
        metric(True)
    with pytest.raises(ValueError, match="no setting 'race'"):
        metric(0.6, Format(tolerance="race"), {})


@pytest.mark.parametrize("words, fmt", [
    ("", Format()), ("percent 1", Format("percent", 1)), ("3 timing", Format(digits=3, timing=True)),
    ("count varies tolerance=4", Format("count", varies=True, tolerance=4.0)),
    ("percent mean tolerance=race_tolerance", Format("percent", mean=True, tolerance="race_tolerance")),
])
def test_a_numbers_words_parse(words, fmt):
    assert Format.parse(words.split()) == fmt


@pytest.mark.parametrize("words, message", [
    ("furlongs", "cannot read 'furlongs'"), ("percent percent", "cannot read 'percent'"),
    ("1 2", "cannot read '2'"), ("tolerance=x-y", "neither a number nor a setting"),
])
def test_words_that_do_not_parse_fail_naming_the_word(words, message):
    with pytest.raises(ValueError, match=message):
        Format.parse(words.split())


def test_the_values_are_the_notebooks_numbers_from_the_cell_that_set_them():
    import numpy as np
    import torch

    namespace = {
        "In": ["", "import torch", "accuracy = 0.9\nlosses = [1.0, 0.5]",
               "for b in (16, 64):\n    val[b] = b / 100", "def f():\n    accuracy = 1",
               "count = torch.tensor(3)"],
        "accuracy": 0.9, "losses": [1.0, 0.5], "val": {16: 0.16, 64: 0.64},
        "count": torch.tensor(3), "scalar": np.float64(0.25), "flag": True, "name": "x",
        "tensor_flag": torch.tensor(1) > 0,
        "pixels": [[0] * 100 for _ in range(200)],  # 20,000 numbers: data, not a result
        "matrix": torch.ones(2, 2), "_private": 1.0, "torch": torch, "mixed": [1.0, "a"],
    }
    values = notebook_values(namespace)
    assert sorted(values) == ["accuracy", "count", "flag", "losses", "scalar", "tensor_flag", "val"]
    assert values["tensor_flag"]["value"] is True
    assert values["accuracy"] == {"value": 0.9, "cell": 2}  # not the function's local (cell 4)
    assert values["val"] == {"value": {"16": 0.16, "64": 0.64}, "cell": 3}
    assert values["count"]["value"] == 3 and values["scalar"] == {"value": 0.25, "cell": None}
    assert lookup(values, "val.64") == (0.64, 3)
    assert lookup(values, "losses") == ([1.0, 0.5], 2) and lookup(values, "losses.1") == (0.5, 2)
    for missing in ("val.32", "val", "accuracy.x", "losses.2", "nothing"):
        with pytest.raises(KeyError):
            lookup(values, missing)


def test_a_table_keeps_its_numbers_and_reads_them_in_its_columns_units(capsys):
    import numpy as np
    import torch

    report = Report("page")
    report.table("runs", ["run", "parameters", "test accuracy", "note"],
                 [["plain", torch.tensor(109386), [0.9712, 0.9724], "–"],
                  ["final", np.int64(1068810), [0.981], 3.5]],
                 units={"parameters": "count", "test accuracy": ("percent", 1)})
    table = report.tables["runs"]
    assert table["rows"] == [["plain", 109386, [0.9712, 0.9724], "–"],
                             ["final", 1068810, [0.981], 3.5]]
    assert json.loads(json.dumps(table)) == table  # results.json holds it as it is
    assert table_text(table) == [["plain", "109\u202f386", "97.2\u00a0±\u00a00.1\u00a0%", "–"],
                                 ["final", "1\u202f068\u202f810", "98.1\u00a0%", "3.5"]]
    printed = capsys.readouterr().out
    assert "97.2\u00a0±\u00a00.1\u00a0%" in printed and "1\u202f068\u202f810" in printed


@pytest.mark.parametrize("columns, rows, units, message", [
    (["a", "b"], [[1, 2]], {"c": "count"}, r"units for columns it does not have: \['c'\]"),
    (["a", "b"], [[1, 2]], {"b": "furlongs"}, "column 'b': unknown unit 'furlongs'"),
    (["a", "b"], [[1, [0.9, 0.8]]], None, "column 'b': per-seed values need the column's unit"),
    (["a", "b"], [[1, 2, 3]], None, "a row of 3 cells under 2 columns"),
])
def test_a_table_that_cannot_be_shown_fails_naming_why(columns, rows, units, message):
    with pytest.raises(ValueError, match=message):
        Report("page").table("t", columns, rows, units=units)


def test_keys_are_checked_and_unique():
    report = Report("page")
    report.table("a_key", ["x"], [[1]])
    with pytest.raises(ValueError, match="recorded twice"):
        report.table("a_key", ["x"], [[2]])
    with pytest.raises(ValueError, match="lower case"):
        report.table("Bad-Key", ["x"], [[1]])


def test_the_claims_the_site_states_must_be_true_in_a_learners_run(capsys):
    site = {"profile": "full", "metrics": {}, "claims": ["holds", "gains.adamw", "never_set"]}
    source = ("report = Report('page')\nholds = 2 > 1\ngains = {'adamw': False}\n"
              "report.finish(site=SITE)")
    with pytest.raises(ClaimFailed, match=r"page: 1 claim\(s\) of the page do not hold in this "
                                          r"run .*\n  - gains\.adamw = False$"):
        exec(source, {"Report": Report, "SITE": site})
    # A claim this run never set (its gate kept it out) is not checked here, and said so.
    assert ("Of the 3 claims the page states, 1 hold in this run, 1 do not; 1 were not checked "
            "here (never_set: this run never set them).") in capsys.readouterr().out
    site["claims"] = ["holds"]
    exec(source, {"Report": Report, "SITE": site})  # no error
    # A run of another profile is not comparable: it is told so, and nothing is claimed.
    exec(source, {"Report": Report, "SITE": {**site, "profile": "smoke", "claims": ["never_set"]}})
    assert "not comparable" in capsys.readouterr().out
    assert false_claims({"x": {"value": 1, "cell": 2}}, ["x"]) == (["x = 1 (cell [2])"], [])


def test_a_gain_must_exceed_k_standard_errors_of_the_difference():
    # Means 0.92 and 0.90, sample std 0.01 each: the standard error is 0.01 * sqrt(2/3).
    better, worse = [0.91, 0.92, 0.93], [0.89, 0.90, 0.91]
    assert seed_difference(better, worse) == pytest.approx((0.02, 0.01 * (2 / 3) ** 0.5))
    assert significant_gain(better, worse)  # 0.02 > 2 * 0.0082
    assert not significant_gain(better, worse, k=3)  # 0.02 < 3 * 0.0082
    assert not significant_gain(worse, better)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        seed_difference([0.9], [0.8, 0.7])


def test_finish_writes_the_report_for_the_build(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_TUTORIAL_REPORT", str(tmp_path))
    # As a notebook runs it: finish reads the numbers from the notebook's variables.
    exec("report = Report('page', seeds=[0])\nvalue = 3.0\nfits = value > 2\nreport.finish()",
         {"Report": Report})
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["values"]["value"] == {"value": 3.0, "cell": None}
    assert saved["values"]["fits"] == {"value": True, "cell": None}  # a claim the page states
    assert "report" not in saved["values"]
    assert saved["provenance"]["seeds"] == [0] and saved["provenance"]["torch"]
    assert "values, 0 tables, 0 figures (full profile)." in capsys.readouterr().out


def test_an_asset_is_written_for_the_build_and_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TUTORIAL_REPORT", str(tmp_path))
    report = Report("page")
    assert report.asset("weights", b"\x00\x3c" * 4, ".bin") == "weights.bin"
    assert (tmp_path / "assets" / "weights.bin").read_bytes() == b"\x00\x3c" * 4
    assert report.as_dict()["assets"]["weights"]["bytes"] == 8
    with pytest.raises(ValueError, match="recorded twice"):
        report.asset("weights", b"", ".bin")
    for suffix in ("bin", ".svg", "/../x"):
        with pytest.raises(ValueError, match="suffix"):
            report.asset("other", b"", suffix)


def _metric(value, std=None, unit="number", timing=False):
    return {"value": value, "std": std, "unit": unit, "timing": timing,
            "text": format_value(value, unit, 2, std)}


def test_comparison_with_the_site():
    site = {"profile": "full", "metrics": {
        "accuracy": _metric(0.98, std=0.001, unit="percent"), "count": _metric(10),
        "ms": _metric(12.0, timing=True)}}
    mine = {"accuracy": _metric(0.9815, unit="percent"), "count": _metric(10), "ms": _metric(30.0)}
    lines = compare(mine, "full", site)
    assert lines[0] == "Your run agrees with the site's."
    assert lines[1] == (f"Of 3 numbers: 1 {SAME}; 1 {WITHIN_SPREAD}; 1 {TIMING}.")
    assert len(lines) == 3 and lines[2].startswith("  accuracy: yours 98.15")  # only it varied
    every = compare(mine, "full", site, rows=None)
    assert any("ms:" in line and "depends on the machine" in line for line in every)
    mine["accuracy"] = _metric(0.975, unit="percent")
    mine["count"] = _metric(11)
    lines = compare(mine, "full", site)
    assert lines[0].startswith("2 number(s) differ")
    assert any("accuracy" in line and "DIFFERENT" in line for line in lines)
    assert any("count" in line and "DIFFERENT" in line for line in lines)
    assert "not comparable" in compare(mine, "smoke", site)[0]


def test_a_declared_tolerance_is_honoured_by_the_comparison():
    site = {"profile": "full", "metrics": {"best": {**_metric(0.60, unit="percent"),
                                                    "tolerance": 0.05}}}
    assert compare({"best": _metric(0.64, unit="percent")}, "full", site)[0] == (
        "Your run agrees with the site's.")
    lines = compare({"best": _metric(0.70, unit="percent")}, "full", site)
    assert lines[0].startswith("1 number(s) differ")
    assert lines[2].endswith(": DIFFERENT")


def test_a_number_that_varies_is_shown_not_compared():
    site = {"profile": "full", "metrics": {"winner_width": {**_metric(256), "varies": True}}}
    lines = compare({"winner_width": _metric(64)}, "full", site)
    assert lines[:2] == ["Your run agrees with the site's.", f"Of 1 number: 1 {VARIES}."]
    assert "yours 64.00, site 256.00" in compare({"winner_width": _metric(64)}, "full", site,
                                                  rows=None)[2]


def test_the_comparison_stays_short_and_lists_what_differs_first():
    site = {"profile": "full", "metrics": {f"m{i:03d}": _metric(float(i), std=0.5) for i in range(300)}}
    mine = {key: _metric(m["value"]) for key, m in site["metrics"].items()}  # all the same
    mine |= {f"m{i:03d}": _metric(i + 0.2) for i in range(100, 160)}  # within the spread
    mine["m299"] = _metric(310.0)
    lines = compare(mine, "full", site)
    assert len(lines) <= 60
    assert lines[1] == f"Of 300 numbers: 239 {SAME}; 60 {WITHIN_SPREAD}; 1 {DIFFERENT}."
    assert lines[2] == f"  m299: yours 310.00, site {format_value(299, std=0.5)}: {DIFFERENT}"
    assert lines[-1].startswith("  ... and 21 more not the same")
    assert len(compare(mine, "full", site, rows=None)) == 302


def test_provenance_names_the_precision_the_page_trained_in(monkeypatch):
    monkeypatch.setenv("MNIST_TUTORIAL_PRECISION", "bf16")
    assert Report("p").as_dict()["provenance"]["precision"] == "bf16"  # the machine's pick
    # A page whose runs train in fp32 whatever the machine says so.
    assert Report("p", precision="fp32").as_dict()["provenance"]["precision"] == "fp32"


def test_the_configuration_is_recorded_once_by_path_and_not_compared(capsys):
    @dataclasses.dataclass(frozen=True)
    class Train:
        lr: float = 0.003
        target: float = 0.975  # as written: 0.975, never rounded to 0.97 or 0.98
        tolerance: float = 1e-12
        batch_size: int = 12_800
        hidden: tuple = (256, 128)
        schedule: str = "one-cycle"
        logdir: object = None  # not a number or a word: not quotable

    @dataclasses.dataclass(frozen=True)
    class Config:
        train: Train = Train()
        seeds: tuple = (0, 1)
        check_claims: bool = True

    report = Report("page")
    report.config(Config())
    assert "Train(lr=0.003, target=0.975" in capsys.readouterr().out  # what a learner sees
    texts = {key: setting["text"] for key, setting in report.as_dict()["config"].items()}
    assert texts == {"train.lr": "0.003", "train.target": "0.975",
                     "train.tolerance": "1\u00a0×\u00a010⁻¹²", "train.batch_size": "12\u202f800",
                     "train.hidden": "256, 128", "train.schedule": "one-cycle", "seeds": "0, 1"}
    with pytest.raises(ValueError, match="recorded twice"):
        report.config(Config())
    assert report.values == {}  # a rerun's comparison never sees it
