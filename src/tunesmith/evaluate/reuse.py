"""Saved generations: re-running an evaluation (more metrics, other checks, a new sample size)
takes a row's earlier predictions from eval/predictions/ instead of generating them again.

A prediction is reused only when everything that decides it is unchanged: the row's model (the
model section and the contents of every file the row loads: adapter, pre-training result,
demonstrations), the prompt's token ids, and the generation settings. The batch size is not in
the key: in fp32 it does not change a greedy output, and in bf16 only rarely by a rounding.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SavedGenerations:
    identity: str  # what decides the model's outputs, hashed
    saved: dict[str, str] = field(default_factory=dict)  # generation key -> prediction

    def key(self, prompt: list[int], settings: dict) -> str:
        payload = json.dumps([self.identity, settings, prompt], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:20]


def saved_generations(recipe, run_dir, row, predictions: Path) -> SavedGenerations:
    """The generations in `predictions` (a row's earlier file), keyed for this row's model."""
    from tunesmith.artifacts import fingerprint, read_jsonl

    files = [Path(f) for f in row.inputs(recipe, run_dir) if Path(f).exists()]
    model = recipe.model.model_dump(mode="json", exclude={"threads"})
    identity = json.dumps([row.name, model, fingerprint(*files) if files else ""])
    reuse = SavedGenerations(hashlib.sha256(identity.encode()).hexdigest())
    if predictions.is_file():
        for saved in read_jsonl(predictions):
            if saved.get("generation_key"):
                reuse.saved[saved["generation_key"]] = saved["prediction"]
    return reuse


def generate_reusing(
    model,
    tokenizer,
    prompts: list[list[int]],
    max_new_tokens: int,
    batch_size: int,
    on_batch: Callable[[int], None] | None,
    reuse: SavedGenerations | None,
    answers=None,
) -> tuple[list[str], list[str | None]]:
    """Greedy continuations, generating only those `reuse` has not saved; and their keys.
    `answers` (models/joint.py): references to score in the generations' prefill."""
    from tunesmith.models.generation import generate_texts

    if reuse is None:
        outputs = generate_texts(
            model, tokenizer, prompts, max_new_tokens, batch_size, on_batch, answers=answers
        )
        return outputs, [None] * len(prompts)
    settings = {"max_new_tokens": max_new_tokens, "sampling": None}
    keys = [reuse.key(p, settings) for p in prompts]
    missing = [i for i, k in enumerate(keys) if k not in reuse.saved]
    if on_batch and len(missing) < len(prompts):
        on_batch(len(prompts) - len(missing))
    part = answers.subset(missing) if answers is not None else None
    fresh = generate_texts(
        model,
        tokenizer,
        [prompts[i] for i in missing],
        max_new_tokens,
        batch_size,
        on_batch,
        answers=part,
    )
    if part is not None:
        answers.take(part, missing)
    found = dict(zip(missing, fresh, strict=True))
    return [found[i] if i in found else reuse.saved[k] for i, k in enumerate(keys)], keys
