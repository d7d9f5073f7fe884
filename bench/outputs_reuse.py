"""Seconds of the evaluate and checks stages of a finished run: everything computed (the
baseline, `evaluation.reuse: off`), then with the outputs store (`machine`) empty, then warm —
in one process, on three copies of the run's data and training result. One JSON line each,
then one saying whether the warm figures equal the baseline's.

Run: `.venv/bin/python bench/outputs_reuse.py runs/demo` (after `make demo`). The store is a
temporary folder, never the user's cache. The copies keep RUN's recipe: its model, precision
and settings.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

STAGES = ["evaluate", "checks"]
KEPT = ("data", "train", "recipe.yaml", "manifest.json")  # what the two stages read


def _copy(source: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in KEPT:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, folder / name)
        elif path.is_file():
            shutil.copy2(path, folder / name)
    return folder


def _run(source: Path, folder: Path, mode: str) -> dict:
    from tunesmith.artifacts import RunDir
    from tunesmith.config import load_recipe
    from tunesmith.pipeline import run_pipeline

    folder = _copy(source, folder)
    recipe = load_recipe(folder / "recipe.yaml", [f"evaluation.reuse={mode}"])
    start = time.perf_counter()
    run_pipeline(recipe, RunDir(folder), only=STAGES)
    seconds = round(time.perf_counter() - start, 1)
    stages = RunDir(folder).read_manifest()["stages"]
    compare = json.loads((folder / "eval" / "compare.json").read_text("utf-8"))
    return {
        "seconds": seconds,
        **{f"{name}_seconds": stages[name].get("seconds") for name in STAGES},
        "reused": compare.get("reused", {}),
        "sample_size": compare["sample_size"],
        "metrics": compare["metrics"],
    }


def main(source: Path) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="outputs-reuse-"))
    os.environ["TUNESMITH_OUTPUTS"] = str(scratch / "store")
    try:
        runs = {
            "recomputed (baseline: reuse off)": _run(source, scratch / "off", "off"),
            "empty store": _run(source, scratch / "empty", "machine"),
            "warm store": _run(source, scratch / "warm", "machine"),
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    base = runs["recomputed (baseline: reuse off)"]
    for name, run in runs.items():
        figures = {k: v for k, v in run.items() if k != "metrics"}
        speedup = round(base["seconds"] / max(run["seconds"], 1e-9), 2)
        print(json.dumps({"figure": "evaluate+checks", "run": name, **figures, "x": speedup}))
    same = runs["warm store"]["metrics"] == base["metrics"]
    print(json.dumps({"figure": "warm_equals_baseline", "identical_metrics": same}))


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1], "train").is_dir():
        sys.exit("usage: outputs_reuse.py RUN (a finished run folder, e.g. runs/demo)")
    main(Path(sys.argv[1]))
