"""`tunesmith refine RUN`: the next iteration's recipe and data, acting on the errors.

- oversamples the training examples that fall in the worst buckets (input-length range,
  `slice_by` values, labels) of the analysed split;
- exports the failures as review.csv, for a person to correct (`corrected_response`);
  `--review` feeds corrected *validation* rows back into training (test rows never: leakage);
- keeps val and test exactly as they were, and points `evaluation.previous_run` at RUN, so the
  next run's report shows before/after on the same test examples.
A driver above the pipeline: reads a finished run folder, writes a new folder.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tunesmith.artifacts import read_jsonl, write_json, write_jsonl
from tunesmith.artifacts.files import read_json_object
from tunesmith.config import load_recipe
from tunesmith.config.tasks import task_spec
from tunesmith.errors import UserError
from tunesmith.evaluate.review import read_review, write_review

DROP = ("id", "meta", "demos", "label", "system")
SPLITS = ("train", "val", "test")
WRITES = ("recipe.yaml", "train.jsonl", "val.jsonl", "test.jsonl", "review.csv", "plan.json")


def refine(run: Path, out: Path, factor: int = 2, review: Path | None = None) -> dict:
    """Write out/{recipe.yaml, train.jsonl, val.jsonl, test.jsonl, review.csv, plan.json}."""
    run = Path(run).resolve()
    reads = (
        "recipe.yaml",
        "eval/errors.json",
        "eval/compare.json",
        *(f"data/{s}.jsonl" for s in SPLITS),
    )
    missing = [name for name in reads if not (run / name).is_file()]
    if missing:
        raise UserError(f"{run}: not an evaluated run folder (no {', '.join(missing)})")
    check_output(out)
    recipe = load_recipe(run / "recipe.yaml").model_dump(mode="json")
    split = "val" if (run / "eval" / "errors.val.json").is_file() else "test"
    errors = read_json_object(run / "eval" / f"errors{'' if split == 'test' else '.val'}.json")
    data = {s: read_jsonl(run / "data" / f"{s}.jsonl") for s in SPLITS}
    weak = weak_buckets(errors, higher_is_better=not _lower_is_better(run))
    train = oversample(data["train"], weak, factor)
    corrected = 0
    if review is not None:
        data["val"], extra = apply_review(read_review(review), data["val"], data["test"])
        train, corrected = train + extra, len(extra)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", train), ("val", data["val"]), ("test", data["test"])):
        write_jsonl(out / f"{name}.jsonl", [as_record(e) for e in rows])
    write_review(out / "review.csv", errors, split)
    next_recipe = next_iteration(recipe, run, out)
    (out / "recipe.yaml").write_text(yaml.safe_dump(next_recipe, sort_keys=False), "utf-8")
    plan = {
        "from_run": str(run),
        "analysed_split": split,
        "weak_buckets": weak,
        "factor": factor,
        "train_before": len(data["train"]),
        "train_after": len(train),
        "oversampled": len(train) - len(data["train"]) - corrected,
        "corrected_from_review": corrected,
    }
    write_json(out / "plan.json", plan)
    return plan


def check_output(out: Path) -> None:
    """`out` holds none of the files refine writes, unless an earlier refinement wrote them (its
    plan.json): `-o RUN` or `-o RUN/data` would otherwise replace the run's own recipe.yaml and
    splits with the next iteration's."""
    if not out.is_dir() or (out / "plan.json").is_file():
        return
    taken = [name for name in WRITES if (out / name).exists()]
    if taken:
        raise UserError(
            f"--output {out}: already holds {', '.join(taken)}, not from an earlier "
            "`tunesmith refine`; give a new folder"
        )


def _lower_is_better(run: Path) -> bool:
    compare = read_json_object(run / "eval" / "compare.json")
    metric = compare.get("target", {}).get("metric")
    return bool(compare.get("metrics", {}).get(metric, {}).get("lower_is_better"))


def weak_buckets(errors: dict, higher_is_better: bool = True) -> list[dict]:
    """Buckets where the tuned model does worse than on the whole split (by the target)."""
    weak = []
    for group, buckets in errors.get("buckets", {}).items():
        values = [b["values"]["tuned"] for b in buckets]
        if len(values) < 2:
            continue
        overall = sum(v * b["n"] for v, b in zip(values, buckets)) / sum(b["n"] for b in buckets)
        worst = min(values) if higher_is_better else max(values)
        if worst != overall:
            chosen = buckets[values.index(worst)]
            weak.append(
                {"group": group, "bucket": chosen["bucket"], "value": worst, "overall": overall}
            )
    for label, row in (
        errors.get("labels", {}).get("rows", {}).get("tuned", {}).get("per_class", {}).items()
    ):
        if row["support"] and row["f1-score"] < 0.5:
            weak.append(
                {"group": "label", "bucket": label, "value": row["f1-score"], "overall": None}
            )
    return weak


def in_bucket(example: dict, weak: dict) -> bool:
    group, bucket = weak["group"], weak["bucket"]
    if group == "label":
        return example.get("label") == bucket
    if group.startswith("input length"):
        low, high = (int(x) for x in bucket.split("-"))
        return low <= len(example.get("prompt", example.get("text", "")).split()) <= high
    return str(example.get("meta", {}).get(group)) == bucket


def oversample(train: list[dict], weak: list[dict], factor: int) -> list[dict]:
    """Each training example in a weak bucket appears `factor` times (once per weak match)."""
    extra = [e for e in train if any(in_bucket(e, w) for w in weak)]
    return train + [dict(e) for e in extra for _ in range(factor - 1)]


def apply_review(reviewed: list[dict], val: list[dict], test: list[dict]):
    """(val without the corrected rows, corrected rows as training examples)."""
    test_ids = {e["id"] for e in test}
    by_id = {e["id"]: e for e in val}
    moved = []
    for row in reviewed:
        if row["id"] in test_ids:
            raise UserError(
                f"review: row {row['id']} is a test example; test examples are never fed "
                "into training (run `tunesmith evaluate RUN --split val` and review those)"
            )
        if row["id"] not in by_id:
            raise UserError(f"review: row {row['id']} is not a validation example of this run")
        moved.append({**by_id.pop(row["id"]), "response": row["corrected_response"]})
    if moved and not by_id:
        # the next run would have no validation split: its validate fails ("no records")
        raise UserError(
            f"review: all {len(moved)} validation rows are corrected, which would leave the "
            "next run no validation split; leave some rows' corrected_response empty"
        )
    return list(by_id.values()), moved


def as_record(example: dict) -> dict:
    """A normalized example as a plain data record (slice fields back at the top level)."""
    record = {k: v for k, v in example.items() if k not in DROP}
    record.update(example.get("meta", {}))
    return record


def next_iteration(recipe: dict, run: Path, out: Path) -> dict:
    spec = task_spec(recipe["task"])
    data = {
        **recipe["data"],
        **spec.record_fields,
        "train": str((out / "train.jsonl").resolve()),
        "validation": str((out / "val.jsonl").resolve()),
        "test": str((out / "test.jsonl").resolve()),
        "max_examples": None,
        "curation": {},  # curated once already; dedup would undo the oversampling
        "label_map": None,  # the written records hold the mapped labels already
    }
    evaluation = {**recipe.get("evaluation", {}), "previous_run": str(run)}
    return {
        **recipe,
        "name": f"{recipe.get('name', 'run')}-refined",
        "data": data,
        "evaluation": evaluation,
    }
