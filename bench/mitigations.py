"""Do the mitigations work, as the checks measure them? One JSON line per run and measure.

Run once: `.venv/bin/python bench/mitigations.py [forgetting|cda] [--folder DIR]
[--set KEY=VALUE ...]`. `--set` adds recipe overrides to every variant, after the experiment's
own: a harder or longer run, more probe items.

- forgetting: the demo recipe (Debian synopses) trained hard enough to forget (lr 5e-3, 15
  steps of 2) three ways: plain, with replay (training.replay.share 0.5, the shipped general
  sample) and with KL-to-base (training.regularization.kl_to_base 1.0); the `forgetting`
  check (WordNet multiple choice, general-text perplexity; base vs tuned with intervals).
- cda: the chitchat recipe (test: 12 conversations that contain a lexicon term) with and
  without the `counterfactual` curation step (CDA); the `bias` check (output divergence and
  log-likelihood shift under gender swaps, pairs probe).

Real SmolLM2-135M; small runs (tens of steps). Every other check is off.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from importlib import resources
from pathlib import Path

CHECKS = ("forgetting", "robustness", "bias", "explain", "triggers")

FORGETTING = {
    "recipe": "demo.yaml",
    "check": "forgetting",
    "common": [
        "data.max_examples=120",
        "data.split.test=4",
        "data.split.validation=4",
        "training.max_steps=15",
        "training.batch_size=2",
        "training.max_seq_length=96",
        "training.learning_rate=5.0e-3",  # hard enough to forget in a few steps
        "training.eval_every=100",
        "training.early_stopping.patience=100",
        "checks.forgetting.items=40",
    ],
    "variants": {
        "plain": [],
        "replay_0.5": ["training.replay={share: 0.5}"],
        "kl_to_base_1": ["training.regularization.kl_to_base=1.0"],
    },
}

CDA = {
    "recipe": "chitchat.yaml",
    "check": "bias",
    "common": [
        "data.split.validation=4",
        "training.max_steps=15",
        "training.batch_size=2",
        "training.max_seq_length=96",
        "training.learning_rate=1.0e-3",
        "training.eval_every=100",
        "training.early_stopping.patience=100",
        "evaluation.few_shot=0",
        "evaluation.generation.max_new_tokens=12",
        "checks.bias.sample_size=12",
    ],
    "variants": {
        "no_cda": [],
        "cda": ["data.curation.counterfactual={fraction: 1.0}"],
    },
}
CDA_TEST = 12  # test conversations, all with a lexicon term (the bias probe needs them)


def _cda_files(folder: Path, count: int = CDA_TEST) -> list[str]:
    """train/test files from the shipped chitchat sample: the test rows all contain a term."""
    import gzip
    import random

    from tunesmith.checks.lexicon import load_lexicon, swapper

    swap = swapper(load_lexicon(None))
    data = resources.files("tunesmith").joinpath("examples", "chitchat.jsonl.gz")
    rows = [json.loads(x) for x in gzip.decompress(data.read_bytes()).decode().splitlines()]
    termed = [r for r in rows if any(swap(m["content"])[0] != m["content"] for m in r["messages"])]
    test = random.Random(0).sample(termed, count)
    ids = {r["id"] for r in test}
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"train": folder / "train.jsonl", "test": folder / "test.jsonl"}
    for name, chosen in (("train", [r for r in rows if r["id"] not in ids]), ("test", test)):
        paths[name].write_text("".join(json.dumps(r) + "\n" for r in chosen), "utf-8")
    return [f"data.train={paths['train']}", f"data.test={paths['test']}"]


EXPERIMENTS = {"forgetting": FORGETTING, "cda": CDA}


def _recipe(experiment: dict, extra: list[str]):
    from tunesmith.config import load_recipe

    path = Path(str(resources.files("tunesmith").joinpath("recipes", experiment["recipe"])))
    off = [f"checks.{c}.enabled=false" for c in CHECKS if c != experiment["check"]]
    return load_recipe(path, experiment["common"] + off + extra)


def _measures(result: dict) -> dict:
    """{measure: {base, tuned, delta with interval}} from a check's json."""
    found = {}
    for key, value in result.items():
        if isinstance(value, dict) and "delta" in value:
            delta = {k: value["delta"].get(k) for k in ("delta", "ci_low", "ci_high", "p_value")}
            found[key] = {"base": value["base"], "tuned": value["tuned"], "delta": delta}
        elif isinstance(value, dict):
            found.update({f"{key}.{k}": v for k, v in _measures(value).items()})
    return found


def main(name: str, folder: Path, overrides: list[str], cda_test: int = CDA_TEST) -> None:
    from tunesmith.artifacts import RunDir
    from tunesmith.pipeline import run_pipeline

    experiment = EXPERIMENTS[name]
    stages = ["data", "train", "checks"] if name == "forgetting" else None
    files = _cda_files(folder / "files", cda_test) if name == "cda" else []
    for variant, extra in experiment["variants"].items():
        run_dir = RunDir(folder / variant)
        run_pipeline(_recipe(experiment, files + overrides + extra), run_dir, only=stages)
        path = run_dir.eval / "checks" / f"{experiment['check']}.json"
        result = json.loads(path.read_text("utf-8"))
        head = {"experiment": name, "variant": variant}
        for measure, values in _measures(result).items():
            print(json.dumps({**head, "measure": measure, **values}))
        print(json.dumps({**head, "seconds": result["seconds"]}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("experiment", nargs="?", default="forgetting", choices=EXPERIMENTS)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--cda-test", type=int, default=CDA_TEST, help="cda: test conversations")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp())
    main(args.experiment, folder, args.overrides, args.cda_test)
