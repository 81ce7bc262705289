"""The GitHub configuration: the workflows and dependabot.yml are valid, every action of
GitHub's own runs on Node 24, and the deploy publishes only a commit whose tests passed.

The schemas are those check-jsonschema vendors (SchemaStore's, at the package's release),
so the check needs no network. A workflow that GitHub rejects runs nothing, and says so
only in the Actions tab; a dependabot.yml that it rejects stops the updates, and says so
only in the repository's Insights.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.y*ml"))
DEPENDABOT = GITHUB / "dependabot.yml"

# The first major of each of GitHub's actions (actions/*) that runs on Node 24: GitHub's
# runners drop Node 20, and an action on it first warns, then fails. An actions/* action
# not listed here fails the test: look up the major that moved it to Node 24 (its
# release notes, or `runs.using` in its action.yml) and add it.
NODE24_MAJOR = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/cache": 5,
    "actions/cache/restore": 5,
    "actions/cache/save": 5,
    "actions/upload-artifact": 6,
    "actions/download-artifact": 6,
}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict) -> dict:
    """The ``on:`` block as a dict (YAML 1.1 reads the key ``on`` as the boolean True)."""
    on = workflow.get(True, workflow.get("on"))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on or {}


def check_jsonschema(schema: str, files: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema,
                           *map(str, files)], cwd=ROOT, capture_output=True, text=True)


# ---------------------------------------------------------------- schemas


def test_there_are_workflows_and_a_dependabot_configuration():
    names = {path.name for path in WORKFLOWS}
    assert {"tests.yml", "deploy.yml"} <= names, names
    assert DEPENDABOT.is_file()


def test_the_workflows_match_githubs_schema():
    out = check_jsonschema("vendor.github-workflows", WORKFLOWS)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def test_dependabot_yml_matches_its_schema():
    out = check_jsonschema("vendor.dependabot", [DEPENDABOT])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


@pytest.mark.parametrize("schema, text", [
    ("vendor.github-workflows", "name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
                                "    stepz: []\n"),
    ("vendor.dependabot", "version: 2\nupdates:\n  - package-ecosystem: pip\n    directory: /\n"
                          "    schedule: {interval: fortnightly}\n"),
], ids=["workflow", "dependabot"])
def test_the_schema_check_rejects_a_broken_file(tmp_path, schema, text):
    # Not a check that passes everything (a schema that failed to load, say).
    broken = tmp_path / "broken.yml"
    broken.write_text(text, encoding="utf-8")
    out = check_jsonschema(schema, [broken])
    assert out.returncode == 1, out.stdout + out.stderr


# ---------------------------------------------------------------- actions on Node 24


def uses(workflow: dict) -> list[str]:
    """Every ``uses:`` of the workflow: its jobs' steps', and reusable workflows'."""
    found = []
    for job in (workflow.get("jobs") or {}).values():
        if "uses" in job:
            found.append(job["uses"])
        found += [step["uses"] for step in job.get("steps") or () if "uses" in step]
    return found


def test_githubs_actions_are_at_their_node24_major_or_later():
    problems, seen = [], set()
    for path in WORKFLOWS:
        for use in uses(load(path)):
            name, _, ref = use.partition("@")
            if not name.startswith("actions/"):
                continue
            seen.add(name)
            if name not in NODE24_MAJOR:
                problems.append(f"{path.name}: {use}: not in NODE24_MAJOR (add its Node 24 major)")
                continue
            major = re.fullmatch(r"v(\d+)(?:\.\d+){0,2}", ref)
            if not major:
                problems.append(f"{path.name}: {use}: pin a version tag (vN), not {ref!r}")
            elif int(major[1]) < NODE24_MAJOR[name]:
                problems.append(f"{path.name}: {use}: below v{NODE24_MAJOR[name]}, "
                                f"the first major on Node 24")
    assert not problems, "\n".join(problems)
    assert seen, "no actions/* action found: does uses() still read the workflows?"


# ---------------------------------------------------------------- the deploy waits for the tests


class Context:
    """An object of a GitHub expression's context (``github``, ``github.event``, ...). As in
    GitHub's expressions, a property that is not there is null, and so are its properties:
    ``github.event.workflow_run.conclusion`` is null on a workflow_dispatch."""

    def __init__(self, values: dict | None):
        self.values = values

    def __getattr__(self, name: str):
        value = self.values.get(name) if isinstance(self.values, dict) else None
        return value if isinstance(value, (str, bool, int, float)) else Context(value)

    def __eq__(self, other) -> bool:  # null == null; an object equals only itself
        if isinstance(other, Context):
            return self is other or (self.values is None and other.values is None)
        return self.values is None and other is None

    __hash__ = None

    def __bool__(self) -> bool:
        return self.values is not None


TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))"
                   r"|(?P<name>[A-Za-z_][\w.-]*))")


def evaluate(expression: str, github: dict) -> bool:
    """A job's ``if:`` under the context ``github``: the part of GitHub's expression
    language that a condition on the event needs (strings, ==, !=, &&, ||, !, brackets,
    true/false/null, context properties). Anything else fails the test, so that an
    unforeseen condition is read by a person rather than passed."""
    expression = expression.strip()
    if expression.startswith("${{") and expression.endswith("}}"):
        expression = expression[3:-2]
    python, position = [], 0
    while expression[position:].strip():
        match = TOKEN.match(expression, position)
        assert match, f"cannot read the condition at {expression[position:]!r}"
        position = match.end()
        if match["string"]:
            python.append(repr(match["string"][1:-1].replace("''", "'")))
        elif match["op"]:
            python.append({"&&": "and", "||": "or", "!": "not"}.get(match["op"], match["op"]))
        elif match["name"] in ("true", "false", "null"):
            python.append({"true": "True", "false": "False", "null": "None"}[match["name"]])
        else:
            root, _, rest = match["name"].partition(".")
            assert root == "github", f"the condition reads {match['name']}: only github.* is known"
            python.append("github" + ("." + rest.replace("-", "_") if rest else ""))
    return bool(eval(" ".join(python), {"__builtins__": {}}, {"github": Context(github)}))


def test_the_deploy_runs_after_the_tests_of_a_push_to_main_and_only_if_they_passed():
    tests, deploy = load(GITHUB / "workflows" / "tests.yml"), load(GITHUB / "workflows" / "deploy.yml")
    on = triggers(deploy)
    assert set(on) <= {"workflow_run", "workflow_dispatch"}, f"deploy.yml also runs on {set(on)}"
    run = on["workflow_run"]
    assert run["workflows"] == [tests["name"]], (run["workflows"], tests["name"])
    assert run["types"] == ["completed"] and run["branches"] == ["main"], run
    assert "push" in triggers(tests), "tests.yml does not run on a push: nothing would deploy"

    def tested(conclusion: str, event: str) -> dict:
        return {"event_name": "workflow_run",
                "event": {"workflow_run": {"conclusion": conclusion, "event": event}}}

    for name, job in deploy["jobs"].items():
        condition = job.get("if")
        assert condition, f"deploy.yml's job {name} has no if: it would deploy a failed commit"
        assert evaluate(str(condition), tested("success", "push")), condition
        assert evaluate(str(condition), {"event_name": "workflow_dispatch"}), condition
        for conclusion, event in (("failure", "push"), ("cancelled", "push"), ("timed_out", "push"),
                                  ("success", "pull_request"), ("success", "workflow_dispatch")):
            assert not evaluate(str(condition), tested(conclusion, event)), (conclusion, event)


def test_the_deploy_checks_out_the_commit_the_tests_passed_on():
    deploy = load(GITHUB / "workflows" / "deploy.yml")
    checkouts = [step for job in deploy["jobs"].values() for step in job["steps"]
                 if str(step.get("uses", "")).startswith("actions/checkout@")]
    assert checkouts, "deploy.yml checks nothing out"
    for step in checkouts:
        ref = re.sub(r"\s+", "", str((step.get("with") or {}).get("ref", "")))
        assert ref == "${{github.event.workflow_run.head_sha||github.sha}}", ref


def test_the_condition_reader_knows_githubs_rules():
    # The reader above, on the cases the deploy's test relies on.
    context = {"event_name": "push", "event": {"workflow_run": {"conclusion": "success"}}}
    assert evaluate("${{ github.event_name == 'push' }}", context)
    assert evaluate("github.event.workflow_run.conclusion == 'success' && !(github.event_name != 'push')",
                    context)
    assert not evaluate("github.event.workflow_run.event == 'push'", context)  # missing: null
    assert evaluate("github.event.missing.deeper == null || false", context)
    assert evaluate("'it''s' == 'it''s'", context)
    with pytest.raises(AssertionError, match="only github"):
        evaluate("steps.x.outcome == 'success'", context)
    with pytest.raises(AssertionError, match="only github"):
        evaluate("startsWith(github.ref, 'refs/tags/')", context)
    with pytest.raises(AssertionError, match="cannot read"):
        evaluate("github.run_attempt > 1", context)
