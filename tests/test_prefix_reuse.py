"""Shared-prefix KV reuse (models/prefix.py) computes what the unshared paths compute (tiny
random Llama, fp32): greedy generations token for token, per-example NLL within 1e-5 relative;
the prefix is run once per prompt set; rows without it and models it refuses fall back."""

from __future__ import annotations

import pytest
import torch
from test_fast_generation import TOKENIZER, _plain
from test_perf_invariants import VOCAB, _lora, _tiny_llama

from tunesmith.models import prefix as prefix_module

HEAD = 40  # above MIN_SHARED, so reuse is on by itself


def _random(n: int, generator) -> list[int]:
    return torch.randint(3, VOCAB, (n,), generator=generator).tolist()


def _prompts(suffixes=(4, 13, 7, 1, 9, 2, 11), odd=(6, 30), seed=5) -> list[list[int]]:
    """Prompts sharing a HEAD-token prefix (mixed suffix lengths, one of a single token) and
    `odd` prompts that do not start with it."""
    generator = torch.Generator().manual_seed(seed)
    head = _random(HEAD, generator)
    shared = [head + _random(n, generator) for n in suffixes]
    return shared + [_random(n, generator) for n in odd]


@pytest.fixture
def prefix_runs(monkeypatch):
    """Counts the prefix passes (each one a batch-1 forward over the shared head)."""
    calls = []
    real = prefix_module.run_prefix

    def counted(model, ids, start=None, **options):
        calls.append(len(ids))
        return real(model, ids, start, **options)

    monkeypatch.setattr(prefix_module, "run_prefix", counted)
    return calls


def test_shared_head_is_the_longest_prefix_of_at_least_half_the_rows():
    rows = [[1, 2, 3, 4, 5], [1, 2, 3, 9], [1, 2, 3, 4, 7], [8, 8], [1, 2, 3, 4, 6, 6]]
    assert prefix_module.shared_head(rows) == [1, 2, 3, 4]  # 3 of 5 rows
    assert prefix_module.shared_head(rows[:2] + [[8, 8]] * 3) == [8]  # each keeps a suffix
    # caps bound what each row may share (a perplexity item: up to its first label)
    assert prefix_module.shared_head(rows, caps=[2, 2, 2, 0, 2]) == [1, 2]
    assert prefix_module.shared_head([[5, 6]]) == []  # shared by one row: nothing to share
    assert prefix_module.shared_head([[5, 6, 7], [5, 6, 8]]) == [5, 6]


@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_generation_with_a_shared_prefix_equals_plain_generate(prefix_runs, batch_size):
    from tunesmith.models.generation import generate_texts

    model, prompts = _tiny_llama(seed=3), _prompts()
    expected = [_plain(model, p, 10) for p in prompts]
    assert generate_texts(model, TOKENIZER, prompts, 10, batch_size=batch_size) == expected
    assert prefix_runs == [HEAD]  # once per prompt set, not per batch


def test_no_prefix_below_the_threshold_or_without_a_majority(prefix_runs, monkeypatch):
    from tunesmith.models.generation import generate_texts

    model = _tiny_llama(seed=3)
    minority = _prompts(suffixes=(4, 5), odd=(6, 8, 9))  # 2 of 5 rows share the head
    expected = [_plain(model, p, 6) for p in minority]
    assert generate_texts(model, TOKENIZER, minority, 6, batch_size=4) == expected
    monkeypatch.setattr(prefix_module, "MIN_SHARED", HEAD + 1)
    prompts = _prompts()
    assert generate_texts(model, TOKENIZER, prompts, 6, 4) == [_plain(model, p, 6) for p in prompts]
    assert prefix_runs == []


def test_refused_models_share_nothing_and_still_generate(prefix_runs):
    from peft import PromptTuningConfig, get_peft_model

    from tunesmith.models.generation import generate_texts

    model = get_peft_model(
        _tiny_llama(seed=3), PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4)
    )
    assert "prompt learning" in prefix_module.prefix_refusal(model)
    assert prefix_module.shared_prefix(model, _prompts()) is None
    assert len(generate_texts(model, TOKENIZER, _prompts(), 4, batch_size=4)) == len(_prompts())
    assert prefix_runs == []


def _items(seed=7):
    """Perplexity items: the shared head (and some of each row) unsupervised, then an answer;
    one odd item, and one supervised from its second token (it cannot share)."""
    from tunesmith.models.formatting import IGNORE, Encoded

    generator = torch.Generator().manual_seed(seed)
    items = []
    for prompt, answer in zip(_prompts(seed=seed), (3, 6, 1, 4, 8, 2, 5, 3, 7), strict=True):
        tail = _random(answer, generator)
        items.append(Encoded(prompt + tail, [IGNORE] * len(prompt) + tail))
    early = items[0].input_ids[:]
    items.append(Encoded(early, [IGNORE] + early[1:]))
    return items


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("adapter", [False, True])
def test_nll_with_a_shared_prefix_equals_the_unshared_pass(
    prefix_runs, monkeypatch, batch_size, adapter
):
    from tunesmith.models.nll import example_nll

    model = _lora(_tiny_llama()) if adapter else _tiny_llama()
    items = _items()
    shared = example_nll(model, items, batch_size, 0)
    assert prefix_runs == [HEAD]
    monkeypatch.setattr(prefix_module, "MIN_SHARED", 10**6)
    plain = example_nll(model, items, batch_size, 0)
    assert [tokens for _, tokens in shared] == [tokens for _, tokens in plain]
    for (got, _), (want, _) in zip(shared, plain, strict=True):
        assert got == pytest.approx(want, rel=1e-5)
    assert prefix_runs == [HEAD]
