"""The recipe reference shows what hand-written validators refuse (each carries its rule text
where it is defined, config.base.rule) and the search space's distribution syntax."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel, create_model, field_validator
from test_docs_limits import _rows

from tunesmith.config import load_recipe
from tunesmith.config.base import rule
from tunesmith.config.docs import _section, _section_map, recipe_reference, validator_rules
from tunesmith.config.loader import union_members
from tunesmith.config.schema import Recipe
from tunesmith.config.search import Distribution
from tunesmith.errors import UserError


def _models(model: type[BaseModel] = Recipe, prefix: str = ""):
    """(key prefix, model) of every section the reference documents: union members and the
    search space's distributions (`search.space.<key>.`) included."""
    yield prefix, model
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}."
        for member in union_members(field.annotation)[0]:
            for inner in (member, *typing.get_args(member)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    yield from _models(inner, key)
        union = _section_map(field.annotation)[0]
        for distribution in typing.get_args(union) if union is not None else ():
            yield from _models(distribution, f"{key}<key>.")


def test_a_validators_rule_text_is_in_its_rows_allowed_column():
    rows = _rows(recipe_reference())
    assert rows["export.formats"]["allowed"] == "not empty; each at most once"
    assert rows["group.members.seeds"]["allowed"] == "at least 2 items; each seed at most once"
    # a cross-field rule of the recipe's model validator, on the key it concerns
    assert rows["data.output_field"]["allowed"].startswith("required for task classification")
    assert rows["federated.aggregation"]["allowed"] == "with privacy: freeze_a"
    assert rows["search.space.<key>.high"]["allowed"] == "≥ low"


def test_every_validator_states_its_rule_and_the_reference_shows_it():
    """A new validator without `rule` (or `adds_no_rule`) fails here: what it refuses would
    be known only from its error."""
    rows, checked = _rows(recipe_reference()), 0
    for prefix, model in _models():
        decorators = model.__pydantic_decorators__
        for name, dec in {**decorators.field_validators, **decorators.model_validators}.items():
            assert hasattr(dec.func, "__rules__"), f"{model.__name__}.{name}: no rule stated"
        for key, texts in validator_rules(model).items():
            for text in texts:
                assert text in rows[prefix + key]["allowed"], (prefix + key, text)
                checked += 1
    assert checked > 20


def test_a_rule_attached_to_a_validator_is_derived_not_listed():
    class Settings(BaseModel):
        names: list[str] = []

        @field_validator("names")
        @classmethod
        @rule("each name at most once")
        def _unique(cls, value):
            return value

    lines: list[str] = []
    _section(create_model("Outer", settings=(Settings, Settings())), "", lines)
    assert "| `settings.names` | list[str] | `[]` | each name at most once |  |" in lines


def test_the_search_space_syntax_has_a_section_per_distribution():
    text = recipe_reference()
    members = typing.get_args(typing.get_args(Distribution)[0])
    for member in members:
        tag = typing.get_args(member.model_fields["type"].annotation)[0]
        assert f"## `search.space.<key>` (type: {tag})" in text
        for name in member.model_fields:
            assert f"| `search.space.<key>.{name}` |" in text
    assert "| `search.space` | dict[str, FloatRange or IntRange or Categorical] or" in text


@pytest.mark.parametrize(
    "distribution",
    [
        {"type": "float", "low": 1.0e-4, "high": 1.0e-2, "log": True, "step": 1.0e-4},
        {"type": "int", "low": 2, "high": 16, "log": True, "step": 2},
    ],
    ids=["float", "int"],
)
def test_a_log_range_with_a_step_is_refused_when_the_recipe_is_read(tiny_recipe, distribution):
    """It passed validate and failed every trial (Optuna: step is not supported with log)."""
    path = tiny_recipe(search={"space": {"training.learning_rate": distribution}})
    with pytest.raises(UserError) as caught:
        load_recipe(path)
    message = str(caught.value)
    assert "search.space.training.learning_rate: step " in message
    assert "with log: a log range has no grid; leave out step" in message
