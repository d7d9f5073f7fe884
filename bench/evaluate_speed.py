"""Evaluate-stage speed on the demo recipe: today's path (shared-prefix KV reuse, perplexity
from the generation prefill) against the path before them (`models.joint.separate_passes`:
a separate perplexity pass, every prompt prefilled whole), in the same process, on the same
run folder.

    python bench/evaluate_speed.py [--rows 200] [--run RUN_DIR] [--paths old,new]
        [--train-steps 20] [--recipe src/tunesmith/recipes/demo.yaml] [--sample N]

Without --run, a run folder is made first (data and a short training, not timed) from the
recipe with `data.split.test` = --rows. Each path then runs the evaluate stage from an empty
eval/ folder (no saved generations are reused). Prints one JSON line per path: seconds for the
whole stage, per model row (base, few_shot, tuned) and per test example; then a comparison
line: the speed-up and how many predictions and perplexities agree between the paths.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path


def main() -> None:
    args = _parser().parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from tunesmith.artifacts import RunDir

    run_dir = RunDir(Path(args.run)) if args.run else _prepared_run(args)
    recipe = _recipe_of(run_dir)
    if args.sample:
        from tunesmith.config.overrides import override_recipe

        recipe = override_recipe(recipe, {"evaluation.sample_size": args.sample}, "--sample")
    results = {}
    for path in args.paths.split(","):
        results[path] = _timed_evaluation(recipe, run_dir, path)
        _emit({k: v for k, v in results[path].items() if k != "rows_out"})
    if {"old", "new"} <= set(results):
        _emit(_comparison(results["old"], results["new"]))


def _prepared_run(args):
    from tunesmith.artifacts import RunDir
    from tunesmith.config import load_recipe
    from tunesmith.config.overrides import override_recipe
    from tunesmith.pipeline import run_pipeline

    overrides = {"data.split.test": args.rows, "training.max_steps": args.train_steps}
    recipe = override_recipe(load_recipe(Path(args.recipe)), overrides, "--set")
    run_dir = RunDir(Path(tempfile.mkdtemp(prefix="evaluate-speed-")) / "run")
    run_pipeline(recipe, run_dir, only=["data", "train"])
    (run_dir.root / "bench-recipe.json").write_text(recipe.model_dump_json())
    return run_dir


def _recipe_of(run_dir):
    from tunesmith.config import load_recipe
    from tunesmith.config.schema import Recipe

    saved = run_dir.root / "bench-recipe.json"
    if saved.is_file():
        return Recipe.model_validate_json(saved.read_text())
    return load_recipe(run_dir.root / "recipe.yaml")


def _timed_evaluation(recipe, run_dir, path: str) -> dict:
    """The evaluate stage on `run_dir` by `path` ('old' or 'new'), timed per model row."""
    import tunesmith.evaluate.scoring as scoring
    from tunesmith.artifacts import read_jsonl
    from tunesmith.evaluate import stage
    from tunesmith.evaluate.rows import rows_for
    from tunesmith.models.joint import separate_passes

    shutil.rmtree(run_dir.eval, ignore_errors=True)  # nothing saved to reuse
    # the stage scores its model rows in this order (rows without a model score themselves)
    names = [row.name for row in rows_for(recipe, run_dir) if row.score is None]
    per_row: dict[str, float] = {}
    real = scoring.score_model

    def timed(*args, **kwargs):
        started = time.perf_counter()
        rows = real(*args, **kwargs)
        per_row[names[len(per_row)]] = round(time.perf_counter() - started, 2)
        return rows

    scoring.score_model = timed
    try:
        with separate_passes() if path == "old" else nullcontext():
            started = time.perf_counter()
            result = stage.run(recipe, run_dir)
            seconds = time.perf_counter() - started
    finally:
        scoring.score_model = real
    predictions = {
        name: read_jsonl(run_dir.eval / "predictions" / f"test.{name}.jsonl") for name in per_row
    }
    return {
        "figure": "evaluate_stage",
        "path": path,
        "test_rows": result.sample_size,
        "seconds": round(seconds, 2),
        "seconds_per_model_row": per_row,
        "seconds_per_test_row": round(seconds / max(result.sample_size, 1), 3),
        # quality by each path: in bf16 the paths' different summation order can flip a greedy
        # choice, so predictions may differ; their mean scores must not (per-example means)
        "mean_scores": {name: _means(rows) for name, rows in predictions.items()},
        "rows_out": predictions,
    }


def _means(rows: list[dict]) -> dict:
    means = {}
    for key in ("rougeL", "nll"):
        values = [r["scores"][key] for r in rows if key in r["scores"]]
        if values:
            means[key] = round(sum(values) / len(values), 4)
    return means


def _comparison(old: dict, new: dict) -> dict:
    same, total, worst = 0, 0, 0.0
    for name, rows in new["rows_out"].items():
        for a, b in zip(rows, old["rows_out"][name], strict=True):
            total += 1
            same += a["prediction"] == b["prediction"]
            x, y = a["scores"].get("nll"), b["scores"].get("nll")
            if x is not None and y:
                worst = max(worst, abs(x - y) / abs(y))
    return {
        "figure": "evaluate_speedup",
        "speedup": round(old["seconds"] / max(new["seconds"], 1e-9), 2),
        "identical_predictions": f"{same}/{total}",
        "max_nll_relative_difference": worst,
    }


def _emit(line: dict) -> None:
    print(json.dumps(line), flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200, help="test rows (without --run)")
    parser.add_argument("--run", help="an existing run folder with data and train done")
    parser.add_argument("--sample", type=int, help="evaluate only the first N test rows")
    parser.add_argument("--paths", default="old,new", help="which paths, in this order")
    parser.add_argument("--train-steps", type=int, default=20, help="training steps (no --run)")
    parser.add_argument("--recipe", default=str(_demo()), help="recipe (without --run)")
    return parser


def _demo() -> Path:
    return Path(__file__).resolve().parents[1] / "src/tunesmith/recipes/demo.yaml"


if __name__ == "__main__":
    main()
