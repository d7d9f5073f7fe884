"""`folder_swap`: the one way a run folder's sub-folder (adapter, checkpoint, model cache,
ablation copy) is replaced — the old or the new, never half, nothing left behind."""

from __future__ import annotations

import pytest

from tunesmith.artifacts import folder_swap
from tunesmith.artifacts.files import previous_folder


def test_a_successful_block_replaces_the_folder_and_leaves_no_staging(tmp_path):
    target = tmp_path / "adapter"
    target.mkdir()
    (target / "weights").write_text("old")
    with folder_swap(target) as staging:
        assert staging.parent == tmp_path and staging != target
        (staging / "weights").write_text("new")
    assert (target / "weights").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]
    assert not previous_folder(target).exists()


def test_a_failed_block_leaves_the_old_folder_untouched(tmp_path):
    target = tmp_path / "adapter"
    target.mkdir()
    (target / "weights").write_text("old")
    with pytest.raises(RuntimeError), folder_swap(target) as staging:
        (staging / "weights").write_text("half")
        raise RuntimeError("killed mid-save")
    assert (target / "weights").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]


def test_a_new_folder_is_created_with_its_parents(tmp_path):
    target = tmp_path / "deep" / "model"
    with folder_swap(target) as staging:
        (staging / "config.json").write_text("{}")
    assert (target / "config.json").is_file()
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["model"]
