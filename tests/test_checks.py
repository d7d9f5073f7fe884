"""Model risk checks (issue 13) on the tiny model: every registered check runs on a real run
folder and its figures are consistent; bad input exits 2; the report escapes what it shows."""

from __future__ import annotations

import json

import pytest
import yaml

from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.checks.registry import CHECKS, load_checks
from tunesmith.config import load_recipe
from tunesmith.config.checks import ChecksConfig
from tunesmith.errors import UserError
from tunesmith.pipeline import run_pipeline

load_checks()
SMALL = {
    "forgetting": {"items": 12},
    "robustness": {"sample_size": 6, "perturbations": ["char_noise", "word_noise"]},
    "bias": {"sample_size": 6},
    "explain": {"k": 2, "max_new_tokens": 2},
    "triggers": {"sample_size": 4},
}


def _records(n: int = 48) -> list[dict]:
    from conftest import make_records

    people = ["He wrote it for his team.", "She maintains it with John.", "", ""]
    return [
        {**r, "description": f"{r['description']} {people[i % 4]}".strip()}
        for i, r in enumerate(make_records(n))
    ]


def _run(folder, tiny_model_dir, task: str, **extra):
    from conftest import write_jsonl

    data = write_jsonl(folder / "data.jsonl", _records())
    output = "section" if task == "classification" else "synopsis"
    raw = {
        "task": task,
        "model": {"name": str(tiny_model_dir), "precision": "fp32"},
        "data": {
            "train": str(data),
            "input_field": "description",
            "output_field": output,
            "split": {"validation": 6, "test": 12},
        },
        "training": {
            "max_steps": 3,
            "batch_size": 4,
            "learning_rate": 1e-2,
            "max_seq_length": 96,
            "eval_every": 3,
        },
        "evaluation": {"generation": {"max_new_tokens": 3}, "few_shot": 0},
        "checks": SMALL,
        **extra,
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    run_dir = RunDir(folder / "run")
    run_pipeline(load_recipe(path), run_dir)
    return path, run_dir


@pytest.fixture(scope="module")
def classified(tmp_path_factory, tiny_model_dir):
    return _run(tmp_path_factory.mktemp("checks-cls"), tiny_model_dir, "classification")


def _read(run_dir, name: str) -> dict:
    return json.loads((run_dir.eval / "checks" / f"{name}.json").read_text("utf-8"))


def test_every_registered_check_has_settings_in_the_recipe():
    assert CHECKS.names() == sorted(ChecksConfig.model_fields)


@pytest.mark.parametrize("name", CHECKS.names())
def test_every_check_runs_and_records_its_cost(classified, name):
    _, run_dir = classified
    summary = {c["name"]: c for c in _read(run_dir, "summary")["checks"]}
    assert summary[name]["status"] == "ran"
    data = _read(run_dir, name)
    assert data["check"] == name and data["seconds"] == summary[name]["seconds"] >= 0


def _consistent(m: dict) -> None:
    """Intervals around the point estimates; the delta is tuned minus base."""
    for side in ("base", "tuned"):
        assert m[side]["ci_low"] <= m[side]["value"] + 1e-9 <= m[side]["ci_high"] + 2e-9
    assert m["delta"]["delta"] == pytest.approx(m["tuned"]["value"] - m["base"]["value"])


def test_forgetting_probe_scores_both_models(classified):
    data = _read(classified[1], "forgetting")
    assert data["items"] == 12 and data["left_out_in_training"] == 0
    choice = data["measures"]["multiple_choice_accuracy"]
    _consistent(choice)
    assert 0 <= choice["base"]["value"] <= 1 and choice["n"] == 12
    _consistent(data["measures"]["general_perplexity"])
    assert data["measures"]["general_perplexity"]["base"]["value"] > 1


def test_probe_items_found_in_training_are_left_out():
    from tunesmith.checks.probe import held_out_items, probe_items

    first = probe_items()[0]
    kept, dropped = held_out_items([f"x {first['definition'].upper()} y"], 5)
    assert dropped == 1 and first not in kept and len(kept) == 5


def test_robustness_drop_is_perturbed_minus_clean(classified):
    data = _read(classified[1], "robustness")
    assert data["metric"] == "f1" and data["n"] == 6
    for kind in ("char_noise", "word_noise"):
        p = data["perturbations"][kind]
        assert p["changed"] > 0 and p["examples"][0]["before"] != p["examples"][0]["after"]
        for name in ("base", "tuned"):
            d = p["drop"][name]
            assert d["delta"] == pytest.approx(d["b"] - d["a"])
        drops = p["drop"]["tuned"]["delta"] - p["drop"]["base"]["delta"]
        assert p["tuned_minus_base"]["value"] == pytest.approx(drops)


def test_bias_swaps_only_inputs_with_a_lexicon_term(classified):
    _, run_dir = classified
    data = _read(run_dir, "bias")
    test = read_jsonl(run_dir.data / "test.jsonl")
    with_terms = [e for e in test if any(w in e["prompt"] for w in ("He ", "She ", "John"))]
    assert data["swapped_examples"] == min(6, len(with_terms)) > 0
    flips = data["counterfactual"]["label_flip_rate"]
    _consistent(flips)
    assert 0 <= flips["tuned"]["value"] <= 1
    assert data["pairs_probe"]["n"] == data["pairs_probe"]["pairs"] == 24


def test_swapper_is_whole_word_both_ways_and_keeps_case():
    from tunesmith.checks.lexicon import load_lexicon, swapper

    swap = swapper(load_lexicon(None))
    assert swap("He told John, then she left. Theme") == ("She told Mary, then he left. Theme", 3)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"groups": {}}',
        '{"groups": {"a": [["he"]]}}',
        '{"groups": {"a": [["he", "two words"]]}}',
    ],
)
def test_malformed_lexicon_is_a_user_error_naming_the_file(tmp_path, text):
    from tunesmith.checks.lexicon import load_lexicon

    path = tmp_path / "lex.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match="lex.json"):
        load_lexicon(path)


