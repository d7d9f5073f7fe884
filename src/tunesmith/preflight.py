"""Pre-flight: every check that can fail before training, shared by `validate` and `run`.

`run` calls `preflight` before the data stage, so a recipe that `validate` passes does not
fail seconds into a run, and one that `validate` refuses is refused by `run` the same way.

The checks of what the shared machinery reads (output, model, data, template, trackers) are
here; a stage or driver adds those of its own settings through its registration
(`StageSpec.preflight` / `fits_test`, `DriverSpec.preflight`), run at fixed points among them
(stages.PREFLIGHT_POINTS), so this module names none of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from functools import cached_property
from pathlib import Path

from tunesmith.artifacts.files import nearest_existing
from tunesmith.config import recipe_hash
from tunesmith.config.schema import Recipe
from tunesmith.errors import UserError, one_line
from tunesmith.models.safe_files import check_safetensors_header
from tunesmith.scoped_cache import ScopedCache

# What one recipe's checks share (each `preflight`), and the checks of several recipes in one
# process inside `shared_checks()` (a group's members)
_SHARED = ScopedCache()


def preflight(recipe: Recipe, output: Path | None, say=None) -> list[str]:
    """Run every pre-training check; one 'key: ok (...)' line per check (each passed to `say`
    as soon as it holds), UserError on the first fault."""
    lines: list[str] = []

    def passed(*new: str) -> None:
        lines.extend(new)
        for line in new:
            if say:
                say(line)

    with _SHARED.scope():  # one recipe's checks share their reads too (the tokenizer)
        _check_all(recipe, output, passed)
    return lines


def _check_all(recipe: Recipe, output: Path | None, passed) -> None:
    passed(f"recipe: ok ({recipe.task}, model {recipe.model.name})")
    facts = PreflightFacts(recipe)
    space = facts.space  # every value the schema accepts, before anything else is read
    passed(*contributed("search", facts))
    if output is not None:
        passed(check_writable(output))
    passed(_model(recipe.model.name))
    passed(_device(recipe.model.device))
    passed(*check_methods(recipe, space)[:1])  # the recipe's own line; its choices checked
    passed(*_targets(recipe, space))
    passed(*_deployment(recipe, facts))
    passed(*_data(recipe, facts))
    passed(*_template(recipe))
    if recipe.pretrain is not None:
        passed(_corpus(recipe.pretrain))
    passed(*_side_files(recipe, facts))
    passed(*contributed("end", facts))
    passed(_trackers(recipe, output))


class PreflightFacts:
    """What the pre-flight has read, for the checks stages and drivers contribute: read when
    first asked, and the costly reads shared (`_SHARED`) with preflight's own checks."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe

    @cached_property
    def space(self) -> dict | None:
        """The search space, every value checked against the schema; None without `search:`."""
        from tunesmith.config.space import check_space

        return None if self.recipe.search is None else check_space(self.recipe)

    def model_folder(self) -> Path | None:
        """The model's local folder; None when it has no config.json here (not fetched or
        converted yet: checked as it loads)."""
        from tunesmith.models import resolve_model

        folder = Path(resolve_model(self.recipe.model.name, fetch=False))
        return folder if (folder / "config.json").is_file() else None

    def splits(self) -> dict[str, list[dict]]:
        """The planned splits, before curation (the data stage checks again after it)."""
        return _splits(self.recipe)[1]


def contributed(at: str, facts: PreflightFacts) -> list[str]:
    """The lines of the checks stages (in run order) and drivers (by name) registered at
    pre-flight point `at`; UserError from the first that fails."""
    from tunesmith.drivers import registered_drivers
    from tunesmith.stages import registered_stages

    return [
        line
        for spec in (*registered_stages(), *registered_drivers())
        for hook in spec.preflight
        if hook.at == at
        for line in hook.check(facts.recipe, facts)
    ]


@contextlib.contextmanager
def shared_checks():
    """Recipes checked inside the block (a group's members) share the costly reads: the model
    folder's check (its tokenizer loaded once), its module names, the data files read and
    split, the pre-training corpus and the replay file. Each is keyed on exactly the settings
    it reads, so members that differ in data or model are still checked on their own."""
    from tunesmith.models.targets import MODULE_NAMES

    with _SHARED.scope(), MODULE_NAMES.scope():
        yield


