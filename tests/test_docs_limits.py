"""The recipe reference and the JSON Schema state every limit the schema enforces (Field
bounds, lengths, Literal choices), derived from the pydantic fields, not written by hand."""

from __future__ import annotations

import re
import typing

import pytest
from pydantic import BaseModel, Field, create_model

from tunesmith.config import load_recipe
from tunesmith.config.docs import (
    LIMIT_NAMES,
    _section,
    field_limits,
    field_metadata,
    recipe_reference,
)
from tunesmith.config.loader import union_members
from tunesmith.config.schema import Recipe
from tunesmith.errors import UserError

# JSON Schema keyword of each pydantic limit (min/max_length: a string's or an array's)
SCHEMA_KEYWORDS = {
    "gt": ("exclusiveMinimum",),
    "ge": ("minimum",),
    "lt": ("exclusiveMaximum",),
    "le": ("maximum",),
    "multiple_of": ("multipleOf",),
    "min_length": ("minLength", "minItems"),
    "max_length": ("maxLength", "maxItems"),
    "pattern": ("pattern",),
}


def _fields(model: type[BaseModel] = Recipe, prefix: str = ""):
    """(dotted key, owning model, field) of every plain key, every union member included."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        subs = [
            inner
            for member in union_members(field.annotation)[0]
            for inner in (member, *typing.get_args(member))
            if isinstance(inner, type) and issubclass(inner, BaseModel)
        ]
        if not subs:
            yield key, model, field
        for sub in subs:
            yield from _fields(sub, f"{key}.")


def _choices(annotation) -> list:
    """Every Literal value anywhere in `annotation` (list[Literal[...]], Literal | None, ...)."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return [c for arg in typing.get_args(annotation) for c in _choices(arg)]


