"""The group's compare.json: base, every member, the best member, every ensemble and merge,
scored on the same test examples with paired intervals (evaluate/comparison.py)."""

from __future__ import annotations

from pathlib import Path

from tunesmith.artifacts import read_jsonl, write_jsonl
from tunesmith.artifacts.files import read_json_object, read_optional_object
from tunesmith.config.tasks import task_spec
from tunesmith.errors import UserError
from tunesmith.metrics.per_example import example_scores, scored_now, tokenised_metrics
from tunesmith.metrics.tokenization import describe_tokenization, is_current, tokenization_record

TEST = "test"
# An ensemble or a merge of one member is that member again: with fewer that trained (the
# others failed), they are skipped with this reason rather than scored as if they combined.
MIN_MEMBERS = 2


def too_few(members) -> str | None:
    if len(members) >= MIN_MEMBERS:
        return None
    return f"needs at least {MIN_MEMBERS} members; {len(members)} trained"


def member_rows(members, row: str = "tuned") -> list[list[dict]]:
    """Each member's saved test predictions for `row`, checked to cover the same examples."""
    rows = [read_jsonl(gm.run_dir.eval / "predictions" / f"{TEST}.{row}.jsonl") for gm in members]
    first = [r["key"] for r in rows[0]]
    for gm, other in zip(members[1:], rows[1:], strict=True):
        if [r["key"] for r in other] != first:
            raise UserError(
                f"group member {gm.member.name}: its test examples differ from "
                f"{members[0].member.name}'s (a variant changed the data); ensembles and merges "
                "need the same test examples"
            )
    return rows


def test_examples(gm) -> list[dict]:
    """The test examples the member's evaluation scored, in its predictions' order."""
    examples = read_jsonl(gm.run_dir.data / f"{TEST}.jsonl")[: gm.recipe.evaluation.sample_size]
    scored = read_jsonl(gm.run_dir.eval / "predictions" / f"{TEST}.tuned.jsonl")
    if [e["id"] for e in examples] != [r["id"] for r in scored]:
        raise UserError(
            f"group member {gm.member.name}: its test predictions do not match data/test.jsonl; "
            "re-run its evaluate stage (tunesmith run --stages evaluate)"
        )
    return examples


def rows_from_choices(template: list[dict], choices, recipe, labels) -> list[dict]:
    """Prediction rows for combined outputs, scored per example like any model's."""
    outputs = [c.prediction for c in choices]
    scores = example_scores(recipe.metrics(), outputs, [r["reference"] for r in template], labels)
    rows = []
    for base, choice, extra in zip(template, choices, scores, strict=True):
        row = {**base, "prediction": choice.prediction, "scores": extra}
        row.pop("probabilities", None)
        if choice.probabilities is not None:
            row["probabilities"] = choice.probabilities
        rows.append(row)
    return rows


def ensemble_predictions(
    recipe,
    members,
    rows,
    labels,
    out: Path,
    on_step=None,
    skipped=None,
    *,
    apart=None,
    records=None,
) -> dict:
    """{ensemble row: prediction rows}; `apart` (the members' vocabularies differ, in words)
    skips the methods adding up per-token scores (refused up front when listed); what a method
    measured while combining (the likelihood ensemble's cut counts) goes to `records` under the
    row's name."""
    from tunesmith.ensemble.methods import (
        ENSEMBLES,
        EnsembleInputs,
        load_ensembles,
        not_applicable,
    )

    load_ensembles()
    skipped = {} if skipped is None else skipped
    spec = task_spec(recipe.task)
    inputs = EnsembleInputs(recipe, test_examples(members[0]), rows, labels, members, on_step)
    names = recipe.group.ensembles
    chosen = names if names is not None else ENSEMBLES.names()
    predictions = {}
    for name in chosen:
        method = ENSEMBLES.get(name)
        if not method.applies(spec, inputs):
            if names is None:
                continue
            raise not_applicable(recipe, method)
        if too_few(members):
            skipped[f"ensemble_{name}"] = too_few(members)
            continue
        if apart and method.per_token_scores:
            skipped[f"ensemble_{name}"] = f"it {method.per_token_scores}, but {apart}"
            continue
        result = rows_from_choices(rows[0], method.combine(inputs), recipe, labels)
        predictions[f"ensemble_{name}"] = result
        write_jsonl(out / "ensembles" / "predictions" / f"{TEST}.{name}.jsonl", result)
        if records is not None and name in inputs.records:
            records[f"ensemble_{name}"] = inputs.records[name]
    return predictions


