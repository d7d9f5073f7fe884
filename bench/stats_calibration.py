"""How calibrated the evaluation's intervals and tests are: one JSON line per figure.

For every simulated population of tunesmith.stats.calibration (a metric whose population
value is known) and n in --sizes: the share of 95 % intervals containing that value over
--reps seeded test sets ("coverage", with the share lying wholly below it and the median
width), and for one population per metric the share of paired comparisons called
significant when the two systems are equal ("null", about alpha or less) and when one is
better ("power"). Intervals and tests are the evaluate stage's own (row_interval,
compare_rows on one resample_indices matrix of 1,000 resamples).

    python bench/stats_calibration.py [--reps 1000] [--test-reps 300] [--sizes 20 50 200]
"""

from __future__ import annotations

import argparse
import json
import time

# b's advantage in the power figures, per metric (macro P/R/F1: chance of a right answer)
SHIFT = {"rougeL": 0.05, "accuracy": 0.1, "perplexity": 0.1, "bleu": 0.05, "f1": 0.15}


def main() -> None:
    from tunesmith.stats.calibration import coverage, populations, rejections

    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--test-reps", type=int, default=300)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 50, 200])
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
