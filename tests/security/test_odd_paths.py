"""Recipe paths a file system cannot take: a NUL byte, a name longer than it allows. Each is
one line naming the problem, exit 2 on the CLI and a 4xx in the UI, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

CLI = [sys.executable, "-m", "tunesmith.cli"]
LONG = "a" * 5000 + ".jsonl"


def validate(recipe, *args):
    command = [*CLI, "validate", str(recipe), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def _with_train(recipe_path, train: str):
    raw = yaml.safe_load(recipe_path.read_text(encoding="utf-8"))
    raw["data"]["train"] = train
    recipe_path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return recipe_path


def test_nul_byte_in_a_recipe_path_is_one_line_naming_key_and_line(tiny_recipe):
    done = validate(_with_train(tiny_recipe(), "data\0.jsonl"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "recipe.yaml:" in last
    assert "data.train: holds a NUL byte" in last


def test_nul_byte_from_a_set_names_the_set(tiny_recipe):
    done = validate(tiny_recipe(), "--set", 'data.system_prompt="be\\0nice"')
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "--set data.system_prompt" in done.stderr and "NUL byte" in done.stderr


def test_name_too_long_for_the_file_system_is_one_line(tiny_recipe):
    done = validate(_with_train(tiny_recipe(), LONG))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "File name too long" in last
    assert len(last) < 400  # the 5,000-character name is shortened


def test_ui_answers_a_name_too_long_with_a_400(tmp_path, tiny_recipe):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient
    from test_ui_api import _form_values

    from tunesmith.ui.app import create_app

    client = TestClient(create_app(tmp_path / "runs", "t"))
    recipe = _with_train(tiny_recipe(), LONG).read_text(encoding="utf-8")
    fields = client.post("/new/recipe", files={"recipe_file": ("r.yaml", recipe, "text/yaml")})
    assert fields.status_code == 200, fields.text[-500:]  # the recipe itself is well-formed
    started = client.post("/new/start", data={**_form_values(fields.text), "token": "t"})
    assert started.status_code == 400 and "File name too long" in started.text