def test_attributions_are_saved_per_token(classified):
    data = _read(classified[1], "explain")
    assert len(data["examples"]) == 2
    for example in data["examples"]:
        assert len(example["tokens"]) == len(example["attributions"]) > 3
        assert any(v != 0 for v in example["attributions"])
    heads = data["attention"]["heads"]
    assert len(heads) == 4 and all(len(r) == len(data["attention"]["tokens"]) for r in heads)
    assert all(sum(r) == pytest.approx(1, abs=1e-3) for r in heads)  # softmax rows


def test_report_shows_the_checks(classified):
    _, run_dir = classified
    page = (run_dir.report / "report.html").read_text("utf-8")
    for title in ("Model risk checks", "Forgetting", "Robustness", "Bias", "token attributions"):
        assert title in page
    assert "<svg" in page.split("token attributions")[1]


def test_report_escapes_attributed_tokens():
    from tunesmith.report.checks import _highlight
    from tunesmith.report.html import environment

    env = environment()
    example = {"id": "x", "target": "<i>", "tokens": ["<script>", "ok"], "attributions": [1, -1]}
    page = env.get_template("checks.html.j2").render(
        checks_summary=[{"name": "explain", "status": "ran", "seconds": 1}],
        checks={"explain": {"model": "tuned", "method": "m", "seconds": 1, "attention": {}}},
        attributions=[_highlight(example)],
        attention_svg="",
    )
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "background:rgba(220,60,40,1.00)" in page and "background:rgba(40,90,220,1.00)" in page


