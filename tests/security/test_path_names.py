"""Path-like recipe and run names cannot place a run folder outside its parent."""

from __future__ import annotations

import pytest

from tunesmith.artifacts import RunDir
from tunesmith.config.loader import recipe_from_dict
from tunesmith.errors import UserError

RECIPE = {"task": "completion", "data": {"train": "/x.jsonl"}}


@pytest.mark.parametrize("name", ["../evil", "a/b", "/etc/x", "..", ".hidden", "a\\..\\b", ""])
def test_recipe_name_with_a_path_is_refused(name):
    with pytest.raises(UserError, match="name"):
        recipe_from_dict({**RECIPE, "name": name})


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ""])
def test_run_folder_name_with_a_path_is_refused(tmp_path, name):
    with pytest.raises(UserError, match="not a plain folder name"):
        RunDir.new(tmp_path, name)


def test_plain_names_are_kept(tmp_path):
    assert recipe_from_dict({**RECIPE, "name": "my-task_2.v1"}).name == "my-task_2.v1"
    assert RunDir.new(tmp_path, "my-task").root.parent == tmp_path
