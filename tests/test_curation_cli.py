"""`tunesmith data curate|inspect` on a file and on a recipe; the data card renders offline."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tunesmith.cli.data_cmd import data_app
from tunesmith.errors import UserError

runner = CliRunner()


def _mail_file(path, n=40):
    rows = [
        {
            "id": i,
            "subject": f"s{i}",
            "label": "a" if i % 4 else "b",
            "body": f"Mail {i}: reach me at p{i}@corp.com or 020 7946 {i:04d}; ref {i}.",
        }
        for i in range(n)
    ]
    rows.append(dict(rows[3], id=999))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_curate_file_ad_hoc(tmp_path):
    source = _mail_file(tmp_path / "mail.jsonl")
    out = tmp_path / "clean.jsonl"
    result = runner.invoke(
        data_app,
        [
            "curate",
            str(source),
            "--steps",
            "clean,dedup,pii",
            "--fields",
            "body",
            "--set",
            "pii.mode=mask",
            "--set",
            "pii.person_names=gazetteer",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 40 and "@" not in out.read_text()
    assert rows[0]["subject"] == "s0" and "<EMAIL_ADDRESS>" in rows[0]["body"]
    card = json.loads((tmp_path / "clean.card.json").read_text())
    assert card["pii"]["counts"]["EMAIL_ADDRESS"] == 40
    assert [e["step"] for e in card["funnel"]] == ["load", "clean", "dedup", "pii"]
    html = (tmp_path / "clean.card.html").read_text()
    assert "Curation funnel" in html and "<svg" in html
    log = [json.loads(line) for line in (tmp_path / "clean.log.jsonl").read_text().splitlines()]
    assert log == [
        {
            "step": "dedup",
            "reason": "exact_duplicate",
            "id": "999",
            "duplicate_of": "3",
            "preview": log[0]["preview"],
        }
    ]
    assert "@" not in log[0]["preview"]


def _curated(tmp_path, rows, *args):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(data_app, ["curate", str(source), *args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_curate_file_writes_each_row_with_its_own_id_or_none(tmp_path):
    """The docs promise the rows back with their other fields untouched, but every row was
    written with curation's string id: 7 became "7", a file with a repeated id had every id
    replaced by "line-N", and a file without ids gained an `id` field. Each row now keeps the
    id it had (value and type) or none; an added copy keeps the id naming its source row."""
    texts = [f"note {i} about the {word} module" for i, word in enumerate("abcdef")]
    numbered = _curated(tmp_path, [{"id": i, "text": t} for i, t in enumerate(texts)])
    assert [r["id"] for r in numbered] == [0, 1, 2, 3, 4, 5]
    repeated = [{"id": 7 if i < 2 else i, "text": t} for i, t in enumerate(texts)]
    assert [r["id"] for r in _curated(tmp_path, repeated)] == [7, 7, 2, 3, 4, 5]
    plain = _curated(tmp_path, [{"text": t} for t in texts])
    assert plain == [{"text": t} for t in texts]
    noisy = _curated(
        tmp_path,
        [{"text": t} for t in texts],
        *["--steps", "augment", "--set", "augment.methods=[char_noise]"],
        *["--set", "augment.fraction=1.0"],
    )
    assert noisy[:6] == [{"text": t} for t in texts]
    assert sorted(r["id"] for r in noisy[6:]) == [f"line-{i}-aug-char_noise-0" for i in range(1, 7)]


def test_curate_file_user_errors(tmp_path):
    source = _mail_file(tmp_path / "mail.jsonl")
    result = runner.invoke(data_app, ["curate", str(source), "--fields", "bdy"])
    assert isinstance(result.exception, UserError) and "did you mean 'body'" in str(
        result.exception
    )
    result = runner.invoke(data_app, ["curate", str(source), "--set", "dedup.treshold=1"])
    assert isinstance(result.exception, UserError)
    assert str(result.exception) == "--set dedup.treshold: unknown option"
    deep = "[" * 20_000  # plain yaml.safe_load recursed once per level: a RecursionError
    result = runner.invoke(data_app, ["curate", str(source), "--set", f"dedup.threshold={deep}"])
    assert isinstance(result.exception, UserError)
    assert str(result.exception).startswith("--set dedup.threshold: ")


def test_curate_file_refuses_a_folder_as_its_output_before_curating(tmp_path):
    source = _mail_file(tmp_path / "mail.jsonl")
    folder = tmp_path / "out"
    (folder / "kept.txt").parent.mkdir()
    (folder / "kept.txt").write_text("keep me", encoding="utf-8")
    result = runner.invoke(data_app, ["curate", str(source), "-o", str(folder)])
    assert isinstance(result.exception, UserError) and result.exception.exit_code == 2
    assert str(result.exception) == f"--output: {folder} is a folder; give a file name"
    assert [p.name for p in folder.iterdir()] == ["kept.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mail.jsonl", "out"]  # no card


def test_inspect_changes_nothing_and_reports(tmp_path):
    source = _mail_file(tmp_path / "mail.jsonl")
    before = source.read_text()
    result = runner.invoke(
        data_app, ["inspect", str(source), "--fields", "body", "--label-field", "label", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["rows"] == 41 and report["duplicates"]["exact"] == 1
    assert report["labels"] == {"a": 31, "b": 10}
    assert report["pii"]["counts"]["EMAIL_ADDRESS"] == 41
    assert source.read_text() == before
    result = runner.invoke(data_app, ["inspect", str(source), "--fields", "body", "--no-pii"])
    assert result.exit_code == 0 and "duplicates: 1 exact" in result.output


def test_inspect_counts_null_and_blank_labels_as_missing_not_as_classes(tmp_path):
    sections = ["utils"] * 50 + ["net"] * 30 + [None] * 25 + ["", "  "] * 5 + [None] * 5
    rows = [
        {"package": f"pkg{i}", "description": f"tool number {i} for job {i * 7}", "section": s}
        for i, s in enumerate(sections)
    ]
    source = tmp_path / "debian.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    args = ["inspect", str(source), "--label-field", "section", "--no-pii"]
    report = json.loads(runner.invoke(data_app, [*args, "--json"]).output)
    assert report["labels"] == {"utils": 50, "net": 30} and report["labels_missing"] == 40
    result = runner.invoke(data_app, args)
    assert result.exit_code == 0, result.output
    assert "labels: utils: 50, net: 30, (missing): 40" in result.output


def _chat_file(path, rows):
    path.write_text("".join(json.dumps({"messages": m}) + "\n" for m in rows), encoding="utf-8")
    return path


def test_curate_file_reads_a_null_chat_content_as_missing_not_as_the_text_none(tmp_path):
    skipped = [{"role": "user", "content": "hi there"}, {"role": "assistant", "content": None}]
    answered = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "fine"}]
    source = _chat_file(tmp_path / "chat.jsonl", [skipped, answered])
    cleaned, kept = tmp_path / "cleaned.jsonl", tmp_path / "kept.jsonl"
    # clean drops it as the run's data stage does (there: 'empty output')
    result = runner.invoke(
        data_app, ["curate", str(source), "--steps", "clean", "-o", str(cleaned)]
    )
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in cleaned.read_text().splitlines()] == [
        {"messages": answered}
    ]
    card = json.loads((tmp_path / "cleaned.card.json").read_text())
    assert card["funnel"][1]["dropped"] == {"empty_answer": 1}
    # a step that keeps the row writes its null back, not the text "None"
    result = runner.invoke(data_app, ["curate", str(source), "--steps", "dedup", "-o", str(kept)])
    assert result.exit_code == 0, result.output
    first = json.loads(kept.read_text().splitlines()[0])
    assert first["messages"][1] == {"role": "assistant", "content": None}


@pytest.fixture
def curated_run(tmp_path, tiny_recipe):
    curation = {"clean": True, "dedup": {"threshold": 0.9}, "checks": {}}
    recipe = tiny_recipe(**{"data.curation": curation})
    result = runner.invoke(data_app, ["curate", str(recipe), "--output", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    return tmp_path / "run" / "data"


def test_curate_recipe_writes_the_data_stage(curated_run):
    card = json.loads((curated_run / "data_card.json").read_text())
    assert [e["step"] for e in card["funnel"]] == ["load", "clean", "dedup", "checks", "leakage"]
    assert card["leakage"]["checked"] and card["leakage"]["clean_after"]
    assert sum(card["sizes"].values()) == card["funnel"][-1]["rows_out"]
    assert set(card["lengths"]) == {"before", "after"}
    for split in ("train", "val", "test"):
        assert (curated_run / f"{split}.jsonl").is_file()


def test_data_card_renders_self_contained(curated_run):
    from tunesmith.report.data_card import render_data_card

    html = render_data_card(json.loads((curated_run / "data_card.json").read_text()))
    assert "Curation funnel" in html and "Leakage check" in html and "<svg" in html
    assert "<script" not in html and "src=" not in html and "<link" not in html


def test_curate_file_reads_sharegpt_conversations_and_keeps_their_shape(tmp_path):
    """A ShareGPT file ([{from, value}]) was not a text column: `curate --steps pii` wrote it
    back with every phone number and address in it, and `--fields conversations` was refused.
    Its turns are now curated as chat messages and written in the file's own shape."""
    rows = [
        {
            "id": i,
            "conversations": [
                {"from": "system", "value": "Be brief."},
                {"from": "human", "value": f"Call me on 020 7946 {i:04d}, ann{i}@corp.com"},
                {"from": "gpt", "value": f"Noted, answer {i}.", "weight": 1},
            ],
        }
        for i in range(6)
    ]
    source = tmp_path / "sharegpt.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(data_app, ["curate", str(source), "--steps", "pii", "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in written] == list(range(6))
    for i, row in enumerate(written):
        system, human, gpt = row["conversations"]
        assert system == {"from": "system", "value": "Be brief."}
        assert set(human) == {"from", "value"} and human["from"] == "human"
        assert f"7946 {i:04d}" not in human["value"] and f"ann{i}@" not in human["value"]
        assert gpt == {"from": "gpt", "value": f"Noted, answer {i}.", "weight": 1}
    named = runner.invoke(
        data_app, ["curate", str(source), "--steps", "pii", "--fields", "conversations"]
    )
    assert named.exit_code == 0, named.output


