"""The recipe: one typed, frozen model per stage, composed into `Recipe`.

Field descriptions are the single source of help text (CLI, docs, JSON Schema, UI).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeFloat, NonNegativeInt, field_validator, model_validator

from tunesmith.config.base import SHARE_OR_COUNT_RULE, Section, adds_no_rule, rule, share_or_count
from tunesmith.config.checks import ChecksConfig
from tunesmith.config.classification import ClassificationEval
from tunesmith.config.curation import CurationConfig
from tunesmith.config.export import DistillConfig, ExportConfig
from tunesmith.config.federated import FederatedConfig
from tunesmith.config.group import GroupConfig
from tunesmith.config.label_text import label_text
from tunesmith.config.search import SearchConfig
from tunesmith.config.tasks import METRIC_NAMES, TASKS, check_metric_name, task_spec
from tunesmith.config.template import fill_template, parse_template, plain_slots, template_fields
from tunesmith.config.tracking import TrackingConfig
from tunesmith.config.training import LoraTraining, TrainingConfig, default_method

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
    # the limit sits on each member (not on the Field) so the JSON Schema says `minimum`
    validation: NonNegativeFloat | NonNegativeInt = Field(
        0.1,
        description="Validation share or count: a number with a decimal point in [0, 1] is a "
        "share of the data (1.0 = all of it), an integer is a number of examples.",
    )
    test: NonNegativeFloat | NonNegativeInt = Field(
        0.2, description="Test share (0.0-1.0, e.g. 0.2) or count (an integer, e.g. 200)."
    )
    seed: int = Field(0, description="Seed of the shuffle that makes the split.")
    stratify: bool = Field(
        True,
        description="Stratify by label for classification (keeps class shares per split): the "
        "requested validation/test sizes are met exactly, spread over the classes in proportion "
        "(largest remainder, ties broken by the seed), and every class keeps at least one "
        "training row while those sizes allow it.",
    )

    @field_validator("validation", "test", mode="before")
    @classmethod
    @rule(SHARE_OR_COUNT_RULE)
    def _share_or_count(cls, value):
        return share_or_count(value)


def _spelled(value: object) -> object:
    """A recipe's label as the data's labels are written (other values are left to pydantic)."""
    return label_text(value) if isinstance(value, (bool, int, float)) else value


class DataConfig(Section):
    train: str = Field(
        ...,
        description="Training data: a .jsonl, .csv, .tsv (see csv_delimiter), "
        ".parquet file, or a .json file holding one JSON array of records (each optionally "
        ".gz), or a folder saved with datasets' save_to_disk (a DatasetDict: its train split, "
        "else its first, and its own validation (or valid, val, dev) and test splits as "
        "data.validation and data.test unless the recipe gives those; name a split's "
        "subfolder to read another). Relative paths are relative to the recipe file.",
    )
    validation: str | None = Field(
        None,
        description="Optional given validation file; otherwise the saved DatasetDict's own "
        "validation split, else split from `train`.",
    )
    test: str | None = Field(
        None,
        description="Optional given test file; otherwise the saved DatasetDict's own test "
        "split, else split from `train`.",
    )
    csv_delimiter: Literal["auto", ",", ";", "\t", "|"] = Field(
        "auto",
        description="Separator of .csv/.tsv data files: auto reads a .tsv file tab-separated "
        "and a .csv file by the one separator among , ; tab | that its header line holds (none: "
        'one column; several: an error asking for this key). Write tab as "\\t" or tab.',
    )
    input_field: str | None = Field(
        None,
        description="Field holding the input text (default prompt is just this field). A "
        "dotted path such as meta.title names a key of an object field when no field has that "
        "whole name (here, in template slots, in the other data.* field keys, "
        "evaluation.slice_by and federated.partition_field).",
    )
    output_field: str | None = Field(
        None,
        description="Field holding the target: the response (summarization, instruction) or "
        "the label (classification).",
    )
    messages_field: str = Field(
        "messages",
        description="chat: field holding the list of {role, content} messages (or ShareGPT's "
        "{from, value}, from: human, gpt or system). The target is the last non-blank "
        "assistant turn; turns after it are cut.",
    )
    text_field: str = Field("text", description="completion: field holding the raw text.")
    prompt_template: str | None = Field(
        None,
        description="User prompt with {field} slots filled from each record, e.g. "
        "'Summarise:\\n\\n{body}'. Default: '{<input_field>}'. An optional section "
        "{#field}...{/field} is kept only when the record's field is not blank; a blank, null "
        "or missing one drops the whole section (Dolly: '{instruction}{#context}\\n\\nContext: "
        "{context}{/context}'); {^field}...{/field} is kept only when it is blank or missing. "
        "Sections nest (an inner one is kept only inside a kept outer one); a blank slot at "
        "the prompt's start or end leaves no blank lines; "
        "write a literal brace as {{ or }}.",
    )
    system_prompt: str | None = Field(
        None, description="System message prepended to every conversation (if any)."
    )
    labels: list[str] | None = Field(
        None,
        description="classification: the allowed labels (default: those seen in train); "
        "every label of the data must be one of them. Numbers and booleans are written as "
        "JSON writes them (1, not 1.0; true, not True), as labels read from the data are.",
    )
    label_map: dict[str, str] | None = Field(
        None,
        description="classification: the text each raw label becomes, e.g. {0: negative, "
        "1: positive} (a verbaliser: the model learns and is scored on words it can read, and "
        "the zero- and few-shot baselines see them too), or {GAMES: games} to merge a class "
        "written two ways. Applied as records are read, before splitting, balancing and "
        "data.labels, which names the mapped labels; a label the map does not name stays as "
        "it is. Keys are written like the data's labels (JSON's spelling: 1, true).",
    )
    fill_missing: dict[str, str] = Field(
        default_factory=dict,
        description="Value per field name used where a record has that field null or missing "
        "(or a CSV row is short), e.g. {title: untitled}. Without one such records are dropped "
        "and counted in the data card; empty prompts and targets are always dropped.",
    )
    max_examples: int | None = Field(
        None, ge=1, description="Use at most this many records of `train` (seeded sample)."
    )
    difficulty_field: str | None = Field(
        None,
        description="Numeric field of each record kept as its difficulty, for "
        "training.curriculum.scorer: field.",
    )
    split: SplitConfig = Field(default_factory=SplitConfig)
    curation: CurationConfig = Field(default_factory=CurationConfig)

    @field_validator("csv_delimiter", mode="before")
    @classmethod
    @adds_no_rule
    def _tab_by_name(cls, value):
        return "\t" if value == "tab" else value

    @field_validator("labels", mode="before")
    @classmethod
    @adds_no_rule
    def _labels_as_text(cls, value):
        # YAML reads `labels: [0, 1]` or `[true, false]` as numbers and booleans; the data's
        # labels of those types become text the same way, so the two can be compared
        if isinstance(value, list):
            return [_spelled(v) for v in value]
        return value

    @field_validator("label_map", mode="before")
    @classmethod
    @adds_no_rule
    def _label_map_as_text(cls, value):
        # YAML reads `{0: negative, true: yes}` with number and boolean keys (and values):
        # spelled as the data's labels are, so a raw label finds its key
        if isinstance(value, dict):
            return {_spelled(k): _spelled(v) for k, v in value.items()}
        return value

    @field_validator("label_map")
    @classmethod
    @rule("each label maps to a non-blank one")
    def _label_map_names_labels(cls, value: dict[str, str] | None):
        if value is None:
            return value
        blank = [key for key, label in value.items() if not label.strip()]
        if blank:
            raise ValueError(f"label {blank[0]!r} maps to a blank label")
        return {key.strip(): label.strip() for key, label in value.items()}

    @field_validator("prompt_template")
    @classmethod
    @rule(
        "not blank; {field} or {field.key} slots, {#field}...{/field} or {^field}...{/field} "
        "sections, each closed in order (a literal brace: {{ or }})"
    )
    def _template_parses(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.strip():
                raise ValueError("prompt_template is empty; every prompt would be empty")
            parse_template(value, "prompt_template")
        return value

    @field_validator("input_field")
    @classmethod
    @rule("a field name (no braces), or field.key for a key of an object field")
    def _field_is_a_slot(cls, value: str | None) -> str | None:
        # without a prompt_template the prompt is "{<input_field>}": the same slot rules
        if value is not None:
            if "{" in value or "}" in value:  # '{0}' made the slot '{{0}}': literal text
                raise ValueError(
                    f"'{value}' is a field name, not a template: write it without braces, "
                    "or give data.prompt_template"
                )
            plain_slots("{" + value + "}", "input_field")
        return value

    def template(self) -> str:
        """The effective prompt template."""
        if self.prompt_template is not None:
            return self.prompt_template
        return "{" + str(self.input_field) + "}"

    def template_fields(self) -> list[str]:
        """Every field the prompt reads: its slots and its optional sections' fields."""
        return template_fields(self.template())

    def fill_template(self, value, filled) -> str:
        """The prompt of one record: each slot replaced by `value(slot)`, each optional section
        kept or dropped by `filled(field)` (config/template.py; never str.format, to which
        {meta.title} would be an attribute lookup, not the path of a nested field)."""
        return fill_template(self.template(), value, filled)


