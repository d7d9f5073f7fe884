"""Settings of classification evaluation (label-likelihood scoring, calibration, baseline)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from tunesmith.config.base import Section, adds_no_rule, rule
from tunesmith.config.label_text import label_text


class ClassificationEval(Section):
    scoring: Literal["likelihood", "generate"] = Field(
        "likelihood",
        description="likelihood: score every known label by its log-probability after the "
        "prompt and predict the most likely (fair to the base model, gives probabilities); "
        "generate: generate text and match it to a label (reports the invalid-label rate).",
    )
    length_normalization: Literal["sum", "mean"] = Field(
        "sum",
        description="How a several-token label's log-probability is combined: sum (the exact "
        "probability of the whole answer, end-of-turn included) or mean (per token; favours "
        "long labels less).",
    )
    positive_label: str | None = Field(
        None,
        description="Binary tasks (an error on a multi-class task): the positive class for "
        "ROC/PR curves and the threshold "
        "(default: the rarer class in the training split; on a tie, a class named 1, true, "
        "yes, positive or pos, else the first in sorted order). Written like the data's labels: "
        "`positive_label: 1` or `true` names the class of JSON 1 or true.",
    )
    threshold: bool | None = Field(
        None,
        description="Binary tasks: choose the decision threshold that maximises the positive "
        "class's F1 on the validation split (never the test split). Default: on for binary "
        "tasks scored by likelihood; true on a multi-class task or with scoring: generate is an "
        "error.",
    )
    classic_baseline: bool = Field(
        True,
        description="Add a TF-IDF + logistic-regression row (scikit-learn, trained on the same "
        "training split, about a second) to every classification comparison.",
    )

    @field_validator("positive_label", mode="before")
    @classmethod
    @adds_no_rule
    def _label_as_text(cls, value):
        # YAML reads `positive_label: 1` or `true` as a number or boolean, which pydantic
        # refused as "not a valid string" although `data.labels: [0, 1]` works; spelled as the
        # data's labels are (JSON's spelling, surrounding whitespace dropped) so they compare
        if isinstance(value, (bool, int, float)):
            return label_text(value)
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    @rule("true needs scoring: likelihood", "threshold")
    def _threshold_needs_probabilities(self):
        # generated answers carry no class probabilities to threshold: the run used to skip
        # the threshold without a word although the recipe asked for it
        if self.threshold and self.scoring != "likelihood":
            raise ValueError(
                "threshold: true needs scoring: likelihood (generated answers have no class "
                "probabilities to put a threshold on)"
            )
        return self
