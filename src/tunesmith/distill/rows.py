"""Evaluation rows of the students (scored like any model, paired against the teacher)."""

from __future__ import annotations

from tunesmith.evaluate.rows import ModelRow, register_pair, register_row

LABELS = {"labels_only": "student (labels only)", "distilled": "student (distilled)"}


def _weights(run_dir, name: str) -> list:
    folder = run_dir.root / "distill" / name / "model"
    return [folder / "config.json", folder / "model.safetensors"]


def _row(name: str, order: int) -> ModelRow:
    def applies(recipe, run_dir) -> bool:
        return all(p.exists() for p in _weights(run_dir, name))

    def load(recipe, run_dir, base):
        from transformers import AutoModelForCausalLM

        folder = run_dir.root / "distill" / name / "model"
        return AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=base.dtype, use_safetensors=True
        ).eval()

    return ModelRow(
        f"student_{name}", LABELS[name], order, applies, lambda r, d: _weights(d, name), load
    )


register_row(_row("labels_only", 80))
register_row(_row("distilled", 85))
register_pair("student_labels_only", "student_distilled")  # what distillation itself bought
