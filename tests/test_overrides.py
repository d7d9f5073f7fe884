"""`--set KEY=VALUE`: one override function, YAML-typed values, the loader's usual errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tunesmith.config import load_recipe
from tunesmith.config.overrides import apply_overrides
from tunesmith.errors import UserError


def test_values_are_parsed_as_yaml_and_nested_keys_created():
    raw = {"training": {"lora": {"r": 16}}, "model": "smollm2-135m-instruct"}
    out = apply_overrides(
        raw,
        [
            "training.lora.r=8",
            "training.lora.target_modules=[q_proj, v_proj]",
            "data.split.seed=3",
            "model.device=cpu",
            "training.max_steps=null",
        ],
    )
    assert out["training"]["lora"] == {"r": 8, "target_modules": ["q_proj", "v_proj"]}
    assert out["data"]["split"]["seed"] == 3
    assert out["model"] == {"name": "smollm2-135m-instruct", "device": "cpu"}
    assert out["training"]["max_steps"] is None
    assert raw["training"]["lora"]["r"] == 16  # the input is not modified


def test_load_recipe_applies_overrides(tiny_recipe):
    recipe = load_recipe(tiny_recipe(), ["training.lora.r=8", "data.split.seed=3"])
    assert recipe.training.lora.r == 8 and recipe.data.split.seed == 3


def test_set_training_method_replaces_the_old_methods_settings(tiny_recipe):
    """`--set training.method=full` on a recipe with a `lora:` section was refused (settings
    of method 'lora'), and `training.lora=null` could not remove them."""
    raw = {"training": {"method": "lora", "lora": {"r": 8}, "learning_rate": 0.001}}
    assert apply_overrides(raw, ["training.method=full"])["training"] == {
        "method": "full",
        "learning_rate": 0.001,
    }
    assert apply_overrides({"training": {"lora": {"r": 8}}}, ["training.method=ia3"])[
        "training"
    ] == {"method": "ia3"}
    kept = apply_overrides(raw, ["training.method=lora", "training.lora.r=4"])
    assert kept["training"]["lora"] == {"r": 4}
    path = tiny_recipe(training={"lora": {"r": 4}})
    assert load_recipe(path, ["training.method=full"]).training.method == "full"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "training.lora.rr=8",
            "--set training.lora.rr=8: training.lora.rr: unknown key (did you mean 'r'?)",
        ),
        ("training.lora.r=eight", "--set training.lora.r=eight: training.lora.r: "),
        ("training.lora.r.x=1", "--set training.lora.r.x=1: training.lora.r is a value"),
        ("training.lora.r", "--set training.lora.r: expected KEY=VALUE"),
        # the error is at a parent of the key: `task` became a mapping
        ("task.sub=1", "--set task.sub=1: task: Input should be 'summarization', "),
        # a whole-recipe check (no key path of its own) that the override fails
        (
            "evaluation.target.metric=nosuch",
            "--set evaluation.target.metric=nosuch: "
            "evaluation.target.metric 'nosuch' is not computed",
        ),
        ("data.x=" + "[" * 20000, "--set data.x=[[[[[[[[[["),  # not a RecursionError
        ("training.lora={r: 4, r: 8}", "--set training.lora={r: 4, r: 8}: the value is not"),
    ],
)
def test_bad_overrides_are_one_line_naming_the_set(tiny_recipe, override, expected):
    with pytest.raises(UserError) as caught:
        load_recipe(tiny_recipe(), [override])
    assert str(caught.value).startswith(expected)


@pytest.mark.parametrize(
    ("value", "read_as"),
    [("{description}", "a mapping"), ("[x]", "a list"), ("{description[0]}", "")],
)
def test_a_braced_template_on_the_command_line_says_to_quote_it(tiny_recipe, value, read_as):
    """`--set data.prompt_template={description}` ended in pydantic's 'Input should be a valid
    string' (YAML reads the braces as a mapping), or 'not a YAML scalar or list', without a
    word on how to pass the text."""
    with pytest.raises(UserError) as caught:
        load_recipe(tiny_recipe(), [f"data.prompt_template={value}"])
    hint = f"to pass it as text, quote it: --set 'data.prompt_template=\"{value}\"'"
    assert hint in str(caught.value)
    assert f"YAML reads {value} as {read_as}; " in str(caught.value) if read_as else True
    quoted = load_recipe(tiny_recipe(), ['data.prompt_template="{description}"'])
    assert quoted.data.prompt_template == "{description}"


def test_errors_in_the_file_still_point_at_the_line(tmp_path, tiny_recipe):
    path = tiny_recipe()
    text = path.read_text().replace("batch_size: 4", "batch_size: -4", 1)
    path.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "batch_size: -4" in t)
    with pytest.raises(UserError, match=rf"recipe.yaml:{line}: training.batch_size"):
        load_recipe(path, ["training.lora.r=8"])


def test_the_set_that_brings_the_error_in_is_named_not_the_last(tiny_recipe):
    # the target metric is fine until the metric list no longer computes it
    overrides = [
        "evaluation.target.metric=rougeL",
        "evaluation.metrics=[bleu]",
        "data.split.seed=3",
    ]
    with pytest.raises(UserError) as caught:
        load_recipe(tiny_recipe(), overrides)
    assert str(caught.value).startswith(
        "--set evaluation.metrics=[bleu]: evaluation.target.metric 'rougeL'"
    )


def test_whole_recipe_errors_of_the_file_still_name_the_file(tiny_recipe):
    path = tiny_recipe(**{"evaluation.target": {"metric": "nosuch"}})
    with pytest.raises(UserError) as caught:
        load_recipe(path, ["training.lora.r=8", "evaluation.metrics=[bleu]"])
    # at the line of the key the rule is about (it said ':1: (top level):')
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "nosuch" in t)
    assert str(caught.value).startswith(f"{path}:{line}: evaluation.target.metric 'nosuch'")


def test_validate_takes_set_and_exits_2(tiny_recipe):
    cli = [sys.executable, "-m", "tunesmith.cli", "validate", str(tiny_recipe())]
    bad = subprocess.run([*cli, "--set", "training.lr=1"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "training.lr: unknown key" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("###", "###"),  # was null: YAML reads `#...` as a comment
        ("#x", "#x"),
        ("Answer #1", "Answer #1"),  # was 'Answer'
        ("8 # eight", "8 # eight"),  # was 8: validation now names the --set
        ("---", "---"),  # was null: a bare document marker
        ("", ""),
        ("  ", ""),
        # what YAML reads whole keeps its YAML meaning
        ("8", 8),
        ("~", None),
        ("null", None),
        ("[a, b]", ["a", "b"]),
        ('"a #b"', "a #b"),
        ("a#b", "a#b"),
        ("|\n  abc # x\n", "abc # x\n"),
    ],
)
def test_a_value_yaml_would_read_only_part_of_is_taken_as_typed(value, expected):
    from tunesmith.config.overrides import parse_override

    assert parse_override(f"evaluation.x={value}") == (["evaluation", "x"], expected)


def test_a_hash_stop_string_reaches_the_recipe(tiny_recipe):
    """`--set evaluation.generation.stop=###` set the stop strings to null."""
    recipe = load_recipe(tiny_recipe(), ["evaluation.generation.stop=###"])
    assert recipe.evaluation.generation.stop == ["###"]
    with pytest.raises(UserError, match=r"^--set training.lora.r=8 # eight: training.lora.r: "):
        load_recipe(tiny_recipe(), ["training.lora.r=8 # eight"])


def test_data_curate_sets_read_a_hash_value_as_typed():
    """`data curate --set` parses its values the same way."""
    from tunesmith.data.curate.adhoc import curation_config

    config = curation_config(["pii"], ["pii.salt_env=#SALT", "pii.entities=[URL]"])
    assert config.pii.salt_env == "#SALT" and config.pii.entities == ["URL"]
