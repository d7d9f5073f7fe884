"""Curate the data once per data configuration and share it with every trial's run folder.

The data stage runs in hpo/data/<hash>/ (a run folder of its own); trials get hard links to
its files and a copy of its manifest entry, so the pipeline sees their data stage as done.
Trials get no test split at all: the search cannot read what is not there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tunesmith.artifacts import RunDir
from tunesmith.config import Recipe, recipe_hash

TEST_FILE = "test.jsonl"


def curated(recipe: Recipe, hpo_dir: Path) -> RunDir:
    """The shared run folder holding `recipe`'s curated data (curated on first use)."""
    from tunesmith.models.cache import locked
    from tunesmith.pipeline import run_pipeline

    shared = RunDir(hpo_dir / "data" / recipe_hash(recipe.task, recipe.model.name, recipe.data))
    with locked(shared.root):  # several workers on one machine curate once
        run_pipeline(recipe, shared, only=["data"], force=False)
    return shared


def link_data(shared: RunDir, run_dir: RunDir, with_test: bool = False) -> None:
    """Give `run_dir` the shared curated data (hard links; copies across file systems)."""
    run_dir.data.mkdir(parents=True, exist_ok=True)
    for source in sorted(shared.data.iterdir()):
        if source.is_file() and (with_test or source.name != TEST_FILE):
            _link(source, run_dir.data / source.name)
    run_dir.update_stage("data", **shared.stage_entry("data"))


def _link(source: Path, target: Path) -> None:
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
