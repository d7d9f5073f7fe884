"""`tunesmith compare` never mixes ROUGE/BLEU scores tokenised two ways: runs evaluated by
earlier code (one BLEU tokenizer per corpus, or no record at all) are scored again from their
saved answers, or refused when the answers are gone."""

from __future__ import annotations

import json
import shutil

import pytest
from sacrebleu.metrics import BLEU
from test_cli import assert_user_error, tunesmith

from tunesmith.errors import UserError
from tunesmith.metrics.per_example import example_scores
from tunesmith.metrics.tokenization import ROUGE_TOKENIZATION, tokenization_record

# Mostly English, one Chinese row: earlier code gave the whole corpus '13a'.
REFS = ["the cat sat on the mat", "a dog barked loudly", "it rained all day", "今天天气不好"] * 3
PREDS = ["the cat sat on a mat", "a dog barked", "it rained all day long", "今天天气很好"] * 3
OLD_RECORD = {"rouge": ROUGE_TOKENIZATION, "bleu": "sacrebleu, tokenize=13a"}


def _rows(bleu_stats: list[list[int]]) -> list[dict]:
    rouge = example_scores(["rouge"], PREDS, REFS)
    return [
        {
            "id": f"e{i}",
            "key": f"k{i}",
            "prediction": p,
            "reference": r,
            "scores": {**rouge[i], "bleu_stats": stats},
        }
        for i, (p, r, stats) in enumerate(zip(PREDS, REFS, bleu_stats, strict=True))
    ]


def _old_stats() -> list[list[int]]:
    """The counts earlier code saved: '13a' for every row of this corpus."""
    old = BLEU(tokenize="13a", effective_order=True)
    scores = [old.sentence_score(p, [r]) for p, r in zip(PREDS, REFS, strict=True)]
    return [[s.sys_len, s.ref_len, *s.counts, *s.totals] for s in scores]


def _new_stats() -> list[list[int]]:
    """The counts this code saves: 'zh' for the Chinese rows."""
    return [row["bleu_stats"] for row in example_scores(["bleu"], PREDS, REFS)]


def _run(folder, recipe_path, rows: list[dict], record: dict | None):
    (folder / "eval" / "predictions").mkdir(parents=True)
    shutil.copy(recipe_path, folder / "recipe.yaml")
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    (folder / "eval" / "predictions" / "test.tuned.jsonl").write_text(text, encoding="utf-8")
    metrics = {"sample_size": len(rows), "split": "test"}
    if record is not None:
        metrics["tokenization"] = record
    (folder / "eval" / "metrics.json").write_text(json.dumps(metrics))
    return folder


@pytest.fixture
def runs(tmp_path, tiny_recipe):
    """The same answers, evaluated by earlier code (old) and by this code (new)."""
    recipe = tiny_recipe()
    old = _run(tmp_path / "old", recipe, _rows(_old_stats()), OLD_RECORD)
    new = _run(tmp_path / "new", recipe, _rows(_new_stats()), tokenization_record(REFS))
    return tmp_path, old, new


@pytest.mark.parametrize("old_record", [OLD_RECORD, None])
def test_a_run_tokenised_the_old_way_is_scored_again_from_its_answers(runs, old_record):
    """Was a BLEU difference of -1.96 between two runs with the very same answers."""
    from tunesmith.cli.compare_cmd import compare_runs

    tmp_path, old, new = runs
    if old_record is None:  # a run from before the tokenisation was recorded
        (old / "eval" / "metrics.json").write_text(json.dumps({"sample_size": len(REFS)}))
    report = compare_runs([old, new], tmp_path / "cmp.html")
    comparison = report["comparisons"][0]
    assert comparison["metrics"]["bleu"]["delta"] == 0.0
    assert comparison["metrics"]["rouge1"]["delta"] == 0.0
    assert comparison["rescored"] == [str(old)]
    assert comparison["tokenization"]["bleu_rows"] == {"zh": 3, "13a": 9}
    page = (tmp_path / "cmp.html").read_text()
    assert "Scored again from saved answers" in page and "zh 3, 13a 9" in page


