"""Evaluate stage: every registered row (base, few-shot, tuned, ...) on the same examples.

Reads data/<split>.jsonl and what the rows declare (train/adapter/, train.jsonl for
demonstrations); writes eval/predictions/<split>.<row>.jsonl (per-example scores),
eval/metrics.json, eval/compare.json (intervals, p-values, target verdict) and
eval/errors.json; another split than test writes metrics.<split>.json etc.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from tunesmith.artifacts import RunDir, read_jsonl, write_json, write_jsonl
from tunesmith.config.schema import Recipe
from tunesmith.config.tasks import task_spec
from tunesmith.errors import UserError

SPLITS = ("val", "test")


@dataclass
class EvalResult:
    sample_size: int
    metrics: dict
    compare: dict = field(metadata={"saved_as": "eval/compare.json"})  # the manifest: its path


def stage_inputs(recipe: Recipe, run_dir: RunDir) -> list:
    """Every file the stage reads: the split, train.jsonl (the labels of a classification task
    default to those seen in training; the data card has their counts before balancing, which
    decide the default positive class) and the union of the applicable rows' inputs."""
    from pathlib import Path

    from tunesmith.evaluate.rows import row_inputs

    files = [run_dir.data / "test.jsonl", run_dir.data / "train.jsonl"]
    if task_spec(recipe.task).has_label:
        files.append(run_dir.data / "data_card.json")
    files += [f for f in row_inputs(recipe, run_dir) if f not in files]
    if recipe.evaluation.previous_run:
        files.append(Path(recipe.evaluation.previous_run) / "eval/predictions/test.tuned.jsonl")
    return files


def run(recipe: Recipe, run_dir: RunDir, progress=None, split: str = "test") -> EvalResult:
    """Score every applicable row and write the stage's files. They are written beside eval/
    and moved in only once all are (RunDir.staged): a failure or Ctrl-C leaves eval/ as it was,
    never the new predictions of some rows beside the old figures (nor an empty eval/)."""
    from tunesmith.evaluate.rows import rows_for
    from tunesmith.evaluate.stop import stop_strings

    examples = _split_examples(recipe, run_dir, split)
    stop = stop_strings(recipe, run_dir.data)
    rows = rows_for(recipe, run_dir)
    base, tokenizer, precision = _load_base(recipe)
    # before the first row generates: a damaged adapter is one line now, not after minutes
    _check_loadable(recipe, run_dir, rows, base.config)
    with run_dir.staged("evaluate") as place:  # refuses a file where eval/ goes: not counted
        loaded = _Loaded(base, tokenizer, precision, stop, _count_evaluation(run_dir, split))
        return _evaluate(recipe, run_dir, rows, examples, loaded, split, progress, place)


@dataclass
class _Loaded:
    base: object  # the plain base model; each row gets a deep copy
    tokenizer: object
    precision: str
    stop: tuple  # strings that end a generated answer besides EOS
    evaluations: dict  # `_count_evaluation`'s counts, this evaluation's included


def _check_loadable(recipe: Recipe, run_dir: RunDir, rows: list, model_config) -> None:
    """Every file the rows load exists, and every saved model or adapter among them (a folder
    in a row's inputs is one, by the rows' interface) passes the checks its load would make
    (models/base.check_saved, adapter shapes included)."""
    from tunesmith.models.base import check_saved
    from tunesmith.stages import missing_input

    for row in rows:
        for path in row.inputs(recipe, run_dir):
            if not path.exists():
                raise UserError(missing_input("evaluate", path, run_dir, recipe))
            if path.is_dir():
                check_saved(path, model_config)


