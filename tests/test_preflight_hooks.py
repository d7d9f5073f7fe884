"""A stage or driver adds the pre-flight checks of its own settings through its registration
(`StageSpec.preflight` and `fits_test`, `DriverSpec.preflight`): `validate` and `run` run them
at their point among preflight.py's own checks, and preflight.py names none of them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tunesmith.config import load_recipe
from tunesmith.drivers import DRIVERS, DriverSpec, registered_drivers
from tunesmith.errors import UserError
from tunesmith.stages import STAGES, PreflightHook, StageSpec, load_stages

LINE = "extra: ok (42 training examples planned)"


def _seen(recipe, facts) -> list[str]:
    return [f"extra: ok ({len(facts.splits()['train'])} training examples planned)"]


def _refused(recipe, facts) -> list[str]:
    raise UserError("extra.setting: refused by its stage")


def _extra(**contract) -> StageSpec:
    nothing = lambda *args: []  # noqa: E731
    return StageSpec("extra", 95, lambda r: (), nothing, nothing, nothing, **contract)


def _validate(path: Path, tmp_path: Path, capsys) -> list[str]:
    from tunesmith.cli.validate_cmd import validate_recipe

    validate_recipe(path, tmp_path / "out")
    return capsys.readouterr().err.splitlines()


def test_a_stages_registered_check_runs_in_validate(tiny_recipe, tmp_path, capsys, monkeypatch):
    path = tiny_recipe()
    assert LINE not in _validate(path, tmp_path, capsys)  # not without the registration
    load_stages()
    monkeypatch.setitem(STAGES._items, "extra", _extra(preflight=(PreflightHook("data", _seen),)))
    lines = _validate(path, tmp_path, capsys)
    assert LINE in lines
    # at its point: with the planned splits, before the chat template is tried
    before, after = (i for i, line in enumerate(lines) if line.startswith(("data.split", "templ")))
    assert before < lines.index(LINE) < after


def test_a_registered_check_that_fails_refuses_the_recipe(tiny_recipe, monkeypatch):
    from tunesmith.preflight import preflight

    load_stages()
    hooks = (PreflightHook("files", _refused),)
    monkeypatch.setitem(STAGES._items, "extra", _extra(preflight=hooks))
    with pytest.raises(UserError, match="^extra.setting: refused by its stage$"):
        preflight(load_recipe(tiny_recipe()), None)


def test_a_stages_test_split_needs_are_asked_of_the_planned_split(tiny_recipe, monkeypatch):
    from tunesmith.preflight import preflight

    asked = []

    def fits(recipe, test_count):
        asked.append(test_count)
        return [f"extra: ok (a test split of {test_count} is enough)"]

    load_stages()
    monkeypatch.setitem(STAGES._items, "extra", _extra(fits_test=fits))
    assert "extra: ok (a test split of 10 is enough)" in preflight(load_recipe(tiny_recipe()), None)
    assert asked == [10]


def test_a_drivers_registered_check_runs_after_the_others(tiny_recipe, monkeypatch):
    from tunesmith.preflight import preflight

    registered_drivers()
    spec = DriverSpec("extra", preflight=(PreflightHook("end", _seen),))
    monkeypatch.setitem(DRIVERS._items, "extra", spec)
    lines = preflight(load_recipe(tiny_recipe()), None)
    assert lines[-2:] == [LINE, "tracking: ok (jsonl)"]


def test_a_check_at_an_unknown_point_is_refused_when_registered():
    with pytest.raises(ValueError, match="pre-flight point 'dat'"):
        PreflightHook("dat", _seen)


def test_preflight_imports_no_stage_or_driver_package():
    """Layering (docs/architecture.md): the stages' and drivers' checks come through their
    registrations."""
    import tunesmith.preflight

    tree = ast.parse(Path(tunesmith.preflight.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    packages = ("tune", "group", "ablation", "ensemble", "federated", "distill", "checks", "export")
    named = {m for m in imported if m.split(".")[:2][-1] in packages}
    assert named == set()
