"""The items of a rating session: held-out prompts with two systems' answers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts.files import read_jsonl
from tunesmith.errors import UserError
from tunesmith.human.names import inside


@dataclass(frozen=True)
class Item:
    id: str
    prompt: str
    reference: str
    answers: dict[str, str]  # system name -> its answer


def predictions_path(run_root: Path, split: str, system: str) -> Path:
    return run_root / "eval" / "predictions" / f"{split}.{system}.jsonl"


def available_systems(run_root: Path, split: str = "test") -> list[str]:
    """Systems with a predictions file for `split` (e.g. base, few_shot, tuned)."""
    folder = run_root / "eval" / "predictions"
    prefix = f"{split}."
    found = [p.name[len(prefix) : -len(".jsonl")] for p in folder.glob(f"{split}.*.jsonl")]
    return sorted(found)


def load_items(run_root: Path, systems: tuple[str, str], split: str = "test") -> list[Item]:
    """Items that both systems answered, in the predictions file's order."""
    first, second = (_read(run_root, predictions_path(run_root, split, s)) for s in systems)
    other = {str(r["id"]): r for r in second}
    items = []
    for row in first:
        key = str(row.get("id"))
        if key not in other:
            continue
        answers = {systems[0]: str(row.get("prediction", "")), systems[1]: ""}
        answers[systems[1]] = str(other[key].get("prediction", ""))
        items.append(Item(key, str(row.get("prompt", "")), str(row.get("reference", "")), answers))
    if not items:
        raise UserError(f"{run_root.name}: no items answered by both {systems[0]} and {systems[1]}")
    return items


def _read(run_root: Path, path: Path) -> list[dict]:
    path = inside(run_root, path, "predictions")  # a copied run folder's link: not read
    if not path.is_file():
        raise UserError(f"{path}: predictions file not found (has the run been evaluated?)")
    rows = read_jsonl(path)  # not UTF-8, not JSON: one line naming file:line
    if not all(isinstance(row, dict) and "id" in row for row in rows):
        raise UserError(f"{path}: damaged run file, a line is not a prediction with an id")
    return rows
