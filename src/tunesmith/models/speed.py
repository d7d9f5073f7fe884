"""Generation speed of a model: greedy new tokens per second on one fixed prompt."""

from __future__ import annotations

import time

SPEED_TOKENS = 32  # new tokens timed when no setting says otherwise


def tokens_per_second(model, tokenizer, prompt: list[int], new_tokens: int) -> float:
    """Exactly `new_tokens` greedy tokens (no early stop) after one warm-up token."""
    import torch

    ids = torch.tensor([prompt], device=model.device)
    settings = dict(do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=None)
    settings.update(temperature=None, top_p=None, top_k=None)
    model.eval()
    with torch.inference_mode():
        model.generate(input_ids=ids, max_new_tokens=1, **settings)  # first-call set-up
        started = time.perf_counter()
        model.generate(
            input_ids=ids, min_new_tokens=new_tokens, max_new_tokens=new_tokens, **settings
        )
        seconds = time.perf_counter() - started
    return round(new_tokens / max(seconds, 1e-9), 1)


def speed_prompt(recipe, run_dir, tokenizer) -> list[int]:
    """The first test example's prompt (the same one for every model compared)."""
    from tunesmith.artifacts import read_jsonl
    from tunesmith.models.formatting import encode_prompt

    example = read_jsonl(run_dir.data / "test.jsonl")[0]
    return encode_prompt(example, tokenizer, recipe.training.max_seq_length)
