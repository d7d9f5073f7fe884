"""Which rows each micro-batch holds: plain length-grouped epochs, a curriculum, replay."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class BatchPlan:
    items: list  # training items, then replay items
    train_count: int
    sampler: object | None  # None: the trainer's default length-grouped epochs
    curriculum: dict | None  # difficulty distribution, for the report


def plan_batches(cfg, model, tokenizer, examples, items, out) -> BatchPlan:
    """Run with the base model (before the adapter): the base_loss scorer scores with it."""
    from tunesmith.train.batching import LengthGroupedSampler, ReplayMix

    lengths = [len(item.input_ids) for item in items]
    sampler, summary = None, None
    if cfg.curriculum is not None:
        sampler, summary = _curriculum(cfg, model, tokenizer, examples, items, out)
    if cfg.replay is None:
        return BatchPlan(items, len(items), sampler, summary)
    replay = _replay_items(cfg, tokenizer)
    base = sampler or LengthGroupedSampler(lengths, cfg.batch_size, cfg.seed)
    mixed = ReplayMix(base, len(items), len(replay), cfg.replay.share, cfg.batch_size, cfg.seed)
    return BatchPlan(items + replay, len(items), mixed, summary)


def _curriculum(cfg, model, tokenizer, examples, items, out):
    from tunesmith.train.curriculum import SCORERS, CurriculumSampler, difficulty_summary

    context = {
        "model": model,
        "pad_id": tokenizer.pad_token_id,
        "out": out,
        "seed": cfg.seed,
        "batch_size": cfg.batch_size,
    }
    scores = SCORERS.get(cfg.curriculum.scorer)(items, examples, context)
    steps = cfg.max_steps or math.ceil(
        cfg.epochs * math.ceil(len(items) / cfg.batch_size) / cfg.gradient_accumulation
    )
    sampler = CurriculumSampler(
        scores, cfg.curriculum, cfg.batch_size, steps * cfg.gradient_accumulation, cfg.seed
    )
    return sampler, difficulty_summary(scores, cfg.curriculum)


def _replay_items(cfg, tokenizer) -> list:
    from tunesmith.models.formatting import encode_example
    from tunesmith.train.replay import replay_examples

    rows = replay_examples(cfg.replay, f"{cfg.recipe_section}.replay")
    return [encode_example(e, tokenizer, cfg.max_seq_length) for e in rows]
