"""`tunesmith group` on a group folder whose members' files are damaged: one line, exit 2,
never a traceback or a 'crash' (exit 1), and the previous comparison is kept when it fails."""

from __future__ import annotations

import shutil
import sys

import pytest
from group_helpers import group_recipe

GROUP = {"members": {"seeds": [0, 1]}, "ensembles": ["mbr"], "merges": [{"method": "linear"}]}
COMBINED = ("compare.json", "report.html", "ensembles", "merges")
MEMBER = "members/seed-0"


def run_cli(path, out) -> tuple[int, str]:
    """`tunesmith group path -o out` in this process: (exit code, stderr)."""
    import contextlib
    import io

    from tunesmith.cli.main import main

    err = io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch, contextlib.redirect_stderr(err):
        monkeypatch.setattr(sys, "argv", ["tunesmith", "group", str(path), "-o", str(out)])
        with pytest.raises(SystemExit) as exit_info:
            main()
    return exit_info.value.code, err.getvalue().strip()


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_model_dir):
    """A finished two-member group with an ensemble and a merge, and a pristine copy of it;
    each case damages the folder at its own path (members' manifests record their paths)."""
    folder = tmp_path_factory.mktemp("group")
    path = group_recipe(folder, tiny_model_dir, GROUP)
    code, err = run_cli(path, folder / "g")
    assert code == 0, err
    shutil.copytree(folder / "g", folder / "pristine", symlinks=True)
    return path, folder / "g", folder / "pristine"


@pytest.fixture
def group(built):
    path, out, pristine = built
    shutil.rmtree(out)
    shutil.copytree(pristine, out, symlinks=True)
    return path, out


def combined(out) -> dict:
    files = [p for name in COMBINED for p in [out / name, *(out / name).rglob("*")]]
    return {str(p): p.read_bytes() for p in files if p.is_file()}


def _directory(path):
    path.unlink()
    path.mkdir()


FAILING = {
    # a member's metrics.json of another shape: AttributeError traceback (exit 1)
    "metrics-a-list": (
        f"{MEMBER}/eval/metrics.json",
        lambda p: p.write_text("[]"),
        "metrics.json: damaged run file, an array, not an object",
    ),
    # a member's predictions lost: FileNotFoundError traceback (exit 1)
    "predictions-missing": (
        f"{MEMBER}/eval/predictions/test.tuned.jsonl",
        lambda p: p.unlink(),
        "test.tuned.jsonl: missing run file",
    ),
    # a member's predictions cut short: one line already, but the comparison was removed
    "predictions-truncated": (
        f"{MEMBER}/eval/predictions/test.tuned.jsonl",
        lambda p: p.write_bytes(p.read_bytes()[:40]),
        "test.tuned.jsonl:1: damaged run file, not valid JSON",
    ),
}


# Found by the member's own run: the member fails, the others are compared (by design)
MEMBER_FAILS = {
    # a folder where a member's split goes: IsADirectoryError, recorded as a crash (exit 1)
    "test-split-a-folder": (
        f"{MEMBER}/data/test.jsonl",
        _directory,
        "test.jsonl: Is a directory",
    ),
    # an adapter without its config: peft's ValueError, a crash (exit 1)
    "adapter-config-missing": (
        f"{MEMBER}/train/adapter/adapter_config.json",
        lambda p: p.unlink(),
        "damaged adapter, adapter_config.json is missing beside adapter_model.safetensors",
    ),
}


def _fails_with(path, out, name, damage, found) -> None:
    damage(out / name)
    code, err = run_cli(path, out)
    assert code == 2 and "Traceback" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith("error: ") and found in last, last


@pytest.mark.parametrize("case", list(FAILING))
def test_a_damaged_member_file_is_one_line_and_the_comparison_stays(group, case):
    path, out = group
    before = combined(out)
    _fails_with(path, out, *FAILING[case])
    assert combined(out) == before


@pytest.mark.parametrize("case", list(MEMBER_FAILS))
def test_a_damaged_member_folder_fails_that_member_as_bad_input(group, case):
    import json

    path, out = group
    _fails_with(path, out, *MEMBER_FAILS[case])
    record = json.loads((out / "group.json").read_text(encoding="utf-8"))
    kinds = {m["name"]: m.get("kind") for m in record["members"]}
    assert kinds == {"seed-0": "user", "seed-1": None}


def test_a_member_recipe_that_is_not_utf8_is_replaced_not_a_crash(group):
    """The pipeline read the run folder's recipe.yaml as text to put it back on failure: a
    non-UTF-8 byte was a UnicodeDecodeError, recorded as the member's crash (exit 1)."""
    path, out = group
    recipe = out / MEMBER / "recipe.yaml"
    recipe.write_bytes(b"\xff" + recipe.read_bytes())
    code, err = run_cli(path, out)
    assert code == 0, err
    recipe.read_text(encoding="utf-8")  # rewritten by the member's run
