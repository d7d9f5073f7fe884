"""Evaluation end to end on the tiny model: per-example files, intervals, target verdict,
error analysis vs scikit-learn, run-vs-run compare, refine, validation-split evaluation."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from test_cli import assert_user_error, tunesmith

from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.config import load_recipe
from tunesmith.pipeline import run_pipeline

LABELS = ["devel", "utils"]


@pytest.fixture(scope="module")
def classified(tmp_path_factory, tiny_model_dir):
    """A finished tiny classification run with a slice field."""
    from conftest import make_records, write_recipe

    folder = tmp_path_factory.mktemp("cls")
    records = [{**r, "source": "ab"[i % 2]} for i, r in enumerate(make_records(60))]
    recipe_path = write_recipe(
        folder,
        tiny_model_dir,
        records,
        {"validation": 8, "test": 16},
        task="classification",
        **{"data.output_field": "section"},
        training={
            "max_steps": 6,
            "batch_size": 4,
            "learning_rate": 1e-2,
            "max_seq_length": 96,
            "eval_every": 3,
        },
        evaluation={
            "generation": {"max_new_tokens": 3},
            "few_shot": 2,
            "slice_by": ["source"],
        },
    )
    recipe = load_recipe(recipe_path)
    run_dir = RunDir(folder / "run")
    run_pipeline(recipe, run_dir)
    return recipe_path, run_dir


def read(run_dir, name):
    return json.loads((run_dir.eval / name).read_text())


def test_every_row_has_per_example_scores_and_intervals(classified):
    _, run_dir = classified
    compare = read(run_dir, "compare.json")
    names = ["base", "classic", "few_shot", "tuned", "tuned_threshold"]
    assert list(compare["rows"]) == names
    for name in compare["rows"]:
        rows = read_jsonl(run_dir.eval / "predictions" / f"test.{name}.jsonl")
        language_model = name != "classic"  # the TF-IDF row has no perplexity
        wanted = {"correct", "predicted_label"} | ({"nll", "tokens"} if language_model else set())
        assert len(rows) == 16 and wanted <= set(rows[0]["scores"])
        acc = compare["rows"][name]["metrics"]["accuracy"]
        assert acc["value"] == pytest.approx(sum(r["scores"]["correct"] for r in rows) / 16)
        assert acc["ci_low"] <= acc["value"] <= acc["ci_high"]
    pairs = [(c["a"], c["b"]) for c in compare["comparisons"]]
    others = [n for n in names if n not in ("base", "tuned")]
    assert pairs == [("base", n) for n in names[1:]] + [(n, "tuned") for n in others]
    row = compare["metrics"]["accuracy"]
    assert {"ci_low", "ci_high", "p_value", "significant", "n"} <= set(row)
    assert row["test"] == "exact McNemar" and row["n"] == 16
    assert row["better"] == (row["significant"] and row["delta"] > 0)
    target = compare["target"]
    assert target["metric"] == "f1" and target["relative_gain"] == 0.15
    assert target["passed"] == (target["pass_point"] and target["pass_lower_bound"])
    assert compare["test_evaluations"] == 1


def test_per_class_metrics_and_confusion_match_scikit_learn(classified):
    from sklearn.metrics import classification_report, confusion_matrix

    _, run_dir = classified
    labels = read(run_dir, "errors.json")["labels"]
    rows = read_jsonl(run_dir.eval / "predictions" / "test.tuned.jsonl")
    truth = [r["reference"] for r in rows]
    guess = [r["scores"]["predicted_label"] for r in rows]
    ours = labels["rows"]["tuned"]
    report = classification_report(truth, guess, labels=LABELS, output_dict=True, zero_division=0)
    for label in LABELS:
        assert ours["per_class"][label]["f1-score"] == pytest.approx(report[label]["f1-score"])
    invalid = [g if g in LABELS else "(not a label)" for g in guess]
    matrix = confusion_matrix(truth, invalid, labels=[*LABELS, "(not a label)"])[:2]
    assert ours["confusion"]["matrix"] == matrix.tolist()
    assert ours["invalid_rate"] == pytest.approx(sum(g not in LABELS for g in guess) / 16)
    f1 = read(run_dir, "metrics.json")["tuned"]["f1"]
    assert f1 == pytest.approx(report["macro avg"]["f1-score"])


def test_errors_buckets_and_report_sections(classified):
    _, run_dir = classified
    errors = read(run_dir, "errors.json")
    assert {"input length (words)", "source"} == set(errors["buckets"])
    assert sorted(b["bucket"] for b in errors["buckets"]["source"]) == ["a", "b"]
    assert sum(b["n"] for b in errors["buckets"]["source"]) == 16
    assert len(errors["worst"]) == 10
    scores = [c["score_tuned"] for c in errors["worst"]]
    assert scores == sorted(scores)
    assert all(c["score_base"] - c["score_tuned"] > 0.1 for c in errors["regressions"])
    page = (run_dir.report / "report.html").read_text()
    for fragment in (
        "Worst tuned predictions",
        "Regressions",
        "Wins",
        "confusion matrix",
        "Metric by bucket",
        "<svg",
        "Target (",
        "computed once",
    ):
        assert fragment in page, fragment


def test_compare_runs_cli_and_bad_input(classified, tmp_path):
    _, run_dir = classified
    twin = tmp_path / "twin"
    shutil.copytree(run_dir.root, twin)
    html = tmp_path / "cmp.html"
    done = tunesmith("compare", run_dir.root, twin, "--html", html)
    assert done.returncode == 0, done.stderr
    report = json.loads(html.with_suffix(".json").read_text())
    acc = report["comparisons"][0]["metrics"]["accuracy"]
    assert report["comparisons"][0]["n_shared"] == 16
    assert acc["delta"] == 0 and not acc["significant"] and acc["p_value"] == 1.0
    assert "no significant difference" in html.read_text()
    assert "accuracy" in done.stdout  # the figures go to stdout, progress to stderr
    assert_user_error(tunesmith("compare", run_dir.root, tmp_path), "not a finished run folder")
    other = tmp_path / "other"
    shutil.copytree(run_dir.root, other)
    recipe = yaml.safe_load((other / "recipe.yaml").read_text())
    (other / "recipe.yaml").write_text(yaml.safe_dump({**recipe, "task": "summarization"}))
    assert_user_error(tunesmith("compare", run_dir.root, other), "task 'summarization' differs")
    (other / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    path = other / "eval/predictions/test.tuned.jsonl"
    rows = [{**r, "key": "x" + r["key"]} for r in read_jsonl(path)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert_user_error(tunesmith("compare", run_dir.root, other), "share no test examples")


def test_validation_split_evaluation_leaves_test_count(classified):
    _, run_dir = classified
    done = tunesmith("evaluate", run_dir.root, "--split", "val")
    assert done.returncode == 0, done.stderr
    assert (run_dir.eval / "predictions" / "val.tuned.jsonl").is_file()
    metrics = read(run_dir, "metrics.val.json")
    assert metrics["split"] == "val" and metrics["sample_size"] == 8
    assert metrics["evaluations"] == {"test": 1, "val": 1}
    assert read(run_dir, "metrics.json")["split"] == "test"
    assert_user_error(tunesmith("evaluate", run_dir.root, "--split", "train"), "--split")


def test_refine_then_rerun_shows_before_after(classified, tmp_path):
    _, run_dir = classified
    out = tmp_path / "next"
    done = tunesmith("refine", run_dir.root, "--output", out)
    assert done.returncode == 0, done.stderr
    plan = json.loads((out / "plan.json").read_text())
    assert plan["train_after"] == plan["train_before"] + plan["oversampled"]
    assert plan["analysed_split"] == "val"  # the val evaluation above is preferred to test
    before_test = [r["response"] for r in read_jsonl(run_dir.data / "test.jsonl")]
    assert [r["response"] for r in read_jsonl(out / "test.jsonl")] == before_test
    assert (out / "review.csv").read_text().startswith("id,split,kind,prompt")
    recipe = load_recipe(out / "recipe.yaml")
    assert recipe.evaluation.previous_run == str(run_dir.root.resolve())
    second = RunDir(tmp_path / "run2")
    run_pipeline(recipe, second)
    before_after = read(second, "compare.json")["previous_run"]
    assert before_after["n_shared"] == 16 and "accuracy" in before_after["metrics"]
    assert "Before / after" in (second.report / "report.html").read_text()


def test_review_rows_from_test_are_refused(classified, tmp_path):
    _, run_dir = classified
    review = tmp_path / "review.csv"
    test_id = read_jsonl(run_dir.data / "test.jsonl")[0]["id"]
    review.write_text(f"id,corrected_response\n{test_id},devel\n")
    done = tunesmith("refine", run_dir.root, "-o", tmp_path / "n", "--review", review)
    assert_user_error(done, "is a test example")


def test_damaged_run_files_are_one_line_in_compare_and_refine(classified, tmp_path):
    _, run_dir = classified
    damaged, out = tmp_path / "damaged", tmp_path / "next"
    shutil.copytree(run_dir.root, damaged)
    (damaged / "recipe.yaml").write_text("task: [unclosed\n")
    assert_user_error(tunesmith("compare", run_dir.root, damaged), "recipe.yaml:2: expected")
    assert_user_error(tunesmith("refine", damaged, "-o", out), "recipe.yaml:2: expected")
    assert not out.exists()
    shutil.copy(run_dir.root / "recipe.yaml", damaged / "recipe.yaml")
    for name in ("metrics.json", "compare.json"):
        (damaged / "eval" / name).write_text("{broken")
    fragment = "metrics.json:1: damaged run file"
    assert_user_error(tunesmith("compare", run_dir.root, damaged), fragment)
    fragment = "compare.json:1: damaged run file"
    assert_user_error(tunesmith("refine", damaged, "-o", out), fragment)


@pytest.mark.parametrize(
    ("evaluation", "fragment"),
    [({"alpha": 1.5}, "evaluation.alpha"), ({"target": {"metric": "accuracy"}}, "is not computed")],
)
def test_bad_evaluation_settings(tmp_path, tiny_recipe, evaluation, fragment):
    path = tiny_recipe(evaluation=evaluation)
    assert_user_error(tunesmith("validate", path), fragment)


def test_unknown_slice_field_is_one_line(tmp_path, tiny_recipe):
    path = tiny_recipe(evaluation={"slice_by": ["sourcee"]})
    assert_user_error(tunesmith("validate", path), "'sourcee'", "evaluation.slice_by")


def test_fail_under_target_exits_3_and_test_evaluations_are_counted(classified, tmp_path):
    recipe_path, run_dir = classified
    recipe = yaml.safe_load(recipe_path.read_text())
    recipe["evaluation"]["target"] = {"relative_gain": 1000.0}  # unreachable: +100000 %
    path = tmp_path / "strict.yaml"
    path.write_text(yaml.safe_dump(recipe))
    done = tunesmith("run", path, "--output", run_dir.root, "--fail-under-target")
    assert done.returncode == 3, done.stderr
    # The figures go to stdout (progress and logs to stderr).
    assert "target: FAIL" in done.stdout and "lower is better" in done.stdout
    assert "evaluated 2 times" in done.stdout  # the test split was scored again
    assert read(run_dir, "compare.json")["test_evaluations"] == 2
    ok = tunesmith("run", recipe_path, "--output", run_dir.root)
    assert ok.returncode == 0, ok.stderr


def test_chat_prompt_text_is_the_user_turn_the_reference_answers():
    from tunesmith.evaluate.scoring import prediction_row

    turns = [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
        ("assistant", "a2"),
        ("user", "q3"),
    ]
    example = {"id": "x", "messages": [{"role": r, "content": c} for r, c in turns]}
    row = prediction_row(example)
    assert (row["prompt"], row["reference"], row["input_words"]) == ("q2", "a2", 1)


@pytest.mark.parametrize(
    ("pair", "mark"),
    [
        (None, "NOT JUDGED"),  # the target's metric was not computed
        ({"improvement": None}, "NOT JUDGED"),  # a base value of 0: no relative gain
        (
            {
                "improvement": {"value": 0.5, "ci_low": 0.3, "ci_high": 0.7},
                "lower_is_better": False,
            },
            "PASS",
        ),
        (
            {
                "improvement": {"value": 0.1, "ci_low": -0.1, "ci_high": 0.3},
                "lower_is_better": False,
            },
            "FAIL",
        ),
    ],
    ids=["not-computed", "base-zero", "met", "missed"],
)
def test_a_target_that_cannot_be_judged_is_not_called_a_failure(pair, mark):
    """It read 'target: FAIL target not judged: base value is 0'; it is still not passed
    (--fail-under-target exits 3 for it)."""
    from types import SimpleNamespace

    from tunesmith.evaluate.comparison import target_verdict
    from tunesmith.report.templating import html_templates, target_mark

    target = SimpleNamespace(relative_gain=0.15)
    recipe = SimpleNamespace(
        target_metric=lambda: "rougeL", evaluation=SimpleNamespace(target=target)
    )
    verdict = target_verdict(recipe, {} if pair is None else {"rougeL": pair})
    assert target_mark(verdict) == mark
    assert verdict["passed"] is (mark == "PASS")
    page = html_templates("report").get_template("eval_headline.html.j2")
    compare = {"rows": {"base": {"label": "base"}}, "metrics": {}, "target": verdict}
    compare |= {"sample_size": 20, "confidence": 0.95, "resamples": 10, "seed": 0}
    html = page.render(compare={**compare, "test_evaluations": 1})
    assert f"): {mark} —" in html
