"""Label-likelihood scoring equals a brute-force full forward pass per (example, label)."""

from __future__ import annotations

import math

import pytest

from tunesmith.models.formatting import IGNORE, encode_example
from tunesmith.models.label_scoring import (
    label_continuations,
    label_log_likelihoods,
    softmax_rows,
)

# "utils" and "utils-extra" share a prefix: only the end-of-turn token tells them apart.
LABELS = ["devel", "utils", "utils-extra", "python rust audio"]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def _examples(n=3):
    return [
        {"id": f"t-{i}", "prompt": f"Which section? package {i} provides a python editor."}
        for i in range(n)
    ]


def _brute_force(model, tokenizer, example, label) -> float:
    import torch

    encoded = encode_example({**example, "response": label}, tokenizer, 1 << 20)
    ids = torch.tensor([encoded.input_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
    total = 0.0
    for pos, (tok, lab) in enumerate(zip(encoded.input_ids, encoded.labels)):
        if lab != IGNORE:
            total += float(logp[pos - 1, tok])
            if tok == tokenizer.eos_token_id:  # the answer ends at the end-of-turn token
                break
    return total


def test_scores_equal_full_forward_pass(tiny):
    model, tokenizer = tiny
    scores, _ = label_log_likelihoods(model, tokenizer, _examples(), LABELS, max_length=256)
    for example, row in zip(_examples(), scores):
        for label, value in zip(LABELS, row):
            assert value == pytest.approx(_brute_force(model, tokenizer, example, label), abs=1e-4)


def test_prefix_labels_are_scored_with_their_end_token(tiny):
    _, tokenizer = tiny
    conts = label_continuations(_examples(1)[0], LABELS, tokenizer)
    assert all(c[-1] == tokenizer.eos_token_id for c in conts)
    short, long = conts[1], conts[2]
    assert short != long[: len(short)] or len(short) == len(long)


def test_mean_normalization_divides_by_token_count(tiny):
    model, tokenizer = tiny
    summed, _ = label_log_likelihoods(model, tokenizer, _examples(1), LABELS, 256)
    mean, _ = label_log_likelihoods(model, tokenizer, _examples(1), LABELS, 256, "mean")
    lengths = [len(c) for c in label_continuations(_examples(1)[0], LABELS, tokenizer)]
    for s, m, n in zip(summed[0], mean[0], lengths):
        assert m == pytest.approx(s / n)


def test_softmax_rows_are_probabilities():
    probs = softmax_rows([[-1.0, -2.0, -1000.0], [0.0, 0.0, 0.0]])
    assert math.fsum(probs[0]) == pytest.approx(1.0)
    assert probs[0][0] == pytest.approx(1 / (1 + math.exp(-1)), rel=1e-9)
    assert probs[1] == pytest.approx([1 / 3] * 3)


def _few_shot(n=4):
    demos = [
        {"prompt": f"Which section? demo package {k} compiles code for you.", "response": "devel"}
        for k in range(3)
    ]
    return [{**example, "demos": demos} for example in _examples(n)]


def test_few_shot_head_is_run_once_and_scores_equal_full_forward_pass(tiny, monkeypatch):
    from tunesmith.models import prefix

    model, tokenizer = tiny
    runs = []
    real = prefix.run_prefix
    monkeypatch.setattr(
        prefix, "run_prefix", lambda m, ids, start=None: runs.append(start) or real(m, ids, start)
    )
    examples = _few_shot()
    scores, _ = label_log_likelihoods(model, tokenizer, examples, LABELS, max_length=256)
    # the demonstrations once for the set, then each prompt's own tokens on top of them
    assert runs[0] is None and len(runs) == 1 + len(examples)
    assert all(start is not None and len(start) >= prefix.MIN_SHARED for start in runs[1:])
    for example, row in zip(examples, scores):
        for label, value in zip(LABELS, row):
            assert value == pytest.approx(_brute_force(model, tokenizer, example, label), abs=1e-4)


def test_refused_models_are_scored_by_plain_forward_passes(tiny, monkeypatch):
    from tunesmith.models import prefix

    model, tokenizer = tiny
    monkeypatch.setattr(prefix, "prefix_refusal", lambda m: "refused for the test")
    monkeypatch.setattr(prefix, "run_prefix", None)  # must not be reached
    examples = _few_shot(2)
    scores, _ = label_log_likelihoods(model, tokenizer, examples, LABELS, max_length=256)
    for example, row in zip(examples, scores):
        for label, value in zip(LABELS, row):
            assert value == pytest.approx(_brute_force(model, tokenizer, example, label), abs=1e-4)
