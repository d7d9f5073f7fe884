"""`tunesmith group`: train every member in its own run folder on shared curated data, then
score the ensembles and merges against the members (group/compare.py).

A driver above the pipeline (DESIGN: multi-run work): members are ordinary run folders under
DIR/members/, curated once through tune/shared_data.py (the search's machinery, not a second
one), and resumable because each member is `run_pipeline(..., force=False)`: a finished member
is skipped stage by stage, an interrupted one resumes its training checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts import RunDir, write_json
from tunesmith.config import Recipe
from tunesmith.config.group import GroupConfig
from tunesmith.config.overrides import override_recipe
from tunesmith.group.members import Member, keep_subset, members_of

# Members run the stages after the shared data up to their own evaluation; the group scores
# the rest (risk checks and the per-run report are not needed to compare members).
FIRST_SHARED, LAST_MEMBER_STAGE = "data", "evaluate"


@dataclass(frozen=True)
class GroupMember:
    member: Member
    recipe: Recipe
    run_dir: RunDir


def with_group(recipe: Recipe) -> Recipe:
    """The recipe with a `group:` section (the defaults when it has none: three seeds)."""
    if recipe.group is not None:
        return recipe
    return override_recipe(recipe, {"group": GroupConfig().model_dump(mode="json")})


def member_recipe(recipe: Recipe, member: Member) -> Recipe:
    """The member's recipe: the group's, with its overrides, without the group section and
    without the few-shot row (the group compares trained members; base is scored once each)."""
    values = {**member.overrides, "group": None, "evaluation.few_shot": 0}
    return override_recipe(recipe, values, source=f"group member {member.name}")


def member_stages(recipe: Recipe) -> list[str]:
    from tunesmith.stages import STAGES, load_stages, ordered_stages

    load_stages()
    low, high = STAGES.get(FIRST_SHARED).order, STAGES.get(LAST_MEMBER_STAGE).order
    return [s.name for s in ordered_stages(recipe) if low < s.order <= high]


def group_members(recipe: Recipe, out: Path) -> list[GroupMember]:
    group = recipe.group or GroupConfig()
    return [
        GroupMember(m, member_recipe(recipe, m), RunDir(out / "members" / m.name))
        for m in members_of(group)
    ]


def train_members(recipe: Recipe, out: Path, on_member=None) -> list[GroupMember]:
    """Run (or resume) every member; returns them in order."""
    from tunesmith.models import reuse_loaded_models
    from tunesmith.pipeline import run_pipeline
    from tunesmith.tune.shared_data import curated, link_data

    members = group_members(recipe, out)
    if recipe.group and recipe.group.merges:  # fail before training what cannot merge
        from tunesmith.ensemble.merge_check import check_same_base_and_method

        check_same_base_and_method(members)
    with reuse_loaded_models():
        for k, gm in enumerate(members):
            link_data(curated(gm.recipe, out), gm.run_dir, with_test=True)
            if gm.member.subset is not None:
                keep_subset(gm.run_dir, *gm.member.subset)
            stages = member_stages(gm.recipe)
            outcome = run_pipeline(gm.recipe, gm.run_dir, only=stages, force=False)
            if on_member:
                on_member(k, gm, outcome)
    write_json(
        out / "group.json",
        {
            "recipe": recipe.name,
            "members": [
                {
                    "name": gm.member.name,
                    "overrides": gm.member.overrides,
                    "subset": gm.member.subset,
                    "run_dir": str(gm.run_dir.root),
                }
                for gm in members
            ],
        },
    )
    return members


def run_group(recipe: Recipe, out: Path, on_member=None, on_step=None) -> dict:
    """Members, then ensembles and merges, then DIR/compare.json and DIR/report.html."""
    from tunesmith.group.compare import group_compare
    from tunesmith.group.report import write_report

    recipe = with_group(recipe)
    members = train_members(recipe, out, on_member)
    comparison = group_compare(recipe, members, out, on_step)
    write_json(out / "compare.json", comparison)
    comparison["report"] = str(write_report(comparison, out))
    return comparison
