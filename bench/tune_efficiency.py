"""Search efficiency: trials per hour with and without pruning, with and without reuse of the
loaded base model and the tokenised data across trials, and the best validation perplexity
reached versus wall-clock time, for a fixed small space and budget.

The bundled demo recipe (Debian synopses, SmolLM2-135M) on a small subset; each setting runs
its own study from scratch in a temporary folder, in this process. One JSON line per figure.
Two worker processes on one study: bench/tune_workers.py.

    python bench/tune_efficiency.py [--trials 6] [--examples 64] [--steps 8] [--model DIR]
        [--pruners none,median] [--reuse on,off] [--threads N]
    python bench/tune_efficiency.py --costs     # what the reuse saves per trial, in seconds
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPACE = {
    "training.learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
    "training.lora.r": {"type": "categorical", "choices": [4, 8, 16]},
}


def small_recipe(args, pruner: str):
    from tunesmith.cli.run_cmd import bundled_demo
    from tunesmith.config import load_recipe
    from tunesmith.config.overrides import override_recipe

    values = {
        "data.max_examples": args.examples,
        "data.split.validation": 12,
        "data.split.test": 8,
        "training.max_steps": args.steps,
        "training.eval_every": 2,
        "training.val_max_examples": 12,
        "training.batch_size": 4,
        "training.max_seq_length": 128,
        "training.early_stopping.enabled": False,
        **({"model.name": args.model} if args.model else {}),
        **({"model.threads": args.threads} if args.threads else {}),
        "search": {
            "space": SPACE,
            "trials": args.trials,
            "startup_trials": 2,
            "pruner": pruner,
            "final": False,
        },
    }
    return override_recipe(load_recipe(bundled_demo()), values)


def figures(study, seconds: float, base: dict) -> list[dict]:
    """Trials per hour, wall-clock seconds, the best value and its curve over time."""
    import optuna

    trials = [t for t in study.trials if t.state.is_finished()]
    first = min(t.datetime_start for t in trials)
    best, curve = None, []
    for trial in sorted(trials, key=lambda t: t.datetime_complete):
        if trial.value is not None and (best is None or trial.value < best):
            best = trial.value
        at = (trial.datetime_complete - first).total_seconds()
        curve.append([round(at, 1), None if best is None else round(best, 3)])
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in trials)
    base = {**base, "trials": len(trials), "pruned": pruned}
    return [
        {**base, "figure": "trials_per_hour", "value": round(3600 * len(trials) / seconds, 1)},
        {**base, "figure": "seconds", "value": round(seconds, 1)},
        {**base, "figure": "best_val_ppl", "value": best},
        {**base, "figure": "best_val_ppl_vs_seconds", "value": curve},
    ]


def measure(pruner: str, reuse: bool, args) -> list[dict]:
    import optuna

    from tunesmith.tune.driver import TuneOptions, tune
    from tunesmith.tune.storage import open_storage

    recipe = small_recipe(args, pruner)
    with tempfile.TemporaryDirectory() as folder:
        hpo = Path(folder) / "hpo"
        started = time.perf_counter()
        tune(recipe, TuneOptions(hpo_dir=hpo, show_progress=False, reuse=reuse))
        seconds = time.perf_counter() - started
        study = optuna.load_study(study_name=recipe.name, storage=open_storage(None, hpo))
        return figures(study, seconds, {"pruner": pruner, "reuse": reuse, "workers": 1})


def setup_costs(args, repeats: int = 3) -> list[dict]:
    """Per-trial set-up a worker process pays without reuse and with it (median seconds):
    the base model read from disk vs a copy of the loaded one; the train split tokenised vs
    taken from the cache."""
    import statistics

    from tunesmith.models import load_model_and_tokenizer, reuse_loaded_models
    from tunesmith.train.encoded import encoded_split, reuse_encoded
    from tunesmith.tune.shared_data import curated

    recipe = small_recipe(args, "none")
    with tempfile.TemporaryDirectory() as folder:
        train = curated(recipe, Path(folder)).data / "train.jsonl"
        _, tokenizer = load_model_and_tokenizer(recipe.model, device="cpu")
        length = recipe.training.max_seq_length
        jobs = {
            "model_load": lambda: load_model_and_tokenizer(recipe.model, device="cpu"),
            "tokenise_train": lambda: encoded_split(train, tokenizer, length),
        }
        rows = []
        for name, job in jobs.items():
            cold = [_seconds(job) for _ in range(repeats)]
            with reuse_loaded_models(), reuse_encoded():
                job()  # the first trial pays the full cost once
                warm = [_seconds(job) for _ in range(repeats)]
            for reuse, times in (("off", cold), ("on", warm)):
                value = round(statistics.median(times), 4)
                rows.append({"figure": f"{name}_seconds", "reuse": reuse, "value": value})
        return rows


def _seconds(job) -> float:
    started = time.perf_counter()
    job()
    return time.perf_counter() - started


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--pruners", default="none,median")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per process")
    parser.add_argument(
        "--model", default=None, help="a local model folder instead of the demo's SmolLM2-135M"
    )
    return parser


def main() -> None:
    cli = parser()
    cli.add_argument("--reuse", default="on", help="on, off or on,off")
    cli.add_argument("--costs", action="store_true", help="only the per-trial set-up costs")
    args = cli.parse_args()
    if args.costs:
        for row in setup_costs(args):
            print(json.dumps(row), flush=True)
        return
    settings = [(r, p) for r in args.reuse.split(",") for p in args.pruners.split(",")]
    if len(settings) == 1:
        for row in measure(settings[0][1], settings[0][0] == "on", args):
            print(json.dumps(row), flush=True)
        return
    # one fresh process per setting: none inherits another's warm imports and caches
    for reuse, pruner in settings:
        rest = _without_values(sys.argv[1:], ("--reuse", "--pruners"))
        command = [sys.executable, __file__, *rest, "--reuse", reuse, "--pruners", pruner]
        subprocess.run(command, check=False)


def _without_values(argv: list[str], flags: tuple[str, ...]) -> list[str]:
    """`argv` minus `flags` with their values (`--flag value` or `--flag=value`)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in flags:
            skip = True
        elif not arg.startswith(tuple(f + "=" for f in flags)):
            kept.append(arg)
    return kept


if __name__ == "__main__":
    main()
