"""Run the registered stages in order; skip a finished stage whose config and inputs did not
change. Knows no stage by name: each stage declares itself in its own `stage.py`."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import time
from pathlib import Path

from tunesmith.artifacts import RunDir, atomic_write_text, fingerprint
from tunesmith.artifacts.files import recover_killed_writes, write_atomically
from tunesmith.artifacts.lock import RunLock
from tunesmith.config import Recipe, dump_recipe, recipe_hash
from tunesmith.errors import UserError, one_line
from tunesmith.interrupts import raise_if_interrupted
from tunesmith.stages import STAGES, StageSpec, load_stages, missing_input, ordered_stages


def run_pipeline(
    recipe: Recipe,
    run_dir: RunDir,
    on_stage=None,
    only: list[str] | None = None,
    force: bool = True,
) -> dict[str, str]:
    """Run the registered stages in order; returns {stage: 'ran' | 'skipped'}.

    `only` names a subset to run on an existing run folder: those run even when unchanged
    (unless `force` is off), the others are left as they are.
    """
    load_stages()
    chosen = {STAGES.get(name).name for name in only} if only else None
    from tunesmith.tracking import close_left_open, preflight

    preflight(recipe.tracking, run_dir.root)  # a tracker that cannot work: fail before any stage
    run_dir.root.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir.root):
        recover_killed_writes(run_dir.root)  # a process killed mid-write: here or `evaluate`
        _Previous.recover_all(run_dir)
        close_left_open(recipe.tracking, run_dir.root)  # tracker runs such a process left open
        stages = ordered_stages(recipe)
        idle = sorted((chosen or set()) - {spec.name for spec in stages})
        if idle:
            raise UserError(f"--stages: {', '.join(idle)} is not part of this recipe's run")
        earlier = _RecipeRecord.read(run_dir)
        atomic_write_text(run_dir.root / "recipe.yaml", dump_recipe(recipe))
        run_dir.set_field("seed", recipe.training.seed)
        outcome = {}
        try:
            for spec in stages:
                if chosen is not None and spec.name not in chosen:
                    continue
                raise_if_interrupted()  # a Ctrl-C lost inside a stage stops before the next
                status, seconds = _run_stage(spec, recipe, run_dir, force and chosen is not None)
                outcome[spec.name] = status
                if on_stage:
                    on_stage(spec.name, status, seconds)
        except BaseException:
            if "ran" not in outcome.values() and not _unfinished(run_dir):
                earlier.restore(run_dir)  # nothing of this recipe stayed in the folder
            raise
    return outcome


class _RecipeRecord:
    """The run folder's recipe.yaml and seed before a run rewrites them: a run that fails
    before any stage finished, its failing stage put back as it was (bad input, or an error
    before its first checkpoint), leaves a folder of the earlier recipe's outputs, and
    recipe.yaml must go on saying so (evaluate, export and the report read it)."""

    def __init__(self, raw: bytes | None, seed) -> None:
        self.raw, self.seed = raw, seed

    @classmethod
    def read(cls, run_dir: RunDir) -> _RecipeRecord:
        path = run_dir.root / "recipe.yaml"
        # bytes, put back as they were: a damaged (non-UTF-8) file was a UnicodeDecodeError
        # traceback here, though the run replaces it
        raw = path.read_bytes() if path.is_file() else None
        return cls(raw, run_dir.read_manifest().get("seed"))

    def restore(self, run_dir: RunDir) -> None:
        if self.raw is None:
            return  # a first run: its recipe is the folder's only one
        path = run_dir.root / "recipe.yaml"
        write_atomically(path, lambda staging: staging.write_bytes(self.raw))
        run_dir.set_field("seed", self.seed)


def _unfinished(run_dir: RunDir) -> bool:
    """Whether a stage was left running or failed (kept for resuming under the new recipe)."""
    stages = run_dir.read_manifest().get("stages", {})
    return any(entry.get("status") in ("running", "failed") for entry in stages.values())


def stage_config_hash(spec: StageSpec, recipe: Recipe) -> str:
    """The hash of what `spec` depends on in `recipe` (its manifest entry's config_hash)."""
    return recipe_hash(*[_as_hashable(p) for p in spec.config_parts(recipe)])


def _run_stage(spec: StageSpec, recipe: Recipe, run_dir: RunDir, force: bool):
    config_hash = stage_config_hash(spec, recipe)
    prints = _fingerprints(spec, recipe, run_dir)
    if not force and _is_current(run_dir, spec, config_hash, prints):
        _remove_scratch(run_dir, spec)  # a process killed right after marking it done left it
        return "skipped", 0.0
    previous = _Previous.set_aside(run_dir, spec, config_hash, prints)
    run_dir.update_stage(
        spec.name, status="running", config_hash=config_hash, inputs=prints, error=None
    )
    started = time.perf_counter()
    try:
        from tunesmith.tracking import observe_stage

        with _stage_log(run_dir, spec.name), observe_stage(recipe, run_dir, spec.name):
            result = spec.run(recipe, run_dir)  # observe_stage: trackers, energy, outputs logged
    except BaseException as exc:
        # Bad input, an error or Ctrl-C before the attempt saved anything to resume from: what
        # it wrote goes and the finished outputs it replaced come back as they were. Else kept
        # as 'failed' (not 'running') so a reader knows; the same command resumes. A stop on
        # purpose (a search trial pruned) keeps what the stage wrote, as before.
        from tunesmith.tracking.observers import stopped_by_observer

        stopped = stopped_by_observer(exc)
        if stopped:
            previous.drop()
        if stopped or not previous.put_back():
            run_dir.update_stage(spec.name, status="failed", error=one_line(exc))
        raise
    previous.drop()
    seconds = round(time.perf_counter() - started, 2)
    run_dir.update_stage(spec.name, status="done", seconds=seconds, result=_as_record(result))
    _remove_scratch(run_dir, spec)
    return "ran", seconds


def _remove_scratch(run_dir: RunDir, spec: StageSpec) -> None:
    for path in spec.scratch(run_dir):
        _remove(path)


def _fingerprints(spec: StageSpec, recipe: Recipe, run_dir: RunDir) -> dict[str, str]:
    """Fingerprints of the stage's declared inputs; a missing one is the user's mistake."""
    prints = {}
    for path in spec.inputs(recipe, run_dir):
        path = Path(path)
        if not path.exists():
            raise UserError(missing_input(spec.name, path, run_dir, recipe))
        inside = path.is_relative_to(run_dir.root)
        prints[str(path.relative_to(run_dir.root) if inside else path)] = fingerprint(path)
    return prints


def _as_hashable(part):
    return part if hasattr(part, "model_dump") or part is None else str(part)


def _as_record(result) -> object:
    """A stage's result as plain JSON (dataclass -> dict, paths -> strings). A field the stage
    also writes as a file of its own (field metadata `saved_as`) is recorded as that file's
    path: the manifest is rewritten at every stage update, and a copy would only grow it."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        record = dataclasses.asdict(result)
        for field in dataclasses.fields(result):
            if "saved_as" in field.metadata:
                record[field.name] = field.metadata["saved_as"]
        result = record
    return json.loads(json.dumps(result, default=str))


def _is_current(run_dir: RunDir, spec: StageSpec, config_hash: str, prints: dict) -> bool:
    entry = run_dir.stage_entry(spec.name)
    return (
        entry.get("status") == "done"
        and entry.get("config_hash") == config_hash
        and entry.get("inputs") == prints
        and all(p.exists() for p in spec.outputs(run_dir))
    )


class _Previous:
    """A stage's earlier outputs while it starts afresh (config or inputs changed): moved aside
    under .previous/ rather than deleted, so a failed attempt that saved nothing to resume
    from can put a finished stage back exactly as it was (files and manifest entry); dropped
    once the new attempt succeeds or has saved resume state. An interrupted stage's resume
    state (same config and inputs) stays."""

    def __init__(self, run_dir: RunDir, spec: StageSpec, moved: list[Path], entry: dict) -> None:
        self.run_dir, self.spec, self.moved, self.entry = run_dir, spec, moved, entry

    @classmethod
    def set_aside(cls, run_dir: RunDir, spec: StageSpec, config_hash: str, prints: dict):
        entry = run_dir.stage_entry(spec.name)
        resumable = (
            spec.resumes
            and entry.get("status") in ("running", "failed")
            and entry.get("config_hash") == config_hash
            and entry.get("inputs") == prints
            # what an attempt killed before its first checkpoint left is no state to resume
            # from: started on, its logged steps would be logged again after them
            and _resume_state(run_dir, spec)
        )
        holding = _holding(run_dir, spec)
        moved = []
        for path in [] if resumable else spec.reset(run_dir):
            if path.exists():
                target = holding / path.relative_to(run_dir.root)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
                moved.append(path)
        return cls(run_dir, spec, moved, entry if entry.get("status") == "done" else {})

    def put_back(self) -> bool:
        """Unless the failed attempt saved resume state, remove what it wrote (the reset paths)
        and restore the outputs set aside; True when a finished stage (outputs and manifest
        entry) is back. Resume state is kept (and the outputs set aside dropped): an error such
        as a full disk, or Ctrl-C, is followed by the same command, which
        then resumes rather than starting over."""
        if _resume_state(self.run_dir, self.spec):
            self.drop()
            return False
        for path in self.spec.reset(self.run_dir):
            _remove(path)  # what the failed attempt wrote: nothing to resume, a stray folder
        if not self.entry or not self.moved:
            # no finished stage was set aside (an unfinished one's files would not match the
            # manifest entry, which now names the new attempt)
            self.drop()
            return False
        _move_back(self.run_dir, self.spec)
        self.drop()
        self.run_dir.replace_stage(self.spec.name, self.entry)
        return True

    @staticmethod
    def recover_all(run_dir: RunDir) -> None:
        """`recover` every registered stage, whichever stages this run runs: a stage caught
        mid-swap by a kill would else stay under .previous/ (its outputs missing to the stages
        that read them) until a run of that very stage."""
        for name in STAGES.names():
            _Previous.recover(run_dir, STAGES.get(name))

    @staticmethod
    def recover(run_dir: RunDir, spec: StageSpec) -> None:
        """What a process killed mid-stage left under .previous/ removed; but a finished stage
        it was setting aside when it died (the manifest still names it done) is moved back
        first, not taken for a killed attempt's leftovers."""
        if run_dir.stage_entry(spec.name).get("status") == "done":
            _move_back(run_dir, spec)
        _Previous(run_dir, spec, [], {}).drop()

    def drop(self) -> None:
        holding = _holding(self.run_dir, self.spec)
        _remove(holding)
        # .previous/ only ever holds stages set aside; left empty it would puzzle a reader of
        # the run folder (and be copied along with it)
        with contextlib.suppress(OSError):  # not empty: another stage's outputs are held
            holding.parent.rmdir()


def _move_back(run_dir: RunDir, spec: StageSpec) -> None:
    """The stage's reset paths set aside under .previous/ moved back to where they were."""
    holding = _holding(run_dir, spec)
    for path in spec.reset(run_dir):
        held = holding / path.relative_to(run_dir.root)
        if held.exists() and not path.exists():
            os.replace(held, path)


def _resume_state(run_dir: RunDir, spec: StageSpec) -> bool:
    """Whether the stage saved state to resume from (its scratch paths: checkpoints)."""
    return spec.resumes and any(p.exists() for p in spec.scratch(run_dir))


def _holding(run_dir: RunDir, spec: StageSpec) -> Path:
    return run_dir.root / ".previous" / spec.name


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class _stage_log:
    """Send log records (ours, transformers', warnings) to logs/<stage>.log while it runs."""

    def __init__(self, run_dir: RunDir, stage: str) -> None:
        self.handler = logging.FileHandler(run_dir.logs / f"{stage}.log", encoding="utf-8")
        self.handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )

    def __enter__(self):
        logging.captureWarnings(True)
        root = logging.getLogger()
        root.addHandler(self.handler)
        root.setLevel(min(root.level or logging.INFO, logging.INFO))
        return self

    def __exit__(self, *exc):
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()
        return False
