"""Strategy ablation: each training method and strategy against plain LoRA, same budget.

    python bench/strategies.py [--only lora,ia3] [--train 64 --steps 30 --test 32]

Data: the shipped Debian synopsis sample (src/tunesmith/examples), the demo's prompt, the
default model. Every variant trains `--steps` optimizer steps of batch 4 on the same `--train`
examples and is scored on the same `--test` examples, each in its own process (for its peak
RSS). One JSON line per variant: ROUGE-L of the tuned model with a 95 % per-example bootstrap
interval (scipy), its gain over the base model, perplexity on held-out general text (the
shipped WordNet/chit-chat rows the replay default does not use: forgetting), training
tokens/s, peak RSS, trainable parameters and the saved result's size on disk.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RESULT = "BENCH-RESULT "
CHECKS = ("forgetting", "robustness", "bias", "explain", "triggers")
STAGES = ["data", "train", "evaluate"]  # the report is not read
LORA = {"r": 16, "alpha": 32, "dropout": 0.05}
VARIANTS = {  # name -> training overrides on top of the shared budget
    "lora": {"method": "lora", "lora": LORA},
    "ia3": {"method": "ia3", "learning_rate": 3e-3},
    "loha": {"method": "loha", "loha": {"r": 8, "alpha": 16}},
    "prompt_tuning": {"method": "prompt_tuning", "learning_rate": 3e-2},
    "full": {"method": "full", "learning_rate": 2e-5},
    "freeze_top4": {"method": "freeze", "freeze": {"train_top": 4}, "learning_rate": 2e-5},
    "lora_curriculum_length": {"lora": LORA, "curriculum": {"scorer": "length"}},
    "lora_replay": {"lora": LORA, "replay": {"share": 0.2}},
    "lora_kl": {"lora": LORA, "regularization": {"kl_to_base": 0.1}},
    "lora_dora": {"method": "lora", "lora": {**LORA, "use_dora": True}},
    "lora_rslora": {"method": "lora", "lora": {**LORA, "use_rslora": True}},
    "lora_neftune_dropout": {
        "lora": LORA,
        "regularization": {"neftune_alpha": 5.0, "hidden_dropout": 0.1},
    },
    "lora_l2sp_decay": {
        "lora": LORA,
        "weight_decay": 0.01,
        "regularization": {"l2": 1e-4, "l2_to_start": True},
    },
    "lora_curriculum_base_loss": {"lora": LORA, "curriculum": {"scorer": "base_loss"}},
    "lora_curriculum_random": {"lora": LORA, "curriculum": {"scorer": "random"}},
}


def main() -> None:
    args = _parser().parse_args()
    if args.worker:
        return _worker(args)
    names = args.only.split(",") if args.only else list(VARIANTS)
    for name in names:
        cmd = [sys.executable, __file__, "--worker", name, *_budget(args)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        lines = [x for x in done.stdout.splitlines() if x.startswith(RESULT)]
        if not lines:
            print(json.dumps({"name": name, "error": done.stderr.strip()[-400:]}), flush=True)
            continue
        print(lines[-1][len(RESULT) :], flush=True)


def _budget(args) -> list[str]:
    return ["--train", str(args.train), "--steps", str(args.steps), "--test", str(args.test)]


def _recipe(name: str, args, folder: Path) -> Path:
    training = {
        "max_steps": args.steps,
        "batch_size": 4,
        "learning_rate": 3e-4,
        "max_seq_length": 256,
        "eval_every": 10,
        "warmup_ratio": 0.05,
        **VARIANTS[name],
    }
    recipe = {
        "name": name,
        "task": "summarization",
        "model": "smollm2-135m-instruct",
        "data": {
            "train": str(REPO / "src/tunesmith/examples/debian_synopsis.jsonl.gz"),
            "input_field": "description",
            "output_field": "synopsis",
            "prompt_template": "Write a one-line synopsis for this software package "
            "description.\n\n{description}",
            "max_examples": args.train + args.test + 8,
            "split": {"validation": 8, "test": args.test, "seed": 0},
        },
        "training": training,
        "evaluation": {
            "metrics": ["rouge"],
            "few_shot": 0,  # the figure is tuned vs base; a 3-shot row would double the cost
            "generation": {"max_new_tokens": 24, "batch_size": 16},
        },
        # the risk checks (captum, probes) cost minutes on the real model and are not compared
        "checks": {name: {"enabled": False} for name in CHECKS},
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def _worker(args) -> None:
    import resource

    from tunesmith.artifacts import RunDir
    from tunesmith.config import load_recipe
    from tunesmith.methods import method_of
    from tunesmith.pipeline import run_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        recipe = load_recipe(_recipe(args.worker, args, Path(tmp)))
        run_dir = RunDir(Path(tmp) / "run")
        run_pipeline(recipe, run_dir, only=STAGES)
        summary = json.loads((run_dir.train / "summary.json").read_text())
        tuned = _rouge_l(run_dir, "tuned")
        base = _rouge_l(run_dir, "base")
        artefact = run_dir.train / method_of(recipe.training).artefact
        row = {
            "name": args.worker,
            "method": summary["method"],
            "rougeL": round(sum(tuned) / len(tuned), 4),
            "rougeL_ci95": _bootstrap(tuned),
            "rougeL_gain_vs_base": round((sum(tuned) - sum(base)) / len(tuned), 4),
            "general_ppl": _general_perplexity(recipe, run_dir),
            "tokens_per_s": summary["tokens_per_second"],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "trainable_params": summary["trainable_params"],
            "artefact_mb": round(_size(artefact) / 2**20, 2),
            "train_examples": summary["train_examples"],
            "steps": summary["steps"],
            "test_examples": len(tuned),
        }
    print(RESULT + json.dumps(row), flush=True)


def _rouge_l(run_dir, variant: str) -> list[float]:
    from tunesmith.metrics.tokenization import rouge_scorer

    scorer = rouge_scorer(["rougeL"])
    rows = [json.loads(x) for x in (run_dir.eval / "predictions" / f"test.{variant}.jsonl").open()]
    return [scorer.score(r["reference"], r["prediction"])["rougeL"].fmeasure for r in rows]


def _bootstrap(values: list[float]) -> list[float]:
    import numpy as np
    from scipy.stats import bootstrap

    result = bootstrap((np.asarray(values),), np.mean, n_resamples=2000, random_state=0)
    return [round(result.confidence_interval.low, 4), round(result.confidence_interval.high, 4)]


def _general_perplexity(recipe, run_dir) -> float:
    """Perplexity on general rows the replay default never trains on (forgetting)."""
    from tunesmith.methods import load_tuned
    from tunesmith.models import load_model_and_tokenizer
    from tunesmith.models.formatting import encode_example
    from tunesmith.models.nll import perplexity
    from tunesmith.train.replay import DEFAULT_ROWS, default_sample

    base, tokenizer = load_model_and_tokenizer(recipe.model, device="cpu")
    tuned = load_tuned(recipe.training, run_dir.train, base)
    rows = default_sample(skip=DEFAULT_ROWS, count=20)
    items = [encode_example(r, tokenizer, 256) for r in rows]
    return round(perplexity(tuned, items, 8, tokenizer.pad_token_id), 3)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--train", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--test", type=int, default=32)
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    main()
