"""Shared helpers of the search tests: a tiny search recipe on the tiny random model."""

from __future__ import annotations

from pathlib import Path

import yaml

SMALL_SPACE = {
    "training.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
    "training.lora.r": {"type": "categorical", "choices": [2, 4]},
}


def search_recipe(make_recipe, space=None, **search) -> Path:
    """The tiny recipe (tests/conftest.py) with a few-step training and a `search:` section."""
    path = make_recipe()
    recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    recipe["training"].update({"max_steps": 4, "eval_every": 2, "val_max_examples": 8})
    recipe["search"] = {
        "space": space if space is not None else SMALL_SPACE,
        "trials": 2,
        "startup_trials": 1,
        "final": False,
        **search,
    }
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def dead_owner() -> str:
    """A trial owner ("host:pid") whose process has ended: a worker that died."""
    import socket
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()
    return f"{socket.gethostname()}:{gone.pid}"


def add_running_trial(study, owner: str, **attrs) -> None:
    """A RUNNING trial of the learning rate 2e-3, owned by worker `owner`."""
    import optuna

    lr = "training.learning_rate"
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.RUNNING,
            params={lr: 2e-3},
            distributions={lr: optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True)},
            user_attrs={"worker": owner, **attrs},
        )
    )