def _evaluate(recipe, run_dir, rows, examples, loaded, split, progress, place) -> EvalResult:
    from tunesmith.evaluate.calibrate import decision_threshold, probability_section
    from tunesmith.evaluate.comparison import build_compare, statistics_of
    from tunesmith.evaluate.errors import analyse
    from tunesmith.evaluate.labels import recipe_labels
    from tunesmith.evaluate.reuse import saved_outputs
    from tunesmith.evaluate.scoring import score_model

    spec = task_spec(recipe.task)
    tokenizer, precision, stop = loaded.tokenizer, loaded.precision, loaded.stop
    labels = recipe_labels(recipe, run_dir)
    predictions, labels_of, demos, thresholds = {}, {}, 0, {}
    for row in rows:
        written = place(f"predictions/{split}.{row.name}.jsonl")
        if row.score is not None:
            predictions[row.name], labels_of[row.name] = (
                row.score(recipe, run_dir, examples, labels),
                row.label,
            )
            write_jsonl(written, predictions[row.name])
            continue
        model = row.load(recipe, run_dir, copy.deepcopy(loaded.base))
        shown = row.demos(recipe, run_dir) if row.demos else []
        inputs = [{**e, "demos": shown} for e in examples] if shown else examples
        demos = max(demos, len(shown))
        bar = progress(row.name, len(examples)) if progress else None
        saved = run_dir.eval / "predictions" / f"{split}.{row.name}.jsonl"
        # The stage's own earlier output, read as a cache (not an input): a saved prediction
        # is taken only where its key (model files, prompt, settings) matches this run's.
        reuse = saved_outputs(recipe, run_dir, row, saved, precision)
        scored = score_model(
            model, tokenizer, inputs, recipe, spec.generates, labels, bar, reuse, stop=stop
        )
        predictions[row.name], labels_of[row.name] = scored, row.label
        write_jsonl(written, scored)
        thresholded = decision_threshold(
            recipe, run_dir, row.name, model, tokenizer, scored, labels, split
        )
        del model
        if thresholded is not None:
            name = f"{row.name}_threshold"
            predictions[name], labels_of[name], thresholds[name] = thresholded
            write_jsonl(place(f"predictions/{split}.{name}.jsonl"), predictions[name])
    stats = statistics_of(recipe, predictions, labels)
    comparison = build_compare(recipe, stats, labels_of, len(examples))
    comparison.update(split=split, demonstrations=demos, **loaded.evaluations)
    if spec.generates:
        comparison["stop"] = list(stop)  # what ended the generated answers besides EOS
        comparison.update(_tokenization(recipe, predictions))
    comparison["reused"] = _reused(predictions)
    comparison["truncation"] = _cuts(predictions, recipe.training.max_seq_length)
    comparison.update(probability_section(recipe, run_dir, predictions, labels, labels_of))
    if thresholds:  # how each decision threshold was chosen on validation rows
        comparison["thresholds"] = thresholds
    if recipe.evaluation.previous_run and split == "test":
        comparison["previous_run"] = _previous(recipe, predictions["tuned"], labels)
    metrics = {
        "sample_size": len(examples),
        "split": split,
        "precision": precision,
        **({"labels": labels} if labels else {}),
        **{
            name: {k: v["value"] for k, v in values.items()}
            for name, values in stats["rows"].items()
        },
        "evaluations": comparison["evaluations"],
        **({"tokenization": comparison["tokenization"]} if "tokenization" in comparison else {}),
    }
    suffix = "" if split == "test" else f".{split}"
    write_json(place(f"metrics{suffix}.json"), metrics)
    write_json(place(f"compare{suffix}.json"), comparison)
    write_json(place(f"errors{suffix}.json"), analyse(recipe, predictions, labels))
    return EvalResult(len(examples), metrics, comparison)


def _reused(predictions: dict[str, list[dict]]) -> dict:
    """Per row, how many outputs were taken from this run folder or an earlier run on this
    machine instead of computed (evaluate/reuse.py); rows with none are left out."""
    counts = {}
    for name, rows in predictions.items():
        sources = [r["reused"] for r in rows if r.get("reused")]
        if sources:
            counts[name] = {s: sources.count(s) for s in sorted(set(sources))}
    return counts


def _cuts(predictions: dict[str, list[dict]], max_length: int) -> dict:
    """Per row, how many examples max_seq_length cut (evaluate/scoring.py marks them): the
    prompt the model answered ("prompt"), the reference scored for perplexity
    ("scored_prompt", "scored_answer"); rows with none are left out. Said once on the console."""
    from tunesmith.models.truncation import marked_cuts, marked_warning, warn

    counts = {name: marked_cuts(rows) for name, rows in predictions.items()}
    counts = {name: count for name, count in counts.items() if count}
    for name, count in counts.items():
        total = len(predictions[name])
        warn(marked_warning(f"evaluation ({name})", count, total, max_length))
    return counts


def _split_examples(recipe: Recipe, run_dir: RunDir, split: str) -> list[dict]:
    if split not in SPLITS:
        raise UserError(f"--split: '{split}' is not one of {', '.join(SPLITS)}")
    path = run_dir.data / f"{split}.jsonl"
    if not path.is_file():
        raise UserError(f"{path}: no {split} split; run the data stage first")
    examples = read_jsonl(path)[: recipe.evaluation.sample_size]
    if not examples:
        raise UserError(f"data: the {split} split is empty; set data.split or data.{split}")
    return examples


def _load_base(recipe: Recipe):
    import torch

    from tunesmith.models import resolve_device, resolve_precision, set_threads
    from tunesmith.models.base import load_base

    set_threads(recipe.model.threads)
    device = resolve_device(recipe.model.device)
    precision = resolve_precision(recipe.model.precision, device)
    model, tokenizer = load_base(recipe, device=device)  # the plain base; rows add the rest
    if precision == "bf16":
        model.to(torch.bfloat16)
    return model, tokenizer, precision


