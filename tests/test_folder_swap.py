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


def _files(folder):
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}


def test_staged_files_replace_only_their_namesakes_once_all_are_written(tmp_path):
    """A stage's several outputs (eval/: predictions of one split beside another's; export/:
    one artefact folder beside another) move in together; the rest of the folder stays."""
    from tunesmith.artifacts.files import staged_into

    folder = tmp_path / "eval"
    (folder / "predictions").mkdir(parents=True)
    (folder / "predictions" / "val.base.jsonl").write_text("val, kept")
    (folder / "predictions" / "test.base.jsonl").write_text("old")
    (folder / "merged").mkdir()
    (folder / "merged" / "stale.bin").write_text("an older save")
    with staged_into(folder) as place:
        place("predictions/test.base.jsonl").write_text("new")
        place("merged").mkdir()
        (place("merged") / "model.safetensors").write_text("new save")
        assert _files(folder)["predictions/test.base.jsonl"] == "old"  # nothing in place yet
    assert _files(folder) == {
        "predictions/val.base.jsonl": "val, kept",
        "predictions/test.base.jsonl": "new",
        "merged/model.safetensors": "new save",  # a placed folder replaces its namesake whole
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval"]


@pytest.mark.parametrize("existing", [True, False])
def test_a_failed_staged_block_leaves_the_folder_as_it_was(tmp_path, existing):
    from tunesmith.artifacts.files import staged_into

    folder = tmp_path / "export"
    if existing:
        folder.mkdir()
        (folder / "exports.json").write_text("old")
    with pytest.raises(KeyboardInterrupt), staged_into(folder) as place:
        place("exports.json").write_text("new")
        raise KeyboardInterrupt  # Ctrl-C before the second artefact
    assert _files(folder) == ({"exports.json": "old"} if existing else {})
    assert sorted(p.name for p in tmp_path.iterdir()) == (["export"] if existing else [])


def test_a_folder_where_a_file_is_written_names_the_file_not_the_temp(tmp_path):
    from tunesmith.artifacts.files import atomic_write_text
    from tunesmith.cli.errors import os_message

    target = tmp_path / "summary.json"
    (target / "inside").mkdir(parents=True)
    with pytest.raises(IsADirectoryError) as info:
        atomic_write_text(target, "{}")
    assert os_message(info.value) == f"error: {target}: Is a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]  # no temp left
    assert (target / "inside").is_dir()
