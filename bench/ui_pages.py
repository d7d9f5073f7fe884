"""Page-load time of the UI's run list and of a report with 500 run folders (JSON lines).

    .venv/bin/python bench/ui_pages.py [--runs 500] [--repeat 5]

Builds synthetic run folders (every file a finished run writes, no training) in a temporary
folder and times requests through FastAPI's TestClient (in-process, no network)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ui_runs import make_run  # noqa: E402


def timed(client, url: str, repeat: int) -> tuple[float, list[float]]:
    """(first request, later requests) in milliseconds; every answer must be 200."""
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        response = client.get(url)
        times.append(1000 * (time.perf_counter() - started))
        assert response.status_code == 200, (url, response.status_code)
    return times[0], times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from tunesmith.ui.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        started = time.perf_counter()
        for number in range(args.runs):
            make_run(runs, f"run{number:04d}-20260101", items=20, report=number == 0)
        build = time.perf_counter() - started
        client = TestClient(create_app(runs, "bench"))
        for page, url in (
            ("run list", "/"),
            ("run list JSON", "/api/runs"),
            ("report", "/runs/run0000-20260101/report"),
            ("run page", "/runs/run0000-20260101"),
        ):
            first, later = timed(client, url, args.repeat)
            print(
                json.dumps(
                    {
                        "bench": "ui_pages",
                        "page": page,
                        "runs": args.runs,
                        "first_ms": round(first, 1),
                        "median_ms": round(statistics.median(later), 1),
                        "repeat": args.repeat,
                        "build_s": round(build, 1),
                    }
                )
            )


if __name__ == "__main__":
    main()
