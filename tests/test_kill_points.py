"""A run killed at a precise point (between two writes of the pipeline) resumes correctly and
loses nothing already written. Each test raises `Killed` at a hook point: a BaseException no
handler of the pipeline catches on its way out, like a process that died there."""

from __future__ import annotations

import contextlib

import pytest
from test_stage_contract import _fresh_spec

from tunesmith.artifacts import RunDir
from tunesmith.config import load_recipe
from tunesmith.pipeline import run_pipeline
from tunesmith.stages import STAGES, StageSpec, load_stages


class Killed(BaseException):
    """The process died here: nothing after this point ran."""


def _spec(text: str) -> StageSpec:
    """A resumable stage (as train): writes fresh/out.txt, keeps resume state in
    fresh/checkpoints, removed once it finished."""

    def run(recipe, run_dir):
        (run_dir.root / "fresh" / "checkpoints").mkdir(parents=True, exist_ok=True)
        (run_dir.root / "fresh" / "out.txt").write_text(text)

    return _fresh_spec(run)


@pytest.fixture
def fresh(tmp_path, tiny_recipe, monkeypatch):
    load_stages()
    monkeypatch.setitem(STAGES._items, "fresh", _spec("finished"))
    return RunDir(tmp_path / "run"), load_recipe(tiny_recipe())


def _killed_after_done_mark(monkeypatch):
    original = RunDir.update_stage

    def update_stage(self, stage, **fields):
        original(self, stage, **fields)
        if fields.get("status") == "done":
            raise Killed

    monkeypatch.setattr(RunDir, "update_stage", update_stage)


def test_resume_state_left_by_a_kill_after_the_done_mark_is_removed(fresh, monkeypatch):
    """Killed between marking the stage done and removing its checkpoints: the next run skips
    the finished stage and used to keep its checkpoints for good."""
    run_dir, recipe = fresh
    with monkeypatch.context() as patch:
        _killed_after_done_mark(patch)
        with pytest.raises(Killed):
            run_pipeline(recipe, run_dir, only=["fresh"], force=False)
    assert (run_dir.root / "fresh" / "checkpoints").is_dir()
    assert run_pipeline(recipe, run_dir, only=["fresh"], force=False) == {"fresh": "skipped"}
    assert not (run_dir.root / "fresh" / "checkpoints").exists()
    assert (run_dir.root / "fresh" / "out.txt").read_text() == "finished"


def _killed_while_setting_aside(fresh, tiny_recipe, monkeypatch) -> dict:
    """The finished 'fresh' stage, caught under .previous/ by a kill: a changed recipe had
    moved it aside, the manifest did not yet say the new attempt runs. Its entry before."""
    run_dir, recipe = fresh
    run_pipeline(recipe, run_dir, only=["fresh"], force=False)
    before = run_dir.stage_entry("fresh")
    changed = load_recipe(tiny_recipe(name="changed"))
    with monkeypatch.context() as patch:

        def killed(self, stage, **fields):
            raise Killed

        patch.setattr(RunDir, "update_stage", killed)
        with pytest.raises(Killed):
            run_pipeline(changed, run_dir, only=["fresh"], force=False)
    assert not (run_dir.root / "fresh").exists()  # set aside when the process died
    return before


def test_a_kill_while_setting_a_finished_stage_aside_loses_nothing(fresh, tiny_recipe, monkeypatch):
    """Killed after a changed recipe moved the finished stage under .previous/ but before the
    manifest said the new attempt runs: the manifest still names the finished stage, and the
    next run deleted its outputs as a leftover (a finished training lost)."""
    run_dir, recipe = fresh
    before = _killed_while_setting_aside(fresh, tiny_recipe, monkeypatch)
    monkeypatch.setitem(STAGES._items, "fresh", _spec("ran again"))
    assert run_pipeline(recipe, run_dir, only=["fresh"], force=False) == {"fresh": "skipped"}
    assert (run_dir.root / "fresh" / "out.txt").read_text() == "finished"
    assert run_dir.stage_entry("fresh") == before
    assert not (run_dir.root / ".previous").exists()


