"""Multiple-choice scoring with each context run once (models/shared_context.py) against the
item-by-item baseline, in the same run: one JSON line per precision (fp32, bf16).

Run: `.venv/bin/python bench/shared_context.py [--items 60] [--repeats 3]`. Scores the
forgetting check's (question, choice) pairs (`checks.likelihood.continuation_nll`, batch 16)
on the default model, alternating packed and item-by-item rounds (the baseline turns grouping
off), and reports the best round of each, the largest NLL difference and both accuracies.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from tunesmith.checks.probe import held_out_items, question
    from tunesmith.config.schema import ModelConfig
    from tunesmith.models.loading import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(ModelConfig(), device="cpu")
    items, _ = held_out_items([], args.items)
    pairs = [(question(i), " " + choice) for i in items for choice in i["choices"]]
    for dtype in (torch.float32, torch.bfloat16):
        model.to(dtype)
        packed, plain = _rounds(model, tokenizer, pairs, args.repeats)
        line = {
            "name": "multiple_choice_nll",
            "precision": "fp32" if dtype == torch.float32 else "bf16",
            "pairs": len(pairs),
            "item_by_item_s": round(plain[0], 3),
            "packed_s": round(packed[0], 3),
            "speedup": round(plain[0] / packed[0], 2),
            "max_abs_nll_difference": max(abs(a[0] - b[0]) for a, b in zip(packed[1], plain[1])),
            "correct_item_by_item": _correct(items, plain[1]),
            "correct_packed": _correct(items, packed[1]),
        }
        print(json.dumps(line), flush=True)


def _rounds(model, tokenizer, pairs, repeats: int):
    """(best seconds, scores) of the packed path and of the item-by-item baseline."""
    import tunesmith.models.shared_context as shared_context
    from tunesmith.checks.likelihood import continuation_nll

    best = {True: (float("inf"), None), False: (float("inf"), None)}
    default = shared_context.MIN_CONTEXT
    for _ in range(repeats):
        for grouped in (True, False):
            shared_context.MIN_CONTEXT = default if grouped else 1 << 30
            start = time.perf_counter()
            scores = continuation_nll(model, tokenizer, pairs, 16)
            seconds = time.perf_counter() - start
            if seconds < best[grouped][0]:
                best[grouped] = (seconds, scores)
    shared_context.MIN_CONTEXT = default
    return best[True], best[False]


def _correct(items, scores) -> int:
    """Questions whose lowest mean-NLL choice is the right one (the forgetting check's rule)."""
    right = 0
    for n, item in enumerate(items):
        per_token = [nll / max(tokens, 1) for nll, tokens in scores[4 * n : 4 * n + 4]]
        right += per_token.index(min(per_token)) == item["answer"]
    return right


if __name__ == "__main__":
    main()
