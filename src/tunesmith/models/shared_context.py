"""Items that share their whole context (multiple choice: one question, four answers) scored
with that context run once: each group is one packed row, [context; answer 1; answer 2; ...].

Why: the forgetting check scores 60 questions x 4 answers per model; a question is ~17 tokens
and an answer ~2, so scoring the 240 (question, answer) sequences one by one runs every question
four times (~75 tokens per question instead of ~27 packed). Packed, each answer attends to the
context and causally to its own tokens only (a block mask), at the positions it would have
alone, so its log-likelihood is the same up to floating-point summation order.

Each answer's part starts with the context's last token (whose output predicts the answer's
first token): the context proper is the tokens before it. Only standard softmax attention
(sdpa, eager, tunesmith's grouped attention: models/decode.py's fast-path rules) takes the 4-D
mask and positions this needs; other models score every item on its own
(`models/nll.example_nll`).
"""

from __future__ import annotations

from collections import defaultdict

from tunesmith.models.formatting import IGNORE
from tunesmith.models.padding import pad_rows

MIN_CONTEXT = 2  # tokens before an item's first scored token: below that nothing is shared
MAX_ROW_TOKENS = 1024  # a packed row's length; a larger group is split


def context_groups(items, chosen: list[int], firsts: dict[int, int]) -> list[list[int]]:
    """Groups (of at least two) of the `chosen` items whose tokens before their first scored
    one (`firsts[i]`) are the same, each group cut to fit `MAX_ROW_TOKENS`."""
    by_context: dict[tuple, list[int]] = defaultdict(list)
    for i in chosen:
        if firsts[i] >= MIN_CONTEXT:
            by_context[tuple(items[i].input_ids[: firsts[i]])].append(i)
    groups = []
    for context, members in by_context.items():
        current: list[int] = []
        length = len(context) - 1
        for i in members:
            part = len(items[i].input_ids) - len(context) + 1
            if current and length + part > MAX_ROW_TOKENS:
                groups.append(current)
                current, length = [], len(context) - 1
            current.append(i)
            length += part
        groups.append(current)
    return [g for g in groups if len(g) >= 2]


def grouped_nll(model, items, groups: list[list[int]], firsts, rows: int, pad_id: int, out):
    """Fill `out[i]` = (NLL sum, scored tokens) for every item of `groups`, `rows` packed rows
    per forward pass."""
    import torch

    for start in range(0, len(groups), rows):
        packed = [_pack(items, group, firsts[group[0]]) for group in groups[start : start + rows]]
        with torch.no_grad():
            sums = _packed_sums(model, packed, pad_id)
        for row, total in zip(packed, sums, strict=True):
            for index, value in zip(row.members, total, strict=True):
                out[index] = value


class _Row:
    """One group's packed row: ids, positions, segment per token (0 context, j for item j),
    and per token the id it predicts (IGNORE where nothing is scored)."""

    def __init__(self, members: list[int]):
        self.members = members
        self.ids: list[int] = []
        self.positions: list[int] = []
        self.segments: list[int] = []
        self.targets: list[int] = []


def _pack(items, group: list[int], first: int) -> _Row:
    row = _Row(group)
    context = items[group[0]].input_ids[: first - 1]
    row.ids += context
    row.positions += list(range(len(context)))
    row.segments += [0] * len(context)
    row.targets += [IGNORE] * len(context)
    for j, index in enumerate(group, start=1):
        ids, labels = items[index].input_ids, items[index].labels
        part = range(first - 1, len(ids))
        row.ids += [ids[t] for t in part]
        row.positions += list(part)
        row.segments += [j] * len(part)
        row.targets += [labels[t + 1] if t + 1 < len(ids) else IGNORE for t in part]
    return row


def _packed_sums(model, packed: list[_Row], pad_id: int) -> list[list[tuple[float, int]]]:
    """Per row, per member: (NLL sum, scored tokens), from one forward over the packed rows."""
    import torch.nn.functional as F

    from tunesmith.models.decode import step_mask
    from tunesmith.models.nll import split_model

    backbone, head = split_model(model)
    device = next(model.parameters()).device
    ids, _ = pad_rows([r.ids for r in packed], pad_id or 0, device)
    positions, _ = pad_rows([r.positions for r in packed], 0, device)
    segments, _ = pad_rows([r.segments for r in packed], -1, device)
    targets, _ = pad_rows([r.targets for r in packed], IGNORE, device)
    hidden = backbone(
        input_ids=ids,
        attention_mask=step_mask(model)(_block_mask(segments)),
        position_ids=positions,
        use_cache=False,
    ).last_hidden_state
    scored = targets != IGNORE
    per_token = F.cross_entropy(head(hidden[scored]).float(), targets[scored], reduction="none")
    where = scored.nonzero()
    sums: list[list[tuple[float, int]]] = [[(0.0, 0)] * len(r.members) for r in packed]
    for (row, column), nll in zip(where.tolist(), per_token.tolist(), strict=True):
        member = packed[row].segments[column] - 1
        total, count = sums[row][member]
        sums[row][member] = (total + nll, count + 1)
    return sums


def _block_mask(segments):
    """[rows, 1, T, T] boolean (True: attend): causal, a context token sees the context, an
    item's token the context and its own item; padding sees itself only (no empty rows)."""
    import torch

    length = segments.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=segments.device).tril()
    query, key = segments[:, :, None], segments[:, None, :]
    allowed = causal & (key >= 0) & (query >= 0) & ((key == 0) | (key == query))
    allowed |= torch.eye(length, dtype=torch.bool, device=segments.device)
    return allowed[:, None]
