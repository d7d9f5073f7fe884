"""Ragged token rows as one batch: the single place model code builds its padded tensors
(training collation, label and answer scoring, packed scoring, generation prompts)."""

from __future__ import annotations

from collections.abc import Sequence


def pad_rows(rows: Sequence[Sequence[int] | None], fill: int, device=None, *, left: bool = False):
    """(values, mask): LongTensors (len(rows), longest row), each row's values at its start, or
    at its end with `left` (generation: every prompt's last token in the same column); `fill`
    elsewhere, mask 1 on real values. A None or empty row is all `fill`."""
    import torch

    width = max((len(row) for row in rows if row), default=0)
    values = torch.full((len(rows), width), fill, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for n, row in enumerate(rows):
        if row:
            span = slice(width - len(row), width) if left else slice(0, len(row))
            values[n, span] = torch.tensor(row)
            mask[n, span] = 1
    return values.to(device), mask.to(device)