def check_methods(recipe: Recipe, space: dict | None = None) -> list[str]:
    """The method's settings against the model's depth (from config.json, no weights) and
    layer types, for the recipe and every value its search can pick (a `training.method`
    choice changes the method checked): UserError for the first that cannot train its model,
    naming the choice; else the ok lines of those checked (not a model whose depth is unknown
    here: one not fetched yet is checked as it loads)."""
    from tunesmith.config.space import candidate_recipes

    lines = []
    for candidate, source in candidate_recipes(recipe, space):
        try:
            lines += _method_fits(candidate)
        except UserError as exc:
            raise UserError(f"{source}: {exc}" if source else str(exc)) from None
    return lines


def _method_fits(recipe: Recipe) -> list[str]:
    from tunesmith.methods import method_of
    from tunesmith.methods.base import check_kl_to_base, folder_depth
    from tunesmith.models import resolve_model

    for section in (recipe.pretrain, recipe.training):  # needs no model
        if section is not None:
            check_kl_to_base(section, method_of(section))
    method = method_of(recipe.training)
    folder = Path(resolve_model(recipe.model.name, fetch=False))
    depth = folder_depth(folder) if (folder / "config.json").is_file() else None
    if not depth:
        return []
    method.check(recipe.training.settings(), depth)
    _method_layers(recipe, method)
    return [f"training.method: ok ({recipe.training.method}, model of {depth} blocks)"]


def _method_layers(recipe: Recipe, method) -> None:
    """The method against the model's layer types, on the architecture built on the meta
    device (models/targets.py; built only for a method that checks layers)."""
    from tunesmith.models.targets import model_skeleton

    if method.check_layers is None:
        return
    skeleton = model_skeleton(recipe.model.name)
    if skeleton is not None:
        method.check_layers(recipe.training.settings(), skeleton)


def _targets(recipe: Recipe, space: dict | None) -> list[str]:
    """target_modules (the recipe's and each search choice's) against the model's modules."""
    from tunesmith.models.targets import check_recipe_targets

    return check_recipe_targets(recipe, space)


def _deployment(recipe: Recipe, facts: PreflightFacts | None = None) -> list[str]:
    """What is made of the trained model, checked on the model's config (no weights): what
    the stages contribute at "model" (export: the formats; distill: the student's depth)."""
    return contributed("model", facts or PreflightFacts(recipe))


def _device(requested: str) -> str:
    from tunesmith.models.device import resolve_device

    return f"model.device: ok ({resolve_device(requested)})"


def _side_files(recipe: Recipe, facts: PreflightFacts) -> list[str]:
    """The files a later stage reads besides the data, read now with the reader that stage
    uses: a bad one found hours into a run (after training) is the worst time to learn it.
    Those of a stage's own settings are its contribution at "files" (the swap lexicons)."""
    lines = []
    for cfg in (recipe.training, recipe.pretrain):
        if cfg is not None and cfg.replay is not None and cfg.replay.file:
            lines.append(_replay_file(cfg))
    lines += contributed("files", facts)
    if recipe.evaluation.previous_run:
        from tunesmith.evaluate.runs import run_predictions

        rows = run_predictions(Path(recipe.evaluation.previous_run))
        lines.append(f"evaluation.previous_run: ok ({len(rows)} test predictions)")
    return lines


def _replay_file(cfg) -> str:
    from tunesmith.train.replay import replay_examples

    replay, key = cfg.replay, f"{cfg.recipe_section}.replay"
    count = len(_SHARED.get(("replay", recipe_hash(replay)), lambda: replay_examples(replay, key)))
    return f"{key}.file: ok ({count} rows)"


def _trackers(recipe: Recipe, output: Path | None) -> str:
    from tunesmith.tracking import preflight as tracking_preflight

    tracking_preflight(recipe.tracking, output or Path("runs") / recipe.name)
    return f"tracking: ok ({', '.join(['jsonl', *recipe.tracking.backends])})"


