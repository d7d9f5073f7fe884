"""The `search:` recipe section: what `tunesmith tune` searches, how, and for how long."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from tunesmith.config.base import Section, rule
from tunesmith.config.tasks import METRIC_NAMES, check_metric_name

Choice = str | int | float | bool | dict | list | None


class _Range(Section):
    """A numeric range; subclasses declare low/high/log/step with their own types."""

    @model_validator(mode="after")
    @rule("≥ low", "high")
    @rule("needs low > 0", "log")
    @rule("with log: left at its default (a log range has no grid)", "step")
    def _non_empty(self):
        if self.high < self.low:
            raise ValueError(f"empty range: high ({self.high}) is below low ({self.low})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0 (got {self.low})")
        # Optuna refused it in every trial, each one failed ("step is not supported when log")
        default = type(self).model_fields["step"].default
        if self.log and self.step != default:
            raise ValueError(f"step {self.step} with log: a log range has no grid; leave out step")
        return self


class FloatRange(_Range):
    type: Literal["float"] = Field(description="A real number in [low, high].")
    low: float = Field(description="Smallest value.")
    high: float = Field(description="Largest value.")
    log: bool = Field(False, description="Sample on a log scale (learning rates).")
    step: float | None = Field(None, gt=0, description="Optional grid step.")


class IntRange(_Range):
    type: Literal["int"] = Field(description="An integer in [low, high].")
    low: int = Field(description="Smallest value.")
    high: int = Field(description="Largest value.")
    log: bool = Field(False, description="Sample on a log scale.")
    step: int = Field(1, ge=1, description="Grid step.")


class Categorical(Section):
    type: Literal["categorical"] = Field(description="One of a list of choices.")
    choices: list[Choice] = Field(
        min_length=1, description="The values to try (numbers, strings, booleans, null, mappings)."
    )


Distribution = Annotated[FloatRange | IntRange | Categorical, Field(discriminator="type")]


# A sensible space per training method (keys are recipe keys; see docs/tuning.md).
DEFAULT_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    "lora": {
        "training.learning_rate": {"type": "float", "low": 5e-5, "high": 5e-3, "log": True},
        "training.lora.r": {"type": "categorical", "choices": [4, 8, 16, 32]},
        "training.lora.alpha": {"type": "categorical", "choices": [8, 16, 32, 64]},
        "training.lora.dropout": {"type": "float", "low": 0.0, "high": 0.2},
        "training.weight_decay": {"type": "float", "low": 0.0, "high": 0.1},
        "training.batch_size": {"type": "categorical", "choices": [4, 8, 16]},
    },
    "full": {
        "training.learning_rate": {"type": "float", "low": 1e-6, "high": 1e-4, "log": True},
        "training.weight_decay": {"type": "float", "low": 0.0, "high": 0.1},
        "training.warmup_ratio": {"type": "float", "low": 0.0, "high": 0.2},
        "training.batch_size": {"type": "categorical", "choices": [4, 8, 16]},
    },
    # IA3 and prompt tuning train few parameters: they need larger learning rates.
    "ia3": {
        "training.learning_rate": {"type": "float", "low": 1e-4, "high": 3e-2, "log": True},
        "training.batch_size": {"type": "categorical", "choices": [4, 8, 16]},
    },
    "prompt_tuning": {
        "training.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
        "training.prompt_tuning.num_virtual_tokens": {
            "type": "categorical",
            "choices": [8, 16, 32],
        },
        "training.batch_size": {"type": "categorical", "choices": [4, 8, 16]},
    },
    "loha": {
        "training.learning_rate": {"type": "float", "low": 5e-5, "high": 5e-3, "log": True},
        "training.loha.r": {"type": "categorical", "choices": [4, 8, 16]},
        "training.loha.alpha": {"type": "categorical", "choices": [8, 16, 32]},
        "training.batch_size": {"type": "categorical", "choices": [4, 8, 16]},
    },
    "freeze": {
        "training.learning_rate": {"type": "float", "low": 1e-6, "high": 1e-4, "log": True},
        "training.freeze.train_top": {"type": "int", "low": 1, "high": 8},
        "training.weight_decay": {"type": "float", "low": 0.0, "high": 0.1},
    },
}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """'90' / '90s' / '30m' / '2h' / '1.5d' -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a duration (e.g. 90s, 30m, 2h)")
    return float(match.group(1)) * _SECONDS[match.group(2)]


class SearchConfig(Section):
    space: dict[str, Distribution] | Literal["default"] = Field(
        "default",
        description="Recipe keys to search (dotted, as --set writes them), each with a "
        "distribution (the search.space.<key> sections); every choice and both ends of a range "
        "must be values the key accepts, and a key no trial reads is refused. 'default' = the "
        "shipped space for training.method.",
    )
    objective: Literal["val_perplexity", "val_metric"] = Field(
        "val_perplexity",
        description="What a trial is judged by, on the validation split only: the best "
        "validation perplexity of training, or `metric` generated on validation examples.",
    )
    metric: str | None = Field(
        None,
        description="val_metric: the task metric (rouge, bleu, accuracy, f1, ...); default: "
        "the task's first non-perplexity metric.",
    )
    trials: int = Field(20, ge=1, description="Trials (complete + pruned) the study runs to.")
    timeout: str | None = Field(None, description="Wall-clock budget per command, e.g. 2h, 30m.")
    seed: int = Field(0, description="Seed of the TPE sampler.")
    startup_trials: int = Field(
        5, ge=0, description="Random trials before TPE models the space; also pruner warm-up."
    )
    pruner: Literal["median", "hyperband", "none"] = Field(
        "median", description="Stops poor trials early from their validation perplexity."
    )
    storage: str | None = Field(
        None,
        description="Optuna storage: a journal file path (default: hpo/study.journal) or an "
        "RDB URL (postgresql://user:pass@host/db) shared by workers on several machines.",
    )
    study: str | None = Field(None, description="Study name (default: the recipe name).")
    final: bool = Field(
        True, description="After the search, run best and default recipes once on test."
    )

    @field_validator("metric")
    @classmethod
    @rule(f"one of {', '.join(n for n in METRIC_NAMES if n != 'perplexity')}")
    def _maximised_metric(cls, value: str | None) -> str | None:
        """A typo would pass until every trial had trained and then failed, and `perplexity`
        would be maximised (the worst trial judged best): both are refused up front."""
        if value is not None:
            check_metric_name(value)
            if value == "perplexity":
                raise ValueError(
                    "val_metric maximises its metric; search perplexity with "
                    "`objective: val_perplexity`"
                )
        return value

    @field_validator("timeout")
    @classmethod
    @rule("a duration: 90 (seconds), 90s, 30m, 2h, 1.5d")
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value
