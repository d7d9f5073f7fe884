"""Rating sessions: blind seeded order, resume, atomic appends, CSV sheets, summary and report."""

from __future__ import annotations

import csv
import io
import json
import threading

import pytest
from typer.testing import CliRunner
from ui_runs import HOSTILE, make_run

from tunesmith.errors import UserError
from tunesmith.human.session import NotFound, Session
from tunesmith.human.sheet import export_sheet, import_sheet


@pytest.fixture
def run_root(tmp_path):
    return make_run(tmp_path / "runs", "demo-1", items=12)


def test_order_is_seeded_per_session_and_item(run_root):
    one = Session.create(run_root, "s1")
    again = Session(run_root, "s1")
    other = Session.create(run_root, "s2")
    ids = [item.id for item in one.items()]
    assert ids == [item.id for item in again.items()]  # same session: same order for everyone
    orders = [one.order(i) for i in ids]
    assert orders == [again.order(i) for i in ids]
    assert {o[0] for o in orders} == {"tuned", "base"}  # both sides get each system
    assert orders != [other.order(i) for i in ids] or ids != [i.id for i in other.items()]


def test_resumes_where_the_rater_stopped_and_raters_are_independent(run_root):
    session = Session.create(run_root, "s1")
    first = session.next_item("ann")
    session.rate("ann", first.id, "A", "clearer")
    assert session.next_item("ann").id != first.id
    assert session.next_item("bob").id == first.id
    record = session.ratings()[0]
    assert record["order"] == list(session.order(first.id))
    assert record["winner"] == record["order"][0]
    assert set(record) >= {"rater", "item", "order", "verdict", "time", "reason"}


def test_unknown_item_bad_verdict_and_bad_names_are_refused(run_root):
    session = Session.create(run_root, "s1")
    with pytest.raises(NotFound, match="not an item"):
        session.rate("ann", "no-such-item", "A")
    with pytest.raises(UserError, match="verdict"):
        session.rate("ann", session.items()[0].id, "C")
    for bad in ("../x", "a/b", "..", ".hidden", ""):
        with pytest.raises(UserError, match="not a valid name"):
            Session(run_root, bad)
    assert session.ratings() == []


def test_concurrent_appends_never_interleave(run_root):
    session = Session.create(run_root, "s1")
    ids = [item.id for item in session.items()]

    def rater(name):
        for item in ids:
            session.rate(name, item, "tie", "x" * 500)

    threads = [threading.Thread(target=rater, args=(f"r{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = session.ratings_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 * len(ids)
    assert all(json.loads(line)["verdict"] == "tie" for line in lines)


def test_csv_sheet_round_trip_and_a_bad_sheet_stores_nothing(run_root):
    session = Session.create(run_root, "s1")
    sheet = export_sheet(session)
    assert "tuned" not in sheet.splitlines()[0] and HOSTILE in sheet  # blind, data as is
    table = list(csv.DictReader(io.StringIO(sheet)))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(table[0]))
    writer.writeheader()
    for number, row in enumerate(table):
        writer.writerow({**row, "verdict": "A" if number % 2 else "B", "reason": "ok"})
    assert import_sheet(session, "offline", buffer.getvalue()) == len(table)
    by_item = {r["item"]: r for r in session.ratings()}
    for number, row in enumerate(table):
        left, right = session.order(row["item"])
        assert by_item[row["item"]]["winner"] == (left if number % 2 else right)
    assert export_sheet(session, "offline").count("\n") == 1  # nothing left for this rater
    bad = buffer.getvalue() + "zz,p,r,a,b,A,\n"
    before = len(session.ratings())
    with pytest.raises(UserError, match="not in the session"):
        import_sheet(session, "other", bad)
    assert len(session.ratings()) == before


def test_a_sheet_saved_back_with_semicolons_imports(run_root):
    """A spreadsheet in a locale whose decimal mark is a comma saves CSV with ';': the
    import read its header as one column and said 'missing column(s) item, verdict'."""
    session = Session.create(run_root, "s1")
    table = list(csv.DictReader(io.StringIO(export_sheet(session))))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(table[0]), delimiter=";")
    writer.writeheader()
    writer.writerows({**row, "verdict": "tie", "reason": "a; b, c"} for row in table)
    assert import_sheet(session, "de", buffer.getvalue()) == len(table)
    assert {r["reason"] for r in session.ratings()} == {"a; b, c"}


def test_human_summary_command_writes_json_and_the_report_shows_it(run_root):
    from tunesmith.cli.main import app

    session = Session.create(run_root, "s1")
    for number, item in enumerate(session.items()):
        left, _ = session.order(item.id)
        tuned_side = "A" if left == "tuned" else "B"
        verdict = tuned_side if number < 9 else {"A": "B", "B": "A"}[tuned_side]
        session.rate("ann", item.id, verdict)
    result = CliRunner().invoke(app, ["human", "summary", str(run_root)])
    assert result.exit_code == 0, result.output
    assert "tuned vs base: win rate 75.0 %" in result.output
    saved = json.loads((run_root / "eval" / "human.json").read_text(encoding="utf-8"))
    assert saved["comparisons"][0]["wins"] == 9 and saved["comparisons"][0]["losses"] == 3
    assert saved["sessions"]["s1"]["win_rate"]["n"] == 12
    report = (run_root / "report" / "report.html").read_text(encoding="utf-8")
    assert "Blind human evaluation" in report and "75.0 %" in report
    assert HOSTILE not in report  # the report still escapes the predictions


def test_human_cli_errors_are_one_line(run_root, tmp_path):
    import subprocess
    import sys

    missing = subprocess.run(
        [sys.executable, "-m", "tunesmith.cli", "human", "summary", str(tmp_path / "none")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "not an evaluated run folder" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_export_to_a_folder_is_one_line_and_creates_no_session(run_root, tmp_path):
    from tunesmith.cli.main import app

    folder = tmp_path / "sheets"
    folder.mkdir()
    args = ["human", "export", str(run_root), "--session", "s1", "-o", str(folder)]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, UserError)
    assert str(result.exception) == f"--output: {folder} is a folder; give a file name"
    assert list(folder.iterdir()) == [] and not Session(run_root, "s1").settings_path.exists()


def _cli(*args):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "tunesmith.cli", *map(str, args)], capture_output=True, text=True
    )


