"""One decoding step of the fast generation loop: where its time goes, and torch.compile's price.

    python bench/decode_step.py [--rows 64] [--filled 576] [--new 24] [--steps 10] [--compile]

Builds the state `models/decode.py` decodes from (a static cache of `filled + new` slots per
row, `filled` of them written, the boolean slot mask handed over ready-made) on the default
model in bf16 with tunesmith's inference attention, then prints one JSON line per figure:

- `eager_step`: milliseconds per step (minimum of 3 rounds of `--steps` steps);
- `step_profile`: the share of a step in the linear layers' matmuls (`aten::mm`, weights read
  once per step for all rows) and in attention's batched matmuls (`aten::bmm`, every row's
  keys/values read), with the GB/s that attention's key/value reads reach;
- with `--compile`: `compiled_step`, torch.compile's time to compile the one shape it is given
  (rows x slots; `dynamic=False`) with an empty inductor cache (`--warm-cache`: the on-disk
  cache as it is), the compiled step time, and the steps of that one shape needed to earn the
  compile time back.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    args = _parser().parse_args()
    import torch
    from transformers import AutoModelForCausalLM, StaticCache

    from tunesmith.models import set_threads
    from tunesmith.models.grouped_attention import use_grouped_attention

    set_threads(None)
    model = AutoModelForCausalLM.from_pretrained(
        args.model or _default_model(), dtype=torch.bfloat16
    )
    model.eval()
    use_grouped_attention(model)
    slots = args.filled + args.new
    cache = StaticCache(config=model.config, max_cache_len=slots)
    allowed = torch.zeros(args.rows, slots, dtype=torch.bool)
    token = torch.randint(0, model.config.vocab_size, (args.rows, 1))
    with torch.inference_mode():
        _fill(model, cache, allowed, args.filled)
        steps = iter(range(args.new))

        def step(forward):
            nonlocal steps
            i = next(steps, None)
            if i is None:  # the new slots are used up: rewind the cache to the first one
                steps = iter(range(1, args.new))
                allowed[:, args.filled :] = False
                for layer in cache.layers:
                    layer.cumulative_length.fill_(args.filled)
                i = 0
            allowed[:, args.filled + i] = True
            forward(
                input_ids=token,
                attention_mask=allowed[:, None, None, :],
                position_ids=torch.full((args.rows, 1), args.filled + i),
                cache=cache,
                use_cache=True,
            )

        eager = _timed(lambda: step(model), args.steps)
        _emit({"name": "eager_step", "rows": args.rows, "slots": slots, "ms": eager})
        _emit(_profile(lambda: step(model), args, slots, model.config, eager))
        if args.compile:
            if not args.warm_cache:  # what a first evaluation on a machine pays
                import os
                import tempfile

                os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")
            compiled = torch.compile(model, dynamic=False)
            started = time.perf_counter()
            step(compiled)
            compile_s = time.perf_counter() - started
            # alternating rounds: the VM's speed drifts by more than the difference
            fast, again = [], []
            for _ in range(3):
                fast.append(_timed(lambda: step(compiled), args.steps))
                again.append(_timed(lambda: step(model), args.steps))
            eager, best = min(eager, *again), min(fast)
            saved = (eager - best) / 1e3
            _emit(
                {
                    "name": "compiled_step",
                    "compile_seconds": round(compile_s, 1),
                    "ms": best,
                    "eager_ms_same_rounds": eager,
                    "break_even_steps": round(compile_s / saved) if saved > 0 else None,
                }
            )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--filled", type=int, default=576, help="slots written before the step")
    parser.add_argument("--new", type=int, default=24, help="slots left for new tokens")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument(
        "--warm-cache", action="store_true", help="compile with inductor's on-disk cache as it is"
    )
    parser.add_argument("--model", default=None)
    return parser


def _default_model() -> str:
    from tunesmith.models.resolve import resolve_model

    return resolve_model("smollm2-135m-instruct")


def _fill(model, cache, allowed, filled: int, chunk: int = 96) -> None:
    """Write `filled` slots of every row by causal prefill chunks (random token ids)."""
    import torch

    rows, slots = allowed.shape
    for start in range(0, filled, chunk):
        end = min(filled, start + chunk)
        causal = torch.arange(slots)[None, :] <= torch.arange(start, end)[:, None]
        model(
            input_ids=torch.randint(0, model.config.vocab_size, (rows, end - start)),
            attention_mask=causal.expand(rows, 1, end - start, slots),
            position_ids=torch.arange(start, end).expand(rows, -1),
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
    allowed[:, :filled] = True


def _timed(step, steps: int) -> float:
    """Milliseconds per step: the best of 3 rounds (this VM's speed drifts), after 2 warm-up."""
    for _ in range(2):
        step()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - started) / steps)
    return round(best * 1e3, 1)


def _profile(step, args, slots: int, config, eager_ms: float) -> dict:
    from torch.profiler import profile

    with profile() as prof:
        for _ in range(args.steps):
            step()
    self_us = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
    total = sum(self_us.values())
    heads = config.num_key_value_heads
    dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    # keys and values of every row, every layer, read once per step (bf16)
    kv_gb = 2 * config.num_hidden_layers * args.rows * heads * slots * dim * 2 / 1e9
    bmm_s = self_us.get("aten::bmm", 0.0) / 1e6 / args.steps
    return {
        "name": "step_profile",
        "linear_mm_share": round(self_us.get("aten::mm", 0.0) / total, 3),
        "attention_bmm_share": round(self_us.get("aten::bmm", 0.0) / total, 3),
        "kv_gb_per_step": round(kv_gb, 3),
        "attention_kv_gb_per_s": round(kv_gb / bmm_s, 1) if bmm_s else None,
        "eager_step_ms": eager_ms,
    }


def _emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
