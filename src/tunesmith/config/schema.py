"""The recipe: one typed, frozen model per stage, composed into `Recipe`.

Field descriptions are the single source of help text (CLI, docs, JSON Schema, UI).
"""

from __future__ import annotations

import string
from typing import Literal

from pydantic import Field, field_validator, model_validator

from tunesmith.config.base import Section
from tunesmith.config.checks import ChecksConfig
from tunesmith.config.curation import CurationConfig

Task = Literal["summarization", "instruction", "chat", "classification", "completion"]
GENERATION_TASKS = ("summarization", "instruction", "chat")


class ModelConfig(Section):
    name: str = Field(
        "smollm2-135m-instruct",
        description="Model to fine-tune: a tunesmith alias (smollm2-135m-instruct), a local "
        "Hugging Face folder, a .gguf file, or a hub id (needs the hub to be reachable).",
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="Where to run: auto picks CUDA, then Apple MPS, else CPU."
    )
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto",
        description="Compute precision. auto = bf16 where the hardware runs it natively "
        "(CPUs with AVX-512 BF16/AMX, recent GPUs), else fp32. Trainable weights stay fp32.",
    )
    threads: int | None = Field(
        None, ge=1, description="CPU threads for torch; default: the number of physical cores."
    )


class SplitConfig(Section):
    validation: float | int = Field(
        0.1, ge=0, description="Validation share (0-1) or number of examples."
    )
    test: float | int = Field(0.2, ge=0, description="Test share (0-1) or number of examples.")
    seed: int = Field(0, description="Seed of the shuffle that makes the split.")
    stratify: bool = Field(
        True, description="Stratify by label for classification (keeps class shares per split)."
    )


class DataConfig(Section):
    train: str = Field(
        ...,
        description="Training data: a .jsonl, .csv, .parquet file (optionally .gz) or a folder "
        "saved with datasets' save_to_disk. Relative paths are relative to the recipe file.",
    )
    validation: str | None = Field(
        None, description="Optional given validation file; otherwise split from `train`."
    )
    test: str | None = Field(None, description="Optional given test file; otherwise split.")
    input_field: str | None = Field(
        None, description="Field holding the input text (default prompt is just this field)."
    )
    output_field: str | None = Field(
        None,
        description="Field holding the target: the response (summarization, instruction) or "
        "the label (classification).",
    )
    messages_field: str = Field(
        "messages", description="chat: field holding the list of {role, content} messages."
    )
    text_field: str = Field("text", description="completion: field holding the raw text.")
    prompt_template: str | None = Field(
        None,
        description="User prompt with {field} slots filled from each record, e.g. "
        "'Summarise:\\n\\n{body}'. Default: '{<input_field>}'.",
    )
    system_prompt: str | None = Field(
        None, description="System message prepended to every conversation (if any)."
    )
    labels: list[str] | None = Field(
        None, description="classification: the allowed labels (default: those seen in train)."
    )
    max_examples: int | None = Field(
        None, ge=1, description="Use at most this many records of `train` (seeded sample)."
    )
    split: SplitConfig = Field(default_factory=SplitConfig)
    curation: CurationConfig = Field(default_factory=CurationConfig)

    @field_validator("prompt_template")
    @classmethod
    def _template_parses(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                list(string.Formatter().parse(value))
            except ValueError as exc:
                raise ValueError(f"prompt_template does not parse: {exc}") from None
        return value

    def template(self) -> str:
        """The effective prompt template."""
        if self.prompt_template is not None:
            return self.prompt_template
        return "{" + str(self.input_field) + "}"

    def template_fields(self) -> list[str]:
        return [f for _, f, _, _ in string.Formatter().parse(self.template()) if f]


class LoraSettings(Section):
    r: int = Field(16, ge=1, description="LoRA rank.")
    alpha: int = Field(32, ge=1, description="LoRA alpha (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: str | list[str] = Field(
        "all-linear",
        description="Modules to adapt: 'all-linear' or a list of module names (q_proj, ...).",
    )


class EarlyStopping(Section):
    enabled: bool = Field(True, description="Stop when validation perplexity stops improving.")
    patience: int = Field(3, ge=1, description="Evaluations without improvement before stopping.")
    min_delta: float = Field(
        0.0, ge=0, description="Smallest drop in validation perplexity that counts as improving."
    )


class TrainingConfig(Section):
    method: Literal["lora", "full"] = Field(
        "lora",
        description="lora: train a LoRA adapter (train/adapter/, PEFT format); full: train "
        "every weight (train/model/, a plain transformers folder).",
    )
    lora: LoraSettings = Field(default_factory=LoraSettings)
    epochs: float = Field(1.0, gt=0, description="Passes over the training split.")
    max_steps: int | None = Field(
        None, ge=1, description="Stop after this many optimizer steps (overrides epochs)."
    )
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate (AdamW).")
    scheduler: Literal["linear", "cosine", "constant"] = Field(
        "cosine", description="Learning-rate schedule after warmup."
    )
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Share of steps spent warming up.")
    batch_size: int = Field(8, ge=1, description="Examples per micro-batch.")
    gradient_accumulation: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    max_seq_length: int = Field(
        256, ge=16, description="Longest tokenised example; longer prompts are cut in the middle."
    )
    seed: int = Field(0, description="Seed for initialisation, shuffling and dropout.")
    eval_every: int = Field(
        25, ge=1, description="Evaluate validation perplexity every N optimizer steps."
    )
    checkpoint_every: int | None = Field(
        None, ge=1, description="Save a resumable checkpoint every N steps (default: eval_every)."
    )
    val_max_examples: int = Field(
        200, ge=1, description="Validation examples used for perplexity during training."
    )
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)


