"""A run folder's own folders: a planted file where one goes is one line, and the walk to
the nearest existing parent (what the write checks look at) is shared."""

from __future__ import annotations

import pytest

from tunesmith.artifacts import RunDir
from tunesmith.artifacts.files import nearest_existing
from tunesmith.errors import UserError


@pytest.mark.parametrize("stage", ["export", "distill", "pretrain", "evaluate", "train"])
def test_a_file_where_a_stage_folder_goes_is_one_line_and_kept(tmp_path, stage):
    run_dir = RunDir(tmp_path / "run")
    planted = run_dir.root / {"evaluate": "eval"}.get(stage, stage)
    planted.parent.mkdir(parents=True)
    planted.write_text("not a folder")
    with pytest.raises(UserError) as info:
        run_dir.stage(stage)
    message = str(info.value)
    assert message.startswith(f"{planted}: a file where the run needs a folder")
    assert "damaged run folder" in message and "\n" not in message
    assert planted.read_text() == "not a folder"  # nothing of the run removed


def test_a_file_above_a_nested_run_folder_is_named(tmp_path):
    from tunesmith.artifacts.run_dir import run_folder
    from tunesmith.checks.stage import checks_dir

    run_dir = RunDir(tmp_path / "run")
    run_dir.root.mkdir()
    run_dir.eval.write_text("not a folder")
    assert run_dir.stage("report").is_dir()  # a sibling of the file is fine
    with pytest.raises(UserError, match="on the way to") as info:
        run_folder(checks_dir(run_dir))  # a folder under the file is not
    assert str(info.value).startswith(f"{run_dir.eval}: a file where")


def test_logs_folder_under_a_planted_file_is_one_line(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    run_dir.root.mkdir()
    (run_dir.root / "logs").write_text("")
    with pytest.raises(UserError, match="damaged run folder"):
        run_dir.logs  # noqa: B018  (the property makes the folder)


def test_nearest_existing_walks_up_to_what_exists(tmp_path):
    (tmp_path / "file").write_text("")
    assert nearest_existing(tmp_path / "a" / "b" / "c") == tmp_path
    assert nearest_existing(tmp_path / "file" / "x" / "y") == tmp_path / "file"
    assert nearest_existing(tmp_path / "file") == tmp_path / "file"
    assert nearest_existing(tmp_path) == tmp_path