def _one_error_line(done) -> str:
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_a_sheet_with_a_quote_never_closed_is_refused_whole(run_root, tmp_path):
    session = Session.create(run_root, "s1")
    ids = [item.id for item in session.items()][:3]
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        f'item,verdict,reason\n{ids[0]},A,"he said fine\n{ids[1]},B,ok\n{ids[2]},tie,ok\n',
        encoding="utf-8",
    )
    done = _cli("human", "import", run_root, sheet, "--session", "s1", "--rater", "ann")
    line = _one_error_line(done)
    assert f"{sheet}:2: malformed CSV" in line and "never closed" in line, line
    assert session.ratings() == []  # the rows after the quote are not lost: none is stored


def test_a_sheet_that_is_not_utf8_is_one_line(run_root, tmp_path):
    session = Session.create(run_root, "s1")
    sheet = tmp_path / "bin.csv"
    sheet.write_bytes(b"item,verdict\n\x89PNG\r\n\x1a\n\xff\xfe\x00")
    done = _cli("human", "import", run_root, sheet, "--session", "s1", "--rater", "ann")
    assert f"{sheet}:2: not UTF-8 text" in _one_error_line(done)
    assert session.ratings() == []


FORMULAS = ['=HYPERLINK("http://x","click")', "@SUM(A1)", "-2+3", "+1", "\tcmd", "\r=1+1"]


def _run_with_prompts(runs, prompts: list[str], ids: list[str] | None = None):
    """A run whose held-out prompts (and answers and references) are `prompts`."""
    from tunesmith.artifacts import write_jsonl

    root = make_run(runs, "demo-1", items=len(prompts), report=False)
    ids = ids or [f"ex{i}" for i in range(len(prompts))]
    for system in ("base", "tuned"):
        rows = [
            {"id": key, "prompt": text, "reference": text, "prediction": text}
            for key, text in zip(ids, prompts, strict=True)
        ]
        write_jsonl(root / "eval" / "predictions" / f"test.{system}.jsonl", rows)
    return root


def test_sheet_cells_that_a_spreadsheet_would_run_start_with_a_quote(tmp_path):
    root = _run_with_prompts(tmp_path / "runs", [*FORMULAS, "a normal answer"])
    session = Session.create(root, "s1")
    table = list(csv.DictReader(io.StringIO(export_sheet(session), newline="")))
    cells = {row["prompt"]: row for row in table}
    for text in FORMULAS:
        row = cells["'" + text]  # a spreadsheet reads a leading ' as "this is text"
        assert row["reference"] == row["answer_A"] == row["answer_B"] == "'" + text
    assert cells["a normal answer"]["answer_A"] == "a normal answer"  # untouched


