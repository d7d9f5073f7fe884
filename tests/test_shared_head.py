"""Training on a pass's shared head once (models/shared_head.py) gives the unshared loss and
gradients: tiny random Llama, fp32, LoRA dropout off, with and without the training fast path
(whose lean attention runs the head and the rows' suffixes as one packed pass,
models/packed_head.py)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from test_perf_invariants import PAD, VOCAB, _lora, _tiny_llama  # noqa: E402

from tunesmith.models import shared_head  # noqa: E402
from tunesmith.models.formatting import IGNORE, Encoded  # noqa: E402
from tunesmith.models.nll import collate, nll_of_logits, supervised_logits  # noqa: E402

HEAD = 20


def _rows(suffixes=(9, 17, 5, 12), answer=3, seed=3) -> list[Encoded]:
    """Rows sharing a HEAD-token head; the last `answer` tokens of each are supervised."""
    generator = torch.Generator().manual_seed(seed)
    head = torch.randint(3, VOCAB, (HEAD,), generator=generator).tolist()
    items = []
    for n in suffixes:
        ids = head + torch.randint(3, VOCAB, (n,), generator=generator).tolist()
        items.append(Encoded(ids, [IGNORE] * (len(ids) - answer) + ids[-answer:]))
    return items


def _batch(items, **tensors):
    batch = collate(items, PAD)
    batch.update(tensors)
    return batch


def test_head_length_is_the_common_start_stopped_before_the_first_answer_predecessor():
    items = _rows()
    assert shared_head.shared_head_length(_batch(items)) == HEAD
    # an answer starting at position 15 caps the head at 14 (position 14's hidden predicts it)
    early = Encoded(items[0].input_ids, [IGNORE] * 15 + items[0].input_ids[15:])
    assert shared_head.shared_head_length(_batch([early, *items[1:]]), minimum=4) == 14
    assert shared_head.shared_head_length(_batch([early, *items[1:]])) == 0  # 14 < 16
    # one row alone, or rows differing at token 5: nothing worth sharing
    assert shared_head.shared_head_length(_batch(items[:1])) == 0
    changed = list(items[1].input_ids)
    changed[5] = 3 if changed[5] != 3 else 4
    other = Encoded(changed, items[1].labels)
    assert shared_head.shared_head_length(_batch([items[0], other]), minimum=1) == 5
    # a row without any supervised token keeps at least its last token in the suffix
    silent = Encoded(items[0].input_ids[: HEAD + 1], [IGNORE] * (HEAD + 1))
    assert shared_head.shared_head_length(_batch([silent, *items[1:]])) == HEAD


def _loss_and_grads(model, batch, shared: bool):
    model.zero_grad(set_to_none=True)
    if shared:
        chosen, targets = shared_head.supervised_logits_shared(model, batch)
    else:
        chosen, targets = supervised_logits(model, batch)
    loss = nll_of_logits(chosen, targets, batch)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    return float(loss), targets, grads


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast-path"])
@pytest.mark.parametrize("method", ["lora", "full"])
def test_shared_head_gives_the_unshared_loss_and_gradients(fast, method, monkeypatch):
    from tunesmith.train.fastpath import fast_training

    model = _lora(_tiny_llama()) if method == "lora" else _tiny_llama()
    model.train()
    items = _rows()
    batch = _batch(items, weights=torch.tensor([1.0, 2.0, 0.5, 1.5]))
    passes = []
    real = shared_head.suffix_batch
    monkeypatch.setattr(shared_head, "suffix_batch", lambda b, h: passes.append(h) or real(b, h))
    with fast_training(model) if fast else _nothing():
        plain_loss, plain_targets, plain = _loss_and_grads(model, batch, shared=False)
        loss, targets, grads = _loss_and_grads(model, batch, shared=True)
    assert passes == [HEAD]  # the shared path ran, on the whole head
    assert torch.equal(targets, plain_targets)
    assert loss == pytest.approx(plain_loss, rel=1e-5)
    assert grads.keys() == plain.keys() and grads
    for name, grad in grads.items():  # fp32 summation-order noise only, relative to the norm
        error = float((grad - plain[name]).norm() / plain[name].norm().clamp(min=1e-12))
        assert error < 1e-5, (name, error)


def test_models_without_a_separate_head_are_refused():
    from peft import PromptTuningConfig, get_peft_model

    assert shared_head.head_refusal(_lora(_tiny_llama())) is None
    prompt = get_peft_model(
        _tiny_llama(), PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4)
    )
    assert "prompt-learning" in shared_head.head_refusal(prompt)


def _nothing():
    import contextlib

    return contextlib.nullcontext()


def test_perplexity_with_shared_heads_equals_the_unshared_one(monkeypatch):
    from tunesmith.models import nll

    model = _lora(_tiny_llama())
    items = _rows(suffixes=(9, 17, 5, 12, 4, 8))
    heads = []
    real = shared_head.suffix_batch
    monkeypatch.setattr(shared_head, "suffix_batch", lambda b, h: heads.append(h) or real(b, h))
    shared = nll.perplexity(model, items, batch_size=4, pad_id=PAD)
    assert heads == [HEAD, HEAD]  # both batches ran their head once
    monkeypatch.setattr(shared_head, "head_refusal", lambda model: "off")
    assert shared == pytest.approx(nll.perplexity(model, items, batch_size=4, pad_id=PAD), rel=1e-5)


def test_the_objective_counts_the_head_tokens_it_did_not_run_again():
    from types import SimpleNamespace

    from tunesmith.train.objective import Objective

    model = _lora(_tiny_llama())
    model.train()
    regularization = SimpleNamespace(l1=0.0, l2=0.0, kl_to_base=0.0, l2_to_start=False)
    objective = Objective(model, regularization)
    passes = [_batch(_rows()), _batch(_rows(suffixes=(4, 6), seed=8))]
    parts = objective.backward(model, passes)
    assert parts["head_tokens_shared"] == HEAD * 3 + HEAD * 1
    assert parts["loss"] > 0


def _packed_spy(monkeypatch) -> list:
    from tunesmith.models import packed_head

    ran = []
    real = packed_head.supervised_logits_packed
    monkeypatch.setattr(
        packed_head, "supervised_logits_packed", lambda *a: ran.append(1) or real(*a)
    )
    return ran


@pytest.mark.parametrize("method", ["lora", "full"])
def test_the_fast_path_packs_the_head_with_the_suffixes(method, monkeypatch):
    """One traversal: the model's backbone runs once per pass (twice on the two-pass path)."""
    from tunesmith.models.nll import split_model
    from tunesmith.train.fastpath import fast_training

    model = _lora(_tiny_llama()) if method == "lora" else _tiny_llama()
    model.train()
    batch = _batch(_rows())
    ran = _packed_spy(monkeypatch)
    backbone, _ = split_model(model)
    traversals = []
    backbone.register_forward_hook(lambda *a: traversals.append(1))
    with fast_training(model):
        shared_head.supervised_logits_shared(model, batch)
    assert ran == [1] and traversals == [1]
    shared_head.supervised_logits_shared(model, batch)  # sdpa: not a packing attention
    assert ran == [1] and traversals == [1, 1, 1]  # head pass + suffix pass


