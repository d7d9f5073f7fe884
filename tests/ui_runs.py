"""Run folders for UI tests and benches, built without training (every file a run writes)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tunesmith.artifacts import RunDir, write_json, write_jsonl

HOSTILE = "<script>alert('x')</script>"


def recipe_dict(name: str, model: str = "smollm2-135m-instruct", train: str = "data.jsonl"):
    return {
        "name": name,
        "task": "summarization",
        "model": {"name": model},
        "data": {"train": train, "input_field": "description", "output_field": "synopsis"},
    }


def make_run(
    runs: Path, name: str, items: int = 12, report: bool = True, model: str = "tiny"
) -> Path:
    """A finished run folder: manifest, recipe, train metrics, predictions, compare, report."""
    from tunesmith.config.loader import recipe_from_dict

    root = Path(runs) / name
    run_dir = RunDir(root)
    raw = recipe_dict(name.split("-")[0], model=model, train=str(root / "data.jsonl"))
    (root / "recipe.yaml").parent.mkdir(parents=True, exist_ok=True)
    (root / "recipe.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    for stage, seconds in (("data", 0.5), ("train", 12.0), ("evaluate", 6.0), ("report", 0.2)):
        run_dir.update_stage(stage, status="done", seconds=seconds)
    history = [{"step": s, "loss": 3.0 - 0.1 * s, "seconds": s * 0.5} for s in range(1, 11)]
    history += [{"step": 5, "val_ppl": 20.0}, {"step": 10, "val_ppl": 12.5}]
    write_jsonl(run_dir.stage("train") / "metrics.jsonl", history)
    write_json(run_dir.train / "summary.json", {"steps": 10, "total_steps": 10, "best_step": 10})
    base, tuned = [], []
    for i in range(items):
        prompt = f"Describe package {i}." + (f" {HOSTILE}" if i == 0 else "")
        row = {"id": f"ex{i}", "prompt": prompt, "reference": f"tool {i}"}
        base.append({**row, "prediction": f"base answer {i}"})
        tuned.append({**row, "prediction": f"tuned answer {i}" + (HOSTILE if i == 0 else "")})
    write_jsonl(run_dir.stage("evaluate") / "predictions" / "test.base.jsonl", base)
    write_jsonl(run_dir.eval / "predictions" / "test.tuned.jsonl", tuned)
    metrics = {"rougeL": _row(0.21, 0.34, items)}
    write_json(run_dir.eval / "compare.json", {"sample_size": items, "metrics": metrics})
    write_json(run_dir.eval / "metrics.json", {"base": {"rougeL": 0.21}, "tuned": {"rougeL": 0.34}})
    if report:
        from tunesmith.report.html import run

        run(recipe_from_dict(json.loads(json.dumps(raw))), run_dir)
    return root


def _row(base: float, tuned: float, n: int) -> dict:
    delta = tuned - base
    return {
        "base": base,
        "tuned": tuned,
        "delta": delta,
        "relative": delta / base,
        "better": True,
        "ci_low": delta - 0.05,
        "ci_high": delta + 0.05,
        "p_value": 0.003,
        "significant": True,
        "n": n,
    }
