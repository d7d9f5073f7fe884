"""A forward pass's shared head, computed once: the rows' common first tokens run at batch 1.

Why: chat-templated training rows all start with the same tokens (the system turn and the
instruction: 39 of the demo's ~139 tokens per row), and every row of a pass recomputes them,
forward and backward, although their keys/values are the same in every row. Here the head runs
once, with grad, and the rows' suffixes attend to its keys/values expanded across the batch;
backward then sums every row's gradient into that one head pass (models/prefix.py, `grad`).

Loss and gradients are those of the unshared pass: each row sees the same tokens, positions and
mask; only the floating-point summation order differs. One difference under LoRA dropout: the
head draws one dropout mask for all rows instead of one per row (the same expectation).
"""

from __future__ import annotations

import logging

from tunesmith.models.formatting import IGNORE

logger = logging.getLogger(__name__)

# Below this the head's saving is smaller than its extra pass and per-layer key/value copies.
MIN_TRAIN_SHARED = 16


def head_refusal(model) -> str | None:
    """Why a shared head cannot be split off for `model` (None when it can)."""
    from tunesmith.models.nll import split_model

    if split_model(model) is None:
        return "no separate decoder and output head (or a prompt-learning adapter)"
    base = getattr(model, "get_base_model", lambda: model)()
    text = base.config.get_text_config(decoder=True)
    if getattr(text, "sliding_window", None) or getattr(text, "is_encoder_decoder", False):
        return f"{type(base).__name__} uses sliding-window or encoder-decoder attention"
    return None


def shared_head_length(batch, minimum: int = MIN_TRAIN_SHARED) -> int:
    """Tokens every row of the right-padded `batch` starts with, up to the first supervised
    position's predecessor (its hidden state must stay in the suffix); 0 below `minimum`."""
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    if ids.shape[0] < 2:
        return 0
    same = ((ids == ids[:1]) & (mask == 1)).all(0)
    common = int(same.long().cumprod(0).sum())
    supervised = labels != IGNORE
    lengths = mask.sum(1)
    # first supervised index per row (its length when it has none): argmax finds the first True
    first = supervised.long().argmax(1).where(supervised.any(1), lengths)
    head = min(common, int(first.min()) - 1)
    return head if head >= minimum else 0


def suffix_batch(batch, head: int) -> dict:
    """`batch` with its first `head` positions cut (row weights and soft targets kept)."""
    out = dict(batch)
    for key in ("input_ids", "attention_mask", "labels"):
        out[key] = batch[key][:, head:]
    return out


def usable_head(model, batch, minimum: int = MIN_TRAIN_SHARED) -> int:
    """`shared_head_length`, or 0 where the model cannot continue a shared head's cache."""
    return shared_head_length(batch, minimum) if head_refusal(model) is None else 0


def supervised_logits_after_head(model, batch, head: int):
    """`supervised_logits` of `batch` with its first `head` tokens (shared by every row) run
    once, in the autograd graph when grad is on; `head` 0: the plain pass."""
    from tunesmith.models import packed_head
    from tunesmith.models.nll import supervised_logits
    from tunesmith.models.prefix import run_prefix

    if not head:
        return supervised_logits(model, batch)
    suffix = suffix_batch(batch, head)
    if packed_head.packing_refusal(model, batch) is None:  # one traversal, not two
        try:
            return packed_head.supervised_logits_packed(
                model, batch["input_ids"][:1, :head], suffix
            )
        except packed_head.PackingUnsupported as refused:
            logger.info("shared heads run as their own pass: %s", refused)
    prefix = run_prefix(model, batch["input_ids"][0, :head].tolist(), grad=True)
    return supervised_logits(model, suffix, prefix)


def supervised_logits_shared(model, batch, minimum: int = MIN_TRAIN_SHARED):
    """`supervised_logits` of `batch`, its shared head (if long enough, and the model allows
    it) run once."""
    return supervised_logits_after_head(model, batch, usable_head(model, batch, minimum))
