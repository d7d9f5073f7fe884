"""How calibrated the evaluation's intervals and tests are: one JSON line per figure.

For every simulated population of tunesmith.stats.calibration (a metric whose population
value is known) and n in --sizes: the share of 95 % intervals containing that value over
--reps seeded test sets ("coverage", with the share lying wholly below it and the median
width), and for one population per metric the share of paired comparisons called
significant when the two systems are equal ("null", about alpha or less) and when one is
better ("power"). Intervals and tests are the evaluate stage's own (row_interval,
compare_rows on one resample_indices matrix of 1,000 resamples). For every metric a target
can name, the relative gain's interval ("gain": its coverage of a true gain of --gain) and
the target's verdict when the true gain equals the target ("false_pass", about alpha / 2).

    python bench/stats_calibration.py [--reps 1000] [--test-reps 300] [--sizes 20 50 200]
"""

from __future__ import annotations

import argparse
import json
import time

# b's advantage in the power figures, per metric (macro P/R/F1: chance of a right answer)
SHIFT = {"rougeL": 0.05, "accuracy": 0.1, "perplexity": 0.1, "bleu": 0.05, "f1": 0.15}
# the metrics a target can name (every computed one; ROUGE-1/2 resample as ROUGE-L does)
GAIN_POPULATIONS = ["rougeL", "accuracy", "perplexity", "bleu"] + [
    f"{key} (3 classes)" for key in ("precision", "recall", "f1")
]


def main() -> None:
    from tunesmith.stats.calibration import coverage, gain_coverage, populations, rejections

    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--test-reps", type=int, default=300)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 50, 200])
    parser.add_argument("--gain", type=float, default=0.15)
    args = parser.parse_args()
    started_all = time.perf_counter()
    for name, pop in populations().items():
        for n in args.sizes:
            started = time.perf_counter()
            figures = coverage(pop, n, args.reps)
            line = {"figure": "coverage", "population": name, "truth": pop.truth, "n": n}
            line |= {"reps": args.reps, **figures, "seconds": time.perf_counter() - started}
            print(json.dumps(line), flush=True)
    for name, pop in populations().items():
        if pop.metric not in SHIFT:
            continue
        for n in args.sizes:
            null = rejections(pop, n, args.test_reps)
            power = rejections(pop, n, args.test_reps, shift=SHIFT[pop.metric])
            line = {"figure": "tests", "population": name, "n": n, "reps": args.test_reps}
            print(json.dumps(line | {"null": null, "shift": SHIFT[pop.metric], "power": power}))
    for name in GAIN_POPULATIONS:
        for n in args.sizes:
            started = time.perf_counter()
            figures = gain_coverage(populations()[name], n, args.reps, gain=args.gain)
            line = {"figure": "gain", "population": name, "n": n, "reps": args.reps, **figures}
            print(json.dumps(line | {"seconds": time.perf_counter() - started}), flush=True)
    print(json.dumps({"figure": "total", "seconds": time.perf_counter() - started_all}))


if __name__ == "__main__":
    main()
