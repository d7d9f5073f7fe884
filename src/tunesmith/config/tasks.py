"""Task specs: what each task generates, its default metrics and its ONE headline metric.

A leaf (no torch). Evaluation, the target verdict, few-shot baselines and `refine` read these
specs instead of checking task names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tunesmith.registry import Registry

# The scores a metric name produces (the keys of metrics.json / compare.json).
METRIC_KEYS: dict[str, tuple[str, ...]] = {
    "perplexity": ("perplexity",),
    "rouge": ("rouge1", "rouge2", "rougeL"),
    "bleu": ("bleu",),
    "accuracy": ("accuracy",),
    "precision": ("precision",),
    "recall": ("recall",),
    "f1": ("f1",),
}

METRIC_NAMES = tuple(METRIC_KEYS)


def check_metric_name(name: str) -> None:
    """ValueError unless `name` is a metric (evaluation.metrics, search.metric), with a
    did-you-mean."""
    from tunesmith.errors import suggest

    if name not in METRIC_NAMES:
        raise ValueError(
            f"unknown metric '{name}'{suggest(name, METRIC_NAMES)}; "
            f"known: {', '.join(METRIC_NAMES)}"
        )


PROMPT_FIELDS = {"input_field": "prompt", "output_field": "response", "prompt_template": None}


@dataclass(frozen=True)
class TaskSpec:
    name: str
    generates: bool  # is an answer generated and scored as text?
    has_label: bool  # classification: the answer is one of a set of labels
    few_shot: bool  # can the base model be shown worked demonstrations?
    metrics: tuple[str, ...]  # default metrics
    headline: str  # the metric key the target verdict is judged on
    # recipe `data` keys that read tunesmith's normalized example records back (refine)
    record_fields: dict = field(default_factory=dict)

    @property
    def prompted(self) -> bool:
        """Is an example built from a prompt (input field or template) and an output field?"""
        return "output_field" in self.record_fields


TASKS: Registry[TaskSpec] = Registry("task")


def _add(spec: TaskSpec) -> None:
    TASKS.register(spec.name, spec)


_GEN = ("perplexity", "rouge", "bleu")
_add(TaskSpec("summarization", True, False, True, _GEN, "rougeL", PROMPT_FIELDS))
_add(TaskSpec("instruction", True, False, True, _GEN, "rougeL", PROMPT_FIELDS))
_add(TaskSpec("chat", True, False, False, _GEN, "rougeL", {"messages_field": "messages"}))
_add(
    TaskSpec(
        "classification",
        True,
        True,
        True,
        ("perplexity", "accuracy", "precision", "recall", "f1"),
        "f1",
        PROMPT_FIELDS,
    )
)
_add(
    TaskSpec(
        "completion", False, False, False, ("perplexity",), "perplexity", {"text_field": "text"}
    )
)


def task_spec(name: str) -> TaskSpec:
    return TASKS.get(name)


def metric_keys(names: list[str]) -> list[str]:
    """The score keys produced by metric names (rouge -> rouge1, rouge2, rougeL)."""
    return [key for name in names for key in METRIC_KEYS[name]]
