"""Run a pre-training recipe together with the same recipe without pre-training.

The sibling run folder `<run>-no-pretrain` gets this run's curated data (hard links, and the
data stage's manifest entry, so its data stage is skipped rather than re-run) and fine-tunes
from the plain base. Its result is copied into this run as `ablation/finetune_only/`, which
the "finetune_only" evaluation row scores on the same test examples as the other rows. The
driver composes recipes and calls `run_pipeline`; no stage reads another run's folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tunesmith.artifacts import RunDir, fingerprint, folder_swap
from tunesmith.drivers import DriverSpec, register_driver
from tunesmith.pipeline import run_pipeline

ABLATION = Path("ablation") / "finetune_only"
SIBLING_SUFFIX = "-no-pretrain"


def sibling_of(run_dir: RunDir) -> RunDir:
    return RunDir(run_dir.root.with_name(run_dir.root.name + SIBLING_SUFFIX))


def run_with_ablation(recipe, run_dir: RunDir, on_stage=None) -> dict[str, str]:
    """The chained run plus its 'fine-tuning only' twin; returns the chained run's outcome."""
    run_pipeline(recipe, run_dir, on_stage, only=["data"], force=False)
    twin = sibling_of(run_dir)
    _share_data(run_dir, twin)
    plain = recipe.model_copy(update={"pretrain": None})
    run_pipeline(plain, twin, _labelled(on_stage), only=["data", "train"], force=False)
    _adopt(twin, run_dir)
    return run_pipeline(recipe, run_dir, on_stage)


def _labelled(on_stage):
    if on_stage is None:
        return None
    return lambda name, status, seconds: on_stage(f"{name} (no pre-training)", status, seconds)


def _share_data(source: RunDir, target: RunDir) -> None:
    """The curated data, hard-linked (copied where links fail), with its manifest entry."""
    from tunesmith.artifacts.files import swapped_into

    target.root.mkdir(parents=True, exist_ok=True)
    with swapped_into(target.data) as staging:  # the previous copy stays until this one is whole
        shutil.copytree(source.data, staging, copy_function=_link_or_copy)
    target.update_stage("data", **source.stage_entry("data"))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _adopt(twin: RunDir, run_dir: RunDir) -> None:
    """Copy the twin's trained adapter (or model) into this run, only when it changed."""
    full = twin.train / "model"
    trained = full if (full / "config.json").is_file() else twin.train / "adapter"
    target = run_dir.root / ABLATION
    if target.is_dir() and fingerprint(target) == fingerprint(trained):
        return
    with folder_swap(target) as staging:
        shutil.copytree(trained, staging, dirs_exist_ok=True)


register_driver(DriverSpec("ablation"))  # nothing of its own to check before a run
