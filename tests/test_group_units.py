"""Run-group pieces without models: votes, MBR selection, member kinds, the recipe section."""

from __future__ import annotations

import typing

import pytest

from tunesmith.config import group as group_config
from tunesmith.ensemble.methods import ENSEMBLES, EnsembleInputs, load_ensembles
from tunesmith.ensemble.similarity import SIMILARITIES
from tunesmith.group.members import MEMBER_KINDS

load_ensembles()


def row(label: str, probs: dict | None = None) -> dict:
    out = {"id": "x", "prediction": label, "scores": {"predicted_label": label}}
    if probs is not None:
        out["probabilities"] = probs
    return out


def inputs(rows, labels=("a", "b", "c"), similarity="rouge") -> EnsembleInputs:
    recipe = type("R", (), {"group": group_config.GroupConfig(similarity=similarity)})()
    return EnsembleInputs(recipe, [{}] * len(rows[0]), rows, list(labels))


def test_majority_vote_and_its_tie_break():
    votes = [
        [row("a"), row("b")],
        [row("a"), row("c")],
        [row("b"), row("c")],
    ]
    chosen = [c.prediction for c in ENSEMBLES.get("majority").combine(inputs(votes))]
    # example 0: a, a, b -> a; example 1: b, c, c -> c
    assert chosen == ["a", "c"]
    tie = [[row("c")], [row("b")]]  # one vote each: first in label order
    assert ENSEMBLES.get("majority").combine(inputs(tie))[0].prediction == "b"


def test_probability_vote_can_overrule_the_majority():
    p = [
        [row("a", {"a": 0.55, "b": 0.45})],
        [row("a", {"a": 0.51, "b": 0.49})],
        [row("b", {"a": 0.01, "b": 0.99})],
    ]
    ins = inputs(p, labels=("a", "b"))
    assert ENSEMBLES.get("majority").combine(ins)[0].prediction == "a"
    soft = ENSEMBLES.get("probability").combine(ins)[0]
    assert soft.prediction == "b"
    assert soft.probabilities == {
        "a": pytest.approx(0.3567, abs=1e-4),
        "b": pytest.approx(0.6433, abs=1e-4),
    }


def test_mbr_picks_the_output_closest_to_the_others():
    outs = [[row("red apple pie")], [row("red apple tart")], [row("blue sky")]]
    chosen = ENSEMBLES.get("mbr").combine(inputs(outs))[0].prediction
    assert chosen == "red apple pie"  # ties with the tart; the earlier member wins


@pytest.mark.parametrize("name", SIMILARITIES.names())
def test_similarities_are_one_on_identical_text(name):
    sim = SIMILARITIES.get(name)()
    assert sim("a small fast parser", "a small fast parser") == pytest.approx(1.0)
    assert sim("a small fast parser", "zzz qqq") < 0.5


def test_recipe_names_equal_the_registries():
    assert sorted(typing.get_args(group_config.EnsembleName)) == ENSEMBLES.names()
    assert sorted(typing.get_args(group_config.SimilarityName)) == SIMILARITIES.names()
    from tunesmith.ensemble.merge import COMBINATIONS

    assert sorted(typing.get_args(group_config.MergeName)) == sorted(COMBINATIONS)
    kinds = [
        typing.get_args(m.model_fields["kind"].annotation)[0]
        for m in (group_config.SeedMembers, group_config.SubsetMembers, group_config.VariantMembers)
    ]
    assert sorted(kinds) == MEMBER_KINDS.names()


@pytest.mark.parametrize(
    ("members", "names"),
    [
        ({"seeds": [3, 4]}, ["seed-3", "seed-4"]),
        ({"count": 2, "fraction": 0.5}, ["subset-0", "subset-1"]),
        (
            {"variants": [{"training.lora.r": 2}, {"training.lora.r": 8}]},
            ["variant-0", "variant-1"],
        ),
    ],
)
def test_member_kinds_from_their_keys(members, names):
    from tunesmith.group.members import members_of

    group = group_config.GroupConfig(members=members)
    assert [m.name for m in members_of(group)] == names


def test_subset_member_keeps_a_seeded_share_and_never_writes_the_shared_file(tmp_path):
    import os

    from tunesmith.artifacts import RunDir, read_jsonl, write_jsonl
    from tunesmith.group.members import keep_subset

    shared = tmp_path / "shared.jsonl"
    write_jsonl(shared, [{"id": str(i)} for i in range(20)])
    run_dir = RunDir(tmp_path / "member")
    run_dir.data.mkdir(parents=True)
    os.link(shared, run_dir.data / "train.jsonl")
    assert keep_subset(run_dir, 0.25, seed=1) == 5
    kept = [r["id"] for r in read_jsonl(run_dir.data / "train.jsonl")]
    assert len(set(kept)) == 5
    assert len(read_jsonl(shared)) == 20  # the hard link was replaced, not written through
    again = RunDir(tmp_path / "again")
    again.data.mkdir(parents=True)
    os.link(shared, again.data / "train.jsonl")
    keep_subset(again, 0.25, seed=1)
    assert [r["id"] for r in read_jsonl(again.data / "train.jsonl")] == kept  # resumable


def test_duplicate_merge_methods_are_refused():
    with pytest.raises(ValueError, match="each method at most once"):
        group_config.GroupConfig(merges=[{"method": "ties"}, {"method": "ties"}])


def test_one_line_records_keep_a_user_errors_words_and_name_a_crash():
    """The pipeline's manifest and a group member's record share errors.one_line."""
    from tunesmith.errors import UserError, one_line

    assert one_line(UserError("data.train: bad row\nmore"), named=False) == "data.train: bad row"
    assert one_line(UserError("data.train: bad row")) == "UserError: data.train: bad row"
    assert one_line(RuntimeError("CUDA error: lost\n  at x")) == "RuntimeError: CUDA error: lost"
    assert one_line(RuntimeError(" \n")) == "RuntimeError"
    assert one_line(UserError(""), named=False) == ""


def test_a_listed_ensemble_is_refused_for_what_it_lacks():
    """The task lacks a vote (summarization), or the members' generated labels lack the
    probabilities the soft vote averages: each refusal says which."""
    from tunesmith.ensemble.methods import not_applicable

    def recipe(task):
        return type("R", (), {"task": task})()

    probability = ENSEMBLES.get("probability")
    assert str(not_applicable(recipe("summarization"), probability)) == (
        "group.ensembles: 'probability' (probability-averaged vote) does not apply to this "
        "summarization task"
    )
    assert str(not_applicable(recipe("classification"), probability)) == (
        "group.ensembles: 'probability' (probability-averaged vote) needs label probabilities "
        "(evaluation.classification.scoring: likelihood), which the members' predictions lack"
    )
