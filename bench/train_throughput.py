"""Training throughput: tunesmith's training path against the plain HF Trainer + PEFT baseline.

    python bench/train_throughput.py [--examples 64] [--runs tunesmith-bf16,...]

Every run trains on the same N Debian descriptions (prompt "Write a one-line synopsis ...",
response = synopsis, at most 256 tokens) with the same LoRA (r 16, alpha 32, dropout 0.05, all
linear layers), batch 8, lr 2e-4, one epoch, each in its own process; the other registered
methods (ia3, loha, prompt_tuning, freeze, full) train the same examples with their default
settings in the precision `precision: auto` picks here. One JSON line per figure: the
instruction sets found, the machine's measured matmul peaks, then one per run (tokens/s, peak
RSS, MFU, loss), then the ratios against the issue's targets. See bench/README.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench_common import PROMPT, SHARED  # noqa: E402  (sibling script module)

# run -> (training method, precision; None = what `precision: auto` picks on this CPU)
TUNESMITH = {
    "tunesmith-bf16": ("lora", "bf16"),
    "tunesmith-fp32": ("lora", "fp32"),
    "tunesmith-full": ("full", None),
    "tunesmith-freeze": ("freeze", None),
    "tunesmith-ia3": ("ia3", None),
    "tunesmith-loha": ("loha", None),
    "tunesmith-prompt_tuning": ("prompt_tuning", None),
}
RUNS = (*TUNESMITH, "baseline-fp32", "baseline-bf16")
MAX_LENGTH, BATCH, LR, FULL_LR = 256, 8, 2e-4, 2e-5
# Settings of the methods beyond LoRA: their defaults, freeze training the top 4 of 30 blocks.
METHOD_SETTINGS = {"freeze": {"train_top": 4}}
FLOP_FACTOR = {"lora": 2, "full": 3}  # see _model_flops; other methods: no MFU figure
RESULT = "BENCH-RESULT "


def main() -> None:
    args = _parser().parse_args()
    if args.worker:
        return _worker(args)
    _emit({"name": "cpu", **_child(args, "cpu")})
    peaks = _child(args, "peak")
    for precision, gflops in peaks.items():
        _emit({"name": "matmul_peak", "precision": precision, "gflops": gflops})
    _emit({"name": "base_model", **_child(args, "base-model")})
    results = {}
    for run in args.runs.split(","):
        result = _child(args, run)
        flops = result.pop("flops_per_token")
        if flops is not None:
            peak = peaks[result["precision"]]
            result["mfu"] = round(flops * result["tokens_per_s"] / (peak * 1e9), 3)
            # MFU counts every row's whole sequence (the standard definition), so skipping the
            # repeats of a shared head raises it; hfu counts only the tokens actually run
            run_share = result["tokens_run"] / result["tokens"]
            result["hfu_tokens_run"] = round(result["mfu"] * run_share, 3)
            result["mfu_peak_gflops"] = peak
        results[run] = result
        _emit(result)
    _emit(_summary(results))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", "-n", type=int, default=64)
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma list of {RUNS}")
    parser.add_argument("--model", default=None, help="model folder (default: tunesmith alias)")
    parser.add_argument("--data", default=str(SHARED / "data" / "debian_descriptions.jsonl.gz"))
    parser.add_argument(
        "--baseline", default=str(SHARED / "tools" / "hf_trainer_baseline.py"), help="reference"
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return parser


def _child(args, worker: str) -> dict:
    """Run one worker in a fresh interpreter; its last RESULT line, parsed."""
    cmd = [sys.executable, __file__, "--worker", worker, "-n", str(args.examples)]
    cmd += ["--data", args.data, "--baseline", args.baseline]
    cmd += ["--model", args.model or _default_model()]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode or not lines:
        sys.exit(f"{worker} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT) :])


def _default_model() -> str:
    from tunesmith.models.resolve import resolve_model

    return resolve_model("smollm2-135m-instruct")


def _emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def _summary(results: dict) -> dict:
    def ratio(a, b, key="tokens_per_s"):
        if a in results and b in results:
            return round(results[a][key] / results[b][key], 2)
        return None

    lora, fp32, bf16 = "tunesmith-bf16", "baseline-fp32", "baseline-bf16"
    summary = {
        "name": "summary",
        "lora_vs_fp32_baseline": ratio(lora, fp32),
        "lora_vs_bf16_baseline": ratio(lora, bf16),
        "full_vs_fp32_baseline": ratio("tunesmith-full", fp32),
        "fp32_vs_fp32_baseline": ratio("tunesmith-fp32", fp32),
        "rss_vs_fp32_baseline": ratio(lora, fp32, "peak_rss_mb"),
    }
    for run in (lora, "tunesmith-fp32"):
        if run in results and fp32 in results:
            ours, theirs = results[run]["eval_loss_after"], results[fp32]["eval_loss_after"]
            summary[f"{run}_final_loss_vs_fp32_baseline"] = round(ours / theirs - 1, 4)
    checks = {
        "lora_vs_fp32_baseline": lambda v: v >= 3,
        "lora_vs_bf16_baseline": lambda v: v >= 2,
        "full_vs_fp32_baseline": lambda v: v >= 2,
        "rss_vs_fp32_baseline": lambda v: v <= 1 / 3,
        "tunesmith-bf16_final_loss_vs_fp32_baseline": lambda v: abs(v) <= 0.03,
        "tunesmith-fp32_final_loss_vs_fp32_baseline": lambda v: abs(v) <= 0.03,
    }
    plain = [results[b]["tokens_per_s"] for b in (fp32, bf16) if b in results]
    if plain:  # issue 14: no method slower than the plain HF baseline (the faster of the two)
        summary["methods_vs_best_hf_baseline"] = {
            run: round(r["tokens_per_s"] / max(plain), 2)
            for run, r in results.items()
            if run in TUNESMITH
        }
        for run, value in summary["methods_vs_best_hf_baseline"].items():
            checks[f"methods_vs_best_hf_baseline.{run}"] = lambda v: v >= 1
            summary[f"methods_vs_best_hf_baseline.{run}"] = value
    summary["meets_target"] = {
        key: check(summary[key]) for key, check in checks.items() if summary.get(key) is not None
    }
    return summary


# ----------------------------------------------------------------------------- workers


def _worker(args) -> None:
    if args.worker == "cpu":
        from tunesmith.models.cpu_isa import describe

        return _report(describe())
    if args.worker == "peak":
        return _report(_matmul_peaks())
    if args.worker == "base-model":
        return _report(_base_model(args))
    if args.worker.startswith("baseline-"):
        return _report(_baseline(args, args.worker.split("-", 1)[1]))
    return _report(_tunesmith(args, args.worker))


def _report(record: dict) -> None:
    print(RESULT + json.dumps(record), flush=True)


def _matmul_peaks() -> dict:
    """Best GFLOP/s over a square and a model-shaped GEMM, per dtype, all cores."""
    import torch

    from tunesmith.models import set_threads

    set_threads(None)
    peaks = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        best = 0.0
        for m, k, n in ((2048, 2048, 2048), (2048, 576, 1536), (2048, 1536, 576)):
            a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
            a @ b
            for _ in range(5):
                started = time.perf_counter()
                a @ b
                best = max(best, 2 * m * k * n / (time.perf_counter() - started) / 1e9)
        peaks[name] = round(best, 1)
    return peaks


def _base_model(args) -> dict:
    """The untrained model's loss on the training examples: where every run starts from."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.models import set_threads

    set_threads(None)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    items = _items(_records(args), tokenizer)
    return {
        "examples": len(items),
        "eval_loss": round(_mean_nll(model, items, tokenizer.pad_token_id), 4),
    }


