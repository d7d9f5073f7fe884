"""Re-running the evaluation with more metrics takes the saved generations again instead of
generating; a change of generation settings generates anew."""

from __future__ import annotations

from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.artifacts.files import read_json
from tunesmith.config import load_recipe
from tunesmith.config.overrides import override_recipe
from tunesmith.pipeline import run_pipeline


def _counting(monkeypatch) -> list[int]:
    """Patch generation to count the prompts it is asked for (and still generate them)."""
    import tunesmith.models.generation as generation

    asked: list[int] = []
    real = generation.generate_texts

    def counted(model, tokenizer, prompts, *args, **kwargs):
        asked.append(len(prompts))
        return real(model, tokenizer, prompts, *args, **kwargs)

    monkeypatch.setattr(generation, "generate_texts", counted)
    return asked


def test_more_metrics_reuse_saved_generations(tmp_path, tiny_recipe, monkeypatch):
    recipe = load_recipe(tiny_recipe(**{"training.max_steps": 2, "evaluation.sample_size": 6}))
    recipe = override_recipe(recipe, {"evaluation.metrics": ["rouge"]}, "test")
    run_dir = RunDir(tmp_path / "run")
    stages = ["data", "train", "evaluate"]
    asked = _counting(monkeypatch)
    run_pipeline(recipe, run_dir, only=stages)
    first = read_jsonl(run_dir.eval / "predictions" / "test.tuned.jsonl")
    rows = len(asked)  # base, few-shot and tuned: 6 examples each
    assert asked == [6] * rows and rows == 3
    assert all(len(row["generation_key"]) == 20 for row in first)

    asked.clear()
    more = override_recipe(recipe, {"evaluation.metrics": ["rouge", "bleu"]}, "test")
    run_pipeline(more, run_dir, only=["evaluate"])
    again = read_jsonl(run_dir.eval / "predictions" / "test.tuned.jsonl")
    assert asked == [0] * rows  # nothing generated: every prediction was saved
    assert [r["prediction"] for r in again] == [r["prediction"] for r in first]
    assert "bleu_stats" in again[0]["scores"] and "bleu_stats" not in first[0]["scores"]

    asked.clear()
    longer = override_recipe(more, {"evaluation.generation.max_new_tokens": 9}, "test")
    run_pipeline(longer, run_dir, only=["evaluate"])
    assert asked == [6] * rows  # another generation setting: generated again

    asked.clear()
    stopped = override_recipe(longer, {"evaluation.generation.stop": ["zzz"]}, "test")
    run_pipeline(stopped, run_dir, only=["evaluate"])
    assert asked == [6] * rows  # other stop strings: generated again
    assert read_json(run_dir.eval / "compare.json")["stop"] == ["zzz"]