def test_a_stage_caught_mid_swap_is_put_back_whichever_stages_run_next(
    fresh, tiny_recipe, monkeypatch
):
    """Only the stages a run ran had their interrupted swap undone: `run --stages other` after
    a kill while 'fresh' was set aside stopped on fresh/out.txt missing (the input 'other'
    reads) and left fresh's outputs stranded under .previous/."""
    run_dir, recipe = fresh
    before = _killed_while_setting_aside(fresh, tiny_recipe, monkeypatch)

    def copy_fresh(recipe, run_dir):
        (run_dir.root / "other").mkdir(exist_ok=True)
        read = (run_dir.root / "fresh" / "out.txt").read_text()
        (run_dir.root / "other" / "out.txt").write_text(read)

    other = StageSpec(
        "other",
        6,
        lambda r: (),
        lambda r, rd: [rd.root / "fresh" / "out.txt"],
        lambda rd: [rd.root / "other" / "out.txt"],
        copy_fresh,
    )
    monkeypatch.setitem(STAGES._items, "other", other)
    assert run_pipeline(recipe, run_dir, only=["other"]) == {"other": "ran"}
    assert (run_dir.root / "other" / "out.txt").read_text() == "finished"
    assert run_dir.stage_entry("fresh") == before
    assert not (run_dir.root / ".previous").exists()


def test_a_kill_while_curate_writes_its_card_page_keeps_the_earlier_page(tmp_path, monkeypatch):
    """`data curate FILE -o OUT` wrote OUT's card page in place: killed mid-write, the earlier
    page was left truncated (its other files are written atomically)."""
    from pathlib import Path

    from typer.testing import CliRunner

    from tunesmith.cli.data_cmd import data_app

    source = tmp_path / "in.jsonl"
    source.write_text("".join(f'{{"text": "row {i} text"}}\n' for i in range(6)), "utf-8")
    page = tmp_path / "out.card.html"
    page.write_text("<p>earlier card</p>", encoding="utf-8")
    real_write_text = Path.write_text

    def killed_mid_write(self, *args, **kwargs):
        if self == page:
            real_write_text(self, "")  # opened for writing (truncated), then the process died
            raise Killed
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", killed_mid_write)
    with contextlib.suppress(Killed):
        CliRunner().invoke(data_app, ["curate", str(source), "-o", str(tmp_path / "out.jsonl")])
    text = page.read_text(encoding="utf-8")
    assert text == "<p>earlier card</p>" or "Curation funnel" in text


def _finished(fresh):
    run_dir, recipe = fresh
    run_pipeline(recipe, run_dir, only=["fresh"], force=False)
    return run_dir, lambda: run_pipeline(recipe, run_dir, only=["fresh"], force=False)


def test_staging_left_by_a_killed_command_is_cleared_by_the_next_run(fresh, tmp_path):
    """`tunesmith evaluate` killed mid-write left .eval.partial/ (with a half-written temp
    file), a run killed while writing its manifest a temp file; the next `run` skipped every
    stage and kept them for good."""
    import subprocess
    import sys

    run_dir, rerun = _finished(fresh)
    killed = (
        "import os, sys\n"
        "from tunesmith.artifacts.files import staged_into, write_json\n"
        "with staged_into(sys.argv[1]) as place:\n"
        "    write_json(place('metrics.json'), {'rouge1': 0.5})\n"
        "    open(place('predictions/.test.tuned.jsonl.ab12cd34'), 'w').write('{\"id\"')\n"
        "    os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", killed, str(run_dir.eval)], check=False)
    assert (run_dir.root / ".eval.partial" / "metrics.json").is_file()
    half_manifest = run_dir.root / ".manifest.json.x1y2z3w4"  # killed in atomic_write_text
    half_manifest.write_text('{"stag')
    assert rerun() == {"fresh": "skipped"}
    assert not (run_dir.root / ".eval.partial").exists() and not half_manifest.exists()


