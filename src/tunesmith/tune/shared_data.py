"""Curate the data once per data configuration and share it with every trial's run folder;
likewise the outputs of a training stage before the trainer that reads nothing from the run
folder (pretrain: it reads only its corpus), computed once per configuration of that stage.

The data stage runs in hpo/data/<hash>/ and such a stage in hpo/<stage>/<hash>/ (run folders of
their own, the hash being the recipe sections the stage depends on); trials get hard links to
their files and a copy of their manifest entries, so the pipeline sees those stages as done.
A search space touching no `pretrain.*` key thus pre-trains once for all trials; one touching
such a key pre-trains once per distinct pre-training configuration.
Trials get no test split at all: the search cannot read what is not there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tunesmith.artifacts import RunDir
from tunesmith.config import Recipe, recipe_hash

TEST_FILE = "test.jsonl"
DATA_STAGE = "data"
# Only paths are compared with it (stage inputs and outputs), nothing is read or written.
_PROBE = RunDir(Path("run"))


def training_stages(recipe: Recipe) -> list[str]:
    """The stages that make the tuned model, in the recipe's run order: every stage after data
    up to and including the one writing train/ (train, or federated instead), e.g.
    ['pretrain', 'train']. Never `evaluate` or later (they read the test split)."""
    from tunesmith.stages import ordered_stages, producer_of

    names = [spec.name for spec in ordered_stages(recipe)]
    trainer = producer_of(_PROBE.train / "summary.json", _PROBE, recipe)
    return names[names.index(DATA_STAGE) + 1 : names.index(trainer) + 1]


def shared_stages(recipe: Recipe) -> list[str]:
    """The training stages computed once and linked into each trial: those before the trainer
    whose declared inputs all lie outside the run folder (so they cannot depend on a trial)."""
    from tunesmith.stages import STAGES

    before_trainer = training_stages(recipe)[:-1]
    return [name for name in before_trainer if _reads_no_run_folder(STAGES.get(name), recipe)]


def _reads_no_run_folder(spec, recipe: Recipe) -> bool:
    inputs = spec.inputs(recipe, _PROBE)
    return not any(Path(p).is_relative_to(_PROBE.root) for p in inputs)


def curated(recipe: Recipe, hpo_dir: Path) -> RunDir:
    """The shared run folder holding `recipe`'s curated data (curated on first use)."""
    shared = RunDir(hpo_dir / "data" / recipe_hash(recipe.task, recipe.model.name, recipe.data))
    return _computed(recipe, shared, DATA_STAGE)


def computed_once(recipe: Recipe, hpo_dir: Path, name: str) -> RunDir:
    """The shared run folder holding stage `name`'s outputs for `recipe` (run on first use)."""
    from tunesmith.pipeline import stage_config_hash
    from tunesmith.stages import STAGES

    key = stage_config_hash(STAGES.get(name), recipe)
    return _computed(recipe, RunDir(hpo_dir / name / key), name)


def _computed(recipe: Recipe, shared: RunDir, name: str) -> RunDir:
    from tunesmith.models.cache import locked
    from tunesmith.pipeline import run_pipeline

    with locked(shared.root):  # several workers on one machine compute it once
        run_pipeline(recipe, shared, only=[name], force=False)
    return shared


def share_with(recipe: Recipe, hpo_dir: Path, run_dir: RunDir, with_test: bool = False) -> None:
    """Give `run_dir` the shared curated data and the shared training stages' outputs."""
    link_data(curated(recipe, hpo_dir), run_dir, with_test)
    for name in shared_stages(recipe):
        link_stage(computed_once(recipe, hpo_dir, name), run_dir, name)


def link_data(shared: RunDir, run_dir: RunDir, with_test: bool = False) -> None:
    """Give `run_dir` the shared curated data (hard links; copies across file systems)."""
    run_dir.data.mkdir(parents=True, exist_ok=True)
    for source in sorted(shared.data.iterdir()):
        if source.is_file() and (with_test or source.name != TEST_FILE):
            _link(source, run_dir.data / source.name)
    run_dir.update_stage(DATA_STAGE, **shared.stage_entry(DATA_STAGE))


def link_stage(shared: RunDir, run_dir: RunDir, name: str) -> None:
    """Give `run_dir` stage `name`'s outputs from `shared`: every file of the folders they lie
    in (e.g. pretrain/: weights/, metrics, held-out blocks), hard-linked, and its entry."""
    from tunesmith.stages import STAGES

    outputs = STAGES.get(name).outputs(shared)
    for folder in sorted({p.relative_to(shared.root).parts[0] for p in outputs}):
        for source in sorted((shared.root / folder).rglob("*")):
            if source.is_file():
                target = run_dir.root / source.relative_to(shared.root)
                target.parent.mkdir(parents=True, exist_ok=True)
                _link(source, target)
    run_dir.update_stage(name, **shared.stage_entry(name))


def _link(source: Path, target: Path) -> None:
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
