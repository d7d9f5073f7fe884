"""The search's val_metric objective scores classification against the same labels as the
evaluate stage and the checks: data.labels, else those seen in train (the documented default),
so label-likelihood scoring is not silently turned into free generation."""

from __future__ import annotations

from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.config import load_recipe
from tunesmith.pipeline import run_pipeline

EVALUATION = {"classification": {"scoring": "likelihood"}, "few_shot": 0}


def test_val_metric_labels_default_to_those_seen_in_train(tiny_recipe, tmp_path, monkeypatch):
    import tunesmith.evaluate.scoring as scoring
    import tunesmith.evaluate.stage as evaluate_stage
    from tunesmith.checks.context import CheckContext
    from tunesmith.evaluate.labels import recipe_labels
    from tunesmith.tune.objective import objective_value

    path = tiny_recipe(
        **{"task": "classification", "data.output_field": "section"},
        **{"data.prompt_template": None, "evaluation": EVALUATION},
        search={
            "objective": "val_metric",
            "space": {"training.lora.r": {"type": "int", "low": 2, "high": 4}},
        },
    )
    recipe = load_recipe(path)
    assert recipe.data.labels is None
    run_dir = RunDir(tmp_path / "run")
    run_pipeline(recipe, run_dir, only=["data"])
    seen = sorted({e["label"] for e in read_jsonl(run_dir.data / "train.jsonl")})

    calls, original = [], scoring.score_model

    def spy(model, tokenizer, examples, recipe, generate, labels, *rest, **kw):
        rows = original(model, tokenizer, examples, recipe, generate, labels, *rest, **kw)
        calls.append((labels, [r["prediction"] for r in rows]))
        return rows

    monkeypatch.setattr(scoring, "score_model", spy)
    # the plain base stands in for the trial's tuned model: only the labels are under test
    monkeypatch.setattr(evaluate_stage, "with_adapter", lambda model, run, training: model)
    assert 0.0 <= objective_value(recipe, run_dir, "val_metric") <= 1.0
    ((labels, predictions),) = calls
    assert labels == seen == ["devel", "utils"]
    assert set(predictions) <= set(seen)  # each a label's likelihood, no free generation
    # one definition shared by the evaluate stage and the checks
    assert recipe_labels(recipe, run_dir) == labels
    assert CheckContext(recipe, run_dir).labels == labels
