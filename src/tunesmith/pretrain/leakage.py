"""Held-out documents that copy a training document: the data stage's leakage step, on documents.

Packing makes the held-out set the token stream's last blocks, so which documents are held out
is decided in tokens: a document with any token there is held out (including the one that
straddles the boundary), a document wholly before it is trained on. The data stage's `leakage`
step (data/curate/leakage.py, run through its post-split phase) compares the two, exact and
near, on whole documents. With `drop`, the held-out documents it finds are cut out of the
held-out stream, which is cut into blocks again; the training blocks never change.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.errors import UserError
from tunesmith.pretrain.packing import pack


@dataclass
class HeldOut:
    blocks: list[list[int]]
    funnel: list[dict]  # the leakage step's funnel entry (none when dedup is off)
    leakage: dict  # what the data card records under `leakage`


def without_leaks(documents: list[str], ids: list[list[int]], cut: int, cfg, eos: int, ctx):
    """The held-out blocks (the stream from token `cut` on) without the documents the leakage
    step drops; `documents` and `ids` are in stream order."""
    from tunesmith.config.curation import CurationConfig
    from tunesmith.data.curate import post_split

    starts = _starts(ids)
    rows = [{"id": f"doc{i}", "text": text} for i, text in enumerate(documents)]
    held = [i for i, start in enumerate(starts) if start + len(ids[i]) + 1 > cut]
    splits = {"train": rows[: held[0]], "held_out": [rows[i] for i in held]}
    kept, funnel, card = post_split(splits, CurationConfig(dedup=cfg.dedup), ctx)
    keep = {row["id"] for row in kept["held_out"]}
    if not keep:
        raise UserError(
            "pretrain.dedup.leakage: every held-out document copies a training document, so "
            "nothing is left to measure domain perplexity on; add text, raise held_out, or set "
            "pretrain.dedup.leakage: report"
        )
    # Each kept document's tokens from the cut on (pack puts the end-of-text token back).
    tails = [ids[i][max(0, cut - starts[i]) :] for i in held if rows[i]["id"] in keep]
    return HeldOut(pack(tails, eos, cfg.max_seq_length), funnel, card["leakage"])


def _starts(ids: list[list[int]]) -> list[int]:
    """Where each document starts in the packed stream (each is followed by one EOS)."""
    starts, position = [], 0
    for document in ids:
        starts.append(position)
        position += len(document) + 1
    return starts
