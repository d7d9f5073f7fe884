"""The console's figures tables say what the report says about intervals not to trust."""

from __future__ import annotations

from rich.console import Console

from tunesmith.cli.eval_print import pairs_table, rows_table

CAUTION = "1 class(es) averaged over have fewer than 10 test rows (fewest: 2)"
PAIR = {"a": 0.5, "b": 0.6, "delta": 0.1, "ci_low": -0.1, "ci_high": 0.3, "p_value": 0.4}
PAIR.update({"test": "paired bootstrap", "better": False, "worse": False, "significant": False})


def _text(table) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def _metric(value):
    return {"value": value, "ci_low": value - 0.1, "ci_high": value + 0.1, "n": 20}


def test_the_rows_table_names_a_macro_interval_over_a_thin_class():
    rows = {name: {"label": name, "metrics": {"f1": _metric(0.5)}} for name in ("base", "tuned")}
    compare = {"sample_size": 20, "rows": rows, "metrics": {"f1": {**PAIR, "caution": CAUTION}}}
    assert f"f1 intervals: {CAUTION}" in _text(rows_table(compare))
    compare["metrics"]["f1"] = PAIR
    assert "intervals:" not in _text(rows_table(compare))


def test_the_pairs_table_names_it_too():
    text = _text(pairs_table("B vs A", {"f1": {**PAIR, "caution": CAUTION}}, "A", "B"))
    assert f"f1 intervals: {CAUTION}" in text


def test_tables_show_a_figure_that_could_not_be_computed_as_a_dash():
    """compare.json holds null for a diverged model's NaN perplexity: the headline table of
    `tunesmith run` / `evaluate` failed with a TypeError traceback after the report was made."""
    missing = {**PAIR, "delta": None, "ci_low": None, "ci_high": None, "p_value": None}
    rows = {"base": {"label": "base", "metrics": {"perplexity": _metric(900.0)}}}
    rows["tuned"] = {"label": "tuned", "metrics": {"perplexity": missing | {"value": None}}}
    compare = {"sample_size": 20, "rows": rows, "metrics": {"perplexity": missing}}
    line = next(li for li in _text(rows_table(compare)).splitlines() if "perplexity" in li)
    assert "– [–, –] │     – [–, –] │ – │" in line
    line = next(
        li
        for li in _text(pairs_table("B vs A", {"ppl": missing}, "A", "B")).splitlines()
        if "ppl" in li
    )
    assert "– [–, –] │ – (paired bootstrap) │" in line


def test_a_target_on_a_base_value_of_0_is_not_judged_rather_than_failed(tmp_path, capsys):
    """A relative gain over 0 is undefined: the console and the report said `FAIL target not
    judged`, which reads as a missed target (a real base model can score 0 ROUGE-L or F1)."""
    import json

    from tunesmith.artifacts import RunDir
    from tunesmith.cli.run_cmd import print_headline
    from tunesmith.config.schema import Recipe
    from tunesmith.evaluate.comparison import target_verdict
    from tunesmith.report.templating import html_templates

    data = {"train": "t.jsonl", "input_field": "a", "output_field": "b"}
    recipe = Recipe.model_validate({"task": "summarization", "data": data})
    verdict = target_verdict(recipe, {"rougeL": {**PAIR, "improvement": None}})
    assert (verdict["passed"], verdict["judged"]) == (False, False)
    run_dir = RunDir(tmp_path)
    run_dir.eval.mkdir(parents=True)
    compare = {"sample_size": 20, "target": verdict}
    (run_dir.eval / "compare.json").write_text(json.dumps(compare), encoding="utf-8")
    print_headline(run_dir)
    assert "target: NOT JUDGED target not judged: base value is 0" in capsys.readouterr().out
    page = html_templates("report").get_template("eval_headline.html.j2")
    rows = {"tuned": {"label": "tuned", "metrics": {}}}
    html = page.render(compare={**compare, "rows": rows, "metrics": {}, "confidence": 0.95})
    assert "rougeL): NOT JUDGED — target not judged" in html
    verdict.pop("judged")  # compare.json of an earlier version
    html = page.render(compare={**compare, "rows": rows, "metrics": {}, "confidence": 0.95})
    assert "rougeL): FAIL — target not judged" in html