def _cells(row: str) -> list[str]:
    """A table row's cells; an escaped \\| is part of a cell."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]]


def _rows(text: str) -> dict[str, dict[str, str]]:
    """Each key's row as {column name: cell}, the names taken from its table's header."""
    rows, header = {}, []
    for line in text.splitlines():
        if line.startswith("| key |"):
            header = _cells(line)
        elif line.startswith("| `"):
            row = dict(zip(header, _cells(line)))
            rows[row["key"].strip("`")] = row
    return rows


def _number(value) -> str:
    """`value` as a whole token (0.5 must not match in 10.5 or 0.55)."""
    return rf"(?<![\d.]){re.escape(str(value))}(?![\d.])"


def _constrained():
    for key, model, field in _fields():
        limits, choices = field_limits(field), _choices(field.annotation)
        if limits or choices:
            yield key, model, field, limits, choices


def test_every_bound_and_choice_of_the_schema_is_in_its_row():
    rows = _rows(recipe_reference())
    checked = 0
    for key, _, _, limits, choices in _constrained():
        allowed, kind = rows[key].get("allowed", ""), rows[key]["type"]
        for name, value in limits.items():
            said = re.search(_number(value), allowed)
            said = said or (name, value) == ("min_length", 1) and "not empty" in allowed
            assert said, (key, name, value, allowed)
        for choice in choices:
            # a tab choice is written as its repr '\\t'; a '|' escaped for the table cell
            shown = kind.replace("\\|", "|")
            assert f"'{choice}'" in shown or repr(choice) in shown, (key, choice, kind)
        checked += 1
    assert checked > 150


def test_every_limit_kind_a_field_carries_is_one_the_reference_shows():
    """A new kind of constraint (strict, allow_inf_nan...) must not go undocumented silently."""
    for key, _, field in _fields():
        for item in field_metadata(field):
            shown = any(getattr(item, name, None) is not None for name in LIMIT_NAMES)
            assert shown, (key, item)


def test_exact_rows():
    rows = _rows(recipe_reference())
    assert rows["checks.explain.max_new_tokens"].get("allowed") == "1 to 16"
    assert rows["checks.explain.k"].get("allowed") == "1 to 20"
    assert "1 to 20" not in rows["checks.explain.k"]["meaning"]  # said once, not twice
    assert rows["evaluation.alpha"].get("allowed") == "> 0, < 1"
    assert rows["data.curation.checks.poisoning.min_purity"].get("allowed") == "> 0.5, ≤ 1"
    assert rows["model.threads"].get("allowed") == "≥ 1"
    assert rows["data.curation.augment.translation_models"].get("allowed") == "exactly 2 items"
    assert rows["data.curation.augment.source_language"].get("allowed") == "at least 2 characters"
    assert rows["export.formats"].get("allowed") == "not empty; each at most once"  # + its rule
    assert rows["model.device"]["type"] == "Literal['auto', 'cpu', 'cuda', 'mps']"
    assert rows["training.seed"].get("allowed") == ""
    # share-or-count fields: the limit sits on each member of `float | int`, shown once (then
    # the rule share_or_count adds)
    share = "a share (with a decimal point) at most 1.0, or a whole count"
    assert rows["data.split.test"].get("allowed") == f"≥ 0; {share}"
    assert rows["data.split.validation"].get("allowed") == f"≥ 0; {share}"
    assert rows["pretrain.held_out"].get("allowed") == f"> 0; {share}"
    assert rows["pretrain.held_out"]["type"] == "float or int"


def test_a_pipe_in_a_cell_does_not_split_the_row():
    """`sum |w|` in the L1 description made the row two cells longer than its table."""
    lines = recipe_reference().splitlines()
    cells = _cells(next(line for line in lines if "`training.regularization.l1`" in line))
    assert len(cells) == 5 and cells[4].endswith("sum \\|w\\| over the trainable weights.")


def test_pattern_and_multiple_of_are_shown():
    model = create_model(
        "Demo",
        code=(str, Field("a", pattern=r"^(a|b)$", description="x")),
        step=(int, Field(4, ge=2, multiple_of=2, description="y")),
        tags=(list[str], Field([], max_length=3, description="z")),
    )
    lines: list[str] = []
    _section(model, "", lines)
    rows = _rows("\n".join(lines))
    assert rows["code"].get("allowed") == "matches `^(a\\|b)$`"
    assert rows["step"].get("allowed") == "≥ 2; multiple of 2"
    assert rows["tags"].get("allowed") == "0 to 3 items"


PYDANTIC_ONLY = set(LIMIT_NAMES) - {"pattern"}  # `pattern` is a JSON Schema keyword too


def _nodes(node):
    if isinstance(node, dict):
        yield node
        node = list(node.values())
    if isinstance(node, list):
        for child in node:
            yield from _nodes(child)


def test_the_json_schema_carries_the_same_limits():
    schema = Recipe.model_json_schema()  # what `tunesmith recipe schema` prints
    defs = schema["$defs"]
    missing, stray = set(), set()
    for key, model, _, limits, choices in _constrained():
        owner = schema if model is Recipe else defs.get(model.__name__)
        owner = owner or defs[f"{model.__module__.replace('.', '__')}__{model.__name__}"]
        prop = owner["properties"][key.rsplit(".", 1)[-1]]
        nodes = list(_nodes(prop))
        for name, value in limits.items():
            if not any(n.get(word) == value for n in nodes for word in SCHEMA_KEYWORDS[name]):
                missing.add(key)
        # pydantic's own name of a limit beside an anyOf (`"ge": 0`) is no JSON Schema keyword
        stray |= {(key, word) for n in nodes for word in n if word in PYDANTIC_ONLY}
        enums = [v for n in nodes for v in n.get("enum", [n.get("const")])]
        assert all(choice in enums for choice in choices), (key, choices, enums)
    # every limit as a standard keyword (`float | int` fields too: a limit on the whole union
    # came out as a non-standard {"ge": 0} that JSON Schema tools ignore)
    assert missing == set() and stray == set()


SPLIT_RECIPE = """task: summarization
data: {train: x.jsonl, input_field: a, output_field: b, split: {validation: 0.2, test: TEST}}
pretrain: {corpus: [x.txt], held_out: HELD}
"""


def _read(tmp_path, test="200", held="0.5"):
    path = tmp_path / "r.yaml"
    path.write_text(SPLIT_RECIPE.replace("TEST", test).replace("HELD", held))
    return load_recipe(path)


def test_share_or_count_limits_on_the_members_keep_what_the_recipe_means(tmp_path):
    """The limit moved onto each member of `float | int`: a YAML 0.2 is still a float share,
    200 an int count, and a bad value is still one line naming the key."""
    recipe = _read(tmp_path)
    split, held = recipe.data.split, recipe.pretrain.held_out
    assert (split.validation, split.test, held) == (0.2, 200, 0.5)
    assert [type(v) for v in (split.validation, split.test, held)] == [float, int, float]
    assert type(_read(tmp_path, "1", "3").pretrain.held_out) is int
    # checked before the union, so one message each (the union's members each reported their
    # own error, joined as "... or ..."), and held_out 1.5 is no longer taken as 1 block
    refusals = {
        ("-1", "0.5"): "data.split.test: -1 is not 0 or more; give a share (0.0-1.0) or a count",
        ("-0.5", "0.5"): "data.split.test: -0.5 is not 0 or more;",
        ("1.5", "0.5"): "data.split.test: 1.5 is neither a share (0.0-1.0) nor a count",
        ("true", "0.5"): "data.split.test: true is not a share (0.0-1.0) or a count",
        ("0.2", "0"): "pretrain.held_out: 0 is not above 0;",
        ("0.2", "-2.0"): "pretrain.held_out: -2.0 is not above 0;",
        ("0.2", "1.5"): "pretrain.held_out: 1.5 is neither a share (0.0-1.0) nor a count",
    }
    for (test, held_out), message in refusals.items():
        with pytest.raises(UserError) as err:
            _read(tmp_path, test, held_out)
        assert message in str(err.value) and "\n" not in str(err.value), str(err.value)