def test_a_model_whose_layers_ignore_the_layout_falls_back_and_is_refused(monkeypatch):
    """sdpa drops the `packed_head` keyword: its flat pass would let rows see each other. The
    layer count catches it; the pass is run again on two traversals, and later passes skip
    packing for that model."""
    from tunesmith.models import packed_head

    model = _lora(_tiny_llama())
    model.train()
    batch = _batch(_rows())
    monkeypatch.setitem(packed_head.PACKING_ATTENTION, "sdpa", 1024)
    ran = _packed_spy(monkeypatch)
    plain_loss, _, plain = _loss_and_grads(model, batch, shared=False)
    loss, _, grads = _loss_and_grads(model, batch, shared=True)
    assert ran == [1]  # tried once, refused
    assert "0 of 2 layers" in packed_head.packing_refusal(model, batch)
    assert loss == pytest.approx(plain_loss, rel=1e-5)
    for name, grad in grads.items():
        assert float((grad - plain[name]).norm() / plain[name].norm()) < 1e-5, name
    _loss_and_grads(model, batch, shared=True)
    assert ran == [1]  # not tried again


def test_rows_longer_than_the_packing_attention_takes_run_on_two_traversals(monkeypatch):
    from tunesmith.models import packed_head
    from tunesmith.train.fastpath import fast_training
    from tunesmith.train.lean_attention import NAME

    model = _lora(_tiny_llama())
    batch = _batch(_rows())  # 37 tokens wide
    with fast_training(model):
        assert packed_head.packing_refusal(model, batch) is None
        monkeypatch.setitem(packed_head.PACKING_ATTENTION, NAME, 36)
        assert "longer" in packed_head.packing_refusal(model, batch)


def test_packed_validation_perplexity_equals_the_unpacked_one(monkeypatch):
    from tunesmith.models import nll
    from tunesmith.train.fastpath import fast_training

    model = _lora(_tiny_llama())
    items = _rows(suffixes=(9, 17, 5, 12, 4, 8))
    ran = _packed_spy(monkeypatch)
    with fast_training(model):
        packed = nll.perplexity(model, items, batch_size=4, pad_id=PAD)
    assert ran == [1, 1]
    assert packed == pytest.approx(nll.perplexity(model, items, batch_size=4, pad_id=PAD), rel=1e-5)
