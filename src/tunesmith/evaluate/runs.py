"""Run vs run: paired statistics on the test examples two runs share (matched by content).

Used by `tunesmith compare` and by a refined run's before/after (`evaluation.previous_run`).
Reads finished run folders only; never their code.
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.artifacts import read_jsonl
from tunesmith.artifacts.files import read_optional_object
from tunesmith.config import load_recipe
from tunesmith.errors import UserError
from tunesmith.metrics.per_example import scored_now, tokenised_metrics
from tunesmith.metrics.tokenization import (
    describe_tokenization,
    same_tokenization,
    tokenization_record,
)
from tunesmith.stats import STATISTICS, columns_for, compare_rows
from tunesmith.stats.bootstrap import resample_indices


def run_predictions(run: Path, row: str = "tuned", split: str = "test") -> list[dict]:
    """A finished run's saved prediction rows; a folder that is not a run is a user error."""
    path = Path(run) / "eval" / "predictions" / f"{split}.{row}.jsonl"
    if not (Path(run) / "recipe.yaml").is_file() or not path.is_file():
        raise UserError(f"{run}: not a finished run folder (no recipe.yaml or {path.name})")
    rows = read_jsonl(path)
    if rows and "key" not in rows[0]:
        raise UserError(f"{path}: predictions without per-example scores; re-run evaluate")
    return rows


def run_info(run: Path) -> dict:
    """The task and class labels of a finished run (from its resolved recipe and metrics)."""
    recipe = load_recipe(Path(run) / "recipe.yaml")
    metrics_path = Path(run) / "eval" / "metrics.json"
    metrics = read_optional_object(metrics_path) or {}
    return {
        "task": recipe.task,
        "labels": metrics.get("labels"),
        "tokenization": metrics.get("tokenization"),  # None: not recorded (older runs)
    }


def tokenizer_fingerprint(run: Path) -> str | None:
    """A hash of the vocabulary the run's model tokenised with (its saved train folder's
    tokenizer, else the recipe's local model folder); None when neither can be read.
    Per-token perplexity counts tokens of this vocabulary, so runs that differ here have
    perplexities in different units."""
    from tunesmith.methods.base import method_of

    recipe = load_recipe(Path(run) / "recipe.yaml")
    saved = Path(run) / "train" / method_of(recipe.training).artefact
    for folder in (saved, Path(recipe.model.name)):
        found = folder_fingerprint(folder)
        if found is not None:
            return found
    return None


def folder_fingerprint(folder: Path) -> str | None:
    """A hash of the vocabulary of the tokenizer saved in `folder` (a model folder, a saved
    adapter); None when it holds none that can be read (`tokenizer_fingerprint`)."""
    import hashlib
    import json

    if not (folder / "tokenizer_config.json").is_file():
        return None
    vocab = _vocabulary(folder)
    if vocab is None:
        return None
    text = json.dumps(sorted(vocab.items()), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _vocabulary(folder: Path) -> dict | None:
    from transformers import AutoTokenizer

    try:  # local files only: a comparison never downloads
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True).get_vocab()
    except Exception:  # a damaged or unreadable tokenizer: unknown, not a crash
        return None


def perplexity_incomparable(run_a: Path, run_b: Path) -> str | None:
    """Why the runs' perplexities cannot be compared (None when they can, or when either
    tokenizer is unknown): their tokenizers differ."""
    a, b = tokenizer_fingerprint(run_a), tokenizer_fingerprint(run_b)
    if a is None or b is None or a == b:
        return None
    return perplexity_left_out(f"{run_a} and {run_b} use different tokenizers")


def perplexity_left_out(apart: str) -> str:
    """The note of a comparison without perplexity; `apart` says whose tokenizers differ."""
    return (
        f"perplexity left out: {apart}, and per-token perplexity is not comparable across "
        "vocabularies (the text metrics are)"
    )


def tokenised_alike(
    a: tuple[Path, list[dict], dict | None], b: tuple[Path, list[dict], dict | None]
) -> tuple[list[dict], list[dict], dict]:
    """Two runs' (folder, prediction rows, recorded tokenisation) made comparable: their rows,
    with ROUGE and BLEU scored the same way, and what compare.json records about it.

    Runs tokenised alike keep their saved scores. Otherwise every run not scored by this code
    is scored again from its saved answers (a run evaluated before per-row BLEU, or before
    the tokenisation was recorded, would be compared with counts made another way); a run
    without them is refused, naming both."""
    (run_a, rows_a, record_a), (run_b, rows_b, record_b) = a, b
    if not (tokenised_metrics(rows_a) and tokenised_metrics(rows_b)):
        return rows_a, rows_b, {}
    if same_tokenization(record_a, record_b):
        return rows_a, rows_b, {"tokenization": record_a}
    runs, rescored = [], []
    for run, rows, record in (a, b):
        fresh = scored_now(rows, record)
        if fresh is None:
            raise UserError(
                f"{run_a} and {run_b} tokenised ROUGE/BLEU differently "
                f"({describe_tokenization(record_a)} vs {describe_tokenization(record_b)}) and "
                f"{run}'s predictions lack the answers to score again; re-run "
                f"`tunesmith evaluate {run}`"
            )
        runs.append(fresh)
        rescored += [] if fresh is rows else [str(run)]
    rows_a, rows_b = runs
    record = tokenization_record([r["reference"] for r in rows_a])
    return rows_a, rows_b, {"tokenization": record, "rescored": rescored}


def compare_predictions(
    rows_a: list[dict],
    rows_b: list[dict],
    keys: list[str],
    labels: list[str] | None,
    resamples: int,
    seed: int,
    alpha: float,
) -> dict:
    """b minus a for every metric key, on the examples both scored."""
    by_key = {r["key"]: r for r in rows_b}
    shared = [r for r in rows_a if r["key"] in by_key]
    if not shared:
        raise UserError("the runs share no test examples (different data or split?)")
    cols_a = columns_for(shared, labels)
    cols_b = columns_for([by_key[r["key"]] for r in shared], labels)
    idx = resample_indices(len(shared), resamples, seed)
    metrics = {
        k: compare_rows(STATISTICS.get(k), cols_a, cols_b, idx, alpha)
        for k in keys
        if all(c in cols_a and c in cols_b for c in STATISTICS.get(k).columns)
    }
    return {"n_shared": len(shared), "n_a": len(rows_a), "n_b": len(rows_b), "metrics": metrics}
