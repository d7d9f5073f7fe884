"""Corpus -> curated documents -> tokenised, shuffled, packed train and held-out blocks."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tunesmith.pretrain.corpus import read_corpus
from tunesmith.pretrain.leakage import without_leaks
from tunesmith.pretrain.packing import pack, split_held_out


@dataclass
class Blocks:
    train: list[list[int]]
    held_out: list[list[int]]
    stats: dict = field(default_factory=dict)


def build_blocks(cfg, tokenizer) -> Blocks:
    """The packed blocks the pre-training stage trains and measures on."""
    corpus = read_corpus(cfg.corpus, cfg.text_field, cfg.max_documents)
    documents, funnel = curate(corpus.documents, cfg, tokenizer)
    # Seeded document order, so the held-out slice (the stream's end) is not just the last file.
    random.Random(cfg.seed).shuffle(documents)
    ids = tokenizer(documents, add_special_tokens=False)["input_ids"]
    blocks = pack(ids, tokenizer.eos_token_id, cfg.max_seq_length)
    train, _ = split_held_out(blocks, cfg.held_out, cfg.max_seq_length)
    cut = sum(len(b) for b in train)
    held = without_leaks(documents, ids, cut, cfg, tokenizer.eos_token_id, _context(cfg, tokenizer))
    stats = {
        "files": corpus.files,
        "skipped_not_utf8": corpus.skipped,
        "documents": len(documents),
        "tokens": cut + sum(len(b) for b in held.blocks),
        "block_size": cfg.max_seq_length,
        "train_blocks": len(train),
        "held_out_blocks": len(held.blocks),
        "funnel": funnel + held.funnel,
        "leakage": held.leakage,
    }
    return Blocks(train, held.blocks, stats)


def _context(cfg, tokenizer):
    from tunesmith.data.curate import CurationContext

    return CurationContext(
        text_fields=["text"], label_field=None, seed=cfg.seed, load_tokenizer=lambda: tokenizer
    )


def curate(documents: list[str], cfg, tokenizer) -> tuple[list[str], list[dict]]:
    """The data stage's clean and dedup steps, run on whole documents."""
    from tunesmith.config.curation import CurationConfig
    from tunesmith.data.curate import pre_split
    from tunesmith.errors import UserError

    rows = [{"id": f"doc{i}", "text": text} for i, text in enumerate(documents)]
    config = CurationConfig(clean=cfg.clean, dedup=cfg.dedup)
    kept, funnel = pre_split(rows, config, _context(cfg, tokenizer))
    if not kept:
        raise UserError("pretrain.corpus: no document left after cleaning and deduplication")
    return [row["text"] for row in kept], funnel
