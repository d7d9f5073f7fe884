"""Search efficiency: trials per hour with and without pruning, and the best validation
perplexity reached versus wall-clock time, for a fixed small space and budget.

The bundled demo recipe (Debian synopses, SmolLM2-135M) on a small subset; each pruner runs
its own study from scratch in a temporary folder. One JSON line per figure.

    python bench/tune_efficiency.py [--trials 6] [--examples 64] [--steps 8] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

SPACE = {
    "training.learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
    "training.lora.r": {"type": "categorical", "choices": [4, 8, 16]},
}


def small_recipe(trials: int, examples: int, steps: int, pruner: str, model: str | None):
    from tunesmith.cli.run_cmd import bundled_demo
    from tunesmith.config import load_recipe
    from tunesmith.config.overrides import override_recipe

    values = {
        "data.max_examples": examples,
        "data.split.validation": 12,
        "data.split.test": 8,
        "training.max_steps": steps,
        "training.eval_every": 2,
        "training.val_max_examples": 12,
        "training.batch_size": 4,
        "training.max_seq_length": 128,
        "training.early_stopping.enabled": False,
        **({"model.name": model} if model else {}),
        "search": {
            "space": SPACE,
            "trials": trials,
            "startup_trials": 2,
            "pruner": pruner,
            "final": False,
        },
    }
    return override_recipe(load_recipe(bundled_demo()), values)


def measure(pruner: str, args) -> list[dict]:
    import optuna

    from tunesmith.tune.driver import TuneOptions, tune
    from tunesmith.tune.storage import open_storage

    recipe = small_recipe(args.trials, args.examples, args.steps, pruner, args.model)
    with tempfile.TemporaryDirectory() as folder:
        hpo = Path(folder) / "hpo"
        started = time.perf_counter()
        tune(recipe, TuneOptions(hpo_dir=hpo, show_progress=False))
        seconds = time.perf_counter() - started
        study = optuna.load_study(study_name=recipe.name, storage=open_storage(None, hpo))
        trials = [t for t in study.trials if t.state.is_finished()]
        first = min(t.datetime_start for t in trials)
        best, curve = None, []
        for trial in sorted(trials, key=lambda t: t.datetime_complete):
            if trial.value is not None and (best is None or trial.value < best):
                best = trial.value
            at = (trial.datetime_complete - first).total_seconds()
            curve.append([round(at, 1), None if best is None else round(best, 3)])
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in trials)
    base = {"pruner": pruner, "trials": len(trials), "pruned": pruned}
    return [
        {**base, "figure": "trials_per_hour", "value": round(3600 * len(trials) / seconds, 1)},
        {**base, "figure": "seconds", "value": round(seconds, 1)},
        {**base, "figure": "best_val_ppl", "value": best},
        {**base, "figure": "best_val_ppl_vs_seconds", "value": curve},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--pruners", default="none,median")
    parser.add_argument(
        "--model", default=None, help="a local model folder instead of the demo's SmolLM2-135M"
    )
    args = parser.parse_args()
    for pruner in args.pruners.split(","):
        for row in measure(pruner, args):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