def test_runs_tokenised_alike_keep_their_saved_scores(runs):
    from tunesmith.cli.compare_cmd import compare_runs

    tmp_path, _, new = runs
    twin = shutil.copytree(new, tmp_path / "twin")
    comparison = compare_runs([new, twin], tmp_path / "cmp.html")["comparisons"][0]
    assert "rescored" not in comparison  # nothing scored again
    assert comparison["tokenization"]["version"] == 2
    assert comparison["metrics"]["bleu"]["delta"] == 0.0


def test_a_run_without_its_answers_is_refused_naming_both_runs(runs):
    tmp_path, old, new = runs
    path = old / "eval" / "predictions" / "test.tuned.jsonl"
    rows = [
        {k: v for k, v in json.loads(line).items() if k != "prediction"}
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    done = tunesmith("compare", new, old, "--html", tmp_path / "cmp.html")
    assert_user_error(done, str(new), str(old), "tokenised ROUGE/BLEU differently", "tokenize=13a")
    assert not (tmp_path / "cmp.html").exists()


def _member(folder, name: str, rows: list[dict], record: dict | None):
    from types import SimpleNamespace

    from tunesmith.artifacts import RunDir

    (folder / "eval").mkdir(parents=True)
    metrics = {"tokenization": record} if record is not None else {}
    (folder / "eval" / "metrics.json").write_text(json.dumps(metrics))
    return SimpleNamespace(member=SimpleNamespace(name=name), run_dir=RunDir(folder)), rows


def test_a_group_member_evaluated_by_earlier_code_is_scored_again(tmp_path):
    """A re-run group skips finished members: their old counts met ensembles scored now."""
    from tunesmith.group.compare import _tokenization, tokenised_now

    new_rows = _rows(_new_stats())
    old, old_rows = _member(tmp_path / "old", "seed-0", _rows(_old_stats()), OLD_RECORD)
    new, _ = _member(tmp_path / "new", "seed-1", new_rows, tokenization_record(REFS))
    base, *members = tokenised_now([old, new], [old_rows, old_rows, new_rows])
    assert [r["scores"] for r in base] == [r["scores"] for r in new_rows]
    assert members[0] == base and members[1] is new_rows  # a current member is kept as is
    record = _tokenization([old, new], base)
    assert record["rescored"] == ["seed-0"]
    assert record["tokenization"]["bleu_rows"] == {"zh": 3, "13a": 9}
    assert _tokenization([new], [{"scores": {"nll": 1.0}}]) == {}  # no ROUGE/BLEU scored
    answerless = [{k: v for k, v in r.items() if k != "prediction"} for r in old_rows]
    with pytest.raises(UserError, match="group member seed-0: its ROUGE/BLEU were tokenised"):
        tokenised_now([old], [answerless, answerless])


def test_a_refined_runs_before_after_scores_the_old_run_again(runs):
    """evaluation.previous_run set the old run's saved '13a' counts beside this code's."""
    from tunesmith.config import load_recipe
    from tunesmith.config.overrides import override_recipe
    from tunesmith.evaluate.stage import _previous

    _, old, new = runs
    settings = {"evaluation.previous_run": str(old), "evaluation.metrics": ["bleu"]}
    recipe = override_recipe(load_recipe(new / "recipe.yaml"), settings)
    tuned = [json.loads(line) for line in (new / "eval/predictions/test.tuned.jsonl").open()]
    before_after = _previous(recipe, tuned, None)
    assert before_after["rescored"] == [str(old)]
    assert before_after["metrics"]["bleu"]["delta"] == pytest.approx(0.0)


def test_the_pages_json_twin_never_overwrites_a_runs_own_figures(runs):
    """`--html RUN/eval/compare.html` wrote the page's JSON twin over RUN/eval/compare.json
    (the run's headline figures), exit 0."""
    from tunesmith.cli.compare_cmd import compare_runs

    tmp_path, old, new = runs
    figures = new / "eval" / "compare.json"
    own = '{"sample_size": 12, "comparisons": [], "rows": {}}'  # evaluate's, not compare's
    figures.write_text(own, encoding="utf-8")
    with pytest.raises(UserError, match=r"--html: the page's JSON twin .* is not an earlier"):
        compare_runs([old, new], new / "eval" / "compare.html")
    assert figures.read_text(encoding="utf-8") == own
    assert not (new / "eval" / "compare.html").exists()
    compare_runs([old, new], tmp_path / "cmp.html")
    compare_runs([old, new], tmp_path / "cmp.html")  # an earlier comparison's twin is replaced
