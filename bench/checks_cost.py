"""Seconds each model risk check costs on the default model: one JSON line per check.

Run once: `.venv/bin/python bench/checks_cost.py [run-folder]`. Builds a small demo run
(real SmolLM2-135M, 160 rows, 2 training steps, 16 test examples, 32 new tokens as the demo)
in the folder (default: a temporary one), runs data -> train -> evaluate -> checks with the
default checks settings, and prints each check's seconds from eval/checks/summary.json.

`--reuse RUN`: copy a finished run folder (e.g. the demo's) and re-run only its checks stage
with the current code; prints each check's seconds now and as recorded in RUN ("before").
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

OVERRIDES = [
    "data.max_examples=160",
    "data.split.test=16",
    "data.split.validation=8",
    "training.max_steps=2",
    "training.batch_size=4",
    "training.max_seq_length=128",
    "evaluation.few_shot=0",
    "evaluation.generation.max_new_tokens=32",  # as the demo: comparable to its checks
]


def main(folder: Path) -> None:
    from tunesmith.artifacts import RunDir
    from tunesmith.config import load_recipe
    from tunesmith.pipeline import run_pipeline

    demo = resources.files("tunesmith").joinpath("recipes", "demo.yaml")
    recipe = load_recipe(Path(str(demo)), OVERRIDES)
    run_dir = RunDir(folder)
    start = time.perf_counter()
    run_pipeline(recipe, run_dir, only=["data", "train", "evaluate", "checks"])
    stages = run_dir.read_manifest()["stages"]
    summary = json.loads((run_dir.eval / "checks" / "summary.json").read_text("utf-8"))
    for check in summary["checks"]:
        print(
            json.dumps(
                {
                    "figure": "check_seconds",
                    "check": check["name"],
                    "status": check["status"],
                    "seconds": check["seconds"],
                    "test_examples": 16,
                    "model": recipe.model.name,
                }
            )
        )
    print(
        json.dumps(
            {
                "figure": "stage_seconds",
                **{k: v.get("seconds") for k, v in stages.items()},
                "total": round(time.perf_counter() - start, 1),
            }
        )
    )


def reuse(source: Path) -> None:
    import shutil

    from tunesmith.artifacts import RunDir
    from tunesmith.config import load_recipe
    from tunesmith.pipeline import run_pipeline

    before = json.loads((source / "eval" / "checks" / "summary.json").read_text("utf-8"))
    folder = Path(tempfile.mkdtemp()) / "run"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("checks"))
    recipe = load_recipe(folder / "recipe.yaml", ["checks={}"])  # the current defaults
    run_pipeline(recipe, RunDir(folder), only=["checks"])
    after = json.loads((folder / "eval" / "checks" / "summary.json").read_text("utf-8"))
    was = {c["name"]: c["seconds"] for c in before["checks"]}
    for check in after["checks"]:
        name = check["name"]
        print(
            json.dumps(
                {
                    "figure": "check_seconds",
                    "check": name,
                    "run": str(source),
                    "before": was.get(name),
                    "after": check["seconds"],
                }
            )
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--reuse"]:
        reuse(Path(sys.argv[2]))
    else:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "run")