def _records(args) -> list[dict]:
    with gzip.open(args.data, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for _, line in zip(range(args.examples), handle)]
    return [
        {"id": f"r{i}", "prompt": PROMPT + r["description"], "response": r["synopsis"]}
        for i, r in enumerate(rows)
    ]


def _items(examples, tokenizer):
    from tunesmith.models.formatting import encode_example

    return [encode_example(e, tokenizer, MAX_LENGTH) for e in examples]


def _tunesmith(args, run: str) -> dict:
    """tunesmith's train stage on a run folder with the run's method and precision."""
    import tempfile

    from tunesmith.artifacts import RunDir, read_jsonl, write_jsonl
    from tunesmith.config.schema import Recipe
    from tunesmith.models import resolve_precision
    from tunesmith.train.stage import run as train

    method, precision = TUNESMITH[run]
    precision = precision or resolve_precision("auto", "cpu")
    examples = _records(args)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = RunDir(Path(tmp) / "run")
        run_dir.stage("data")
        write_jsonl(run_dir.data / "train.jsonl", examples)
        recipe = _recipe(args, precision, method, run_dir.data / "train.jsonl")
        started = time.perf_counter()
        train(Recipe.model_validate(recipe), run_dir)
        wall = time.perf_counter() - started
        summary = json.loads((run_dir.train / "summary.json").read_text())
        summary["peak_rss_mb"] = _peak_rss_mb()  # before the evaluation below
        losses = [r["loss"] for r in read_jsonl(run_dir.train / "metrics.jsonl") if "loss" in r]
        model, tokenizer = _trained_model(args, method, run_dir)
        items = _items(examples, tokenizer)
        return _result(run, precision, items, summary, losses, wall, model, tokenizer, args)


