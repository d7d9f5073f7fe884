"""The CLI: bad input gives one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import errno
import json
import subprocess
import sys

import pytest
import yaml
from conftest import make_records, write_jsonl


def tunesmith(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "tunesmith.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def assert_user_error(done, *fragments):
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == errors[0]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def recipe_with(tmp_path, tiny_model_dir, data_path, **data_overrides):
    recipe = {
        "task": "summarization",
        "model": str(tiny_model_dir),
        "data": {
            "train": str(data_path),
            "input_field": "description",
            "output_field": "synopsis",
            **data_overrides,
        },
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (
            b'{"description": "a", "synopsis": "b"}\n{"description": \n',
            ["data.jsonl:2:", "malformed JSON"],
        ),
        (
            b'{"description": "a", "summary": "b"}\n{"description": "c"}\n',
            ["data.jsonl:1:", "missing field 'synopsis'", "no record"],
        ),
        (b'{"description": "\xff\xfe", "synopsis": "b"}\n', ["data.jsonl:1:", "not UTF-8"]),
        (b"", ["data.jsonl", "empty"]),
        (
            b'{"description": "a", "synopsis": "b"}\n{"description": "\\ud800", "synopsis": "b"}\n',
            ["data.jsonl:2:", "\\ud800 is half of a UTF-16 surrogate pair"],
        ),
    ],
    ids=["malformed-line", "missing-field", "non-utf8", "empty", "lone-surrogate"],
)
def test_bad_data_file(tmp_path, tiny_model_dir, content, fragments):
    data = tmp_path / "data.jsonl"
    data.write_bytes(content)
    path = recipe_with(tmp_path, tiny_model_dir, data)
    assert_user_error(tunesmith("validate", path), *fragments)
    out = tmp_path / "run"
    assert_user_error(tunesmith("run", path, "--output", out), *fragments)


def test_missing_data_file(tmp_path, tiny_model_dir):
    path = recipe_with(tmp_path, tiny_model_dir, tmp_path / "nope.jsonl")
    assert_user_error(tunesmith("validate", path), "nope.jsonl", "not found")


def test_unknown_recipe_key(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("task: summarization\ndata:\n  train: x.jsonl\n  output_fields: y\n")
    assert_user_error(
        tunesmith("validate", path),
        "r.yaml:4:",
        "data.output_fields",
        "did you mean 'output_field'",
    )


def test_deeply_nested_recipe_is_one_line(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("task: summarization\ndata: {train: " + "[" * 20000 + "\n")
    done = tunesmith("validate", path)
    assert_user_error(done, "r.yaml:2:", "data.train.0.0...: nested more than 100 levels deep")
    assert len(done.stderr) < 500  # not a 1,100-line RecursionError traceback


def test_unknown_model(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text('{"description": "a", "synopsis": "b"}\n')
    path = tmp_path / "r.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "task": "summarization",
                "model": "smollm2-135m-instrct",
                "data": {
                    "train": str(data),
                    "input_field": "description",
                    "output_field": "synopsis",
                },
            }
        )
    )
    assert_user_error(
        tunesmith("validate", path), "model.name", "did you mean 'smollm2-135m-instruct'"
    )


def test_missing_recipe_file(tmp_path):
    assert_user_error(tunesmith("run", tmp_path / "none.yaml"), "none.yaml", "not found")


def test_schema_and_init(tmp_path):
    done = tunesmith("recipe", "schema")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    assert "data" in schema["properties"] and "task" in schema["required"]
    assert tunesmith("init", tmp_path / "proj").returncode == 0
    assert (tmp_path / "proj" / "recipe.yaml").is_file()
    done = tunesmith("validate", tmp_path / "proj" / "recipe.yaml")
    assert done.returncode == 0, done.stderr
    assert "data.train: ok (900 examples after max_examples" in done.stderr + done.stdout
    assert_user_error(tunesmith("init", tmp_path / "proj"), "already exists")
    assert_user_error(tunesmith("init", tmp_path / "p2", "--example", "chitchatt"), "did you mean")


@pytest.mark.parametrize("example", ["wordnet-define", "debian-section", "chitchat", "python-docs"])
def test_init_examples_validate(tmp_path, example):
    assert tunesmith("init", tmp_path / example, "--example", example).returncode == 0
    done = tunesmith("validate", tmp_path / example / "recipe.yaml")
    assert done.returncode == 0, done.stderr
    assert "examples, fields map" in done.stdout + done.stderr


FOLDER_OUTPUTS = {  # commands that write a folder, with where it goes ({out})
    "run": ["run", "{recipe}", "-o", "{out}"],
    "group": ["group", "{recipe}", "-o", "{out}"],
    "tune": ["tune", "{recipe}", "-o", "{out}"],
    "curate-recipe": ["data", "curate", "{recipe}", "-o", "{out}"],
    "refine": ["refine", "{run}", "-o", "{out}"],
    "init": ["init", "{out}"],
    "validate": ["validate", "{recipe}", "-o", "{out}"],
}


@pytest.mark.parametrize("under", [False, True], ids=["a-file", "under-a-file"])
@pytest.mark.parametrize("command", list(FOLDER_OUTPUTS))
def test_a_file_as_an_output_folder_is_one_line_and_kept(tmp_path, tiny_model_dir, command, under):
    data = write_jsonl(tmp_path / "d.jsonl", make_records())
    recipe = recipe_with(tmp_path, tiny_model_dir, data)
    blocker = tmp_path / "afile"
    blocker.write_text("keep me", encoding="utf-8")
    out = blocker / "sub" if under else blocker
    args = [a.format(recipe=recipe, run=tmp_path / "run", out=out) for a in FOLDER_OUTPUTS[command]]
    option = "DIRECTORY" if command == "init" else "--output"
    found = "cannot create the output folder (" if under else "exists and is not a folder"
    assert_user_error(tunesmith(*args, cwd=tmp_path), f"{option}: {out}", found)
    assert blocker.read_text(encoding="utf-8") == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "d.jsonl", "recipe.yaml"]


@pytest.mark.parametrize("under", [False, True], ids=["a-folder", "under-a-file"])
def test_compare_html_must_be_a_file_it_can_write(tmp_path, under):
    (tmp_path / "afile").write_text("keep me", encoding="utf-8")
    (tmp_path / "adir").mkdir()
    html = tmp_path / "afile" / "x.html" if under else tmp_path / "adir"
    done = tunesmith("compare", tmp_path / "r1", tmp_path / "r2", "--html", html)
    found = "cannot create the output folder" if under else "is a folder; give a file name"
    assert_user_error(done, "--html: ", found)
    assert list((tmp_path / "adir").iterdir()) == []


def test_compare_html_named_json_is_refused_before_its_twin_overwrites_it(tmp_path):
    done = tunesmith("compare", tmp_path / "r1", tmp_path / "r2", "--html", tmp_path / "c.json")
    assert_user_error(done, "--html: ", "would be overwritten by the page's JSON")


@pytest.mark.parametrize("code", [errno.ENOTDIR, errno.EISDIR], ids=["ENOTDIR", "EISDIR"])
def test_path_mistakes_the_commands_do_not_check_are_still_one_line(capsys, code):
    """ENOTDIR and EISDIR from anywhere are the user's path, not a crash."""
    from tunesmith.cli.errors import invoke

    def app(**_):
        raise OSError(code, "wrong kind of path", "a/b")

    with pytest.raises(SystemExit) as exit_info:
        invoke(app)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: a/b: wrong kind of path\n"


