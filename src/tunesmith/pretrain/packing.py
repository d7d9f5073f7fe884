"""Pack documents into fixed-length blocks: documents joined with the end-of-text token.

Every token of every document lands in exactly one block, in order: the stream is
doc1 EOS doc2 EOS ... cut every `block` tokens (the last block may be shorter). Labels are the
input ids themselves; the loss shifts them by one, so each position predicts the next token,
including the EOS that ends a document and, after it, the next document's first token.
"""

from __future__ import annotations

from tunesmith.errors import UserError
from tunesmith.models.formatting import Encoded


def token_stream(documents: list[list[int]], eos_id: int) -> list[int]:
    stream: list[int] = []
    for ids in documents:
        stream += ids
        stream.append(eos_id)
    return stream


def pack(documents: list[list[int]], eos_id: int, block: int) -> list[list[int]]:
    """Blocks of exactly `block` tokens (the last one may be shorter)."""
    stream = token_stream(documents, eos_id)
    return [stream[start : start + block] for start in range(0, len(stream), block)]


def split_held_out(blocks: list[list[int]], held_out: float | int, block: int):
    """(train blocks, held-out blocks): the held-out slice is the last blocks of the stream."""
    tokens = sum(len(b) for b in blocks)
    if tokens < block:
        raise UserError(
            f"pretrain.corpus: {tokens} tokens after cleaning, shorter than one block "
            f"(pretrain.max_seq_length = {block}); add text or lower max_seq_length"
        )
    # a float is a share (1.0: every block), an int a count (the config keeps them apart)
    count = held_out if isinstance(held_out, int) else max(1, round(held_out * len(blocks)))
    if count >= len(blocks):
        raise UserError(
            f"pretrain.held_out: {count} held-out block(s) leave nothing to train on "
            f"({len(blocks)} blocks of {block} tokens); lower held_out or add text"
        )
    return blocks[:-count], blocks[-count:]


def as_items(blocks: list[list[int]]) -> list[Encoded]:
    """Training items: every position supervised (labels = inputs; the loss shifts them)."""
    return [Encoded(list(b), list(b)) for b in blocks]
