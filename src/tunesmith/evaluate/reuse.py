"""Saved outputs: re-running an evaluation (more metrics, other checks, a new sample size)
takes a row's earlier predictions from eval/predictions/ instead of generating them again, and
with `evaluation.reuse: machine` (the default) also those any earlier run on this machine made
with the same model on the same prompt (evaluate/output_store.py) — with the reference's NLL
scored in the same prefill, so a reused row costs no forward pass at all (a reference scored
in a pass of its own is kept in the machine's store under its own key: `nll_reusing`).

A record is reused only when everything that decides it is unchanged: the row's model (the
model section and the contents of every file the row loads: adapter, pre-training result,
demonstrations), the prompt's token ids, the reference's token ids and the generation
settings; across runs also the weights' contents, the precision, the software and the kernels'
instruction sets. The batch size is not in the key: in fp32 it does not change a greedy
output, and in bf16 only rarely by a rounding.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.evaluate.output_store import OutputStore

THIS_RUN, MACHINE = "run", "machine"  # where a reused output came from (prediction rows)


@dataclass
class SavedOutputs:
    identity: str  # what decides the model's outputs, hashed
    saved: dict[str, dict] = field(default_factory=dict)  # key -> prediction, nll, tokens
    store: OutputStore | None = None  # the machine's outputs of this model (None: off)
    stored: dict[str, dict] = field(default_factory=dict)

    def key(self, prompt: list, answer: list | None, settings: dict) -> str:
        """sha256 of the identity, settings, prompt and answer (token ids, or the texts a
        check scores: any JSON the caller decides the output by)."""
        payload = json.dumps([self.identity, settings, prompt, answer], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:20]

    def find(self, key: str) -> tuple[dict, str] | None:
        """(record, where it came from), or None when neither this run nor the machine has it."""
        if key in self.saved:
            return self.saved[key], THIS_RUN
        if key in self.stored:
            return self.stored[key], MACHINE
        return None

    def keep(self, records: dict[str, dict]) -> None:
        """Offer freshly computed records to later runs on this machine (those the store holds
        already, as a record without the NLL a later row needed, are not appended again)."""
        if self.store is not None:
            new = {k: v for k, v in records.items() if self.stored.get(k) != v}
            self.store.add(new)
            self.stored.update(new)


def saved_outputs(
    recipe, run_dir, row, predictions: Path | None, precision: str
) -> SavedOutputs | None:
    """The outputs `predictions` (a row's earlier file, if any) and the machine's store hold
    for this row's model; None when `evaluation.reuse` is off."""
    from tunesmith.artifacts import fingerprint, read_jsonl
    from tunesmith.evaluate.output_store import environment

    mode = recipe.evaluation.reuse
    if mode == "off":
        return None
    files = [Path(f) for f in row.inputs(recipe, run_dir) if Path(f).exists()]
    model = recipe.model.model_dump(mode="json", exclude={"threads"})
    identity = json.dumps([row.name, model, fingerprint(*files) if files else ""])
    reuse = SavedOutputs(hashlib.sha256(identity.encode()).hexdigest())
    if predictions is not None and predictions.is_file():
        for saved in read_jsonl(predictions):
            if saved.get("generation_key"):
                scores = saved.get("scores", {})
                reuse.saved[saved["generation_key"]] = {
                    "prediction": saved["prediction"],
                    "nll": scores.get("nll"),
                    "tokens": scores.get("tokens"),
                }
    root = _machine_root(mode)
    where = environment(recipe.model, precision) if root is not None else None
    if where is not None:
        machine = json.dumps([identity, where], sort_keys=True)
        reuse.store = OutputStore(root, hashlib.sha256(machine.encode()).hexdigest())
        reuse.stored = reuse.store.load()
    return reuse


def _machine_root(mode: str) -> Path | None:
    from tunesmith.evaluate.output_store import outputs_root

    return outputs_root() if mode == MACHINE else None


def generate_reusing(
    model,
    tokenizer,
    prompts: list[list[int]],
    max_new_tokens: int,
    batch_size: int,
    on_batch: Callable[[int], None] | None,
    reuse: SavedOutputs | None,
    answers=None,
    stop: tuple[str, ...] = (),
) -> tuple[list[str], list[str | None], list[str | None]]:
    """Greedy continuations, generating only those `reuse` has not saved; their keys and where
    each reused one came from (None: generated here). `answers` (models/joint.py): references
    to score in the generations' prefill; a reused record's score is put in `answers.nll`."""
    from tunesmith.models.generation import generate_texts

    if reuse is None:
        outputs = generate_texts(
            model,
            tokenizer,
            prompts,
            max_new_tokens,
            batch_size,
            on_batch,
            answers=answers,
            stop=stop,
        )
        return outputs, [None] * len(prompts), [None] * len(prompts)
    settings = {"max_new_tokens": max_new_tokens, "sampling": None}
    if stop:  # absent when empty: outputs saved before stop strings existed keep their keys
        settings["stop"] = list(stop)
    keys = [reuse.key(p, _answer_ids(answers, i), settings) for i, p in enumerate(prompts)]
    found = {i: hit for i, k in enumerate(keys) if (hit := _usable(reuse.find(k), answers, i))}
    missing = [i for i in range(len(prompts)) if i not in found]
    if on_batch and found:
        on_batch(len(found))
    part = answers.subset(missing) if answers is not None else None
    fresh = generate_texts(
        model,
        tokenizer,
        [prompts[i] for i in missing],
        max_new_tokens,
        batch_size,
        on_batch,
        answers=part,
        stop=stop,
    )
    if part is not None:
        answers.take(part, missing)
    for i, (record, _) in found.items():
        if answers is not None and answers.answers[i] is not None:
            answers.nll[i] = (record["nll"], record["tokens"])
    made = dict(zip(missing, fresh, strict=True))
    reuse.keep({keys[i]: _record(made[i], answers, i) for i in missing})
    outputs = [made[i] if i in made else found[i][0]["prediction"] for i in range(len(keys))]
    sources = [found[i][1] if i in found else None for i in range(len(keys))]
    return outputs, keys, sources


def _answer_ids(answers, i: int) -> list[list[int]] | None:
    """The scored reference's ids and labels (part of the key: its NLL is in the record)."""
    answer = answers.answers[i] if answers is not None else None
    return [list(answer.input_ids), list(answer.labels)] if answer is not None else None


def _usable(hit, answers, i: int):
    """A saved record, if it holds everything this row needs (the NLL where one is scored)."""
    if hit is None:
        return None
    needs_nll = answers is not None and answers.answers[i] is not None
    return hit if not needs_nll or hit[0].get("nll") is not None else None


def _record(prediction: str, answers, i: int) -> dict:
    nll, tokens = answers.nll.get(i, (None, None)) if answers is not None else (None, None)
    return {"prediction": prediction, "nll": nll, "tokens": tokens}


SCORED_NLL = {"scored": "continuation"}  # a record holding an item's NLL alone (no generation)


def nll_reusing(model, items, batch_size: int, pad_id: int, reuse: SavedOutputs | None):
    """Each item's (NLL sum, supervised tokens), as `models.nll.example_nll` computes them,
    taking those the same model scored before (`reuse`) and keeping the rest for later runs.
    Only the missing items run: none at all, no forward pass."""
    from tunesmith.models.nll import example_nll

    if reuse is None:
        return example_nll(model, items, batch_size, pad_id)
    keys = [reuse.key(item.input_ids, item.labels, SCORED_NLL) for item in items]
    found = {n: hit[0] for n, key in enumerate(keys) if (hit := _nll_of(reuse.find(key)))}
    missing = [n for n in range(len(items)) if n not in found]
    todo = [items[n] for n in missing]
    fresh = dict(
        zip(missing, example_nll(model, todo, batch_size, pad_id) if todo else [], strict=True)
    )
    reuse.keep(
        {keys[n]: {"prediction": None, "nll": v[0], "tokens": v[1]} for n, v in fresh.items()}
    )
    return [
        fresh[n] if n in fresh else (found[n]["nll"], found[n]["tokens"]) for n in range(len(items))
    ]


def _nll_of(hit):
    return hit if hit is not None and hit[0].get("nll") is not None else None
