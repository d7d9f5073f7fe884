"""Packed pre-training throughput: tunesmith's pretrain path against the plain HF Trainer.

    python bench/pretrain_throughput.py [--blocks 64] [--block-size 256] [--runs a,b]

Both runs train on the same packed blocks (the bundled Python-docs corpus sample, packed by
tunesmith's packing: documents joined with EOS, cut every --block-size tokens) with the same
LoRA (r 16, alpha 32, dropout 0.05, all linear layers), batch 8, lr 2e-4, one epoch, bf16 where
the CPU runs it, each in its own process. The baseline is what a user writes by default: the
Trainer over a `datasets.Dataset` of the blocks, labels = input_ids, full-vocabulary logits.
One JSON line per run (tokens/s, loss), then the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "src/tunesmith/examples/python_docs_corpus.jsonl.gz"
RESULT = "BENCH-RESULT "
LORA = {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"}
BATCH, LR = 8, 2e-4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=64)
    parser.add_argument("--block-size", type=int, default=256)
    parser.add_argument("--runs", default="tunesmith,hf-trainer")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(RESULT + json.dumps(_WORKERS[args.worker](args)), flush=True)
        return
    results = {run: _child(args, run) for run in args.runs.split(",")}
    for result in results.values():
        print(json.dumps(result), flush=True)
    if {"tunesmith", "hf-trainer"} <= set(results):
        ratio = results["tunesmith"]["tokens_per_s"] / results["hf-trainer"]["tokens_per_s"]
        print(json.dumps({"name": "summary", "tunesmith_vs_hf_trainer": round(ratio, 2)}))


def _child(args, run: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", run, "--blocks", str(args.blocks)]
    cmd += ["--block-size", str(args.block_size)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [x for x in done.stdout.splitlines() if x.startswith(RESULT)]
    if done.returncode or not lines:
        sys.exit(f"{run} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT) :])


def _setup(args):
    """(model folder, tokenizer, blocks, precision): identical for every run."""
    from tunesmith.config.pretrain import PretrainConfig
    from tunesmith.config.schema import ModelConfig
    from tunesmith.models import resolve_precision, set_threads
    from tunesmith.models.loading import load_tokenizer
    from tunesmith.models.resolve import resolve_model
    from tunesmith.pretrain.blocks import build_blocks

    set_threads(None)
    model_config = ModelConfig()
    tokenizer = load_tokenizer(model_config)
    cfg = PretrainConfig(corpus=[str(CORPUS)], max_seq_length=args.block_size, held_out=1)
    full = [b for b in build_blocks(cfg, tokenizer).train if len(b) == args.block_size]
    precision = resolve_precision("auto", "cpu")
    return resolve_model(model_config.name), tokenizer, full[: args.blocks], precision


def _tunesmith(args) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from tunesmith.artifacts import read_jsonl
    from tunesmith.config.pretrain import PretrainConfig
    from tunesmith.pretrain.packing import as_items
    from tunesmith.train.plan import BatchPlan
    from tunesmith.train.session import make_trainable, make_trainer

    folder, tokenizer, blocks, precision = _setup(args)
    cfg = PretrainConfig(
        corpus=["-"], lora=LORA, epochs=1, batch_size=BATCH, learning_rate=LR,
        scheduler="linear", warmup_ratio=0.0, eval_every=10**6, max_seq_length=args.block_size,
    )  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model = make_trainable(model, cfg, precision)
    with tempfile.TemporaryDirectory() as tmp:
        items = as_items(blocks)
        plan = BatchPlan(items, len(items), None, None)  # plain length-grouped epochs
        trainer = make_trainer(model, cfg, plan, [], tokenizer, Path(tmp), precision)
        state = trainer.run()
        losses = [r["loss"] for r in read_jsonl(Path(tmp) / "metrics.jsonl") if "loss" in r]
    return _result("tunesmith", precision, state.tokens, state.seconds, losses, len(blocks))


def _hf_trainer(args) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments, default_data_collator

    folder, tokenizer, blocks, precision = _setup(args)
    data = Dataset.from_list(
        [{"input_ids": b, "attention_mask": [1] * len(b), "labels": list(b)} for b in blocks]
    )
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
                      task_type="CAUSAL_LM")  # fmt: skip
    model = get_peft_model(model, lora)
    settings = TrainingArguments(
        output_dir=tempfile.mkdtemp(), per_device_train_batch_size=BATCH, num_train_epochs=1,
        learning_rate=LR, logging_steps=1, save_strategy="no", report_to=[],
        bf16=precision == "bf16", use_cpu=True, dataloader_num_workers=0, seed=0,
    )  # fmt: skip
    trainer = Trainer(model=model, args=settings, train_dataset=data,
                      data_collator=default_data_collator)  # fmt: skip
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    tokens = sum(len(b) for b in blocks)
    return _result("hf-trainer", precision, tokens, seconds, losses, len(blocks))


def _result(name, precision, tokens, seconds, losses, blocks) -> dict:
    return {
        "name": name,
        "precision": precision,
        "blocks": blocks,
        "tokens": tokens,
        "seconds": round(seconds, 1),
        "tokens_per_s": round(tokens / seconds, 1),
        "first_loss": round(losses[0], 4) if losses else None,
    }


_WORKERS = {"tunesmith": _tunesmith, "hf-trainer": _hf_trainer}

if __name__ == "__main__":
    main()
