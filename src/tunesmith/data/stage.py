"""Data stage: records -> normalized examples -> curation -> split -> data/*.jsonl + data card."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts import RunDir, write_json, write_jsonl
from tunesmith.config.saved_splits import describe_source
from tunesmith.config.schema import Recipe
from tunesmith.config.tasks import task_spec
from tunesmith.data.curate import CurationContext, post_split, pre_split
from tunesmith.data.curate.overlap import overlap_warnings
from tunesmith.data.examples import label_key, text_fields, to_examples
from tunesmith.data.io import read_records
from tunesmith.data.label_checks import label_warnings
from tunesmith.data.split import requested, split_examples
from tunesmith.errors import UserError
from tunesmith.progress import console

SPLIT_FILES = {"train": "train.jsonl", "val": "val.jsonl", "test": "test.jsonl"}


@dataclass
class DataResult:
    sizes: dict[str, int]
    folder: Path


def run(recipe: Recipe, run_dir: RunDir) -> DataResult:
    data = recipe.data
    out = run_dir.stage("data")
    read_funnel: list[dict] = []
    examples = load_examples(recipe, data.train, "train", data.max_examples, read_funnel)
    given = {
        name: load_examples(recipe, path, name, None, read_funnel)
        for name, path in (("val", data.validation), ("test", data.test))
        if path
    }
    loaded = len(examples)
    labelled = task_spec(recipe.task).has_label
    ctx = CurationContext(
        text_fields=text_fields(recipe.task),
        label_field="label" if labelled else None,
        seed=data.split.seed,
        load_tokenizer=_tokenizer_loader(recipe),
        load_model=_model_loader(recipe),
    )
    examples, funnel = pre_split(examples, data.curation, ctx)
    if not examples:
        raise UserError(f"{data.train}: no examples left after curation")
    splits = split_examples(
        examples,
        data.split,
        need_val="val" not in given,
        need_test="test" not in given,
        stratify_key=label_key(recipe),
        curated=_removed(funnel),
    )
    splits.update(given)
    val_before = len(splits["val"])
    splits, post_funnel, card_extra = post_split(splits, data.curation, ctx)
    emptied = _emptied_val(recipe, val_before, splits["val"], post_funnel)
    _checks_fit_curated(recipe, len(splits["test"]), lambda: _planned_test(recipe, loaded, given))
    warnings = read_drops(read_funnel) + overlap_warnings(card_extra.get("split_overlap"))
    if labelled:
        warnings += label_warnings(data, splits)
    warnings = emptied + warnings
    for warning in warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    for name, rows in splits.items():
        write_jsonl(out / SPLIT_FILES[name], rows)
    write_jsonl(out / "curation_log.jsonl", ctx.log)
    sizes = {name: len(rows) for name, rows in splits.items()}
    # The train file's read counts (records in, dropped by reason) become the "load" row.
    funnel[0] = {**read_funnel[0], "step": "load"}
    card = {"sizes": sizes, "funnel": funnel + read_funnel[1:] + post_funnel, **card_extra}
    card["sources"] = sources = _sources(recipe)
    if "saved DatasetDict" in sources["train"]:  # which of its splits went where
        console.print("data: " + "; ".join(f"{n} from {s}" for n, s in sources.items()))
    card.update({"warnings": warnings} if warnings else {})
    card.update(_label_distribution(splits) if labelled else {})
    write_json(out / "data_card.json", card)
    # Its own file (always written, {} = none): a declared input of training, so switching
    # class weights on or off re-runs training even though no row changed.
    write_json(out / "class_weights.json", card.get("class_weights") or {})
    return DataResult(sizes=sizes, folder=out)


def _sources(recipe: Recipe) -> dict[str, str]:
    """Where each split's rows came from: a file (a saved DatasetDict's split named as one:
    its own validation and test splits are used when the recipe gives none), or cut from the
    training data by data.split."""
    data = recipe.data
    given = {"train": data.train, "val": data.validation, "test": data.test}
    shares = {"val": data.split.validation, "test": data.split.test}
    return {
        name: describe_source(path)
        if path
        else f"split from data.train (data.split.{'validation' if name == 'val' else name}: "
        f"{shares[name]})"
        for name, path in given.items()
    }


def read_drops(read_funnel: list[dict]) -> list[str]:
    """Records a data file had that make no example (a null, missing or blank value): said on
    the console (and by `validate`) too, since a label column with a few blanks loses rows
    without an error."""
    return [
        f"{entry['step']}: {entry['rows_in'] - entry['rows_out']} of {entry['rows_in']} records "
        f"dropped ({', '.join(f'{why}: {n}' for why, n in entry['dropped'].items())}; "
        "data.fill_missing fills null or missing values; examples in data/data_card.json)"
        for entry in read_funnel
        if entry["dropped"]
    ]


def _emptied_val(recipe: Recipe, before: int, val: list[dict], funnel: list[dict]) -> list[str]:
    """A validation split that curation (the leakage check) emptied: training then runs with no
    validation perplexity and no early stopping, which used to happen silently. An error when
    early stopping is on (it needs the split), else a warning for the console and the card."""
    if val or not before:
        return []
    steps = ", ".join(e["step"] for e in funnel if e["rows_in"] > e["rows_out"]) or "curation"
    said = f"data.curation: {steps} dropped all {before} validation rows"
    if recipe.training.early_stopping.enabled:
        raise UserError(
            f"{said}; training.early_stopping needs them: give a data.validation file whose "
            "rows are not in train or test, set data.curation.dedup.leakage: report, or set "
            "training.early_stopping.enabled: false"
        )
    return [f"{said}: training runs without validation perplexity"]


def _planned_test(recipe: Recipe, loaded: int, given: dict[str, list[dict]]) -> int:
    """The test split's size before curation: what validate checked the checks' needs on."""
    if "test" in given:
        return len(given["test"])
    return requested(recipe.data.split.test, loaded, "data.split.test")


def _checks_fit_curated(recipe: Recipe, curated: int, planned) -> None:
    """validate checks the checks' test-sample needs (checks.explain.k...) on the test split
    planned before curation; dedup, the leakage check or clean can leave fewer rows, and a check
    asking for more then failed only after training. The same check, on what curation left;
    `planned()` gives the size before curation for the message."""
    from tunesmith.preflight import checks_fit

    try:
        checks_fit(recipe, curated)
    except UserError as exc:
        raise UserError(
            f"{exc} after curation (the test split had {planned()} rows before curation, "
            f"{curated} after)"
        ) from None


def _removed(funnel: list[dict]) -> str | None:
    """What the pre-split steps removed ('dedup removed 19 of 20'), None when nothing: named
    when the split no longer fits, since the file itself had enough rows."""
    removed = [
        f"{entry['step']} removed {entry['rows_in'] - entry['rows_out']} of {entry['rows_in']}"
        for entry in funnel[1:]  # [0] is the load row: records the reader dropped
        if entry["rows_in"] > entry["rows_out"]
    ]
    return ", ".join(removed) or None


def load_examples(
    recipe: Recipe, path: str, prefix: str, limit: int | None, funnel: list | None = None
) -> list[dict]:
    """Examples of one data file (a seeded sample of `limit` records); drops go to `funnel`."""
    records = read_records(path, recipe.data.csv_delimiter)
    if limit is not None and limit < len(records):
        records = random.Random(recipe.data.split.seed).sample(records, limit)
    return to_examples(recipe, path, records, prefix, funnel)


def _label_distribution(splits: dict[str, list[dict]]) -> dict:
    from collections import Counter

    return {
        "labels": {
            name: dict(Counter(e["label"] for e in rows).most_common())
            for name, rows in splits.items()
        }
    }


def _tokenizer_loader(recipe: Recipe):
    def load():
        from tunesmith.models import load_tokenizer

        return load_tokenizer(recipe.model)

    return load


def _model_loader(recipe: Recipe):
    def load():
        from tunesmith.models.base import load_base

        return load_base(recipe)  # the plain base: curation runs before any pre-training

    return load


def _config(recipe: Recipe) -> tuple:
    # slice_by: the fields kept in test.jsonl for evaluation's per-slice metrics
    owner = recipe.federated.partition_field if recipe.federated else None  # kept per example
    config = (recipe.task, recipe.model.name, recipe.data, str(recipe.evaluation.slice_by), owner)
    # an emptied validation split is an error with early stopping and a warning without: turning
    # it back on must re-run the stage. Only the off state is hashed, so that recipes with the
    # default (on) keep their hash and their data.
    stopping = recipe.training.early_stopping.enabled
    return config if stopping else (*config, "no early stopping")


def _inputs(recipe: Recipe, run_dir: RunDir) -> list[Path]:
    data = recipe.data
    cda = data.curation.counterfactual  # its own swap lexicon is read too
    lexicon = cda.lexicon if cda is not None else None
    return [Path(p) for p in (data.train, data.validation, data.test, lexicon) if p]


def _outputs(run_dir: RunDir) -> list[Path]:
    names = ("train.jsonl", "data_card.json", "class_weights.json")
    return [run_dir.data / name for name in names]


def _register() -> None:
    from tunesmith.stages import StageSpec, register_stage

    # Revision 2: a chat's target is its last non-blank assistant turn and conversations
    # without one are dropped; null labels count as missing, not as a class named "None".
    # Revision 3: labels are spelled as JSON writes them (true/false, 1 for 1.0); clean keeps
    # indentation, tabs and ZWJ/ZWNJ; duplicate keys are Unicode-normalised.
    # Revision 4: clean keeps chats with blank earlier turns (only a blank final answer drops
    # one); the leakage check drops validation rows copied from test.
    # Revision 5: a null chat content is read as a blank turn (the conversation was dropped).
    # Revision 6: blank lines an empty template slot left at a prompt's ends are trimmed;
    # records dropped while reading are a warning in the card.
    # Revision 7: the card says where each split came from (`sources`); a label list of one
    # is its label (JSON [1.0] is the class 1, not '1.0'), a longer one refused.
    # Revision 8: a record whose every template slot (outside sections) is blank is dropped
    # as an empty prompt, as it is with data.input_field alone.
    register_stage(StageSpec("data", 10, _config, _inputs, _outputs, run, revision=8))


_register()