def _corpus(pretrain) -> str:
    from tunesmith.pretrain.corpus import read_corpus

    key = ("corpus", tuple(pretrain.corpus), pretrain.text_field)
    corpus = _SHARED.get(key, lambda: read_corpus(pretrain.corpus, pretrain.text_field))
    skipped = f", {len(corpus.skipped)} skipped: not UTF-8" if corpus.skipped else ""
    return f"pretrain.corpus: ok ({len(corpus.documents)} documents{skipped})"


def check_writable(output: Path) -> str:
    """The output folder (or its nearest existing parent) accepts a new file."""
    probe_dir = nearest_existing(output)
    if not probe_dir.is_dir():
        raise UserError(f"{output}: cannot create the output folder ({probe_dir} is a file)")
    try:
        fd, name = tempfile.mkstemp(prefix=".tunesmith-probe-", dir=probe_dir)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise UserError(f"{output}: output location is not writable ({exc.strerror})") from None
    return f"output: ok ({output} writable)"


def _data(recipe: Recipe, facts: PreflightFacts | None = None) -> list[str]:
    """The data read and split as planned; the stages' needs of the splits (their test-sample
    sizes, then their contributions at "data": federated's partitions); the labels."""
    from tunesmith.config.tasks import task_spec
    from tunesmith.data.label_checks import label_warnings

    data = recipe.data
    train, splits = _splits(recipe)
    lines = [f"data.train: ok ({len(train)} examples after max_examples, fields map)"]
    lines += [f"warning: {w}" for w in _read(recipe)[2]]  # null or missing values' rows
    sizes = ", ".join(f"{name} {len(rows)}" for name, rows in splits.items())
    lines.append(f"data.split: ok ({sizes}; before curation)")
    lines += checks_fit(recipe, len(splits["test"]))
    lines += contributed("data", facts or PreflightFacts(recipe))
    if task_spec(recipe.task).has_label:
        lines += [f"warning: {w}" for w in label_warnings(data, splits)]
        lines.append(_positive_class(recipe, splits["train"]))
    return lines


def _template(recipe: Recipe) -> list[str]:
    """A training example rendered and encoded as training and evaluation will: a chat
    template that refuses the data (Jinja raise_exception, a role it does not know) is one
    line here, not a traceback after the data stage. Says how prompts are written when that
    is not plainly the model's own template (none: the plain fallback; a refused system
    role: folded into the first user turn)."""
    key = recipe_hash(recipe.task, recipe.data, recipe.model.name, recipe.training.max_seq_length)
    return _SHARED.get(("template", key), lambda: _check_template(recipe))


def _check_template(recipe: Recipe) -> list[str]:
    from tunesmith.models import resolve_model
    from tunesmith.models.formatting import (
        PLAIN_NOTE,
        encode_example,
        fit_prompt,
        refuses_system,
    )

    train, _ = _splits(recipe)
    example = next((e for e in train if "text" not in e), None)
    folder = Path(resolve_model(recipe.model.name, fetch=False))
    if example is None or not (folder / "config.json").is_file():
        return []  # plain text (no template), or a model not fetched or converted yet
    tokenizer = folder_tokenizer(folder)
    length = recipe.training.max_seq_length
    try:
        encode_example(example, tokenizer, length)
        fit_prompt(example, tokenizer, length)
    except UserError:
        raise
    except Exception as exc:  # jinja2's TemplateError and whatever a template raises
        raise UserError(
            f"model.name: the chat template of {recipe.model.name} cannot render a training "
            f"example ({one_line(exc)})"
        ) from None
    if not getattr(tokenizer, "chat_template", None):
        return [f"template: ok ({PLAIN_NOTE})"]
    system = example.get("system") or any(
        m["role"] == "system" for m in example.get("messages", [])
    )
    if system and refuses_system(tokenizer):
        return [
            "template: ok (it refuses a system message: the system prompt is put at the start "
            "of the first user turn)"
        ]
    return ["template: ok (the chat template renders a training example)"]


def _splits(recipe: Recipe) -> tuple[list[dict], dict[str, list[dict]]]:
    """The training examples read and the planned splits (before curation). Reading them
    depends on the task, `data`, `evaluation.slice_by` (fields kept) and `federated` (the
    client field) only: recipes alike in those share one read (`shared_checks`)."""
    return _read(recipe)[:2]


