"""Re-running `tunesmith tune` continues the study: the sampler does not replay the first
command's proposals, and a trial stopped by Ctrl-C is retried once on resume."""

from __future__ import annotations

import os

import optuna
from tune_helpers import search_recipe

from tunesmith.config import load_recipe
from tunesmith.config.space import check_space
from tunesmith.tune.storage import open_storage
from tunesmith.tune.study import open_study, sampler_seed
from tunesmith.tune.suggest import suggest_values

LR = "training.learning_rate"


def _propose(study, space: dict) -> dict:
    """One trial's values from the study's sampler (told complete, as a finished trial)."""
    trial = study.ask()
    values = suggest_values(trial, space)
    study.tell(trial, 1.0)
    return values


def test_a_restarted_search_does_not_replay_the_first_commands_proposals(tiny_recipe, tmp_path):
    recipe = load_recipe(search_recipe(tiny_recipe, startup_trials=10))
    space = check_space(recipe)
    storage = open_storage(None, tmp_path)
    first = open_study(storage, "s", recipe.search, "minimize", "fp", worker=False)
    before = [_propose(first, space) for _ in range(2)]
    restarted = open_study(storage, "s", recipe.search, "minimize", "fp", worker=False)
    after = _propose(restarted, space)
    assert after[LR] not in {values[LR] for values in before}
    # a fresh study proposes exactly what a TPE sampler seeded with search.seed proposes
    plain = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=recipe.search.seed, n_startup_trials=10)
    )
    assert [_propose(plain, space) for _ in range(2)] == before


def test_sampler_seed_is_the_search_seed_moved_on_by_existing_trials(tiny_recipe):
    search = load_recipe(search_recipe(tiny_recipe, seed=7)).search
    assert sampler_seed(search, worker=False, existing=0) == 7
    assert sampler_seed(search, worker=False, existing=3) == 10
    assert sampler_seed(search, worker=True, existing=3) == 7 + os.getpid() + 3
