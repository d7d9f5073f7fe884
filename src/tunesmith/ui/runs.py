"""What the run list shows, read from each run folder (cached by file modification times)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import yaml

from tunesmith.artifacts.run_dir import STAGES
from tunesmith.config.recipe_yaml import read_yaml
from tunesmith.errors import UserError
from tunesmith.human.names import NAME, inside

_CACHE: dict[Path, tuple[tuple, dict]] = {}


def list_runs(runs_dir: Path) -> list[dict]:
    """Every run folder (one with a manifest or a recipe), newest first."""
    rows = []
    for path in runs_dir.iterdir():
        # a linked folder is not listed: its page would be refused (ui/security.run_path)
        if path.is_dir() and not path.is_symlink() and NAME.match(path.name) and _is_run(path):
            rows.append(run_info(path))
    return sorted(rows, key=lambda r: r["date"] or "", reverse=True)


def _is_run(path: Path) -> bool:
    return (path / "manifest.json").is_file() or (path / "recipe.yaml").is_file()


def run_info(path: Path) -> dict:
    files = [path / "manifest.json", path / "recipe.yaml", path / "eval" / "compare.json"]
    files.append(path / "eval" / "human.json")
    key = tuple(_mtime(f) for f in files)
    cached = _CACHE.get(path)
    if cached and cached[0] == key:
        return cached[1]
    info = _read_info(path)
    _CACHE[path] = (key, info)
    return info


def _read_info(path: Path) -> dict:
    manifest = read_json(path, "manifest.json")
    recipe = read_recipe(path)
    stages = json_object(manifest.get("stages"))
    compare = read_json(path, "eval/compare.json")
    created = manifest.get("created")
    return {
        "name": path.name,
        "recipe_name": recipe.get("name", ""),
        "task": recipe.get("task", ""),
        "model": _model_name(recipe.get("model")),
        "stages": stage_statuses(stages, "–", recipe),
        "headline": headline(compare),
        "human": _human_headline(read_json(path, "eval/human.json")),
        "date": created if isinstance(created, str) and created else _file_date(path),
    }


def json_object(value) -> dict:
    """`value` when it is a JSON object, else {}: a run folder may be anyone's, and a field
    of the wrong shape (`"stages": 5`) made the whole run list a 500."""
    return value if isinstance(value, dict) else {}


def stage_statuses(stages: dict, missing: str, recipe: dict) -> dict[str, str]:
    """Every stage of the run in run order: those the manifest records (checks, pretrain,
    export... in the order they ran), then the basic ones not started yet (`missing`). Only
    the basic four were shown, so a run busy in checks showed no stage running."""
    names = [*stages, *(s for s in basic_stages(recipe) if s not in stages)]
    return {s: json_object(stages.get(s)).get("status", missing) for s in names}


def basic_stages(recipe: dict) -> tuple[str, ...]:
    """The stages every run of `recipe` (its recipe.yaml, as read) has: a `federated:` run
    trains in the federated stage, never in `train`, whose "pending" made a finished
    federated run show as stopped."""
    if recipe.get("federated") is None:
        return STAGES
    return tuple("federated" if stage == "train" else stage for stage in STAGES)


def headline(compare: dict) -> dict | None:
    """The target metric of compare.json (else its first): base, tuned, delta, interval.

    The first metric was perplexity for every text task, not the ROUGE-L its target is on."""
    metrics = json_object(compare.get("metrics"))
    if not metrics:
        return None
    target = json_object(compare.get("target")).get("metric")
    name = target if target in metrics else next(iter(metrics))
    row = metrics[name]
    if not isinstance(row, dict):
        return None
    keys = ("base", "tuned", "delta", "relative", "ci_low", "ci_high", "p_value", "significant")
    return {
        "metric": name,
        **{k: row.get(k) for k in keys},
        "n": row.get("n", compare.get("sample_size")),
    }


def _human_headline(human: dict) -> dict | None:
    comparisons = human.get("comparisons")
    first = comparisons[0] if isinstance(comparisons, list) and comparisons else None
    return first if isinstance(first, dict) else None


def _model_name(model) -> str:
    return str(model.get("name", "")) if isinstance(model, dict) else str(model or "")


def run_file(root: Path, relative: str) -> Path:
    """The run folder's file `relative`, its links followed; a UserError (400) when that leads
    out of the run folder. Every file the UI reads from a run folder comes through here: a
    folder may be copied from someone else, and a planted link (manifest.json -> a file of
    the user's) must not make the UI parse, and show, what lies outside it."""
    return inside(root, Path(root) / relative, relative)


def run_folder(root: Path, relative: str) -> Path:
    """`run_file` for a folder and every file below it (the model the playground loads)."""
    folder = run_file(root, relative)
    for path in folder.rglob("*"):
        inside(root, path, relative)
    return folder


def lenient_file(root: Path, relative: str) -> Path | None:
    """`run_file`, or None where the run list and progress show the run without the file."""
    try:
        path = run_file(root, relative)
    except UserError:
        return None
    return path if path.is_file() else None


def read_recipe(root: Path) -> dict:
    path = lenient_file(root, "recipe.yaml")
    if path is None:
        return {}
    try:
        # the recipe loader's YAML: a run folder's recipe.yaml may be anyone's, and a few
        # aliases can stand for a billion values (the run list would print them)
        data, _ = read_yaml(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_json(root: Path, relative: str) -> dict:
    """A run file's JSON object, or {} when it is missing, half-written, not an object or
    a link out of the run folder."""
    path = lenient_file(root, relative)
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError, RecursionError):  # RecursionError: nested too deeply
        return {}
    return data if isinstance(data, dict) else {}


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _file_date(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")
