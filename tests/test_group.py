"""Run groups end to end on the tiny random model: three members on shared data, resumable,
their ensembles and verified merges compared with paired intervals on the same examples."""

from __future__ import annotations

import json

import pytest
from group_helpers import group_recipe

from tunesmith.artifacts import read_jsonl
from tunesmith.config import load_recipe
from tunesmith.group.driver import run_group

MERGES = [{"method": "linear"}, {"method": "ties", "density": 0.5}]


@pytest.fixture(scope="module")
def group_run(tmp_path_factory, tiny_model_dir):
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("group")
    group = {"members": {"seeds": [0, 1, 2]}, "merges": MERGES}
    # every row and prompt is longer than 40 tokens: the ensembles' and merges' cuts are counted
    recipe = load_recipe(group_recipe(folder, tiny_model_dir, group, max_seq_length=40))
    out = folder / "out"
    console = io.StringIO()
    with contextlib.redirect_stderr(console):
        result = run_group(recipe, out)
    (folder / "console.txt").write_text(" ".join(console.getvalue().split()))
    return recipe, out, result


def test_members_are_run_folders_sharing_one_curation(group_run):
    _, out, result = group_run
    assert result["members"] == ["seed-0", "seed-1", "seed-2"]
    shared = next(p for p in (out / "data").iterdir() if p.is_dir())
    for name in result["members"]:
        member = out / "members" / name
        # hard links to the one curated copy (same inode), the test split included
        for split in ("train.jsonl", "val.jsonl", "test.jsonl"):
            assert (member / "data" / split).stat().st_ino == (
                shared / "data" / split
            ).stat().st_ino
        assert (member / "train" / "adapter" / "adapter_config.json").is_file()
        seed = yaml_seed(member)
        assert seed == int(name.split("-")[1])
    seeds = {
        json.loads((out / "members" / n / "manifest.json").read_text())["seed"]
        for n in result["members"]
    }
    assert seeds == {0, 1, 2}


def yaml_seed(member) -> int:
    import yaml

    return yaml.safe_load((member / "recipe.yaml").read_text())["training"]["seed"]


def test_rerun_skips_finished_members(group_run):
    from tunesmith.group.driver import train_members

    recipe, out, _ = group_run
    outcomes = []
    train_members(recipe, out, on_member=lambda k, gm, outcome: outcomes.append(outcome))
    assert len(outcomes) == 3
    assert all(set(o.values()) == {"skipped"} for o in outcomes)


def test_generation_ensembles_pick_a_member_output_per_example(group_run):
    _, out, result = group_run
    assert {"ensemble_mbr", "ensemble_likelihood"} <= set(result["ensembles"])
    members = [
        read_jsonl(out / "members" / n / "eval/predictions/test.tuned.jsonl")
        for n in result["members"]
    ]
    for name in ("mbr", "likelihood"):
        rows = read_jsonl(out / "ensembles" / "predictions" / f"test.{name}.jsonl")
        assert len(rows) == len(members[0]) == result["sample_size"]
        for k, row in enumerate(rows):
            assert row["prediction"] in {m[k]["prediction"] for m in members}
            assert row["id"] == members[0][k]["id"]


def test_ensembles_and_merges_are_compared_with_every_member(group_run):
    _, _, result = group_run
    pairs = {(c["a"], c["b"]) for c in result["comparisons"]}
    for row in result["ensembles"]:
        assert ("base", row) in pairs
        for member in result["members"]:
            assert (member, row) in pairs
    assert result["best_member"] in result["members"]
    rouge = result["rows"]["ensemble_mbr"]["metrics"]["rougeL"]
    assert rouge["ci_low"] <= rouge["value"] <= rouge["ci_high"]
    # merged adapters are models: they also have a perplexity; output ensembles have none
    assert "perplexity" in result["rows"]["merge_linear"]["metrics"]
    assert "perplexity" not in result["rows"]["ensemble_mbr"]["metrics"]
    # how ROUGE and BLEU tokenised the test examples, as a run's compare.json says
    assert result["tokenization"]["bleu"] == "sacrebleu, tokenize=13a"
    assert result["tokenization"]["version"] == 2 and result["rescored"] == []


