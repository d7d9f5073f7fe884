"""What the report's model-risk section shows, read from eval/checks/ (the checks stage)."""

from __future__ import annotations

from html import escape
from pathlib import Path


def checks_context(eval_dir: Path) -> dict:
    folder = eval_dir / "checks"
    summary = _read(folder / "summary.json")
    results = {c["name"]: _read(folder / f"{c['name']}.json") for c in summary.get("checks", [])}
    explain = results.get("explain", {})
    return {
        "checks_summary": summary.get("checks", []),
        "checks": results,
        "attributions": [_highlight(e) for e in explain.get("examples", [])],
        "attention_svg": attention_svg(explain.get("attention", {})),
    }


def _highlight(example: dict) -> dict:
    """Tokens with an inline background: red pushes towards the answer, blue away from it."""
    # null: an attribution that could not be computed (NaN, a diverged model): no colour
    values = example.get("attributions", [])
    peak = max((abs(_number(v)) for v in values), default=0.0) or 1.0
    tokens = []
    for token, value in zip(example.get("tokens", []), values, strict=False):
        share = min(abs(_number(value)) / peak, 1.0)
        rgb = "220,60,40" if _number(value) >= 0 else "40,90,220"
        # Only numbers go into the style; the token text is escaped by the template.
        tokens.append(
            {"text": token, "value": value, "style": f"background:rgba({rgb},{share:.2f})"}
        )
    return {"id": example.get("id"), "target": example.get("target", ""), "tokens": tokens}


def attention_svg(attention: dict) -> str:
    """Heads x tokens heat map of one example's last-layer attention (inline SVG, escaped)."""
    heads, tokens = attention.get("heads", []), attention.get("tokens", [])
    if not heads or not tokens:
        return ""
    cell, left, top = 14, 60, 90
    width, height = left + cell * len(tokens) + 10, top + cell * len(heads) + 10
    heads = [[_number(v) for v in row] for row in heads]  # null (NaN) as no attention
    peak = max((v for row in heads for v in row), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" style="font:10px sans-serif">'
    ]
    for j, token in enumerate(tokens):
        x = left + j * cell + cell / 2
        parts.append(
            f'<text transform="translate({x:.0f},{top - 4}) rotate(-60)">'
            f"{escape(token.strip()[:12] or '␣')}</text>"
        )
    for i, row in enumerate(heads):
        y = top + i * cell
        parts.append(f'<text x="{left - 4}" y="{y + 11}" text-anchor="end">head {i}</text>')
        for j, value in enumerate(row):
            shade = int(255 - 215 * value / peak)
            parts.append(
                f'<rect x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="rgb(255,{shade},{shade})"><title>head {i} → '
                f"{escape(tokens[j])}: {value:.3f}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _number(value) -> float:
    return 0.0 if value is None else value


def _read(path: Path) -> dict:
    from tunesmith.artifacts.files import read_json_object

    return read_json_object(path) if path.is_file() else {}