class GenerationConfig(Section):
    max_new_tokens: int = Field(64, ge=1, description="Longest generated answer, in tokens.")
    batch_size: int = Field(16, ge=1, description="Prompts generated together.")


METRIC_NAMES = ("perplexity", "rouge", "bleu", "accuracy", "precision", "recall", "f1")


class TargetConfig(Section):
    metric: str | None = Field(
        None,
        description="Metric the target is judged on (e.g. rougeL, f1, perplexity); default: "
        "the task's headline metric (ROUGE-L, macro-F1 for classification, perplexity for "
        "completion).",
    )
    relative_gain: float = Field(
        0.15,
        description="Required relative improvement of the tuned model over the base model "
        "(0.15 = 15 %; for perplexity a 15 % decrease).",
    )


class EvaluationConfig(Section):
    metrics: list[str] | None = Field(
        None,
        description="Metrics to compute; default by task: perplexity, rouge, bleu for "
        "generation; perplexity, accuracy, precision, recall, f1 for classification; "
        "perplexity for completion.",
    )
    sample_size: int | None = Field(
        None, ge=1, description="Evaluate on at most this many test examples (default: all)."
    )
    few_shot: int = Field(
        3,
        ge=0,
        le=16,
        description="Also score a few-shot prompt baseline: the base model shown this many "
        "training examples as demonstrations (0 = off; prompt/response tasks only).",
    )
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    # Statistics and error analysis (issue 8): see docs/evaluation.md.
    bootstrap_resamples: int = Field(
        1000, ge=1000, description="Paired bootstrap resamples for intervals and p-values."
    )
    bootstrap_seed: int = Field(0, description="Seed of the bootstrap resampling.")
    alpha: float = Field(
        0.05, gt=0, lt=1, description="Significance level: intervals are (1 - alpha) intervals."
    )
    target: TargetConfig = Field(
        default_factory=TargetConfig,
        description="The gain to reach: a pass/fail verdict on the point estimate and on the "
        "interval's lower bound (`tunesmith run --fail-under-target` exits 3 when missed).",
    )
    slice_by: list[str] = Field(
        [],
        description="Data fields to break the metrics down by in eval/errors.json (kept in "
        "data/test.jsonl under `meta`); a field missing from a record is an error.",
    )
    errors_shown: int = Field(
        10, ge=1, le=200, description="Worst cases, regressions and wins listed per kind."
    )
    regression_margin: float = Field(
        0.1,
        ge=0,
        description="A regression (or win) is an example whose per-example headline score "
        "drops (rises) by more than this from base to tuned.",
    )
    previous_run: str | None = Field(
        None,
        description="An earlier run folder (written by `tunesmith refine`): the report shows "
        "this run's tuned model against that run's on the shared test examples.",
    )

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str] | None) -> list[str] | None:
        from tunesmith.errors import suggest

        for name in value or []:
            if name not in METRIC_NAMES:
                raise ValueError(
                    f"unknown metric '{name}'{suggest(name, METRIC_NAMES)}; "
                    f"known: {', '.join(METRIC_NAMES)}"
                )
        return value


# After TrainingConfig: the pretrain section extends it (same loop, same settings).
from tunesmith.config.pretrain import PretrainConfig  # noqa: E402


class Recipe(Section):
    name: str = Field("tunesmith-run", description="Run name (prefix of the run folder).")
    task: Task = Field(..., description="What the model learns to do.")
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig
    pretrain: PretrainConfig | None = Field(
        None,
        description="Continued pre-training on raw domain text before fine-tuning (off unless "
        "given); fine-tuning then starts from the pre-trained weights.",
    )
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    checks: ChecksConfig = Field(default_factory=ChecksConfig, description="Model risk checks.")

    @field_validator("model", mode="before")
    @classmethod
    def _model_shorthand(cls, value: object) -> object:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _fields_for_task(self) -> Recipe:
        data = self.data
        if self.task in ("summarization", "instruction", "classification"):
            if data.output_field is None:
                raise ValueError(f"data.output_field is required for task '{self.task}'")
            if data.input_field is None and data.prompt_template is None:
                raise ValueError(
                    f"data.input_field or data.prompt_template is required for task '{self.task}'"
                )
        self._target_is_scored()
        return self

    def _target_is_scored(self) -> None:
        from tunesmith.config.tasks import metric_keys

        keys = metric_keys(self.metrics())
        if self.target_metric() not in keys:
            raise ValueError(
                f"evaluation.target.metric '{self.target_metric()}' is not computed; "
                f"computed: {', '.join(keys)}"
            )

    def metrics(self) -> list[str]:
        """The metrics to compute: the recipe's list or the task's defaults."""
        from tunesmith.config.tasks import task_spec

        if self.evaluation.metrics is not None:
            return list(self.evaluation.metrics)
        return list(task_spec(self.task).metrics)

    def target_metric(self) -> str:
        """The metric key the target verdict is judged on."""
        from tunesmith.config.tasks import task_spec

        return self.evaluation.target.metric or task_spec(self.task).headline
