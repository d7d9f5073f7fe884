"""The CLI: bad input gives one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml


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
