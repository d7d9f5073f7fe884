"""`tunesmith tune` on a search folder whose journal is damaged or lost: one line, exit 2,
before Optuna replays it, and nothing of the earlier search is overwritten."""

from __future__ import annotations

import shutil
import sys

import pytest
from tune_helpers import search_recipe


@pytest.fixture(scope="module")
def journal(tmp_path_factory):
    """A journal of a study with two finished trials (no training: told by hand)."""
    import optuna

    from tunesmith.tune.storage import open_storage

    hpo = tmp_path_factory.mktemp("search") / "hpo"
    study = optuna.create_study(study_name="tiny", storage=open_storage(None, hpo))
    for value in (1.0, 2.0):
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        study.tell(trial, value)
    return (hpo / "study.journal").read_bytes()


def _cut(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]  # a copy or disk cut short mid-line


DAMAGE = {
    "truncated": (_cut, "study.journal:{line}: damaged run file, not valid JSON"),
    "wrong-shape": (lambda raw: b"[]\n", "study.journal:1: damaged run file, a row is an array"),
    "non-utf8": (lambda raw: b"\xff" + raw, "study.journal:1: damaged run file, not UTF-8 text"),
    "empty": (lambda raw: b"", "study.journal: empty, but "),
    "missing": (None, "study.journal: missing, but "),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_or_lost_journal_is_one_line_and_the_trials_stay(
    journal, tiny_recipe, tmp_path, monkeypatch, capsys, damage
):
    """A cut or reshaped journal was Optuna's JSONDecodeError / `AssertionError: Should not
    reach.` traceback; a lost or emptied one started a new study whose trial 0 retrained
    into trials/trial-0000, over the earlier search's result."""
    from tunesmith.cli.main import main

    hpo = tmp_path / "hpo"
    trial = hpo / "trials" / "trial-0000"
    trial.mkdir(parents=True)
    (trial / "manifest.json").write_text('{"stages": {}}', encoding="utf-8")
    change, found = DAMAGE[damage]
    if change is not None:
        (hpo / "study.journal").write_bytes(change(journal))
    before = {p: p.read_bytes() for p in hpo.rglob("*") if p.is_file()}
    path = search_recipe(tiny_recipe)
    monkeypatch.setattr(sys, "argv", ["tunesmith", "tune", str(path), "-o", str(hpo)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "Traceback" not in err
    last = err.splitlines()[-1]
    line = _cut(journal).count(b"\n") + 1
    assert last.startswith("error: ") and found.format(line=line) in last, last
    after = {p: p.read_bytes() for p in hpo.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before
    shutil.rmtree(hpo)


def test_a_shared_validation_split_that_is_not_utf8_is_one_line(tmp_path):
    """The check that a search has a validation split read it as text: UnicodeDecodeError."""
    from types import SimpleNamespace

    from tunesmith.errors import UserError
    from tunesmith.tune.driver import _require_validation

    (tmp_path / "val.jsonl").write_bytes(b'{"prompt": "caf\xe9"}\n')
    with pytest.raises(UserError, match=r"val.jsonl:1: damaged run file, not UTF-8 text"):
        _require_validation(SimpleNamespace(data=tmp_path))


def test_a_line_another_worker_is_appending_is_waited_for_not_refused(journal, tmp_path):
    """Workers sharing a journal append under Optuna's lock: the check read the journal
    without it, so a worker starting while another appended saw a line cut short and refused
    the shared study. Under the lock the line is whole."""
    import os
    import threading

    from tunesmith.tune.storage import open_storage

    hpo = tmp_path / "hpo"
    hpo.mkdir()
    path = hpo / "study.journal"
    lines = journal.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][:5])  # the last line half-written
    lock = f"{path}.lock"
    os.symlink(path, lock)  # ... by a worker that holds the journal's lock

    def finish_the_append() -> None:
        with open(path, "ab") as handle:
            handle.write(lines[-1][5:])
        os.unlink(lock)

    writer = threading.Timer(1.0, finish_the_append)
    writer.start()
    try:
        storage = open_storage(None, hpo)
    finally:
        writer.join()
    assert storage.get_all_studies()[0].study_name == "tiny"
