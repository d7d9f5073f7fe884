"""Refuse a search key no trial reads: its values change nothing the trials' stages (the data
stage and the training stages, shared_data.training_stages) or their objective depend on, so
every trial would train and score the same (`distill.*`, `export.*`, `checks.*`, ...).

Derived from the stages' own declarations (each StageSpec's config hash), not from a list of
section names: a stage that starts reading a section makes its keys searchable."""

from __future__ import annotations

from tunesmith.config import Recipe, recipe_hash
from tunesmith.config.search import SearchConfig
from tunesmith.errors import UserError

# A setting another one replaces when that one is set (`max_steps` "overrides epochs"): its
# value changes the stage's configuration hash, but not a step a trial trains.
OVERRIDDEN_BY = {"epochs": "max_steps"}


def check_space_is_read(recipe: Recipe, space: dict) -> None:
    """UserError naming the first key of `space` whose values no trial reads."""
    from tunesmith.config.space import candidate_recipes

    objective = (recipe.search or SearchConfig()).objective
    for key, dist in space.items():
        candidates = [r for r, _ in candidate_recipes(recipe, {key: dist})]
        changed = {recipe_hash(r) for r in candidates}
        read = {trial_footprint(r, objective) for r in candidates}
        if len(changed) > 1 and len(read) == 1:
            stages = ", ".join(trial_stages(recipe))
            raise UserError(
                f"search.space.{key}: no trial reads it (a trial runs the stages {stages} and "
                f"is judged on {objective}; none of them depends on it), so every trial would "
                "be the same; search a key they read, or leave it out"
            )
        _check_not_overridden(recipe, key, space)


def _check_not_overridden(recipe: Recipe, key: str, space: dict) -> None:
    """`training.epochs` searched under a fixed `training.max_steps` trains every trial for
    the same steps: refused like a key no trial reads."""
    from tunesmith.config.space import candidate_values

    section, _, name = key.rpartition(".")
    other = OVERRIDDEN_BY.get(name)
    if other is None:
        return
    if f"{section}.{other}" in space:  # searched too: read when one of its values is unset
        values = candidate_values(space[f"{section}.{other}"])
    else:
        owner = recipe
        for part in section.split("."):
            owner = getattr(owner, part, None)
        values = [getattr(owner, other, None)]
    if None not in values:
        shown = values[0] if len(values) == 1 else "set by every choice"
        raise UserError(
            f"search.space.{key}: {section}.{other} ({shown}) overrides it, so it changes no "
            f"trial's training; leave {section}.{other} unset (null) or {key} out"
        )


def trial_stages(recipe: Recipe) -> list[str]:
    """The stages a trial's outcome depends on: the shared data stage, then the training ones."""
    from tunesmith.tune.shared_data import DATA_STAGE, training_stages

    return [DATA_STAGE, *training_stages(recipe)]


def trial_footprint(recipe: Recipe, objective: str) -> str:
    """A hash of everything a trial of `recipe` reads: its stages' configuration hashes (as
    the pipeline computes them for skip-if-unchanged) and what its objective reads."""
    from tunesmith.pipeline import stage_config_hash
    from tunesmith.stages import STAGES
    from tunesmith.tune.objective import OBJECTIVES

    stages = [(name, stage_config_hash(STAGES.get(name), recipe)) for name in trial_stages(recipe)]
    return recipe_hash(str(stages), *OBJECTIVES[objective].reads(recipe))
