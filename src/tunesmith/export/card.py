"""Model cards: one Markdown card per export (README.md inside a folder, <file>.md beside a
GGUF), from files earlier stages wrote: the recipe, data card, compare.json, exports.json."""

from __future__ import annotations

from pathlib import Path

from tunesmith.artifacts import atomic_write_text
from tunesmith.artifacts.files import read_json


def card_path(export_dir: Path, artefact: dict) -> Path:
    path = export_dir / artefact["path"]
    return path / "README.md" if not path.suffix else path.with_suffix(".md")


def write_cards(recipe, run_dir, record: dict) -> list[str]:
    """Write every artefact's card; returns their paths relative to the run folder."""
    compare = _optional(run_dir.eval / "compare.json")
    data_card = _optional(run_dir.data / "data_card.json")
    written = []
    for name, artefact in record["artefacts"].items():
        path = card_path(run_dir.stage("export"), artefact)
        if path.parent.exists():
            text = render_card(recipe, name, artefact, record, compare, data_card)
            atomic_write_text(path, text)
            written.append(str(path.relative_to(run_dir.root)))
    return written


def render_card(recipe, name: str, artefact: dict, record: dict, compare, data_card) -> str:
    from tunesmith.methods import describe

    lines = [
        f"# {recipe.name}: {name}",
        "",
        f"- format: {artefact['description']}",
        f"- base model: {recipe.model.name}",
        f"- task: {recipe.task}; training: {describe(recipe.training)}",
        f"- size on disk: {artefact['bytes']:,} bytes (tuned model in fp32: "
        f"{record['tuned']['bytes_fp32']:,} bytes)",
        f"- generation: {artefact['tokens_per_second']} tokens/s (tuned model: "
        f"{record['tuned']['tokens_per_second']} tokens/s; CPU, one prompt)",
        f"- licence: {record.get('license', 'unknown')}",
        "",
        "## Data",
        "",
        _data_summary(data_card),
        "",
        "## Quality on held-out test examples",
        "",
        *_metrics(compare, name),
    ]
    return "\n".join(lines) + "\n"


def _data_summary(card) -> str:
    if not card:
        return "No data card in the run folder."
    sizes = card.get("sizes", {})
    parts = [f"{split}: {count}" for split, count in sizes.items() if isinstance(count, int)]
    return "Examples per split: " + (", ".join(parts) or "unknown") + "."


def _metrics(compare, name: str) -> list[str]:
    if not compare:
        return ["Not evaluated yet: `tunesmith evaluate RUN`, then `tunesmith export RUN --cards`."]
    level = f"{100 * compare.get('confidence', 0.95):.0f} %"
    lines = [f"n = {compare['sample_size']}; intervals are {level} bootstrap intervals.", ""]
    lines += ["| model | metric | value | interval |", "| --- | --- | --- | --- |"]
    for row in ("base", "tuned", name):
        for key, value in compare["rows"].get(row, {}).get("metrics", {}).items():
            lines.append(
                f"| {row} | {key} | {value['value']:.4g} | "
                f"[{value['ci_low']:.4g}, {value['ci_high']:.4g}] |"
            )
    for pair in compare.get("comparisons", []):
        if (pair["a"], pair["b"]) == (name, "tuned"):
            lines += ["", "Tuned minus this export, paired on the same examples:", ""]
            for key, d in pair["metrics"].items():
                lines.append(
                    f"- {key}: {d['delta']:+.4g} [{d['ci_low']:+.4g}, {d['ci_high']:+.4g}], "
                    f"p = {d['p_value']:.3g} ({d['verdict']})"
                )
    if name not in compare["rows"]:
        lines += ["", "No evaluation row for this export yet (or export.evaluate is off)."]
    return lines


def _optional(path: Path):
    return read_json(path) if path.is_file() else None