def _count_evaluation(run_dir: RunDir, split: str) -> dict:
    """How many times each split was evaluated in this run folder, this time included: test
    figures are honest only when computed once, after every choice was made. Counted in the
    manifest before the first row is scored, not once the outputs are written: an evaluation
    killed or interrupted after its rows generated has looked at the split all the same (an
    answer seen in a log or a progress bar), and a count that missed it would say "computed
    once" of figures computed twice. Refused input (an unknown split, a damaged adapter) is
    refused before this and not counted."""
    counts = dict(run_dir.read_manifest().get("evaluations", {}))
    counts[split] = counts.get(split, 0) + 1
    run_dir.set_field("evaluations", counts)
    return {"evaluations": counts, "test_evaluations": counts.get("test", 0)}


def _previous(recipe: Recipe, tuned: list[dict], labels) -> dict:
    from pathlib import Path

    from tunesmith.config.tasks import metric_keys
    from tunesmith.evaluate.runs import (
        compare_predictions,
        run_info,
        run_predictions,
        tokenised_alike,
    )
    from tunesmith.metrics.tokenization import tokenization_record

    ev, folder = recipe.evaluation, Path(str(recipe.evaluation.previous_run))
    # the run before a refinement may have been scored by earlier code: its ROUGE/BLEU are
    # scored again from its saved answers (as compare does), never set beside ours as they are
    now = tokenization_record([str(row.get("reference", "")) for row in tuned])
    before, tuned, tokenization = tokenised_alike(
        (folder, run_predictions(folder), run_info(folder)["tokenization"]),
        (Path("this run"), tuned, now),
    )
    keys = metric_keys(recipe.metrics())
    result = compare_predictions(
        before, tuned, keys, labels, ev.bootstrap_resamples, ev.bootstrap_seed, ev.alpha
    )
    return {"run": str(folder), **tokenization, **result}


def with_adapter(model, run_dir: RunDir, training):
    """The tuned model, as the training method loads (and merges) its saved result."""
    from tunesmith.methods import load_tuned

    return load_tuned(training, run_dir.train, model)


def few_shot_demos(recipe: Recipe, run_dir: RunDir) -> list[dict]:
    """k seeded training examples shown to the base model as worked demonstrations."""
    import random

    k = recipe.evaluation.few_shot
    if not k or not task_spec(recipe.task).few_shot:
        return []
    train = [e for e in read_jsonl(run_dir.data / "train.jsonl") if not e.get("augmented")]
    # Short demonstrations keep few-shot prompts within the context the model trained on.
    shortest = sorted(train, key=lambda e: len(e["prompt"]) + len(e["response"]))
    pool = shortest[: max(k, len(shortest) // 4)]
    chosen = random.Random(recipe.data.split.seed).sample(pool, min(k, len(pool)))
    return [{"prompt": e["prompt"], "response": e["response"]} for e in chosen]


def _tokenization(recipe: Recipe, predictions: dict[str, list[dict]]) -> dict:
    """{'tokenization': how ROUGE and BLEU split this split's text} when either is scored: the
    BLEU tokenizer depends on the references' script, so a reader sees which one was used."""
    from tunesmith.metrics.tokenization import tokenization_record

    if not {"rouge", "bleu"} & set(recipe.metrics()):
        return {}
    rows = next(iter(predictions.values()), [])
    return {"tokenization": tokenization_record([row["reference"] for row in rows])}


def _config(recipe: Recipe) -> tuple:
    return (
        recipe.task,
        recipe.model,
        recipe.training.max_seq_length,
        recipe.data.labels,
        recipe.evaluation,
    )


def _outputs(run_dir: RunDir) -> list:
    return [
        run_dir.eval / "metrics.json",
        run_dir.eval / "compare.json",
        run_dir.eval / "errors.json",
    ]


def _run_with_bars(recipe: Recipe, run_dir: RunDir) -> EvalResult:
    from tunesmith.progress import GenerationBars, run_with_bars

    return run_with_bars(GenerationBars(), run, recipe, run_dir)


def _register() -> None:
    from tunesmith.evaluate import model_rows  # noqa: F401  (registers the rows)
    from tunesmith.stages import StageSpec, register_stage

    # 2: BLEU tokenised per example by its reference's script (metrics/tokenization.py
    # version 2); a folder scored the earlier way is scored again (its generations are reused)
    # 4: classification: the default positive class (ties, balanced training data) and
    # generated answers matched to labels through quotes and punctuation
    # 5: intervals recalibrated by simulation (tunesmith.stats.calibration): expanded
    # percentile intervals, macro P/R/F1 resampled without holding class counts fixed, and a
    # `caution` on macro intervals over a class of fewer than 10 test rows
    # 6: a row's perplexity interval studentized on the mean token NLL (bootstrap-t)
    # 7: a chat longer than max_seq_length is answered from its latest turns (the oldest
    # are cut, not the middle with the question answered)
    register_stage(
        StageSpec("evaluate", 40, _config, stage_inputs, _outputs, _run_with_bars, revision=7)
    )


_register()
