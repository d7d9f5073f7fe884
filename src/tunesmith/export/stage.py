"""Export stages (only with an `export:` recipe section).

`export` (after train, before evaluate, so each artefact gets an evaluation row) writes the
artefacts and export/exports.json; `export_card` (after evaluate and checks) writes each
artefact's model card with the metrics and intervals evaluate computed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from tunesmith.artifacts import RunDir, write_json
from tunesmith.config.schema import Recipe
from tunesmith.export.build import EXPORTS


@dataclass
class ExportResult:
    artefacts: dict  # name -> bytes on disk


def _applies(recipe: Recipe) -> bool:
    return recipe.export is not None


def run(recipe: Recipe, run_dir: RunDir) -> ExportResult:
    from tunesmith.export.build import export_run

    record = export_run(recipe, run_dir, recipe.export, progress=lambda line: None)
    return ExportResult({k: v["bytes"] for k, v in record["artefacts"].items()})


def _config(recipe: Recipe) -> tuple:
    return (recipe.model, recipe.training, recipe.pretrain, recipe.export)


def _inputs(recipe: Recipe, run_dir: RunDir) -> list[Path]:
    from tunesmith.methods import method_of
    from tunesmith.models.base import base_inputs

    artefact = run_dir.train / method_of(recipe.training).artefact
    return [artefact, run_dir.data / "test.jsonl", *base_inputs(recipe, run_dir)]


def _outputs(run_dir: RunDir) -> list[Path]:
    return [run_dir.root / "export" / EXPORTS]


def _reset(run_dir: RunDir) -> list[Path]:
    return [run_dir.root / "export"]  # artefacts of another config are stale


def run_cards(recipe: Recipe, run_dir: RunDir) -> dict:
    from tunesmith.export.build import read_exports
    from tunesmith.export.card import write_cards

    written = write_cards(recipe, run_dir, read_exports(run_dir.root / "export"))
    write_json(run_dir.root / "export" / "cards.json", written)
    return {"cards": written}


def _card_inputs(recipe: Recipe, run_dir: RunDir) -> list[Path]:
    return [*_outputs(run_dir), run_dir.eval / "compare.json", run_dir.data / "data_card.json"]


def _formats_possible(recipe: Recipe, facts) -> list[str]:
    """Pre-flight, on the model's config (no weights): a GGUF-capable architecture and rotary
    scaling, int8-quantisable layers (GPT-2's Conv1D are not), refused before training."""
    folder = facts.model_folder()
    if recipe.export is None or folder is None:
        return []
    if "gguf" in recipe.export.formats:
        from tunesmith.export.gguf_file import check_model

        model = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        check_model(SimpleNamespace(**model))
    if "int8" in recipe.export.formats:
        from tunesmith.export.quantize import check_int8
        from tunesmith.models.targets import model_skeleton

        skeleton = model_skeleton(recipe.model.name)  # None: not buildable here
        if skeleton is not None:
            check_int8(skeleton)
    return [f"export: ok ({', '.join(recipe.export.formats)})"]


def _register() -> None:
    from tunesmith.export import rows  # noqa: F401  (registers one row per artefact)
    from tunesmith.stages import PreflightHook, StageSpec, register_stage

    register_stage(
        StageSpec(
            "export",
            35,
            _config,
            _inputs,
            _outputs,
            run,
            _reset,
            applies=_applies,
            preflight=(PreflightHook("model", _formats_possible),),
        )
    )
    register_stage(
        StageSpec(
            "export_card",
            85,
            lambda recipe: (recipe.export, recipe.name),
            _card_inputs,
            lambda run_dir: [run_dir.root / "export" / "cards.json"],
            run_cards,
            applies=_applies,
        )
    )


_register()