def _read(recipe: Recipe) -> tuple[list[dict], dict[str, list[dict]], list[str]]:
    """`_splits`, and the data stage's warnings about records dropped while reading."""
    key = recipe_hash(recipe.task, recipe.data, recipe.federated, str(recipe.evaluation.slice_by))
    return _SHARED.get(("splits", key), lambda: _read_splits(recipe))


def _read_splits(recipe: Recipe) -> tuple[list[dict], dict[str, list[dict]], list[str]]:
    from tunesmith.data.examples import label_key
    from tunesmith.data.split import split_examples
    from tunesmith.data.stage import load_examples, read_drops

    data = recipe.data
    funnel: list[dict] = []
    train = load_examples(recipe, data.train, "train", data.max_examples, funnel)
    given = {
        name: load_examples(recipe, path, name, None, funnel)
        for name, path in (("val", data.validation), ("test", data.test))
        if path
    }
    splits = split_examples(
        train, data.split, "val" not in given, "test" not in given, stratify_key=label_key(recipe)
    )
    splits.update(given)
    if not splits["test"]:
        raise UserError(
            f"data.split.test: the test split is empty ({len(train)} examples); give a larger "
            "share or count, or a data.test file"
        )
    return train, splits, read_drops(funnel)


def checks_fit(recipe: Recipe, test_count: int) -> list[str]:
    """Every stage's test-sample needs (`StageSpec.fits_test`: the risk checks') against a
    test split of `test_count` examples: one asking for more than there are failed after
    training, at its stage. Asked of the planned split here, and again by the data stage of
    the split curation left."""
    from tunesmith.stages import registered_stages

    return [line for spec in registered_stages() for line in spec.fits_test(recipe, test_count)]


def _positive_class(recipe: Recipe, train: list[dict]) -> str:
    """The binary threshold's positive class (a threshold on a multi-class task: exit 2)."""
    from tunesmith.evaluate.classify import positive_label
    from tunesmith.evaluate.labels import labels_of

    labels = labels_of(recipe, train)
    positive = positive_label(recipe.evaluation.classification, labels, train)
    shown = f"positive class '{positive}'" if positive else "multi-class, no threshold"
    return f"evaluation.classification: ok ({len(labels)} labels, {shown})"


def _model(name: str) -> str:
    return _SHARED.get(("model", name), lambda: _check_model(name))


def _check_model(name: str) -> str:
    from tunesmith.models import resolve_model

    source = Path(resolve_model(name, fetch=False))
    if (source / "config.json").is_file():
        check_model_folder(source)
        return f"model: ok ({name}; weights and tokenizer load)"
    if name.endswith(".gguf"):
        check_gguf(Path(name).expanduser())
        return f"model: ok ({name}; GGUF header reads; converted on first run)"
    return f"model: ok ({name}; will be fetched on first run)"


def check_gguf(path: Path) -> None:
    """The GGUF header and tensor table parse (no weights are read)."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except Exception as exc:  # gguf raises ValueError, struct.error, ... on a bad file
        raise UserError(f"model.name: {path} is not a readable GGUF file ({exc})") from None
    if not reader.tensors:
        raise UserError(f"model.name: {path} is a GGUF file without tensors")


def check_model_folder(folder: Path) -> None:
    """config.json parses, weights are present, and the tokenizer loads."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"model.name: {folder}/config.json is not valid JSON ({exc})") from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise UserError(f"model.name: {folder}/config.json has no model_type")
    weights = [p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin")]
    if not weights:
        raise UserError(f"model.name: {folder} has a config.json but no weights (.safetensors)")
    for file in (p for p in weights if p.suffix == ".safetensors"):
        check_safetensors_header(file, "model.name")
    folder_tokenizer(folder)


def folder_tokenizer(folder: Path):
    """The tokenizer of a local model folder, loaded once per check (`preflight`'s scope) or
    per group (`shared_checks`); UserError when it does not load."""
    from transformers import AutoTokenizer

    def load():
        try:
            return AutoTokenizer.from_pretrained(str(folder))
        except Exception as exc:  # transformers raises many types for a missing/broken one
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise UserError(
                f"model.name: cannot load a tokenizer from {folder} ({first})"
            ) from None

    return _SHARED.get(("tokenizer", str(folder)), load)
