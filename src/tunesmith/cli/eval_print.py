"""Terminal tables of evaluation results: intervals, direction and significance in words."""

from __future__ import annotations

from rich.table import Table

from tunesmith.report.templating import format_or_missing


def figures():
    """The console for headline figures: stdout (progress and logs go to stderr), so that
    `tunesmith evaluate RUN > figures.txt` keeps them; piped or captured (CI logs, `| tee`),
    wide enough that no figure or direction wraps."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)


def _num(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.1f}"


def _delta(pair: dict) -> str:
    """The paired difference and its interval; '–' where compare.json holds null (a figure
    that could not be computed: a diverged model's NaN perplexity)."""
    delta = format_or_missing("%+.4g", pair["delta"])
    return f"{delta} {_interval(pair['ci_low'], pair['ci_high'])}"


def _interval(low: float, high: float) -> str:
    return f"[{_num(low)}, {_num(high)}]"


def metric_name(name: str, pair: dict) -> str:
    return f"{name} ({'lower' if pair.get('lower_is_better') else 'higher'} is better)"


def direction_note(metrics: dict) -> str:
    """One line naming the metrics where lower is better (tables wrap long cells)."""
    lower = [name for name, pair in metrics.items() if pair.get("lower_is_better")]
    return f"lower is better: {', '.join(lower)}; higher is better: the others" if lower else ""


def short_verdict(pair: dict) -> str:
    if pair["better"]:
        return "better, significant"
    return "worse, significant" if pair["worse"] else "not significant"


def rows_table(compare: dict) -> Table:
    """Every row's value with its interval, and tuned vs base as a paired delta."""
    confidence = round(100 * compare.get("confidence", 0.95))
    table = Table(
        title=f"{compare.get('split', 'test')} split, n = {compare['sample_size']} "
        f"({confidence} % intervals)"
    )
    table.add_column("metric")
    rows = compare.get("rows", {})
    for name in rows:  # short names keep the table within 80 columns; labels are below
        table.add_column(name, justify="right")
    table.add_column("tuned − base", justify="right")
    table.add_column("p", justify="right")
    table.add_column("significance")
    for name, pair in compare.get("metrics", {}).items():
        cells = [
            f"{_num(v['metrics'][name]['value'])} "
            f"{_interval(v['metrics'][name]['ci_low'], v['metrics'][name]['ci_high'])}"
            if name in v["metrics"]
            else "–"
            for v in rows.values()
        ]
        p = format_or_missing("%.2g", pair["p_value"])
        table.add_row(metric_name(name, pair), *cells, _delta(pair), p, short_verdict(pair))
    labels = "; ".join(f"{name} = {info['label']}" for name, info in rows.items())
    table.caption = "\n".join([labels, *cautions(compare.get("metrics", {}))])
    return table


def cautions(metrics: dict) -> list[str]:
    """The intervals not to take at face value (a macro average over a class with few test
    rows), as the report says them under its table."""
    return [
        f"{name} intervals: {pair['caution']}"
        for name, pair in metrics.items()
        if pair.get("caution")
    ]


def pairs_table(title: str, metrics: dict, a: str, b: str) -> Table:
    """b vs a on shared examples: values, delta with interval, p-value, verdict."""
    table = Table(title=title)
    for column in ("metric", a, b, f"{b} − {a} [interval]", "p", "significance"):
        table.add_column(
            column, justify="left" if column in ("metric", "significance") else "right"
        )
    for name, pair in metrics.items():
        table.add_row(
            metric_name(name, pair),
            _num(pair["a"]),
            _num(pair["b"]),
            _delta(pair),
            f"{format_or_missing('%.3g', pair['p_value'])} ({pair['test']})",
            short_verdict(pair),
        )
    table.caption = "\n".join(cautions(metrics)) or None
    return table
