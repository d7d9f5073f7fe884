"""Every registered curation step joins this matrix: accounting, config, help text."""

from __future__ import annotations

import pytest
from curation_data import context, labelled
from pydantic import BaseModel

from tunesmith.config.curation import CurationConfig
from tunesmith.data.curate import CURATION_STEPS
from tunesmith.data.curate.adhoc import curation_config
from tunesmith.errors import UserError


@pytest.mark.parametrize("name", CURATION_STEPS.names())
def test_step_accounts_for_every_row(name):
    step = CURATION_STEPS.get(name)
    assert step.config_key in CurationConfig.model_fields
    step_config = getattr(curation_config([step.config_key], []), step.config_key)
    rows = labelled(60, 20)
    rows.append(dict(rows[0], id="dup"))
    if step.phase == "pre":
        splits = {"all": rows}
    else:
        splits = {
            "train": rows[:70],
            "val": rows[70:75] + [dict(rows[1], id="leak")],
            "test": rows[75:],
        }
    before = {r["id"] for part in splits.values() for r in part}
    out = step.run(splits, step_config, context(label=True))
    after = {r["id"] for part in out.splits.values() for r in part}
    dropped = {d.row["id"] for d in out.dropped}
    assert before - after == dropped, "a row vanished without a drop record (or vice versa)"
    assert all(isinstance(d.reason, str) and d.reason for d in out.dropped)
    assert set(out.splits) == set(splits)
    new = after - before
    assert all(
        r.get("oversampled") or r.get("augmented")
        for part in out.splits.values()
        for r in part
        if r["id"] in new
    )


def _fields(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        yield f"{prefix}{name}", field
        for arg in getattr(field.annotation, "__args__", ()) or (field.annotation,):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                yield from _fields(arg, f"{prefix}{name}.")


def test_every_option_has_help_text():
    missing = [path for path, field in _fields(CurationConfig) if not field.description]
    assert missing == []


def test_steps_and_overrides_are_checked():
    with pytest.raises(UserError, match="did you mean 'clean'"):
        curation_config(["clen"], [])
    with pytest.raises(UserError, match=r"--set pii.mode"):
        curation_config(["pii"], ["pii.mode=scramble"])
    with pytest.raises(UserError, match="not among the steps"):
        curation_config(["clean"], ["dedup.threshold=0.5"])
    cfg = curation_config(
        ["dedup", "checks"], ["dedup.threshold=0.6", "checks.poisoning.action=drop"]
    )
    assert cfg.dedup.threshold == 0.6 and cfg.checks.poisoning.action == "drop"
    assert cfg.clean is None and cfg.pii is None


def test_true_switches_a_step_on_with_defaults():
    cfg = CurationConfig.model_validate({"clean": True, "dedup": False})
    assert cfg.clean is not None and cfg.clean.fix_unicode and cfg.dedup is None
