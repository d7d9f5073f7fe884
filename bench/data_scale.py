"""The data stage and `validate` at user-sized data: one JSON line per size (CPU s per step).

Synthetic support tickets (seeded): bodies of 20-2,000 characters, exact and near duplicates,
e-mails/phones/names, 5-50 categories. Every curation step that needs no model is on (clean,
dedup + leakage check, pii, quality/conflicts/poisoning checks, oversampling, char/word
noise); model-based augmentation (paraphrase, back-translation) is not run here. Each size runs
in its own process, so `peak_rss_mb` is that size's peak.

    python bench/data_scale.py [--sizes 2000,10000,50000] [--src OTHER_CHECKOUT/src]

`--src` runs the same measurement against another checkout's code (e.g. main before a change);
both lines carry `src`, so before/after figures come from the same machine and data.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VOCABULARY = (
    "the a my our your account order invoice payment refund card delivery parcel login password "
    "reset error screen app update crash slow network wifi printer driver subscription plan "
    "upgrade cancel charge twice missing broken damaged replace return label address phone "
    "email support agent ticket please help urgent since yesterday today again still cannot "
    "will not does work working when after before with without because and but or so very"
)
WORDS = VOCABULARY.split()
FIRST = ["John", "Maria", "Ahmed", "Li", "Sophie", "Carlos", "Anna", "David", "Fatima", "Peter"]
LAST = ["Smith", "Garcia", "Khan", "Wang", "Martin", "Lopez", "Novak", "Brown", "Ali", "Meyer"]
CURATION = {
    "clean": {},
    "dedup": {"leakage": "drop"},
    "pii": {"mode": "mask"},
    "checks": {"quality": {}, "conflicts": {}, "poisoning": {}},
    "balance": {"method": "oversample", "target_ratio": 3},
    "augment": {"methods": ["char_noise", "word_noise"], "fraction": 0.2},
}


def ticket(rng: random.Random) -> str:
    length = int(min(2000, max(20, rng.lognormvariate(5.5, 0.9))))
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(rng.choice(WORDS))
    text = " ".join(words)[:length].capitalize() + "."
    pii = rng.random()
    if pii < 0.05:
        text += f" Contact me at {rng.choice(FIRST).lower()}{rng.randrange(999)}@example.com."
    elif pii < 0.10:
        text += f" Call +44 20 7946 {rng.randrange(1000, 9999)}."
    elif pii < 0.15:
        text = f"Hi, this is {rng.choice(FIRST)} {rng.choice(LAST)}. " + text
    return text


def records(n: int, seed: int = 0) -> list[dict]:
    """n tickets: ~3% exact copies, ~5% near copies (one word changed) of earlier ones."""
    rng = random.Random(seed)
    labels = [f"category_{i}" for i in range(min(50, max(5, n // 1000)))]
    weights = [1 / (i + 1) for i in range(len(labels))]  # imbalanced, as tickets are
    rows: list[dict] = []
    for i in range(n):
        roll = rng.random()
        if rows and roll < 0.03:
            body = rng.choice(rows)["body"]
        elif rows and roll < 0.08:
            words = rng.choice(rows)["body"].split()
            words[rng.randrange(len(words))] = rng.choice(WORDS)
            body = " ".join(words)
        else:
            body = ticket(rng)
        rows.append({"id": i, "body": body, "category": rng.choices(labels, weights)[0]})
    return rows


def tiny_model(folder: Path) -> Path:
    """The tests' tiny Llama + ChatML tokenizer (tests/conftest.py), built once per size."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM

    sys.path.insert(0, str(REPO / "tests"))
    from conftest import save_chatml_tokenizer, tiny_decoder_config

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tokenizer = save_chatml_tokenizer(folder, tok, ["hello"])
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(**tiny_decoder_config(tokenizer))).save_pretrained(folder)
    return folder


def write_recipe(folder: Path, n: int) -> Path:
    import yaml

    data = folder / "tickets.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records(n)), encoding="utf-8")
    recipe = {
        "task": "classification",
        "model": {"name": str(tiny_model(folder / "model")), "precision": "fp32"},
        "data": {
            "train": str(data),
            "input_field": "body",
            "output_field": "category",
            "split": {"validation": 0.1, "test": 0.1, "seed": 0},
            "curation": CURATION,
        },
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def timed(times: dict, name: str, function):
    def run(*args, **kwargs):
        start = time.process_time()  # CPU seconds: other processes on the machine add none
        try:
            return function(*args, **kwargs)
        finally:
            times[name] = round(times.get(name, 0.0) + time.process_time() - start, 3)

    return run


def measure(n: int) -> dict:
    """One size, in this process: validate, then the data stage with each step timed."""
    import tunesmith.data.curate.pipeline as pipeline
    import tunesmith.data.stage as stage
    from tunesmith.artifacts import RunDir
    from tunesmith.cli.validate_cmd import validate_recipe
    from tunesmith.config import load_recipe

    times: dict[str, float] = {}
    folder = Path(tempfile.mkdtemp(prefix="data-scale-"))
    path = write_recipe(folder, n)
    timed(times, "validate", validate_recipe)(path, folder / "runs")
    steps_of = pipeline.steps_of
    pipeline.steps_of = lambda phase: [
        dataclasses.replace(s, run=timed(times, s.name, s.run)) for s in steps_of(phase)
    ]
    for name in ("read_records", "to_examples", "split_examples", "write_jsonl", "write_json"):
        setattr(stage, name, timed(times, name, getattr(stage, name)))
    pipeline.split_overlap = timed(times, "split_overlap", pipeline.split_overlap)
    pipeline.length_histograms = timed(times, "length_histograms", pipeline.length_histograms)
    recipe = load_recipe(path)
    start, cpu = time.perf_counter(), time.process_time()
    result = stage.run(recipe, RunDir(folder / "run"))
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    card = json.loads((result.folder / "data_card.json").read_text())
    return {
        "records": n,
        "src": os.environ.get("PYTHONPATH", ""),
        "data_stage_s": round(total, 2),
        "data_stage_cpu_s": round(cpu, 2),
        "records_per_cpu_s": round(n / cpu, 1),
        "step_s": times,
        "step_records_per_s": {k: round(n / v, 1) for k, v in times.items() if v > 0},
        "sizes": result.sizes,
        "funnel": {e["step"]: e["rows_out"] for e in card["funnel"]},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,10000,50000")
    parser.add_argument("--src", default=str(REPO / "src"), help="the tunesmith code to time")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a worker: one size
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)), flush=True)
        return
    env = {**os.environ, "PYTHONPATH": args.src, "HF_HUB_OFFLINE": "1"}
    for size in (int(s) for s in args.sizes.split(",")):
        worker = [sys.executable, __file__, "--one", str(size)]
        out = subprocess.run(worker, env=env, capture_output=True, text=True, check=False)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if out.returncode or not lines:
            print(json.dumps({"records": size, "error": out.stderr.strip()[-2000:]}))
        else:
            print(lines[-1], flush=True)


if __name__ == "__main__":
    main()
