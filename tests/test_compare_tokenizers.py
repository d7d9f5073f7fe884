"""`tunesmith compare` of runs whose models tokenise with different vocabularies (a Qwen2 run
vs a GPT-2 run) leaves per-token perplexity out, with one note, and keeps the text metrics."""

from __future__ import annotations

import json
import shutil

import pytest
from test_cli import tunesmith

from tunesmith.metrics.per_example import example_scores
from tunesmith.metrics.tokenization import tokenization_record

REFS = ["python editor", "rust compiler", "audio player", "image viewer"] * 3
PREDS = ["python editor", "rust parser", "audio player", "text viewer"] * 3


def _rows(tokens_per_answer: int, nll: float) -> list[dict]:
    scores = example_scores(["rouge", "bleu"], PREDS, REFS)
    return [
        {
            "id": f"e{i}",
            "key": f"k{i}",
            "prediction": p,
            "reference": r,
            "scores": {**scores[i], "nll": nll, "tokens": tokens_per_answer},
        }
        for i, (p, r) in enumerate(zip(PREDS, REFS, strict=True))
    ]


def _run(folder, recipe_path, rows: list[dict], tokenizer):
    """A finished run folder whose tuned model was saved with `tokenizer`."""
    (folder / "eval" / "predictions").mkdir(parents=True)
    shutil.copy(recipe_path, folder / "recipe.yaml")
    text = "".join(json.dumps(row) + "\n" for row in rows)
    (folder / "eval" / "predictions" / "test.tuned.jsonl").write_text(text, encoding="utf-8")
    metrics = {"sample_size": len(rows), "split": "test", "tokenization": tokenization_record(REFS)}
    (folder / "eval" / "metrics.json").write_text(json.dumps(metrics))
    tokenizer.save_pretrained(folder / "train" / "adapter")  # where the lora method saves it
    return folder


def _other_tokenizer():
    """A byte-level BPE with another, smaller vocabulary (a model of another family)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=290,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(REFS + PREDS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")


@pytest.fixture
def runs(tmp_path, tiny_recipe, tiny_model_dir):
    from transformers import AutoTokenizer

    recipe = tiny_recipe()
    tiny = AutoTokenizer.from_pretrained(tiny_model_dir)
    # the same answers; the other vocabulary splits them into twice as many tokens
    a = _run(tmp_path / "qwen2-like", recipe, _rows(4, 8.0), tiny)
    b = _run(tmp_path / "gpt2-like", recipe, _rows(8, 12.0), _other_tokenizer())
    twin = _run(tmp_path / "same-vocab", recipe, _rows(4, 6.0), tiny)
    return tmp_path, a, b, twin


def test_runs_with_different_tokenizers_leave_perplexity_out(runs):
    tmp_path, a, b, _ = runs
    html = tmp_path / "cmp.html"
    done = tunesmith("compare", a, b, "--html", html)
    assert done.returncode == 0, done.stderr
    console = " ".join((done.stdout + done.stderr).split())  # rich wraps long lines
    assert console.count("perplexity left out") == 1
    assert "different tokenizers" in console
    comparison = json.loads(html.with_suffix(".json").read_text())["comparisons"][0]
    assert "different tokenizers" in comparison["perplexity_left_out"]
    assert "perplexity" not in comparison["metrics"]  # was: -0.47 'better', 12 vs 8 tokens
    assert {"rouge1", "rougeL", "bleu"} <= set(comparison["metrics"])
    assert comparison["metrics"]["rougeL"]["delta"] == 0.0
    page = html.read_text()
    assert "perplexity left out" in page and "<td>perplexity" not in page


def test_runs_with_the_same_tokenizer_compare_perplexity(runs):
    from tunesmith.cli.compare_cmd import compare_runs

    tmp_path, a, _, twin = runs
    comparison = compare_runs([a, twin], tmp_path / "cmp.html")["comparisons"][0]
    assert "perplexity_left_out" not in comparison
    assert comparison["metrics"]["perplexity"]["delta"] < 0  # exp(6/4) - exp(8/4)
    assert "perplexity left out" not in (tmp_path / "cmp.html").read_text()


def test_the_ui_side_by_side_says_when_vocabularies_differ(runs):
    """The UI's columns set per-token perplexities of two vocabularies side by side unsaid."""
    from fastapi.testclient import TestClient

    from tunesmith.ui.app import create_app

    tmp_path, a, b, twin = runs
    client = TestClient(create_app(tmp_path, "token"))
    apart = client.get(f"/compare?run={a.name}&run={b.name}")
    assert apart.status_code == 200 and 'id="vocabularies"' in apart.text
    alike = client.get(f"/compare?run={a.name}&run={twin.name}")
    assert alike.status_code == 200 and 'id="vocabularies"' not in alike.text