def test_sheet_item_ids_that_look_like_formulas_round_trip(tmp_path):
    ids = ["-1", "=2", "'3", "''4", "ok"]
    root = _run_with_prompts(tmp_path / "runs", ["p"] * len(ids), ids)
    session = Session.create(root, "s1")
    table = list(csv.DictReader(io.StringIO(export_sheet(session), newline="")))
    assert {row["item"] for row in table} == {"'-1", "'=2", "''3", "'''4", "ok"}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows({**row, "verdict": "tie", "reason": "=1+1"} for row in table)
    assert import_sheet(session, "ann", buffer.getvalue()) == len(ids)
    assert sorted(r["item"] for r in session.ratings()) == sorted(ids)
    # a rater's reason is stored as typed: no sheet or page puts it back into a spreadsheet
    assert {r["reason"] for r in session.ratings()} == {"=1+1"}


def test_creating_a_session_under_a_taken_name_needs_the_same_settings(run_root):
    from tunesmith.human.session import SessionExists

    Session.create(run_root, "s1")
    assert Session.create(run_root, "s1").systems == ("tuned", "base")  # the same: opened
    with pytest.raises(SessionExists) as refused:
        Session.create(run_root, "s1", ("base", "tuned"))
    assert str(refused.value) == (
        "session 's1' already exists and compares tuned vs base on test (reference shown), "
        "not base vs tuned on test (reference shown); choose another session name"
    )
    with pytest.raises(SessionExists, match="not tuned vs base on test .reference hidden."):
        Session.create(run_root, "s1", show_reference=False)
    assert Session(run_root, "s1").systems == ("tuned", "base")


def test_cli_export_opens_an_existing_session_with_its_own_systems(run_root, tmp_path):
    # `human export` asks for no systems: it uses the session as it is, creating tuned vs base
    # only when the name is new (the UI's form, which does ask, refuses other systems).
    from tunesmith.cli.main import app

    Session.create(run_root, "s1", ("base", "tuned"))
    sheet = tmp_path / "sheet.csv"
    args = ["human", "export", str(run_root), "--session", "s1", "-o", str(sheet)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert Session(run_root, "s1").systems == ("base", "tuned")
    assert sheet.read_text(encoding="utf-8").count("\n") == 13  # header + 12 items


def _create_at_once(monkeypatch, run_root, name: str, settings: list[dict]) -> list:
    """Session.create called by one thread per settings, released together once each has
    checked its items: each result is the session or the error it raised."""
    import tunesmith.human.session as module

    barrier = threading.Barrier(len(settings))

    def items_then_wait(*args, **kwargs):
        items = load_items(*args, **kwargs)
        barrier.wait(timeout=30)
        return items

    load_items = module.load_items
    monkeypatch.setattr(module, "load_items", items_then_wait)
    results = [None] * len(settings)

    def create(index: int) -> None:
        try:
            results[index] = Session.create(run_root, name, **settings[index])
        except UserError as exc:
            results[index] = exc

    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(settings))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.setattr(module, "load_items", load_items)
    return results


def test_two_creators_of_one_new_session_at_once_never_both_win(run_root, monkeypatch):
    """Both used to see no session file and both write one: each was handed 'its' session
    while the file held the later writer's systems. Now one creates it and the other gets the
    name-taken refusal (other settings) or the same session (same settings)."""
    from tunesmith.human.session import SessionExists

    for round_ in range(5):  # the race window is small: several rounds
        name = f"race{round_}"
        swapped = _create_at_once(monkeypatch, run_root, name, [{}, {"systems": ("base", "tuned")}])
        won = [i for i, r in enumerate(swapped) if isinstance(r, Session)]
        refused = [r for r in swapped if isinstance(r, SessionExists)]
        assert len(won) == 1 and len(refused) == 1, swapped
        asked = [("tuned", "base"), ("base", "tuned")][won[0]]
        assert Session(run_root, name).systems == asked  # the winner's file, not overwritten
        alike = _create_at_once(monkeypatch, run_root, f"same{round_}", [{}, {}])
        assert [r.systems for r in alike] == [("tuned", "base")] * 2
    leftovers = [p.name for p in (run_root / "eval" / "human").iterdir()]
    assert all(not name.startswith(".") for name in leftovers)  # no temp files left