@pytest.mark.parametrize(
    ("code", "line"),
    [
        (errno.ENOSPC, "error: cannot write a/b: disk trouble\n"),
        (errno.EACCES, "error: a/b: disk trouble\n"),  # a read can be refused too
    ],
    ids=["ENOSPC", "EACCES"],
)
def test_os_errors_say_cannot_write_only_when_only_a_write_fails_so(capsys, code, line):
    from tunesmith.cli.errors import invoke

    def app(**_):
        raise OSError(code, "disk trouble", "a/b")

    with pytest.raises(SystemExit) as exit_info:
        invoke(app)
    assert exit_info.value.code == 2 and capsys.readouterr().err == line


@pytest.mark.parametrize("wrapped", [RuntimeError, OSError], ids=["RuntimeError", "OSError"])
def test_ctrl_c_a_library_wrapped_is_still_the_resume_hint(capsys, monkeypatch, wrapped):
    """Ctrl-C during transformers' lazy import came out as its RuntimeError: a traceback."""
    from tunesmith import interrupts
    from tunesmith.cli.errors import invoke

    monkeypatch.setattr(interrupts, "install", lambda: None)

    def app(**_):
        interrupts._requested.set()  # what the signal handler records
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise wrapped("Failed to import transformers.trainer_utils") from exc

    try:
        with pytest.raises(SystemExit) as exit_info:
            invoke(app)
    finally:
        interrupts._requested.clear()
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "interrupted; run the same command again to resume\n"
    with pytest.raises(RuntimeError):  # without Ctrl-C the bug is not hidden
        invoke(lambda **_: (_ for _ in ()).throw(RuntimeError("a real bug")))


