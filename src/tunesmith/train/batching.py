"""Length-grouped batches: little padding and no attention across examples."""

from __future__ import annotations

import math
import random

GROUP_FACTOR = 32  # batches per sorted group: enough to cut padding, still shuffled


def length_grouped_batches(lengths: list[int], batch_size: int, seed: int) -> list[list[int]]:
    """Index batches of similar length, in a seeded random order."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    group = batch_size * GROUP_FACTOR
    batches = []
    for start in range(0, len(order), group):
        chunk = sorted(order[start : start + group], key=lambda i: lengths[i], reverse=True)
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def split_by_tokens(batch: list[int], lengths: list[int], budget: int | None) -> list[list[int]]:
    """Cut one batch into near-equal pieces of about `budget` padded tokens (rows x longest).

    Same examples, same summed loss, so the same gradient; only the activation memory of one
    forward pass shrinks. Pieces are balanced (8 rows -> 4 + 4, not 6 + 2) because a matmul
    over few rows runs at a fraction of the machine's peak.
    """
    rows = sorted(batch, key=lambda i: lengths[i], reverse=True)
    if not budget or not rows:
        return [rows] if rows else []
    count = min(len(rows), math.ceil(len(rows) * lengths[rows[0]] / budget))
    size = math.ceil(len(rows) / count)
    return [rows[start : start + size] for start in range(0, len(rows), size)]


class LengthGroupedSampler:
    """Endless epochs of length-grouped batches; `batches(skip)` resumes mid-epoch."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int) -> None:
        self.lengths, self.batch_size, self.seed = lengths, batch_size, seed
        self.per_epoch = math.ceil(len(lengths) / batch_size)

    def batches(self, skip: int):
        epoch, index = divmod(skip, self.per_epoch)
        while True:
            order = length_grouped_batches(self.lengths, self.batch_size, self.seed + epoch)
            yield from order[index:]
            epoch, index = epoch + 1, 0


class ReplayMix:
    """Adds general-data rows (indices `offset`..) to every batch of `inner`: about `share`
    of each batch's rows, drawn from a generator seeded by the batch's index (resumable)."""

    def __init__(self, inner, offset: int, count: int, share: float, batch_size: int, seed):
        self.inner, self.offset, self.count, self.seed = inner, offset, count, seed
        self.rows = min(count, max(1, round(batch_size * share / (1 - share))))

    def batches(self, skip: int):
        for k, batch in enumerate(self.inner.batches(skip), start=skip):
            rng = random.Random(f"replay:{self.seed}:{k}")
            yield batch + [self.offset + i for i in rng.sample(range(self.count), self.rows)]