def group_compare(recipe, members, out: Path, on_step=None, failed=None) -> dict:
    """compare.json over `members` (those that trained); `failed` ({name: {error, kind}}) are
    recorded, and what could not be built without them is listed in `skipped` with why."""
    from tunesmith.ensemble.merge import merge_predictions
    from tunesmith.evaluate.comparison import build_compare, statistics_of
    from tunesmith.evaluate.runs import perplexity_left_out
    from tunesmith.group.vocabularies import vocabularies_apart, without_perplexity
    from tunesmith.models import reuse_loaded_models

    labels = _labels(members[0])
    # the base row is the first member's base model, in its vocabulary
    apart = vocabularies_apart(members)
    scored = without_perplexity(recipe) if apart else recipe
    names = [gm.member.name for gm in members]
    base, *rows = tokenised_now(
        members, [member_rows(members[:1], "base")[0], *member_rows(members)]
    )
    predictions = {"base": base, **dict(zip(names, rows))}
    skipped: dict[str, str] = {}
    records: dict[str, dict] = {}
    with reuse_loaded_models():
        combined = ensemble_predictions(
            recipe, members, rows, labels, out, on_step, skipped, apart=apart, records=records
        )
        merged, merges = merge_predictions(
            recipe, members, out, labels, on_step, _mergeable(recipe, members, failed, skipped)
        )
    combined.update(merged)
    best = best_member(recipe, predictions, names, labels)
    pairs = [("base", n) for n in names] + [("base", c) for c in combined]
    pairs += [(n, c) for c in combined for n in names]
    stats = statistics_of(scored, {**predictions, **combined}, labels, pairs)
    labels_of = {"base": _base_label(members), **{n: f"member {n}" for n in names}}
    labels_of.update({c: c.replace("_", " ") for c in combined})
    result = build_compare(scored, stats, labels_of, len(rows[0]))
    result.pop("metrics")  # base-vs-tuned headline: a group has members, not one tuned model
    result.pop("target")
    result.update(
        members=names,
        best_member=best,
        ensembles=sorted(combined),
        merges=merges,
        headline=recipe.target_metric(),
        failed_members=failed or {},
        skipped=skipped,
        # per ensemble, per member: the candidate rows max_seq_length cut (merges: `merges`)
        truncation={name: r["truncation"] for name, r in records.items() if "truncation" in r},
        **_tokenization(members, base),
        **({"perplexity_left_out": perplexity_left_out(apart)} if apart else {}),
    )
    return result


def _base_label(members) -> str:
    """The base row's label: it is the first member's base model, named when members differ
    in theirs (the others' base models are not scored)."""
    first = members[0].recipe.model.name
    if all(gm.recipe.model.name == first for gm in members):
        return "base model"
    return f"base model ({first})"


def tokenised_now(members, rows: list[list[dict]]) -> list[list[dict]]:
    """`rows` (the base row of the first member, then each member's) with ROUGE and BLEU as
    this code tokenises them: ensembles and merges are scored now, and a re-run group skips
    finished members, so a member evaluated by earlier code is scored again from its saved
    answers (refused, naming it, without them)."""
    owners = [members[0], *members]
    out = []
    for gm, scored in zip(owners, rows, strict=True):
        fresh = scored_now(scored, _recorded(gm))
        if fresh is None:
            raise UserError(
                f"group member {gm.member.name}: its ROUGE/BLEU were tokenised another way "
                f"({describe_tokenization(_recorded(gm))}) than the ensembles and merges "
                "scored now, and its predictions lack the answers to score again; re-run its "
                f"evaluate stage (tunesmith run --stages evaluate {gm.run_dir.root})"
            )
        out.append(fresh)
    return out


def _tokenization(members, base: list[dict]) -> dict:
    """compare.json's record of how ROUGE and BLEU tokenised the group's test examples, and
    which members were scored again for it; nothing when neither is scored."""
    if not tokenised_metrics(base):
        return {}
    stale = [gm.member.name for gm in members if not is_current(_recorded(gm))]
    return {
        "tokenization": tokenization_record([r["reference"] for r in base]),
        "rescored": stale,
    }


def _recorded(gm) -> dict | None:
    path = gm.run_dir.eval / "metrics.json"
    return (read_optional_object(path) or {}).get("tokenization")


def _mergeable(recipe, members, failed, skipped: dict) -> list:
    """The merges that can be built from `members`; the others go to `skipped` with why."""
    chosen = []
    for cfg in recipe.group.merges or []:
        if too_few(members):
            skipped[cfg.name()] = too_few(members)
        elif failed and cfg.weights is not None:
            # the weights were written for every member: which of them to keep, and whether
            # to renormalise, is the user's choice, not ours
            skipped[cfg.name()] = (
                f"its {len(cfg.weights)} weights are for every member; {', '.join(failed)} failed"
            )
        else:
            chosen.append(cfg)
    return chosen


def best_member(recipe, predictions: dict, names: list[str], labels) -> str:
    """The member best on the headline test metric (an oracle choice: it favours the best
    member, so an ensemble that beats it beats any member chosen in advance)."""
    from tunesmith.stats import STATISTICS, columns_for
    from tunesmith.stats.bootstrap import identity

    key = recipe.target_metric()
    stat = STATISTICS.get(key)
    values = {}
    for name in names:
        cols = columns_for(predictions[name], labels)
        values[name] = float(stat.compute(cols, identity(len(predictions[name])))[0])
    pick = min if stat.lower_is_better else max
    return pick(names, key=lambda n: values[n])


def _labels(gm) -> list[str] | None:
    if not task_spec(gm.recipe.task).has_label:
        return None
    # the labels the members' evaluation used (evaluate/stage.py: the recipe's, else seen)
    path = gm.run_dir.eval / "metrics.json"
    labels = read_json_object(path).get("labels")
    if not isinstance(labels, list):
        raise UserError(f"{path}: damaged run file, no 'labels' list")
    return labels