def test_merges_are_saved_reloaded_and_match_the_exact_combination(group_run):
    _, out, result = group_run
    for name in ("merge_linear", "merge_ties"):
        record = result["merges"][name]
        assert record["status"] == "verified"
        assert record["error"] < 1e-5
        assert (out / "merges" / name / "adapter" / "adapter_model.safetensors").is_file()
    # linear is exact: the merged rank holds the whole weighted sum
    assert result["merges"]["merge_linear"]["approximation_error"] < 1e-5
    assert result["merges"]["merge_linear"]["rank"] == 12  # three rank-4 members


def test_rows_cut_by_the_merges_and_the_likelihood_ensemble_are_counted(group_run):
    """Both scored cut rows (the merged adapters' prompts and references, the likelihood
    ensemble's candidates) without a word."""
    _, out, result = group_run
    said = (out.parent / "console.txt").read_text()
    for name in ("merge_linear", "merge_ties"):
        cut = {"prompt": 10, "scored_prompt": 10, "rows": 10}
        assert result["merges"][name]["truncation"] == cut
        assert json.loads((out / "merges" / name / "merge.json").read_text())["truncation"] == cut
        assert f"merge {name}: 10 of 10 examples longer than max_seq_length 40" in said
    for member in result["members"]:  # 10 examples x 3 candidates, each scored by each member
        assert (
            f"likelihood ensemble ({member}): 30 of 30 rows (100%) longer than max_seq_length 40 "
            "were cut (prompt cut: 30, answer cut: 0;" in said
        )


def test_the_likelihood_ensembles_cuts_are_recorded_and_shown(group_run):
    """compare.json records per member how many candidate rows were cut (as every stage's
    `truncation`), and the group report shows them with the merges' (a console line only)."""
    _, out, result = group_run
    cut = {"rows": 30, "cut": 30, "prompt_cut": 30, "answer_cut": 0, "max_seq_length": 40}
    assert result["truncation"] == {"ensemble_likelihood": dict.fromkeys(result["members"], cut)}
    saved = json.loads((out / "compare.json").read_text())
    assert saved["truncation"] == result["truncation"]
    page = " ".join((out / "report.html").read_text().split())
    for member in result["members"]:
        assert (
            f"ensemble likelihood, candidates scored by {member}: 30 of 30 (example, candidate) "
            "rows cut to 40 tokens (prompt cut 30, answer cut 0;" in page
        )
    assert "merge_linear: 10 of 10 examples cut (prompt cut: 10, scored prompt cut: 10)" in page


def test_report_lists_rows_and_merges(group_run):
    _, out, _ = group_run
    page = (out / "report.html").read_text()
    assert "merge_linear" in page and "ensemble mbr" in page and "seed-1" in page


def test_classification_group_votes_over_member_probabilities(tmp_path, tiny_model_dir):
    path = group_recipe(tmp_path, tiny_model_dir, {"members": {"seeds": [0, 1]}}, "classification")
    result = run_group(load_recipe(path), tmp_path / "out")
    assert set(result["ensembles"]) == {"ensemble_majority", "ensemble_probability"}
    members = [
        read_jsonl(tmp_path / "out/members" / n / "eval/predictions/test.tuned.jsonl")
        for n in result["members"]
    ]
    soft = read_jsonl(tmp_path / "out/ensembles/predictions/test.probability.jsonl")
    for k, row in enumerate(soft):
        for label, p in row["probabilities"].items():
            mean = sum(m[k]["probabilities"][label] for m in members) / 2
            assert p == pytest.approx(mean, abs=1e-6)
        assert row["prediction"] == max(row["probabilities"], key=row["probabilities"].get)
        assert row["scores"]["correct"] == float(row["prediction"] == row["reference"])
    assert "accuracy" in result["rows"]["ensemble_majority"]["metrics"]
