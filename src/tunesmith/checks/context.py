"""What every check gets: the recipe, the run folder, base and tuned model (loaded once)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cached_property

from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.config.schema import Recipe
from tunesmith.config.tasks import TaskSpec, task_spec

MODELS = ("base", "tuned")  # the evaluation rows every check compares


@dataclass
class CheckContext:
    recipe: Recipe
    run_dir: RunDir
    _models: dict = field(default_factory=dict)
    _saved: dict = field(default_factory=dict)  # row name -> SavedOutputs (evaluate/reuse.py)

    @cached_property
    def spec(self) -> TaskSpec:
        return task_spec(self.recipe.task)

    @cached_property
    def tokenizer(self):
        self._load()
        return self._tokenizer

    def model(self, name: str):
        """The evaluation row `name` ("base" or "tuned"), built as the evaluate stage does."""
        if name not in self._models:
            from tunesmith.evaluate.rows import ROWS

            self._load()
            self._models[name] = ROWS.get(name).load(
                self.recipe, self.run_dir, copy.deepcopy(self._base)
            )
            self._models[name].eval()
        return self._models[name]

    def _load(self) -> None:
        if not hasattr(self, "_base"):
            from tunesmith.evaluate.stage import _load_base

            self._base, self._tokenizer, self._precision = _load_base(self.recipe)

    @cached_property
    def test(self) -> list[dict]:
        rows = read_jsonl(self.run_dir.data / "test.jsonl")
        return rows[: self.recipe.evaluation.sample_size]

    @cached_property
    def labels(self) -> list[str] | None:
        from tunesmith.evaluate.labels import recipe_labels

        return recipe_labels(self.recipe, self.run_dir)

    def predictions(self, name: str) -> list[dict]:
        """eval/predictions/test.<name>.jsonl: the evaluate stage's scores on unchanged inputs."""
        return read_jsonl(self.run_dir.eval / "predictions" / f"test.{name}.jsonl")

    def score(self, name: str, examples: list[dict]) -> list[dict]:
        """Prediction rows of model `name` on `examples`, scored exactly as evaluate does
        (outputs an earlier run on this machine computed are taken again, evaluate/reuse.py)."""
        from tunesmith.evaluate.scoring import score_model
        from tunesmith.evaluate.stop import stop_strings

        return score_model(
            self.model(name),
            self.tokenizer,
            examples,
            self.recipe,
            self.spec.generates,
            self.labels,
            None,
            self.saved_outputs(name),
            stop=stop_strings(self.recipe, self.run_dir.data),
        )

    def continuation_nll(self, name: str, pairs: list[tuple[str, str]]) -> list[tuple[float, int]]:
        """(NLL sum, tokens) of each (context, continuation) pair under model `name`; pairs an
        earlier run on this machine scored with the same model are taken again."""
        from tunesmith.checks.likelihood import continuation_nll

        return continuation_nll(
            self.model(name), self.tokenizer, pairs, reuse=self.saved_outputs(name)
        )

    def saved_outputs(self, name: str):
        """Outputs of model `name` earlier runs on this machine computed (evaluate/reuse.py;
        None when evaluation.reuse is off)."""
        if name not in self._saved:
            from tunesmith.evaluate.reuse import saved_outputs
            from tunesmith.evaluate.rows import ROWS

            self._load()
            row = ROWS.get(name)
            self._saved[name] = saved_outputs(self.recipe, self.run_dir, row, None, self._precision)
        return self._saved[name]


def prediction_inputs(recipe: Recipe, run_dir: RunDir) -> list:
    """The evaluate stage's predictions of base and tuned (read by several checks)."""
    return [run_dir.eval / "predictions" / f"test.{name}.jsonl" for name in MODELS]