def test_stages_without_a_recipe_need_an_existing_run_folder(tmp_path):
    out = tmp_path / "runs" / "none"
    done = tunesmith("run", "--stages", "train", "-o", out, cwd=tmp_path)
    assert_user_error(done, "--stages without a recipe", f"{out} is not one (no recipe.yaml)")
    done = tunesmith("run", "--stages", "train", cwd=tmp_path)
    assert_user_error(done, "--stages without a recipe needs an existing run folder as --output")
    assert list(tmp_path.iterdir()) == []  # no demo folder created


@pytest.mark.parametrize("write", ["write_json", "write_atomically"])
def test_a_full_disk_names_the_file_that_could_not_be_written(tmp_path, monkeypatch, capsys, write):
    """A write on an open handle raises ENOSPC without a file name: the line names the target."""
    from tunesmith.artifacts import files
    from tunesmith.cli.errors import invoke

    target = tmp_path / "compare.json"

    def full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    def app(**_):
        if write == "write_json":
            monkeypatch.setattr(files.os, "fsync", full)
            files.write_json(target, {"a": 1})
        else:
            files.write_atomically(target, full)

    with pytest.raises(SystemExit) as exit_info:
        invoke(app)
    line = f"error: cannot write {target}: No space left on device\n"
    assert exit_info.value.code == 2 and capsys.readouterr().err == line
    assert list(tmp_path.iterdir()) == []  # no temp or staging file left behind


def test_python_dash_m_tunesmith_is_the_same_command(tmp_path):
    """`python -m tunesmith` (what users and two audits tried) failed: no __main__ module."""
    done = subprocess.run(
        [sys.executable, "-m", "tunesmith", "validate", tmp_path / "missing.yaml"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert_user_error(done, "missing.yaml")


@pytest.mark.parametrize("stages", [",,", ""])
def test_stages_naming_no_stage_is_refused_not_every_stage(tmp_path, stages):
    """`--stages ,,` (or '') was taken as no --stages: the whole pipeline ran again."""
    from ui_runs import make_run

    run = make_run(tmp_path, "r-1", report=False)
    before = {str(p): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    done = tunesmith("run", "--stages", stages, "-o", run)
    assert_user_error(done, f"--stages {stages!r}: names no stage")
    assert {str(p): p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_stages_subset_says_where_the_report_and_figures_are_from(tiny_recipe, tmp_path):
    """`run --stages train,evaluate` printed `report: RUN/report/report.html` though the report
    stage did not run: that report was stale (from an earlier run) or absent."""
    recipe, out = tiny_recipe(), tmp_path / "run"
    done = tunesmith("run", recipe, "--stages", "data", "-o", out)
    assert done.returncode == 0, done.stderr
    assert "report: not built (the report stage did not run; add report to --stages)" in (
        done.stderr
    )
    report = out / "report" / "report.html"
    report.parent.mkdir()
    report.write_text("<p>an earlier report</p>", encoding="utf-8")
    (out / "eval").mkdir()
    (out / "eval" / "compare.json").write_text(json.dumps({"sample_size": 150}))
    done = tunesmith("run", recipe, "--stages", "data", "-o", out)
    assert done.returncode == 0, done.stderr
    earlier = "from an earlier run (the {0} stage did not run now; add {0} to --stages)"
    assert f"report: {report} {earlier.format('report')}\n" in done.stderr
    assert f"figures {earlier.format('evaluate')}" in done.stdout.replace("\n", " ")
    assert report.read_text(encoding="utf-8") == "<p>an earlier report</p>"


def test_a_deprecation_between_libraries_is_not_printed_but_others_are(capsys):
    """peft reads transformers' renamed `is_gradient_checkpointing` on every model it wraps:
    a FutureWarning among each federated round's and torchrun rank's progress lines."""
    import warnings

    from tunesmith.cli.errors import invoke

    def app(**_):
        deprecated = "`is_gradient_checkpointing` is deprecated and will be removed in v6."
        warnings.warn(deprecated, FutureWarning, stacklevel=1)
        warnings.warn("a warning of our own making", FutureWarning, stacklevel=1)
        return 0

    with warnings.catch_warnings(record=True) as shown, pytest.raises(SystemExit):
        warnings.simplefilter("default")
        invoke(app)
    assert [str(w.message) for w in shown] == ["a warning of our own making"]