def test_a_file_whose_swap_was_killed_between_its_renames_is_put_back(fresh, monkeypatch):
    """Ctrl-C (or kill -9) between a swap's two renames left the earlier file only under its
    .old name: readers found it missing, and the next swap deleted it."""
    import os

    from tunesmith.artifacts import files

    run_dir, rerun = _finished(fresh)
    target = run_dir.eval / "metrics.json"
    files.write_json(target, {"rouge1": 0.25})
    renames, real_replace = [], os.replace

    def killed_between_renames(src, dst):
        renames.append(dst)
        if len(renames) == 3:  # the staged file written, eval/metrics.json moved to .old
            raise Killed
        real_replace(src, dst)

    with monkeypatch.context() as patch:
        patch.setattr(files.os, "replace", killed_between_renames)
        with pytest.raises(Killed), files.staged_into(run_dir.eval) as place:
            files.write_json(place("metrics.json"), {"rouge1": 0.5})
    assert not target.exists()
    assert rerun() == {"fresh": "skipped"}
    assert files.read_json(target) == {"rouge1": 0.25}
    assert not files.previous_folder(target).exists()


def _curate(source, out, *more):
    from typer.testing import CliRunner

    from tunesmith.cli.data_cmd import data_app

    return CliRunner().invoke(data_app, ["curate", str(source), "-o", str(out), *more])


def _rows_file(path, count):
    path.write_text("".join(f'{{"text": "row {i} of {count}"}}\n' for i in range(count)), "utf-8")
    return path


def _curated_set(out):
    """(rows in OUT, rows its card says OUT holds)."""
    import json

    card = json.loads(out.with_name("out.card.json").read_text(encoding="utf-8"))
    rows = out.read_text(encoding="utf-8").count("\n")
    return rows, card["sizes"]["output"]


def test_a_curate_killed_between_its_renames_never_leaves_new_rows_beside_the_old_card(
    tmp_path, monkeypatch
):
    """`data curate FILE -o OUT` wrote OUT, its log, card page and card one after another:
    killed after OUT was replaced, a new OUT (4 rows) stayed beside the old card (6 rows) for
    good, even after a later `data curate` that failed on a mistyped option."""
    import os

    from tunesmith.artifacts import files

    out = tmp_path / "out.jsonl"
    assert _curate(_rows_file(tmp_path / "six.jsonl", 6), out).exit_code == 0
    card = out.with_name("out.card.json")
    real_replace = os.replace

    def killed_before_the_card_arrives(src, dst):
        if os.fspath(dst) == os.fspath(card):
            raise Killed
        real_replace(src, dst)

    with monkeypatch.context() as patch:
        patch.setattr(files.os, "replace", killed_before_the_card_arrives)
        with contextlib.suppress(Killed):
            _curate(_rows_file(tmp_path / "four.jsonl", 4), out)
    failed = _curate(tmp_path / "four.jsonl", out, "--set", "dedup.treshold=0.5")
    assert "dedup.treshold: unknown option" in str(failed.exception)
    assert _curated_set(out) == (4, 4)  # the killed command's set, finished by the next one
    recorded = files.read_json(card)["files"]
    assert recorded["out.jsonl"] == files.content_sha256(out)
    assert recorded["out.card.html"] == files.content_sha256(out.with_name("out.card.html"))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_curate_killed_while_writing_keeps_the_earlier_set_and_its_temp_files_go(
    tmp_path, monkeypatch
):
    """Killed while writing (kill -9: no handler runs), `data curate` left its temp files
    (`.out.jsonl.xxxxxxxx`) beside OUT for good; the next `data curate -o OUT` removes them, and
    only them (a user's own dotted files beside it stay)."""
    from tunesmith.artifacts import files

    out = tmp_path / "out.jsonl"
    assert _curate(_rows_file(tmp_path / "six.jsonl", 6), out).exit_code == 0
    left = [".out.jsonl.ab12cd34", ".out.jsonl.partial", "..out.log.jsonl.partial.x9y8z7w6"]
    for name in left:
        (tmp_path / name).write_text('{"half', encoding="utf-8")
    theirs = [".notes.jsonl.ab12cd34", ".out.txt.old", ".six.jsonl.partial"]
    for name in theirs:
        (tmp_path / name).write_text("a user's own file", encoding="utf-8")
    failed = _curate(tmp_path / "six.jsonl", out, "--set", "dedup.treshold=0.5")
    assert "dedup.treshold: unknown option" in str(failed.exception)
    assert _curated_set(out) == (6, 6)  # a set half staged is not finished: the earlier stays
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == sorted(theirs)
    assert files.read_json(out.with_name("out.card.json"))["files"]["out.jsonl"] == (
        files.content_sha256(out)
    )