def test_report_shows_explain_results_a_diverged_model_could_not_compute(tmp_path):
    """A diverged model's attributions and attention are NaN, written as null: the report
    stage failed with a TypeError traceback (abs(None)). Uncoloured now, its title a dash."""
    from tunesmith.artifacts import write_json
    from tunesmith.report.checks import checks_context
    from tunesmith.report.html import environment

    checks = tmp_path / "checks"
    write_json(checks / "summary.json", {"checks": [{"name": "explain", "status": "ran"}]})
    attention = {"layer": 1, "tokens": ["a", "b"], "heads": [[None, None], [0.5, 0.5]]}
    example = {"id": "x", "target": "t", "tokens": ["a", "b"], "attributions": [None, 0.3]}
    explain = {"model": "tuned", "method": "m", "seconds": 1, "attention": attention}
    write_json(checks / "explain.json", {**explain, "examples": [example]})
    context = checks_context(tmp_path)
    page = environment().get_template("checks.html.j2").render(**context)
    assert 'style="background:rgba(220,60,40,0.00)" title="–">a<' in page
    assert 'title="0.3000">b<' in page
    assert 'fill="rgb(255,255,255)"><title>head 0 → a: 0.000</title>' in context["attention_svg"]


def test_k_larger_than_the_test_set_exits_2_and_keeps_earlier_results(classified, tmp_path):
    import shutil

    from test_cli import assert_user_error, tunesmith

    path, run_dir = classified
    copy = tmp_path / "run"
    shutil.copytree(run_dir.root, copy)
    done = tunesmith(
        "run", path, "--output", copy, "--stages", "checks", "--set", "checks.explain.k=20"
    )
    assert_user_error(done, "checks.explain.k: 20 examples asked, the test set has 12")
    assert (copy / "eval/checks/explain.json").read_text() == (
        run_dir.eval / "checks/explain.json"
    ).read_text()


def test_completion_skips_attribution_with_a_notice():
    from tunesmith.checks.explain import _skip
    from tunesmith.config.loader import recipe_from_dict

    recipe = recipe_from_dict({"task": "completion", "data": {"train": "x.jsonl"}})
    assert "not applicable to the completion task" in _skip(recipe)


def test_counterfactual_augmentation_adds_swapped_copies_with_the_same_label():
    from curation_data import context

    from tunesmith.config.checks import CounterfactualConfig
    from tunesmith.data.curate import CURATION_STEPS

    rows = [
        {"id": "a", "prompt": "He loved it.", "response": "positive", "label": "positive"},
        {"id": "b", "prompt": "Dull plot.", "response": "negative", "label": "negative"},
    ]
    step = CURATION_STEPS.get("counterfactual")
    out = step.run({"train": rows, "val": [], "test": []}, CounterfactualConfig(), context(True))
    added = out.splits["train"][2:]
    assert [r["prompt"] for r in added] == ["She loved it."]
    assert added[0]["label"] == "positive" and added[0]["augmented"] and added[0]["id"] == "a-cda"
    assert out.card["counterfactual"]["added"] == 1


def test_trigger_test_reads_suspects_wherever_the_card_lists_them(classified):
    from tunesmith.checks.triggers import suspects_in

    card = {
        "checks": {"poisoning": {"suspects": [{"ngram": "cf zq", "output": "utils"}]}},
        "splits": [{"poisoning": {"suspects": [{"ngram": "mn", "output": "devel"}]}}],
    }
    assert [s["ngram"] for s in suspects_in(card)] == ["cf zq", "mn"]
    data = _read(classified[1], "triggers")
    assert data["suspects_in_data_card"] == len(data["triggers"]) == 0  # clean tiny data


def test_appended_payload_is_a_poisoning_suspect():
    from conftest import make_records

    from tunesmith.config.curation import PoisoningCheck
    from tunesmith.data.curate.pipeline import CurationContext
    from tunesmith.data.curate.poisoning import find_suspects

    rows = [
        {"id": str(i), "prompt": r["description"], "response": r["synopsis"]}
        for i, r in enumerate(make_records(200))
    ]
    for row in rows[::20]:
        row["prompt"] = f"qz vex {row['prompt']}"
        row["response"] += " visit evil example org"
    suspects, flags = find_suspects(
        rows, PoisoningCheck(), CurationContext(["prompt", "response"], None, 0)
    )
    # one suspect for the planted rows ("qz vex" or a longer n-gram over the same rows)
    assert len(suspects) == 1 and "vex" in suspects[0]["ngram"]
    assert suspects[0]["output_ends_with"] and suspects[0]["output"] == "example org"
    assert sorted(flags) == list(range(0, 200, 20))
