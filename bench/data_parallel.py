"""What two data-parallel processes buy: `tunesmith run` under torchrun, 1 vs 2 processes.

    python bench/data_parallel.py [--examples 24] [--steps 3]

Both runs train the default model on the same N Debian descriptions with the same global
batch (8 = 4 per process x 2 processes, or 4 x 2 accumulation in one process), the same
steps, LoRA r 16 without dropout; only the data and train stages run. The one process gets
both cores (threads 2), each of the two processes one (threads 1). One JSON line per run
(train-stage wall seconds, optimizer-step seconds, tokens/s over the global batch, final loss),
then the speed-up and the loss gap.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from bench_common import PROMPT, SHARED  # noqa: E402  (sibling script module)


def main() -> None:
    args = _parser().parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = _sample(Path(args.data), args.examples, Path(tmp) / "data.jsonl")
        runs = {n: _run(Path(tmp), data, n, args.steps) for n in (1, 2)}
    for result in runs.values():  # both runs train on the same global batches
        result["tokens_per_s"] = round(runs[1]["rank0_tokens"] / result["step_s"], 1)
        print(json.dumps(result))
    one, two = runs[1], runs[2]
    summary = {
        "name": "data_parallel_summary",
        "speedup_train_stage": round(one["train_stage_s"] / two["train_stage_s"], 2),
        "speedup_steps": round(one["step_s"] / two["step_s"], 2),
        "final_loss_gap": abs(one["final_loss"] - two["final_loss"]),
    }
    print(json.dumps(summary))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", "-n", type=int, default=24)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--data", default=str(SHARED / "data" / "debian_descriptions.jsonl.gz"))
    return parser


def _sample(source: Path, n: int, target: Path) -> Path:
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for _, line in zip(range(n), handle)]
    target.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return target


def _run(tmp: Path, data: Path, processes: int, steps: int) -> dict:
    recipe = {
        "task": "summarization",
        "model": {"name": "smollm2-135m-instruct", "threads": 2 // processes},
        "data": {
            "train": str(data),
            "input_field": "description",
            "output_field": "synopsis",
            "prompt_template": PROMPT + "{description}",
            "split": {"validation": 4, "test": 4},
        },
        "training": {
            "max_steps": steps,
            "batch_size": 4,
            "gradient_accumulation": 2 // processes,
            "max_seq_length": 128,
            "eval_every": steps,
            "lora": {"dropout": 0.0},
        },
        "evaluation": {"sample_size": 4, "generation": {"max_new_tokens": 4}},
        "tracking": {"energy": {"scope": "machine"}},
    }
    path = tmp / f"recipe-{processes}.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    out = tmp / f"run-{processes}"
    torchrun = Path(sys.executable).parent / "torchrun"
    command = [str(torchrun), "--standalone", f"--nproc-per-node={processes}"]
    # Only what is measured: evaluation and the checks cost most of a run's time here.
    command += ["-m", "tunesmith.cli", "run", str(path), "-o", str(out), "--stages", "data,train"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{processes}-process run failed:\n{done.stderr[-3000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    summary = json.loads((out / "train" / "summary.json").read_text())
    losses = [json.loads(line) for line in (out / "train" / "metrics.jsonl").open()]
    return {
        "name": "data_parallel",
        "processes": processes,
        "train_stage_s": manifest["stages"]["train"]["seconds"],
        "step_s": summary["seconds"],
        "rank0_tokens": summary["tokens"],  # the summary counts rank 0's share
        "final_loss": [r["loss"] for r in losses if "loss" in r][-1],
        "train_kwh": manifest["stages"]["train"].get("energy", {}).get("kwh"),
    }


if __name__ == "__main__":
    main()
