"""Cost of the evaluation statistics for n examples: one JSON line per figure.

Synthetic per-example scores (seeded) for three rows (base, few_shot, tuned): the seconds of
per-example ROUGE + BLEU scoring, of the whole `statistics_of` (intervals for every row, the
paired deltas of every pair, sacrebleu's paired bootstrap for BLEU, McNemar for accuracy) and
of the error analysis, at the default 1,000 resamples. Compare with generation: minutes.

    python bench/stats_cost.py [--n 1000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import time

WORDS = "python rust audio image network text game math editor compiler player viewer".split()  # noqa: SIM905


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))


def _rows(n: int, seed: int, names, labels=None) -> list[dict]:
    from tunesmith.metrics.per_example import example_scores

    rng = random.Random(seed)
    refs = [_sentence(random.Random(i)) for i in range(n)]
    hyps = [_sentence(rng) for _ in range(n)]
    scores = example_scores(names, hyps, refs, labels)
    return [
        {
            "id": f"t-{i}",
            "key": str(i),
            "prompt": r,
            "reference": r,
            "prediction": h,
            "input_words": len(r.split()),
            "meta": {},
            "scores": {**s, "nll": rng.uniform(5, 40), "tokens": rng.randint(4, 20)},
        }
        for i, (h, r, s) in enumerate(zip(hyps, refs, scores))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    from tunesmith.config.loader import recipe_from_dict
    from tunesmith.evaluate.comparison import statistics_of
    from tunesmith.evaluate.errors import analyse

    recipe = recipe_from_dict(
        {
            "task": "summarization",
            "data": {"train": "x.jsonl", "input_field": "a", "output_field": "b"},
            "evaluation": {"bootstrap_resamples": args.resamples},
        }
    )
    started = time.perf_counter()
    predictions = {
        row: _rows(args.n, s, ["rouge", "bleu"])
        for s, row in enumerate(("base", "few_shot", "tuned"))
    }
    scoring = time.perf_counter() - started
    started = time.perf_counter()
    stats = statistics_of(recipe, predictions, None)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    analyse(recipe, predictions, None)
    errors = time.perf_counter() - started
    common = {
        "n": args.n,
        "resamples": args.resamples,
        "rows": 3,
        "pairs": len(stats["comparisons"]),
    }
    for figure, value in (
        ("per_example_scoring_s", scoring),
        ("statistics_s", seconds),
        ("error_analysis_s", errors),
    ):
        print(json.dumps({"figure": figure, "value": round(value, 3), **common}))


if __name__ == "__main__":
    main()
