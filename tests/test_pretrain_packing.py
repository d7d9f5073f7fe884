"""Packing: block boundaries, nothing lost or duplicated, labels shifted correctly."""

from __future__ import annotations

import pytest

from tunesmith.errors import UserError
from tunesmith.pretrain.packing import as_items, pack, split_held_out

EOS = 0


def test_blocks_hold_every_token_once_in_order_with_eos_between_documents():
    docs = [[1, 2, 3], [4, 5, 6, 7, 8], [9], [10, 11, 12, 13]]
    blocks = pack(docs, EOS, block=4)
    assert [len(b) for b in blocks[:-1]] == [4] * (len(blocks) - 1)
    assert 0 < len(blocks[-1]) <= 4
    flat = [t for b in blocks for t in b]
    assert flat == [1, 2, 3, 0, 4, 5, 6, 7, 8, 0, 9, 0, 10, 11, 12, 13, 0]
    assert blocks[0] == [1, 2, 3, 0]  # a document boundary inside a block is its EOS


def test_held_out_is_the_end_of_the_stream_and_disjoint():
    blocks = pack([list(range(1, 40))], EOS, block=8)
    train, held = split_held_out(blocks, 0.2, 8)
    assert train + held == blocks and held == blocks[-1:]
    assert split_held_out(blocks, 2, 8)[1] == blocks[-2:]


def test_too_short_corpus_and_too_large_held_out_are_user_errors():
    with pytest.raises(UserError, match="shorter than one block"):
        split_held_out(pack([[1, 2]], EOS, 16), 0.1, 16)
    with pytest.raises(UserError, match="nothing to train on"):
        split_held_out(pack([list(range(1, 20))], EOS, 16), 5, 16)
    # the share 1.0 (every block) was taken for a count of one block and trained on the rest
    with pytest.raises(UserError, match="nothing to train on"):
        split_held_out(pack([list(range(1, 40))], EOS, 8), 1.0, 8)
    assert split_held_out(pack([list(range(1, 40))], EOS, 8), 1, 8)[1] == [
        [33, 34, 35, 36, 37, 38, 39, 0]
    ]


def test_labels_are_the_inputs_and_the_loss_predicts_the_next_token(tiny_model_dir):
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM

    from tunesmith.models.nll import collate, supervised_nll

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    items = as_items([[5, 6, 7, 8, 9, 10]])
    assert items[0].labels == items[0].input_ids
    batch = collate(items, pad_id=EOS)
    with torch.no_grad():
        nll, count = supervised_nll(model, batch)
        logits = model(torch.tensor([[5, 6, 7, 8, 9, 10]])).logits[0]
    # position t predicts token t+1; the first token has no prediction inside the block
    expected = F.cross_entropy(logits[:-1], torch.tensor([6, 7, 8, 9, 10]), reduction="sum")
    assert int(count) == 5
    assert float(nll) == pytest.approx(float(expected), rel=1e-5)


def test_held_out_blocks_without_leaks_are_the_stream_tail_when_nothing_is_dropped():
    """The leakage check rebuilds the held-out blocks from document tails; with nothing dropped
    they must be exactly the held-out blocks split_held_out cuts from the stream."""
    from types import SimpleNamespace

    from tunesmith.data.curate import CurationContext
    from tunesmith.pretrain.leakage import without_leaks

    documents = [f"document {i}" for i in range(7)]
    ids = [list(range(10 * i + 3, 10 * i + 3 + 2 + i % 4)) for i in range(7)]
    ctx = CurationContext(text_fields=["text"], label_field=None, seed=0)
    for block, held_out in ((4, 2), (3, 3), (5, 1)):
        train, held = split_held_out(pack(ids, 0, block), held_out, block)
        cut = sum(map(len, train))
        cfg = SimpleNamespace(dedup=None, max_seq_length=block)
        assert without_leaks(documents, ids, cut, cfg, 0, ctx).blocks == held
