"""pad_rows: the one padding mechanism behind collation, scoring and generation prompts."""

from __future__ import annotations

import torch

from tunesmith.models.padding import pad_rows


def test_right_padding_puts_values_first_and_masks_them():
    values, mask = pad_rows([[5, 6, 7], [8], None, []], fill=-1)
    assert values.tolist() == [[5, 6, 7], [8, -1, -1], [-1, -1, -1], [-1, -1, -1]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0], [0, 0, 0]]
    assert values.dtype == mask.dtype == torch.long


def test_left_padding_lines_up_the_last_tokens():
    values, mask = pad_rows([[5, 6, 7], [8]], fill=0, left=True)
    assert values.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_rows_without_values_give_an_empty_batch_of_the_right_height():
    values, mask = pad_rows([None, None], fill=0, device="cpu")
    assert values.shape == mask.shape == (2, 0)