STOP_AUTO = "auto"


class GenerationConfig(Section):
    max_new_tokens: int = Field(64, ge=1, description="Longest generated answer, in tokens.")
    batch_size: int = Field(16, ge=1, description="Prompts generated together.")
    stop: list[str] | Literal["auto"] = Field(
        STOP_AUTO,
        description="Strings that end a generated answer (cut before them, once the answer "
        "has started), as lm-eval's 'until'. 'auto': a line break when no training answer "
        "holds one (one-line answers), else none; [] stops only at end-of-sequence.",
    )

    @field_validator("stop", mode="before")
    @classmethod
    @rule("no empty string (one string is a list of one)")
    def _stop_list(cls, value):
        if isinstance(value, str) and value != STOP_AUTO:
            value = [value]  # one stop string written without the list
        if isinstance(value, list) and any(s == "" for s in value):
            raise ValueError("an empty stop string would end every answer before it starts")
        return value


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
    classification: ClassificationEval = Field(default_factory=ClassificationEval)
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
        "data/test.jsonl under `meta`); a field null or missing in a record is an error unless "
        "data.fill_missing gives its value.",
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
    reuse: Literal["machine", "run", "off"] = Field(
        "machine",
        description="Outputs computed before and taken again instead of generating: `machine` "
        "— this run folder's saved predictions and those of any earlier run on this machine "
        "with the same model, weights, prompt, reference, settings, precision and software "
        "(kept under the tunesmith cache, `outputs/`; $TUNESMITH_OUTPUTS moves it, `off` "
        "disables it; not for a hub id, whose weights can change under its name); `run` — "
        "only this run folder's; `off` — everything generated anew.",
    )
    previous_run: str | None = Field(
        None,
        description="An earlier run folder (written by `tunesmith refine`): the report shows "
        "this run's tuned model against that run's on the shared test examples.",
    )

    @field_validator("reuse", mode="before")
    @classmethod
    @adds_no_rule
    def _yaml_off(cls, value):
        """`false` (a recipe written by a YAML 1.1 tool, where `off` is false) means off, and
        `true` the default; so does `on`, which YAML 1.1 read as true and recipes now keep as
        text (config/recipe_yaml.py)."""
        if isinstance(value, bool):
            return "machine" if value else "off"
        return "machine" if value == "on" else value

    @field_validator("metrics")
    @classmethod
    @rule(f"each one of {', '.join(METRIC_NAMES)}")
    def _known_metrics(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            check_metric_name(name)
        return value


# A run name: the prefix of its run folder's name, never a path
RUN_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
# The tasks whose examples are a prompt and an output field (not chat or raw text)
PROMPTED_TASKS = ", ".join(name for name in TASKS.names() if task_spec(name).prompted)

# After TrainingConfig: the pretrain section extends it (same loop, same settings).
from tunesmith.config.pretrain import PretrainConfig  # noqa: E402


class Recipe(Section):
    name: str = Field(
        "tunesmith-run",
        description="Run name (prefix of the run folder): letters, digits, '.', '_', '-'; "
        "no path separators.",
    )
    task: Task = Field(..., description="What the model learns to do.")
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig
    pretrain: PretrainConfig | None = Field(
        None,
        description="Continued pre-training on raw domain text before fine-tuning (off unless "
        "given); fine-tuning then starts from the pre-trained weights.",
    )
    training: TrainingConfig = Field(default_factory=LoraTraining)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    search: SearchConfig | None = Field(
        None, description="Hyperparameter search for `tunesmith tune` (ignored by `run`)."
    )
    group: GroupConfig | None = Field(
        None,
        description="Run group for `tunesmith group`: members, ensembles, adapter merges "
        "(ignored by `run`).",
    )

    @field_validator("name")
    @classmethod
    @rule(f"matches `{RUN_NAME}`")
    def _plain_name(cls, value: str) -> str:
        import re

        if not re.fullmatch(RUN_NAME, value):
            raise ValueError(
                f"'{value}' is not a plain run name (letters, digits, '.', '_', '-'; no path)"
            )
        return value

    checks: ChecksConfig = Field(default_factory=ChecksConfig, description="Model risk checks.")
    export: ExportConfig | None = Field(
        None, description="Deployable exports of the tuned model (merged, GGUF, int8)."
    )
    distill: DistillConfig | None = Field(
        None, description="Distil the tuned model into a shallower student (off unless given)."
    )
    federated: FederatedConfig | None = Field(
        None,
        description="Federated LoRA fine-tuning with Flower instead of centralised training "
        "(off unless given; needs the `federated` extra and training.method lora).",
    )

    @field_validator("model", mode="before")
    @classmethod
    @adds_no_rule
    def _model_shorthand(cls, value: object) -> object:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("training", mode="before")
    @classmethod
    @adds_no_rule
    def _training_method(cls, value: object) -> object:
        return default_method(value)

    @model_validator(mode="after")
    @rule(f"required for task {PROMPTED_TASKS}", "data.output_field")
    @rule(f"this or data.prompt_template required for task {PROMPTED_TASKS}", "data.input_field")
    @rule(f"this or data.input_field required for task {PROMPTED_TASKS}", "data.prompt_template")
    @rule("lora with `federated`", "training.method")
    @rule("one the run computes (evaluation.metrics, or the task's)", "evaluation.target.metric")
    @rule("field needs data.difficulty_field", "training.curriculum.scorer")
    @rule("classification only", "data.label_map")
    @rule("names labels after data.label_map", "data.labels")
    @rule("names a label after data.label_map", "evaluation.classification.positive_label")
    def _fields_for_task(self) -> Recipe:
        data = self.data
        if task_spec(self.task).prompted:
            if data.output_field is None:
                raise ValueError(f"data.output_field is required for task '{self.task}'")
            if data.input_field is None and data.prompt_template is None:
                raise ValueError(
                    f"data.input_field or data.prompt_template is required for task '{self.task}'"
                )
        if data.label_map and not task_spec(self.task).has_label:
            raise ValueError(
                f"data.label_map names classes; task '{self.task}' has none (classification has)"
            )
        self._labels_after_map()
        self._target_is_scored()
        self._difficulty_is_read()
        if self.federated is not None and self.training.method != "lora":
            raise ValueError("federated: needs training.method lora (the adapter it averages)")
        return self

    def _labels_after_map(self) -> None:
        """data.labels and positive_label name the classes the model learns: a raw label the map
        renames no longer exists (`labels: [0, 1]` beside `label_map: {0: negative, ...}`)."""
        renamed = dict(self.data.label_map or {})
        for label in set(renamed.values()):  # a label also mapped to (a swap) still exists
            renamed.pop(label, None)
        named = [("data.labels", label) for label in self.data.labels or []]
        positive = self.evaluation.classification.positive_label
        named += [("evaluation.classification.positive_label", positive)] if positive else []
        for key, label in named:
            if label in renamed:
                raise ValueError(
                    f"{key} names '{label}', which data.label_map renames to "
                    f"'{renamed[label]}': name the label after the map"
                )

    def _difficulty_is_read(self) -> None:
        # without the field every example lacks a difficulty, found only after the data stage
        curriculum = self.training.curriculum
        if curriculum and curriculum.scorer == "field" and not self.data.difficulty_field:
            raise ValueError(
                "training.curriculum.scorer 'field' needs data.difficulty_field (the numeric "
                "field of each record that ranks it)"
            )

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
        from tunesmith.config.tasks import metric_keys, task_spec

        if self.evaluation.target.metric:
            return self.evaluation.target.metric
        computed = metric_keys(self.metrics())
        headline = task_spec(self.task).headline
        if headline in computed or not computed:
            return headline
        return computed[0]  # the metrics were narrowed by hand
