"""The stage contract: each stage module declares a `StageSpec` and registers it in `STAGES`.

The pipeline orders and runs what is registered and knows no stage by name. A stage package is
any `tunesmith.<package>.stage` module (found by `load_stages`), so adding a stage is one new
package whose `stage.py` calls `register_stage(...)`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunesmith.registry import Registry


def _always(recipe) -> bool:
    return True


def _nothing(*args) -> list:
    return []


# Where a stage's or driver's own pre-flight checks run among preflight.py's (`validate`, and
# `run` before its first stage), each named for what a check there can read from its facts
# (preflight.PreflightFacts). Fixed points, so the lines and the first fault come in the same
# order whichever package contributes them.
PREFLIGHT_POINTS = (
    "search",  # after the search space is read (facts.space)
    "model",  # after the model's own checks (facts.model_folder())
    "data",  # with the planned splits (facts.splits())
    "files",  # among the other files later stages read
    "end",  # after the others, before the trackers'
)


@dataclass(frozen=True)
class PreflightHook:
    """A check a stage or driver adds to the pre-flight: `check(recipe, facts)` returns its
    'key: ok (...)' lines ([] when the recipe does not use what it checks) and raises
    UserError on a fault. It runs on every recipe checked, whether or not the stage is part of
    its run: a setting is refused wherever it is given."""

    at: str  # one of PREFLIGHT_POINTS
    check: Callable

    def __post_init__(self) -> None:
        if self.at not in PREFLIGHT_POINTS:  # a typo would silently never run
            raise ValueError(f"pre-flight point '{self.at}': not one of {PREFLIGHT_POINTS}")


@dataclass(frozen=True)
class StageSpec:
    """Everything the pipeline needs to know about one stage.

    `inputs` is the one declaration of what the stage reads: the pipeline checks that every
    path exists before running it and fingerprints them for skip-if-unchanged, so a file read
    but not declared here is a bug (its change would not re-run the stage).
    """

    name: str
    order: int  # run order: a stage runs after every stage of smaller order
    config: Callable  # (recipe) -> tuple of the recipe sections it depends on (hashed)
    inputs: Callable  # (recipe, run_dir) -> list of paths it reads
    outputs: Callable  # (run_dir) -> list of paths that exist once it finished
    run: Callable  # (recipe, run_dir) -> its result (a dataclass, recorded in the manifest)
    # Paths emptied when the stage starts afresh (config or inputs changed): stale state.
    reset: Callable = _nothing
    # Paths removed after the stage finished: resume state nobody needs any more.
    scratch: Callable = _nothing
    resumes: bool = False
    applies: Callable = _always  # (recipe) -> bool: is the stage part of this run?
    # Raised by one when a code change alters what the stage writes for the same recipe and
    # inputs (e.g. how chat rows become examples): the hash then differs, so run folders made
    # by older code re-run the stage instead of keeping outputs this code would not write.
    revision: int = 1
    # Its checks in `validate` and before `run`'s first stage (bad input found before training)
    preflight: tuple[PreflightHook, ...] = ()
    # (recipe, test_count) -> its ok lines; UserError when a test split of that many examples
    # is too small for what the stage samples: pre-flight asks it of the planned split, the data
    # stage again of the split curation left
    fits_test: Callable = _nothing

    def config_parts(self, recipe) -> tuple:
        """What the stage's skip-if-unchanged hash covers: its recipe sections and revision."""
        # Revision 1 adds nothing, so folders made before revisions existed stay current.
        revision = (f"revision {self.revision}",) if self.revision > 1 else ()
        return (*self.config(recipe), *revision)


STAGES: Registry[StageSpec] = Registry("stage")


def register_stage(spec: StageSpec) -> StageSpec:
    """Register a stage; it joins every pipeline run from then on."""
    STAGES.register(spec.name, spec)
    return spec


def load_stages() -> None:
    """Import every `tunesmith.<package>.stage` module, so each registers its spec."""
    import_every("stage")


def import_every(module: str) -> None:
    """Import `tunesmith.<package>.<module>` of every package that has one."""
    import tunesmith

    # Looked up on disk, not imported, so packages without one cost nothing.
    for root in tunesmith.__path__:
        for path in sorted(Path(root).glob(f"*/{module}.py")):
            importlib.import_module(f"tunesmith.{path.parent.name}.{module}")


def registered_stages() -> list[StageSpec]:
    """Every registered stage, in run order (whether or not a recipe runs it)."""
    load_stages()
    return _in_order()


def ordered_stages(recipe) -> list[StageSpec]:
    """The registered stages that apply to `recipe`, in run order."""
    load_stages()
    return [spec for spec in _in_order() if spec.applies(recipe)]


def producer_of(path: Path, run_dir, recipe=None) -> str | None:
    """The name of the stage whose outputs live in `path`'s run-folder sub-folder.

    With `recipe`, only the stages of its run count, in run order: several stages write into
    train/ (train, federated), and the first by name was named ("run the 'federated' stage
    first" in a run without federated learning)."""
    load_stages()
    specs = ordered_stages(recipe) if recipe is not None else _in_order()
    for spec in specs:
        outputs = spec.outputs(run_dir)
        if any(path.is_relative_to(p.parent) or path == p for p in outputs):
            return spec.name
    return None


def missing_input(stage: str, path: Path, run_dir, recipe=None) -> str:
    """The one line for an input `stage` needs that does not exist, naming the stage that
    makes it (the pipeline checks every declared input; a command running a stage alone too)."""
    producer = producer_of(path, run_dir, recipe)
    hint = f"; run the '{producer}' stage first" if producer and producer != stage else ""
    return f"stage {stage}: needs {path}, which does not exist{hint}"


def _in_order() -> list[StageSpec]:
    specs = [STAGES.get(name) for name in STAGES.names()]
    return sorted(specs, key=lambda s: (s.order, s.name))
