"""Search throughput of one vs two worker processes on one study (each with its own torch
threads), with and without pruning: trials per hour and the best validation perplexity
reached versus wall-clock time.

Same recipe, space and budget as bench/tune_efficiency.py. For each (pruner, workers) a fresh
study in a temporary folder: `workers` processes of `tunesmith tune RECIPE --worker` start at
once on the default journal file and together run the study to `--trials` trials; the clock
runs from their start until the last one exits (so each process's start-up and model load
count). One JSON line per figure.

    python bench/tune_workers.py [--workers 1,2] [--threads 1] [--trials 6] [--steps 8]
        [--examples 64] [--pruners none,median] [--model DIR]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tune_efficiency import figures, parser, small_recipe


def measure(pruner: str, workers: int, args) -> list[dict]:
    import optuna

    from tunesmith.config import dump_recipe
    from tunesmith.tune.storage import open_storage

    recipe = small_recipe(args, pruner)
    with tempfile.TemporaryDirectory() as folder:
        path, hpo = Path(folder) / "recipe.yaml", Path(folder) / "hpo"
        path.write_text(dump_recipe(recipe), encoding="utf-8")
        command = [sys.executable, "-m", "tunesmith.cli", "tune", str(path), "-o", str(hpo)]
        command += ["--trials", str(args.trials), "--worker"]
        log = (Path(folder) / "workers.log").open("w")
        started = time.perf_counter()
        procs = [subprocess.Popen(command, stdout=log, stderr=log) for _ in range(workers)]
        codes = [p.wait() for p in procs]
        seconds = time.perf_counter() - started
        log.close()
        if any(codes):
            tail = (Path(folder) / "workers.log").read_text()[-400:]
            return [{"pruner": pruner, "workers": workers, "error": f"exit {codes}: {tail}"}]
        study = optuna.load_study(study_name=recipe.name, storage=open_storage(None, hpo))
        base = {"pruner": pruner, "workers": workers, "threads": args.threads}
        return figures(study, seconds, base)


def main() -> None:
    cli = parser()
    cli.add_argument("--workers", default="1,2", help="worker processes per study, e.g. 1,2")
    cli.set_defaults(threads=1)
    args = cli.parse_args()
    for pruner in args.pruners.split(","):
        for workers in map(int, args.workers.split(",")):
            for row in measure(pruner, workers, args):
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