def _recipe(args, precision: str, method: str, train_file: Path) -> dict:
    from tunesmith.methods import METHODS

    trains_base = METHODS.get(method).trains_base_weights
    recipe = {
        "name": "bench",
        "task": "summarization",
        "model": {"name": args.model, "precision": precision},
        "data": {"train": str(train_file), "input_field": "prompt", "output_field": "response"},
        "training": {
            "method": method,
            "epochs": 1,
            "batch_size": BATCH,
            "learning_rate": FULL_LR if trains_base else LR,
            "scheduler": "linear",  # the HF Trainer's default, no warmup
            "warmup_ratio": 0.0,
            "max_seq_length": MAX_LENGTH,
            "eval_every": 10**6,
            "seed": 0,
        },
    }
    lora = {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"}
    if _settings_key(method):  # `full` has no settings section (an extra key is refused)
        recipe["training"][method] = lora if method == "lora" else METHOD_SETTINGS.get(method, {})
    return recipe


def _settings_key(method: str) -> str | None:
    from tunesmith.config.training import TRAINING_MODELS

    model = next(
        m for m in TRAINING_MODELS if m.model_fields["method"].annotation.__args__[0] == method
    )
    return model.settings_key


def _trained_model(args, method: str, run_dir):
    """The trained weights in fp32 for the common evaluation (adapter via plain peft)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.methods import METHODS

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if METHODS.get(method).artefact == "model":
        folder = run_dir.train / "model"
        return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32), tokenizer
    base = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    return PeftModel.from_pretrained(base, run_dir.train / "adapter"), tokenizer


def _baseline(args, precision: str) -> dict:
    """The reference script, unchanged, in this process; then the common evaluation."""
    import contextlib
    import io
    import runpy

    from transformers import AutoTokenizer

    captured = io.StringIO()
    sys.argv = [args.baseline, args.model, args.data, precision]
    os.environ["N"] = str(args.examples)
    started = time.perf_counter()
    with contextlib.redirect_stdout(captured):
        scope = runpy.run_path(args.baseline, run_name="__main__")
    wall = time.perf_counter() - started
    printed = json.loads([x for x in captured.getvalue().splitlines() if x.startswith('{"')][-1])
    trainer = scope["tr"]
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    summary = {"tokens": printed["tokens"], "seconds": printed["seconds"], "precision": precision}
    summary["peak_rss_mb"] = printed["peak_rss_mb"]  # measured by the script before our eval
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    items = _items(_records(args), tokenizer)
    model = trainer.model.float()
    return _result(
        f"baseline-{precision}", precision, items, summary, losses, wall, model, tokenizer, args
    )


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _result(name, precision, items, summary, losses, wall, model, tokenizer, args) -> dict:
    rss = summary["peak_rss_mb"]
    seconds = float(summary["seconds"])
    method = TUNESMITH[name][0] if name in TUNESMITH else "lora"
    return {
        "name": name,
        "method": method,
        "precision": precision,
        "examples": args.examples,
        "tokens": summary["tokens"],
        "tokens_run": summary.get("tokens_run", summary["tokens"]),  # HF runs every token
        "seconds": round(seconds, 1),
        "tokens_per_s": round(summary["tokens"] / seconds, 1),
        "peak_rss_mb": round(rss),
        "first_loss": round(losses[0], 4),
        "last_loss": round(losses[-1], 4),
        "mean_loss": round(sum(losses) / len(losses), 4),
        "eval_loss_after": round(_mean_nll(model, items, tokenizer.pad_token_id), 4),
        "wall_seconds": round(wall, 1),
        "losses": [round(x, 4) for x in losses],
        "flops_per_token": _model_flops(model, items, FLOP_FACTOR[method])
        / sum(len(i.input_ids) for i in items)
        if method in FLOP_FACTOR
        else None,
    }


def _mean_nll(model, items, pad_id: int) -> float:
    """Mean NLL per supervised token over the training examples, fp32, same for every run."""
    import math

    from tunesmith.models.nll import perplexity

    return math.log(perplexity(model, items, BATCH, pad_id))


def _model_flops(model, items, factor: int) -> float:
    """Training FLOPs the objective needs: backbone at every token, head at supervised ones.

    Forward: 2 x (linear weights) per token, 4 x heads x head_dim x context per token for
    attention, 2 x hidden x vocab per supervised token. LoRA training adds the input
    gradients (x2 in total); full fine-tuning adds the weight gradients too (x3).
    """
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    c = inner.config
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    q, kv = c.num_attention_heads * head_dim, c.num_key_value_heads * head_dim
    per_layer = c.hidden_size * (2 * q + 2 * kv) + 3 * c.hidden_size * c.intermediate_size
    forward = 0.0
    for item in items:
        length = len(item.input_ids)
        supervised = sum(1 for label in item.labels[1:] if label != -100)
        forward += 2 * c.num_hidden_layers * per_layer * length
        forward += 4 * c.num_hidden_layers * q * length * (length + 1) / 2
        forward += 2 * c.hidden_size * c.vocab_size * supervised
    return forward * factor


if __name__ == "__main__":
    main()
