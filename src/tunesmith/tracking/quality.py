"""Energy per unit of quality gained: kWh per point of the headline metric over the base.

A point is one percentage point for the 0-1 metrics (accuracy, F1, ROUGE) and one unit for
BLEU (already 0-100) and perplexity (lower is better, so a point is one unit *less*).
"""

from __future__ import annotations

import json

POINT_SCALE = {"bleu": 1.0, "perplexity": 1.0}  # default 100: a share in 0-1 -> percent
LOWER_IS_BETTER = {"perplexity"}


def energy_summary(run_dir) -> dict:
    """Total kWh / CO2e of the stages measured so far, and kWh per headline point."""
    stages = run_dir.read_manifest().get("stages", {})
    measured = {s: e["energy"] for s, e in stages.items() if "kwh" in e.get("energy", {})}
    if not measured:
        return {}
    summary = {
        "kwh": sum(e["kwh"] for e in measured.values()),
        "co2e_kg": sum(e["co2e_kg"] for e in measured.values()),
        "stages": sorted(measured),
        "measured": all(e["measured"] for e in measured.values()),
    }
    headline = _headline_gain(run_dir)
    if headline:
        name, points = headline
        summary.update(headline=name, points_gained=points)
        summary["kwh_per_point"] = summary["kwh"] / points if points > 0 else None
    return summary


def _headline_gain(run_dir) -> tuple[str, float] | None:
    path = run_dir.eval / "compare.json"
    if not path.is_file():
        return None
    compare = json.loads(path.read_text(encoding="utf-8"))
    rows = compare.get("metrics", {})
    if not rows:
        return None
    # The task's headline metric (the target verdict's), else the first task metric.
    target = compare.get("target", {}).get("metric")
    name = target if target in rows else next((n for n in rows if n != "perplexity"), None)
    name = name if name in rows else next(iter(rows))
    row = rows[name]
    gain = (row["tuned"] - row["base"]) * POINT_SCALE.get(name, 100.0)
    return name, -gain if name in LOWER_IS_BETTER else gain


def write_energy_summary(run_dir) -> None:
    summary = energy_summary(run_dir)
    if summary:
        run_dir.set_field("energy", summary)


def energy_lines(run_dir) -> list[str]:
    """The CLI summary's energy block: one line per stage, then the total and kWh per point."""
    stages = run_dir.read_manifest().get("stages", {})
    lines = []
    for name, entry in stages.items():
        energy = entry.get("energy")
        if energy and "kwh" in energy:
            lines.append(
                f"  {name:<11} {energy['kwh']:.3g} kWh  {1000 * energy['co2e_kg']:.3g} g CO2e"
                f"  ({energy['method']}, grid {energy['country']})"
            )
        elif energy:
            lines.append(f"  {name:<11} {energy['note']}")
    summary = energy_summary(run_dir)
    if summary.get("headline"):
        per_point = summary["kwh_per_point"]
        lines.append(
            f"  {summary['kwh']:.3g} kWh in all; "
            + (
                f"{per_point:.3g} kWh per point of {summary['headline']} over the base model"
                if per_point is not None
                else f"no {summary['headline']} gained over the base model"
            )
        )
    return lines
