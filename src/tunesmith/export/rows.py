"""An evaluation row per exported artefact: scored on the same examples as the tuned model,
so compare.json holds its paired interval against it ("every other row vs tuned")."""

from __future__ import annotations

from tunesmith.config.export import ExportConfig
from tunesmith.evaluate.rows import ModelRow, register_row
from tunesmith.export.formats import FORMATS, artefacts_of

EVERY = ExportConfig(formats=list(FORMATS.names()), gguf_types=["f16", "q8_0", "q4_0"])


def _evaluated(recipe, run_dir, artefact) -> bool:
    """Scored when its files exist (the export stage or `tunesmith export` wrote them),
    unless the recipe's export section turns evaluation off."""
    if recipe.export is not None and not recipe.export.evaluate:
        return False
    return all(p.exists() for p in artefact.weights(run_dir.root / "export"))


def _row(order: int, artefact) -> ModelRow:
    name = artefact.name

    def applies(recipe, run_dir) -> bool:
        return _evaluated(recipe, run_dir, artefact)

    def inputs(recipe, run_dir) -> list:
        return artefact.weights(run_dir.root / "export")

    def load(recipe, run_dir, base):
        del base  # the export is loaded from its own files, as a user would
        return FORMATS.get(artefact.format).load(artefact.path(run_dir.root / "export"))

    return ModelRow(name, f"export: {name}", order, applies, inputs, load)


for _order, _artefact_spec in enumerate(artefacts_of(EVERY), start=110):
    register_row(_row(_order, _artefact_spec))
