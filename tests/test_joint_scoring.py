"""Perplexity from the generation prefill (models/joint.py) equals the separate passes (tiny
random Llama, fp32): the same greedy tokens as plain `generate`, the same per-example NLL
(1e-5 relative) as `example_nll`, with and without a shared prefix, answers longer and shorter
than the generation, rows without an answer, and models that fall back."""

from __future__ import annotations

import pytest
import torch
from test_fast_generation import TOKENIZER, _plain
from test_perf_invariants import VOCAB, _lora, _tiny_llama
from test_prefix_reuse import _prompts

from tunesmith.models import prefix as prefix_module
from tunesmith.models.formatting import IGNORE, Encoded

NEW = 8


def _items(prompts, seed=11):
    """prompt + answer per prompt; answers of 1 to 13 tokens (some longer than NEW), the first
    two answer tokens of some rows unsupervised (a template's header)."""
    generator = torch.Generator().manual_seed(seed)
    items = []
    for index, prompt in enumerate(prompts):
        answer = torch.randint(3, VOCAB, (1 + (index * 5) % 13,), generator=generator).tolist()
        labels = answer[:]
        if index % 3 == 1 and len(labels) > 2:
            labels[:2] = [IGNORE, IGNORE]
        items.append(Encoded(prompt + answer, [IGNORE] * len(prompt) + labels))
    return items


def test_answers_after_takes_only_items_that_are_exactly_prompt_plus_answer():
    from tunesmith.models.joint import answers_after

    prompts = [[5, 6, 7], [5, 6, 7], [5, 6, 7], [5, 6]]
    items = [
        Encoded([5, 6, 7, 8, 1], [IGNORE] * 3 + [8, 1]),
        Encoded([5, 9, 7, 8, 1], [IGNORE] * 3 + [8, 1]),  # truncated differently
        Encoded([5, 6, 7, 8], [IGNORE, IGNORE, 7, 8]),  # a label inside the prompt
        Encoded([5, 6], [IGNORE, IGNORE]),  # nothing after the prompt
    ]
    answers = answers_after(prompts, items).answers
    assert answers[0].input_ids == [8, 1] and answers[0].labels == [8, 1]
    assert answers[1:] == [None, None, None]


@pytest.mark.parametrize("batch_size", [1, 3, 16])
@pytest.mark.parametrize("shared", [True, False])
def test_generation_scores_answers_as_the_separate_passes_do(monkeypatch, batch_size, shared):
    from tunesmith.models.generation import generate_texts
    from tunesmith.models.joint import answers_after
    from tunesmith.models.nll import example_nll

    if not shared:
        monkeypatch.setattr(prefix_module, "MIN_SHARED", 10**6)
    model, prompts = _tiny_llama(seed=3), _prompts()
    items = _items(prompts)
    answers = answers_after(prompts, items)
    answers.answers[2] = None  # a row whose tokens did not agree: generated, not scored
    got = generate_texts(model, TOKENIZER, prompts, NEW, batch_size, answers=answers)
    assert got == [_plain(model, p, NEW) for p in prompts]
    assert sorted(answers.nll) == [i for i in range(len(prompts)) if i != 2]
    expected = example_nll(model, items, 4, 0)
    for index, (total, tokens) in answers.nll.items():
        assert tokens == expected[index][1]
        assert total == pytest.approx(expected[index][0], rel=1e-5)


def test_adapters_score_in_the_prefill_and_refused_models_leave_it_to_the_nll_pass():
    from peft import PromptTuningConfig, get_peft_model

    from tunesmith.models.generation import generate_texts
    from tunesmith.models.joint import answers_after
    from tunesmith.models.nll import example_nll

    prompts = _prompts()
    items = _items(prompts)
    lora = _lora(_tiny_llama(seed=3))
    answers = answers_after(prompts, items)
    assert generate_texts(lora, TOKENIZER, prompts, NEW, 4, answers=answers) == [
        _plain(lora, p, NEW) for p in prompts
    ]
    expected = example_nll(lora, items, 4, 0)
    assert [answers.nll[i][0] for i in range(len(items))] == pytest.approx(
        [nll for nll, _ in expected], rel=1e-5
    )
    tuned = get_peft_model(
        _tiny_llama(seed=3), PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4)
    )
    refused = answers_after(prompts, items)
    assert len(generate_texts(tuned, TOKENIZER, prompts, 4, 4, answers=refused)) == len(prompts)
    assert refused.nll == {}


@pytest.mark.parametrize("demos", [0, 3])
def test_score_model_takes_perplexity_from_the_prefill_with_the_old_results(
    tiny_recipe, tiny_model_dir, monkeypatch, demos
):
    """The evaluate stage's scoring: every row's NLL comes from the generation prefill (no
    separate pass over the items) and equals the two-pass, unshared path; so do generations."""
    from conftest import make_records
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.config import load_recipe
    from tunesmith.evaluate.scoring import score_model
    from tunesmith.models import joint, nll

    recipe = load_recipe(tiny_recipe())
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    records = make_records(14)
    shown = [{"prompt": r["description"], "response": r["synopsis"]} for r in records[:demos]]
    examples = [
        {"id": f"t{i}", "prompt": r["description"], "response": r["synopsis"], "demos": shown}
        for i, r in enumerate(records[demos:])
    ]
    assert "perplexity" in recipe.metrics()
    separate: list[int] = []
    real = nll.example_nll
    monkeypatch.setattr(
        nll, "example_nll", lambda m, items, *a: separate.append(len(items)) or real(m, items, *a)
    )
    heads: list[int] = []
    run = prefix_module.run_prefix
    monkeypatch.setattr(
        prefix_module, "run_prefix", lambda m, ids, s=None: heads.append(len(ids)) or run(m, ids, s)
    )
    new = score_model(model, tokenizer, examples, recipe, True, None, None, stop=())
    assert separate == [0]
    # the demonstrations are shared: run once (the template head alone is below the threshold)
    assert len(heads) == (1 if demos else 0) and all(n >= prefix_module.MIN_SHARED for n in heads)
    with joint.separate_passes():  # the paths before: NLL in its own pass, nothing shared
        old = score_model(model, tokenizer, examples, recipe, True, None, None, stop=())
    assert separate == [0, len(examples)] and len(heads) == (1 if demos else 0)
    assert joint.SCORE_IN_PREFILL and prefix_module.MIN_SHARED < 100  # restored
    assert [r["prediction"] for r in new] == [r["prediction"] for r in old]
    for a, b in zip(new, old, strict=True):
        assert a["scores"]["tokens"] == b["scores"]["tokens"]
        assert a["scores"]["nll"] == pytest.approx(b["scores"]["nll"], rel=1e-5)