def test_leftover_names_map_back_to_their_targets(tmp_path):
    """The previous and staging names a swap gives, and a temp file's, map back to the target
    by the same naming (recover_killed_writes used to rebuild the target by hand)."""
    from tunesmith.artifacts import files

    target = tmp_path / "metrics.json"
    for made in (files.previous_folder(target), files.staging_path(target)):
        assert files._left_by(made, {target})
    temp = files._complete_temp(target, "{}")
    assert files._left_by(temp, {target})
    assert files._left_by(files.staging_path(files.staging_path(target)), {target})
    assert not files._left_by(tmp_path / ".metrics.json", {target})
    assert not files._left_by(files.previous_folder(tmp_path / "other.json"), {target})


def test_recovery_does_not_follow_symbolic_links_out_of_the_run_folder(fresh, tmp_path):
    """recover_killed_writes walked the run folder with rglob: a link inside named like a
    leftover (`.z.partial`, `.w.old`) to a folder elsewhere was taken for ours (rmtree on the
    link: the run stopped on an OSError); nothing a link points to may be touched."""
    run_dir, rerun = _finished(fresh)
    outside = tmp_path / "shared"
    (outside / "sub").mkdir(parents=True)
    for name in (".x.old", ".y.partial", "sub/.q.ab12cd34"):
        (outside / name).write_text("not the run's", encoding="utf-8")
    (run_dir.root / "linked").symlink_to(outside, target_is_directory=True)
    (run_dir.root / ".z.partial").symlink_to(outside / "sub", target_is_directory=True)
    (run_dir.root / "w").mkdir()
    (run_dir.root / ".w.old").symlink_to(outside, target_is_directory=True)
    assert rerun() == {"fresh": "skipped"}
    assert sorted(p.relative_to(outside).as_posix() for p in outside.rglob("*")) == [
        ".x.old",
        ".y.partial",
        "sub",
        "sub/.q.ab12cd34",
    ]
    assert not (run_dir.root / ".z.partial").is_symlink()
    assert not (run_dir.root / ".w.old").is_symlink() and (run_dir.root / "linked").is_symlink()


def test_inspect_warns_when_the_card_beside_a_file_describes_another_version(tmp_path):
    """Until the next `data curate` finishes an interrupted one, its new rows can sit beside
    the earlier card: `data inspect` said nothing of it. The card's hash of the rows tells."""
    from test_cli import tunesmith

    out = tmp_path / "out.jsonl"
    assert _curate(_rows_file(tmp_path / "six.jsonl", 6), out).exit_code == 0
    assert "describes another version" not in tunesmith("data", "inspect", out).stderr
    _rows_file(out, 4)
    done = tunesmith("data", "inspect", out)
    assert done.returncode == 0, done.stderr
    assert f"{out.with_name('out.card.json')} describes another version of out.jsonl" in (
        " ".join(done.stderr.split())
    )
