"""Generation throughput: tunesmith's batched `generate_texts` against one-prompt-at-a-time
`model.generate`, greedy, on the same Debian prompts.

    python bench/generate_throughput.py [--prompts 48] [--max-new-tokens 32] [--batch-size 16]

Prints one JSON line per run and a summary (speed-up and how many outputs are identical). The
comparison runs in fp32, where the outputs must match; `--bf16` adds a batched bf16 run (speed
only: bf16 changes the numbers, so its outputs are not expected to match fp32's).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time

from bench_common import PROMPT, SHARED  # noqa: E402  (sibling script module)

FIRST_RECORD = 10_000  # far from the first records, which the training bench uses


def main() -> None:
    args = _parser().parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from tunesmith.config.schema import ModelConfig
    from tunesmith.models import load_model_and_tokenizer, set_threads
    from tunesmith.models.formatting import encode_prompt
    from tunesmith.models.resolve import resolve_model

    set_threads(None)
    model_dir = args.model or resolve_model("smollm2-135m-instruct")
    model, tokenizer = load_model_and_tokenizer(ModelConfig(name=model_dir), device="cpu")
    room = args.max_new_tokens
    prompts = [encode_prompt(e, tokenizer, 256 + room, room) for e in _examples(args)]

    plain, plain_s = _timed(lambda: _one_at_a_time(model, tokenizer, prompts, args))
    _emit(_record("plain_generate", "fp32", 1, prompts, plain, plain_s, tokenizer))
    batched, batched_s = _timed(lambda: _batched(model, tokenizer, prompts, args))
    identical = sum(a == b for a, b in zip(plain, batched, strict=True))
    record = _record(
        "generate_texts", "fp32", args.batch_size, prompts, batched, batched_s, tokenizer
    )
    _emit({**record, "identical_to_plain": identical, "of": len(prompts)})
    summary = {"name": "summary", "speedup_fp32": round(plain_s / batched_s, 2)}
    summary.update({"identical_fp32": f"{identical}/{len(prompts)}", "target_speedup": ">= 2"})
    if args.bf16:
        model.to(torch.bfloat16)
        fast, fast_s = _timed(lambda: _batched(model, tokenizer, prompts, args))
        _emit(_record("generate_texts", "bf16", args.batch_size, prompts, fast, fast_s, tokenizer))
        summary["speedup_bf16_batched"] = round(plain_s / fast_s, 2)
    _emit(summary)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", "-n", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--model", default=None, help="model folder (default: tunesmith alias)")
    parser.add_argument("--data", default=str(SHARED / "data" / "debian_descriptions.jsonl.gz"))
    parser.add_argument("--bf16", action="store_true", help="also time batched bf16")
    return parser


def _examples(args) -> list[dict]:
    rows = []
    with gzip.open(args.data, "rt", encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            if index >= FIRST_RECORD:
                rows.append(json.loads(line))
            if len(rows) == args.prompts:
                break
    return [{"prompt": PROMPT + r["description"], "response": r["synopsis"]} for r in rows]


def _one_at_a_time(model, tokenizer, prompts, args) -> list[str]:
    """What a user writes without batching: plain `generate`, one prompt per call."""
    import torch

    from tunesmith.models.generation import _decode_until_stop, _stop_ids

    stop = _stop_ids(model, tokenizer)
    outputs = []
    with torch.inference_mode():
        for ids in prompts:
            tensor = torch.tensor([ids])
            generated = model.generate(
                input_ids=tensor,
                attention_mask=torch.ones_like(tensor),
                do_sample=False,
                max_new_tokens=args.max_new_tokens,
                eos_token_id=stop,
                pad_token_id=tokenizer.pad_token_id,
                temperature=None,
                top_p=None,
                top_k=None,
            )
            outputs.append(_decode_until_stop(tokenizer, generated[0, len(ids) :].tolist(), stop))
    return outputs


def _batched(model, tokenizer, prompts, args) -> list[str]:
    from tunesmith.models.generation import generate_texts

    return generate_texts(model, tokenizer, prompts, args.max_new_tokens, args.batch_size)


def _timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def _record(name, precision, batch_size, prompts, outputs, seconds, tokenizer) -> dict:
    new_tokens = sum(len(tokenizer(o, add_special_tokens=False)["input_ids"]) for o in outputs)
    return {
        "name": name,
        "precision": precision,
        "batch_size": batch_size,
        "prompts": len(prompts),
        "prompt_tokens": sum(len(p) for p in prompts),
        "seconds": round(seconds, 2),
        "prompts_per_s": round(len(prompts) / seconds, 2),
        "output_tokens_per_s": round(new_tokens / seconds, 1),
    }


def _emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
