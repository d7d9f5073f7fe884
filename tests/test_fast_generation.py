"""The fast generation loop equals plain `model.generate` greedy in fp32 (several batch sizes,
ragged prompts, rows stopping early), and sampled generation repeats for a seed."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import torch
from test_perf_invariants import PAD, VOCAB, _tiny_llama

EOS = 1  # the tiny Llama's eos_token_id


def _model(seed: int = 3):
    return _tiny_llama(seed)


TOKENIZER = SimpleNamespace(
    pad_token_id=PAD,
    eos_token_id=EOS,
    decode=lambda ids, skip_special_tokens=True: " ".join(map(str, ids)),
)


def _prompts(lengths=(4, 13, 7, 9, 2, 11, 6, 3, 12), seed=5) -> list[list[int]]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(3, VOCAB, (n,), generator=generator).tolist() for n in lengths]


def _plain(model, prompt: list[int], new: int) -> str:
    """The reference: plain greedy `model.generate`, one prompt, cut at the first stop token."""
    stop = model.generation_config.eos_token_id
    stop = stop if isinstance(stop, list) else [stop]
    ids = torch.tensor([prompt])
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=new,
            eos_token_id=stop,
            pad_token_id=PAD,
        )[0, len(prompt) :].tolist()
    for position, token in enumerate(out):
        if token in stop:
            out = out[:position]
            break
    return " ".join(map(str, out))


@pytest.fixture(scope="module")
def stopping_model():
    """A model whose stop token is one it emits mid-way for some prompts (rows stop early)."""
    model = _model()
    free = [_plain(model, p, 12).split() for p in _prompts()]
    middle = [row[4] for row in free if len(row) > 6]
    model.generation_config.eos_token_id = [EOS, int(max(set(middle), key=middle.count))]
    return model


@pytest.mark.parametrize("batch_size", [1, 3, 4, 16])
def test_fast_greedy_equals_plain_generate(stopping_model, batch_size):
    from tunesmith.models.decode import fast_path_refusal
    from tunesmith.models.generation import generate_texts

    assert fast_path_refusal(stopping_model) is None
    prompts = _prompts()
    expected = [_plain(stopping_model, p, 12) for p in prompts]
    got = generate_texts(stopping_model, TOKENIZER, prompts, 12, batch_size=batch_size)
    assert got == expected
    lengths = sorted(len(text.split()) for text in got)
    assert lengths[0] < 12 and lengths[-1] == 12  # some rows stopped early, some ran out


@pytest.mark.parametrize("batch_size", [1, 4])
def test_eager_attention_gets_an_additive_mask_and_equals_plain_generate(batch_size):
    """Eager attention adds its mask to the scores: the decoding steps' ready boolean mask
    would attend to padding and unwritten slots (ragged prompts diverged before the fix)."""
    from tunesmith.models.decode import fast_path_refusal
    from tunesmith.models.generation import generate_texts

    model = _tiny_llama(3, attn_implementation="eager")
    assert model.config._attn_implementation == "eager" and fast_path_refusal(model) is None
    prompts = _prompts()
    expected = [_plain(model, p, 12) for p in prompts]
    assert generate_texts(model, TOKENIZER, prompts, 12, batch_size=batch_size) == expected


def test_batches_prefill_alone_and_decode_as_one_pool_within_the_cache_budget(
    stopping_model, monkeypatch
):
    from tunesmith.models import decode
    from tunesmith.models.generation import generate_texts

    pools = []
    real = decode.decode_pool
    monkeypatch.setattr(
        decode,
        "decode_pool",
        lambda m, batches, *a: (
            pools.append([tuple(ids.shape) for ids, _ in batches]) or real(m, batches, *a)
        ),
    )
    prompts = _prompts()
    expected = [_plain(stopping_model, p, 12) for p in prompts]
    assert generate_texts(stopping_model, TOKENIZER, prompts, 12, batch_size=3) == expected
    # longest first, three prompts per prefill (padded to their longest), one pool of nine
    assert pools == [[(3, 13), (3, 9), (3, 4)]]
    # a budget below two batches' keys/values: each batch decodes alone, with the same result
    per_row = 2 * 2 * 2 * 8 * (13 + 12) * 4  # layers x k/v x kv heads x head dim x slots x bytes
    assert decode.pool_rows(stopping_model, 3, 13 + 12) == decode.POOL_ROWS
    monkeypatch.setattr(decode, "POOL_CACHE_BYTES", per_row * 5)
    pools.clear()
    assert generate_texts(stopping_model, TOKENIZER, prompts, 12, batch_size=3) == expected
    assert pools == [[(3, 13)], [(3, 9)], [(3, 4)]]


def test_fast_greedy_stops_when_every_row_has_stopped():
    from tunesmith.models.generation import generate_texts

    model = _model()
    first = [int(_plain(model, p, 1)) for p in _prompts()]
    model.generation_config.eos_token_id = sorted(set(first))  # every row stops at once
    assert generate_texts(model, TOKENIZER, _prompts(), 8, batch_size=4) == [""] * len(first)


def test_sampled_generation_repeats_for_a_seed_and_narrows_to_greedy():
    from tunesmith.models.generation import generate_texts
    from tunesmith.models.sampling import Sampling

    model, prompts = _model(), _prompts()
    hot = Sampling(temperature=1.5, top_p=0.95, seed=7)
    first = generate_texts(model, TOKENIZER, prompts, 10, 4, sampling=hot)
    assert generate_texts(model, TOKENIZER, prompts, 10, 4, sampling=hot) == first
    other = generate_texts(model, TOKENIZER, prompts, 10, 4, sampling=Sampling(1.5, 0.95, 8))
    assert other != first
    greedy = generate_texts(model, TOKENIZER, prompts, 10, 4)
    assert first != greedy
    # a nucleus this small keeps only the most likely token: sampling becomes greedy
    narrow = generate_texts(model, TOKENIZER, prompts, 10, 4, sampling=Sampling(1.0, 1e-6, 7))
    assert narrow == greedy


def test_unsupported_model_falls_back_to_generate_with_a_logged_reason(caplog):
    from tunesmith.models.generation import generate_texts

    model, prompts = _model(), _prompts()
    expected = [_plain(model, p, 6) for p in prompts]
    model._can_compile_fullgraph = False  # as for an architecture without a static cache
    with caplog.at_level(logging.INFO, logger="tunesmith.models.generation"):
        got = generate_texts(model, TOKENIZER, prompts, 6, batch_size=4)
    assert got == expected
    assert "does not support a static KV cache" in caplog.text


def test_prompt_tuning_falls_back_and_generates():
    """peft's prompt tuning prepends virtual tokens and its own mask: the fast loop refuses it
    (the strategies bench crashed there) and plain `generate` answers instead."""
    from peft import PromptTuningConfig, get_peft_model

    from tunesmith.models.decode import fast_path_refusal
    from tunesmith.models.generation import generate_texts

    model = get_peft_model(
        _model(), PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4)
    )
    assert "prompt learning" in fast_path_refusal(model)
    got = generate_texts(model, TOKENIZER, _prompts(), 6, batch_size=4)
    assert len(got) == len(_prompts()) and all(isinstance(text, str) for text in got)
