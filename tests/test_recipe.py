"""Recipe validation: typed errors with key paths, line numbers and suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tunesmith.config import load_recipe
from tunesmith.errors import UserError

RECIPES = sorted((Path(__file__).parent.parent / "src/tunesmith/recipes").glob("*.yaml"))
BASE = {
    "task": "summarization",
    "data": {"train": "x.jsonl", "input_field": "a", "output_field": "b"},
}


def write(tmp_path, recipe) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(recipe if isinstance(recipe, str) else yaml.safe_dump(recipe))
    return path


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_shipped_recipe_validates(path):
    recipe = load_recipe(path)
    assert Path(recipe.data.train).is_file()


def test_unknown_key_names_path_line_and_suggestion(tmp_path):
    text = "task: summarization\ndata:\n  train: x.jsonl\n  input_fieldd: a\n  output_field: b\n"
    with pytest.raises(UserError) as err:
        load_recipe(write(tmp_path, text))
    message = str(err.value)
    assert f"{tmp_path / 'r.yaml'}:4:" in message
    assert "data.input_fieldd" in message
    assert "did you mean 'input_field'" in message


def test_missing_required_key(tmp_path):
    with pytest.raises(UserError, match=r"data: required key is missing"):
        load_recipe(write(tmp_path, {"task": "summarization"}))


def test_bad_value_reports_key_path(tmp_path):
    recipe = {**BASE, "training": {"learning_rate": -1}}
    with pytest.raises(UserError, match=r"training.learning_rate: .*greater than 0"):
        load_recipe(write(tmp_path, recipe))


@pytest.mark.parametrize(
    "text", ["1e400", ".inf", "-.inf"], ids=["overflow", "yaml-inf", "yaml-minus-inf"]
)
def test_numbers_must_be_finite(tmp_path, text):
    # 1e400 (a YAML string pydantic reads as a float) is infinity: it passed `gt=0`
    recipe = "task: summarization\ndata: {train: x.jsonl, input_field: a, output_field: b}\n"
    recipe += f"training:\n  learning_rate: {text}\n  weight_decay: 0.0\n"
    with pytest.raises(UserError, match=r"r.yaml:4: training.learning_rate: .*finite number"):
        load_recipe(write(tmp_path, recipe))


def test_unknown_task_and_metric(tmp_path):
    with pytest.raises(UserError, match="task"):
        load_recipe(write(tmp_path, {**BASE, "task": "summarisation"}))
    with pytest.raises(UserError, match="did you mean 'rouge'"):
        load_recipe(write(tmp_path, {**BASE, "evaluation": {"metrics": ["rogue"]}}))


def test_output_field_required_for_summarization(tmp_path):
    recipe = {"task": "summarization", "data": {"train": "x.jsonl", "input_field": "a"}}
    with pytest.raises(UserError, match="output_field is required"):
        load_recipe(write(tmp_path, recipe))


def test_relative_paths_resolve_against_recipe_folder(tmp_path):
    recipe = load_recipe(write(tmp_path, BASE))
    assert recipe.data.train == str(tmp_path / "x.jsonl")
    assert recipe.model.name == "smollm2-135m-instruct"


def test_malformed_yaml_gives_line(tmp_path):
    with pytest.raises(UserError, match=r"r.yaml:\d+:"):
        load_recipe(write(tmp_path, "task: [unclosed\n"))


def test_a_recipe_with_a_bom_loads_and_a_bad_byte_names_its_line(tmp_path):
    text = "task: summarization\ndata:\n  train: x.jsonl\n  input_field: a\n  output_field: b\n"
    path = tmp_path / "r.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())  # Notepad's UTF-8 BOM
    assert load_recipe(path).data.input_field == "a"
    path.write_bytes(text.replace("b\n", "caf\xe9\n").encode("latin-1"))
    with pytest.raises(UserError) as err:
        load_recipe(path)
    assert str(err.value) == f"{path}:5: not UTF-8 text (byte 0xe9); re-encode as UTF-8"


def test_recipe_is_frozen(tmp_path):
    recipe = load_recipe(write(tmp_path, BASE))
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError on frozen
        recipe.task = "chat"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "task: summarization\ndata: {train: x.jsonl, input_field: a, output_field: b}\n"
            "training:\n  batch_size: 4\n  epochs: 1\n  batch_size: 2\n",
            "r.yaml:6: training.batch_size: duplicate key 'batch_size' (first at line 4)",
        ),
        (
            "name: a\ntask: summarization\nname: b\n",
            "r.yaml:3: name: duplicate key 'name' (first at line 1)",
        ),
        (
            "task: summarization\ndata: {train: x.jsonl, train: y.jsonl}\n",
            "r.yaml:2: data.train: duplicate key 'train' (first at line 2)",
        ),
    ],
    ids=["nested", "top-level", "flow"],
)
def test_duplicate_key_is_refused_with_both_lines(tmp_path, text, expected):
    with pytest.raises(UserError) as err:
        load_recipe(write(tmp_path, text))
    assert str(err.value) == f"{tmp_path / expected}"


def test_merge_key_override_is_not_a_duplicate(tmp_path):
    text = (
        "task: summarization\nbase: &base {train: x.jsonl, input_field: a}\n"
        "data: {<<: *base, input_field: b, output_field: c}\n"
    )
    with pytest.raises(UserError, match=r"r.yaml:2: base: unknown key"):
        load_recipe(write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "task: summarization\ndata: {train: " + "[" * 20000 + "\n",
            "r.yaml:2: data.train.0.0...: nested more than 100 levels deep",
        ),
        (  # each level shallow, but the alias puts a deep list inside another
            "task: summarization\nx: &a " + "[" * 80 + "1" + "]" * 80 + "\n"
            "y: " + "[" * 30 + "*a" + "]" * 30 + "\n",
            "r.yaml:3: y.0.0.0...: nested more than 100 levels deep",
        ),
    ],
    ids=["brackets", "alias"],
)
def test_deep_nesting_is_one_line_not_a_recursion_error(tmp_path, text, expected):
    with pytest.raises(UserError) as err:
        load_recipe(write(tmp_path, text))
    assert str(err.value) == f"{tmp_path / expected}"


def test_alias_expansion_is_capped_before_validation_walks_it(tmp_path):
    """A few anchors can stand for a million values ("billion laughs"); refused when read."""
    lines = ["task: summarization", 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in "bcdef":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [{', '.join(['*' + previous] * 10)}]")
    with pytest.raises(UserError, match="more than 100,000 values once aliases expand") as err:
        load_recipe(write(tmp_path, "\n".join(lines) + "\n"))
    assert str(err.value).startswith(f"{tmp_path / 'r.yaml'}:6: e: more than")


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            {"search": {"space": {"training.lora.r": {"type": "int", "low": 1}}}},
            "search.space.training.lora.r.high: required key is missing",
        ),
        (
            {
                "search": {
                    "space": {"training.lora.r": {"type": "int", "low": 1, "high": 2, "x": 1}}
                }
            },
            "search.space.training.lora.r.x: unknown key; allowed: type, low, high, log, step",
        ),
        (
            {"search": {"space": "defaultt"}},
            "search.space: Input should be a valid dictionary or Input should be 'default'",
        ),
        (
            {"evaluation": {"generation": {"stop": 3}}},
            "evaluation.generation.stop: Input should be a valid list or Input should be 'auto'",
        ),
        (
            {"data": {**BASE["data"], "split": {"test": "x"}}},
            "data.split.test: Input should be a valid number",
        ),
    ],
    ids=["missing-in-range", "unknown-in-range", "space-neither", "stop-neither", "split-neither"],
)
def test_union_errors_name_the_key_path_as_written(tmp_path, section, expected):
    with pytest.raises(UserError) as err:
        load_recipe(write(tmp_path, {**BASE, **section}))
    message = str(err.value).split(": ", 1)[1]  # after 'file:line'
    assert message.startswith(expected)
    assert "[" not in message.split(": ")[0] and "more)" not in message


def test_yes_no_on_off_are_text_and_bool_keys_still_read_them(tmp_path):
    """YAML 1.1 (PyYAML's default) reads yes/no/on/off as booleans: `labels: [yes, no]` for
    yes/no data named the classes 'true' and 'false', and validate refused the recipe for
    listing labels the data never has. The recipe now reads YAML 1.2's booleans only."""
    from tunesmith.config.overrides import apply_overrides

    text = (
        "task: classification\n"
        "data: {train: x.jsonl, input_field: a, output_field: b, labels: [yes, no, On, OFF]}\n"
        "training: {early_stopping: {enabled: no}}\n"
        "evaluation: {reuse: off, generation: {stop: [no]}}\n"
    )
    recipe = load_recipe(write(tmp_path, text))
    assert recipe.data.labels == ["yes", "no", "On", "OFF"]
    assert recipe.training.early_stopping.enabled is False
    assert recipe.evaluation.reuse == "off" and recipe.evaluation.generation.stop == ["no"]
    raw = apply_overrides({}, ["data.labels=[yes, no]", "evaluation.few_shot=0"])
    assert raw["data"]["labels"] == ["yes", "no"]
    assert apply_overrides({}, ["x.y=true", "x.z=False"])["x"] == {"y": True, "z": False}
