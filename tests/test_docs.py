"""Docs generated from the schema stay in sync with it."""

from pathlib import Path

from tunesmith.config.docs import recipe_reference


def test_recipe_reference_is_up_to_date():
    committed = (Path(__file__).parent.parent / "docs" / "recipe.md").read_text()
    assert committed == recipe_reference(), "run: tunesmith recipe docs > docs/recipe.md"


def test_every_field_has_a_description():
    text = recipe_reference()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows and all(not line.rstrip().endswith("|  |") for line in rows)


def test_a_tagged_union_lists_every_member_tag():
    """training and group.members are unions documented by their first member: the tag row
    must offer every member's tag, not only the first one's."""
    from tunesmith.config.training import METHOD_NAMES

    row = next(line for line in recipe_reference().splitlines() if "| `training.method` |" in line)
    assert all(f"'{name}'" in row.split("|")[2] for name in METHOD_NAMES)


def test_documented_defaults_are_the_defaults_a_recipe_gets():
    """pretrain.clean / pretrain.dedup were documented with their classes' defaults (whitespace
    True, leakage drop), not the ones pretrain gives them (False, off)."""
    import re

    from tunesmith.config.docs import recipe_reference
    from tunesmith.config.loader import recipe_from_dict

    recipe = recipe_from_dict(
        {
            "task": "summarization",
            "data": {"train": "x.jsonl", "input_field": "a", "output_field": "b"},
            "pretrain": {"corpus": "c.txt"},
        }
    )
    documented = dict(
        re.findall(r"^\| `(pretrain\.[\w.]+)` \| [^|]+ \| `([^`]*)` \|", recipe_reference(), re.M)
    )
    checked = 0
    for key, text in documented.items():
        value = recipe
        for part in key.split("."):
            value = getattr(value, part, None)
        if isinstance(value, (bool, int, float, str)):
            assert str(value) == text, key
            checked += 1
    assert checked > 20 and documented["pretrain.dedup.leakage"] == "off"


def test_the_explain_k_row_states_the_cap_the_schema_enforces():
    """checks.explain.k is refused above its cap (le), which the reference did not say."""
    from tunesmith.config.checks import ExplainConfig

    cap = next(m.le for m in ExplainConfig.model_fields["k"].metadata if hasattr(m, "le"))
    row = next(line for line in recipe_reference().splitlines() if "| `checks.explain.k` |" in line)
    assert f"1 to {cap} " in row.split("|")[4]