def _nested_file(path, n=8):
    rows = [
        {
            "id": i,
            "subject": f"call 020 7946 {i:04d}",
            "meta": {
                "body": f"Ring me on 020 7946 {i:04d} today.",
                "lang": "en",
                "label": "ab"[i % 2],
            },
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_curate_file_masks_a_nested_field_and_writes_it_back_at_its_path(tmp_path):
    """`--fields meta.body` was 'not found': curation read only top-level fields. A dotted path
    now names the nested field (as in the data stage); it is curated and written back nested,
    the object's other keys and the other fields as they were."""
    source = _nested_file(tmp_path / "nested.jsonl")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(
        data_app,
        ["curate", str(source), "--steps", "pii", "--set", "pii.mode=mask"]
        + ["--fields", "meta.body", "--label-field", "meta.label", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(written) == 8
    for i, row in enumerate(written):
        assert set(row) == {"id", "subject", "meta"}
        assert row["subject"] == f"call 020 7946 {i:04d}"  # not a curated field
        assert set(row["meta"]) == {"body", "lang", "label"}
        assert row["meta"]["body"] == "Ring me on <PHONE_NUMBER> today."
        assert row["meta"]["lang"] == "en" and row["meta"]["label"] == "ab"[i % 2]


def test_inspect_reads_a_nested_text_and_label_field(tmp_path):
    source = _nested_file(tmp_path / "nested.jsonl")
    result = runner.invoke(
        data_app,
        ["inspect", str(source), "--fields", "meta.body", "--label-field", "meta.label", "--json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["labels"] == {"a": 4, "b": 4}
    assert report["pii"]["counts"]["PHONE_NUMBER"] == 8


def test_a_field_named_with_a_dot_is_curated_as_itself_and_a_missing_path_is_named(tmp_path):
    source = tmp_path / "flat.jsonl"
    rows = [{"id": 1, "meta.body": "call 020 7946 0001", "meta": {"body": "call 020 7946 0002"}}]
    source.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["curate", str(source), "--steps", "pii", "--set", "pii.mode=mask", "-o", str(out)]
    result = runner.invoke(data_app, [*args, "--fields", "meta.body"])
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["meta.body"] == "call <PHONE_NUMBER>"
    assert row["meta"] == {"body": "call 020 7946 0002"}
    missing = runner.invoke(data_app, [*args, "--fields", "meta.title"])
    assert isinstance(missing.exception, UserError)
    assert "field 'meta.title' not found" in str(missing.exception)


def test_a_nested_field_filled_across_a_value_that_is_no_object_keeps_its_dotted_key():
    from tunesmith.data.curate.adhoc import FileShape, in_file_shape

    rows = [
        {"id": "1", "meta": {"a": 1}, "meta.body": "x"},
        {"id": "2", "meta": "plain", "meta.body": "filled"},
        {"id": "3", "meta.body": "new"},
    ]
    assert in_file_shape(rows, FileShape(nested=["meta.body"])) == [
        {"id": "1", "meta": {"a": 1, "body": "x"}},
        {"id": "2", "meta": "plain", "meta.body": "filled"},
        {"id": "3", "meta": {"body": "new"}},
    ]
    assert rows[0] == {"id": "1", "meta": {"a": 1}, "meta.body": "x"}  # the input unchanged


def test_the_steps_option_help_names_every_step_it_accepts():
    """It listed six steps by hand; `counterfactual`, which --steps accepts, was not among them."""
    import typer

    from tunesmith.data.curate.adhoc import STEP_KEYS

    curate = typer.main.get_command(data_app).commands["curate"]
    said = next(p.help for p in curate.params if p.name == "steps")
    assert "counterfactual" in STEP_KEYS
    assert all(step in said for step in STEP_KEYS), said
