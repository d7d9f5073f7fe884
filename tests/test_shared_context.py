"""Items sharing their whole context (models/shared_context.py): which are grouped, groups cut to
a row's length, and models the packed row does not apply to scoring item by item — the NLLs the
same either way (fp32). Other architectures: tests/test_architectures.py."""

from __future__ import annotations

import pytest
import torch
from test_perf_invariants import VOCAB, _tiny_llama

from tunesmith.models.formatting import IGNORE, Encoded


def _items() -> list[Encoded]:
    """Three contexts with four answers each (one a lone answer of a fourth context), mixed."""
    generator = torch.Generator().manual_seed(11)
    contexts = [torch.randint(3, VOCAB, (n,), generator=generator).tolist() for n in (9, 3, 14, 6)]
    answers = [[5, 9], [7], [11, 12, 13, 14], [8, 8]]
    items = [Encoded(c + a, [IGNORE] * len(c) + a) for c in contexts[:3] for a in answers]
    items.append(Encoded(contexts[3] + [4], [IGNORE] * 6 + [4]))
    items.append(Encoded([9, 4, 4], [IGNORE, 4, 4]))  # one token of context: never grouped
    items.append(Encoded([9, 5, 5], [IGNORE, 5, 5]))
    order = torch.randperm(len(items), generator=generator).tolist()
    return [items[i] for i in order]


def _alone(model, items) -> list[tuple[float, int]]:
    from tunesmith.models.nll import example_nll

    return [example_nll(model, [item], 1, 0)[0] for item in items]


def _close(got, expected) -> None:
    assert [t for _, t in got] == [t for _, t in expected]
    assert [n for n, _ in got] == pytest.approx([n for n, _ in expected], rel=1e-5)


def test_groups_are_the_items_sharing_their_whole_context():
    from tunesmith.models.nll import first_label
    from tunesmith.models.shared_context import context_groups

    items = _items()
    firsts = {i: first_label(item) for i, item in enumerate(items)}
    groups = context_groups(items, list(range(len(items))), firsts)
    assert sorted(len(g) for g in groups) == [4, 4, 4]
    for group in groups:
        contexts = {tuple(items[i].input_ids[: firsts[i]]) for i in group}
        assert len(contexts) == 1


def test_grouped_scores_equal_each_item_alone(monkeypatch):
    import tunesmith.models.shared_context as shared_context
    from tunesmith.models.nll import example_nll

    model, items = _tiny_llama(2), _items()
    packed = []
    real = shared_context._packed_sums
    monkeypatch.setattr(
        shared_context,
        "_packed_sums",
        lambda m, rows, pad: packed.append(rows) or real(m, rows, pad),
    )
    _close(example_nll(model, items, 2, 0), _alone(model, items))
    assert [len(rows) for rows in packed] == [2, 1]  # three groups, two rows per pass


def test_a_group_longer_than_a_row_is_cut(monkeypatch):
    import tunesmith.models.shared_context as shared_context
    from tunesmith.models.nll import example_nll, first_label

    monkeypatch.setattr(shared_context, "MAX_ROW_TOKENS", 20)
    model, items = _tiny_llama(2), _items()
    firsts = {i: first_label(item) for i, item in enumerate(items)}
    groups = shared_context.context_groups(items, list(range(len(items))), firsts)
    assert len(groups) > 3 and all(len(g) >= 2 for g in groups)
    _close(example_nll(model, items, 4, 0), _alone(model, items))


def test_a_model_the_fast_path_refuses_scores_item_by_item(monkeypatch):
    import tunesmith.models.decode as decode
    import tunesmith.models.shared_context as shared_context
    from tunesmith.models.nll import example_nll

    model, items = _tiny_llama(2), _items()
    expected = _alone(model, items)
    monkeypatch.setattr(decode, "fast_path_refusal", lambda _model: "not standard attention")
    monkeypatch.setattr(shared_context, "_packed_sums", None)  # must not be reached
    _close(example_nll(model, items, 4, 0), expected)
