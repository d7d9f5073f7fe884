"""Batched greedy generation: prompts sorted by length, left-padded, decoded to text."""

from __future__ import annotations

from collections.abc import Callable


def generate_texts(
    model,
    tokenizer,
    prompts: list[list[int]],
    max_new_tokens: int,
    batch_size: int = 16,
    on_batch: Callable[[int], None] | None = None,
) -> list[str]:
    """Greedy continuations of token-id prompts, in the prompts' order."""
    import torch

    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
    outputs: list[str] = [""] * len(prompts)
    pad = tokenizer.pad_token_id
    stop = _stop_ids(model, tokenizer)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask = _left_pad([prompts[i] for i in chunk], pad, model.device)
            generated = model.generate(
                input_ids=ids,
                attention_mask=mask,
                do_sample=False,
                max_new_tokens=max_new_tokens,
                eos_token_id=stop,
                pad_token_id=pad,
                temperature=None,
                top_p=None,
                top_k=None,
            )
            for row, index in enumerate(chunk):
                new = generated[row, ids.shape[1] :].tolist()
                outputs[index] = _decode_until_stop(tokenizer, new, stop)
            if on_batch:
                on_batch(len(chunk))
    return outputs


def _left_pad(rows: list[list[int]], pad: int, device):
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(row)
        mask[i, width - len(row) :] = 1
    return ids.to(device), mask.to(device)


def _stop_ids(model, tokenizer) -> list[int]:
    stop = {tokenizer.eos_token_id}
    configured = getattr(model.generation_config, "eos_token_id", None)
    stop.update(configured if isinstance(configured, list) else [configured])
    return sorted(i for i in stop if i is not None)


def _decode_until_stop(tokenizer, ids: list[int], stop: list[int]) -> str:
    for position, token in enumerate(ids):
        if token in stop:
            ids = ids[:position]
            break
    return tokenizer.decode(ids, skip_special_tokens=True).strip()
