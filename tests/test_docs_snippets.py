"""Every ```yaml recipe snippet of README.md and docs/*.md is a valid recipe as written: a
whole recipe on its own, a section merged into a minimal recipe of the snippet's task. A key
renamed or a value tightened in the schema must not leave a snippet the loader refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tunesmith.config.loader import recipe_from_dict
from tunesmith.config.recipe_yaml import read_yaml

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# a sketch's `...` (keys left out, `{max_examples: 260, ...}`) reads as the key '...'
LEFT_OUT = "..."


def _snippets() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        blocks = re.findall(r"^```yaml\n(.*?)^```", page.read_text(encoding="utf-8"), re.M | re.S)
        found += [(page.name, k, text) for k, text in enumerate(blocks)]
    return found


def _minimal(task: str) -> dict:
    """The fewest keys a recipe of `task` needs (its data files are not read here)."""
    fields = {"text_field": "text"} if task == "completion" else {"messages_field": "messages"}
    if task not in ("completion", "chat"):
        fields = {"input_field": "body", "output_field": "label"}
    return {"task": task, "data": {"train": "train.jsonl", **fields}}


def _merged(base: dict, snippet: dict) -> dict:
    for key, value in snippet.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merged(base[key], value)
        else:
            base[key] = value
    return base


def _task_of(snippet: dict) -> str:
    if "task" in snippet:
        return snippet["task"]
    return "classification" if "label_map" in (snippet.get("data") or {}) else "summarization"


def _written(snippet: dict) -> dict:
    """The snippet without the keys a sketch leaves out."""
    return {
        key: _written(value) if isinstance(value, dict) else value
        for key, value in snippet.items()
        if key != LEFT_OUT
    }


SNIPPETS = _snippets()


def test_the_pages_have_snippets():
    assert len(SNIPPETS) >= 15
    assert {page for page, _, _ in SNIPPETS} >= {"README.md", "curation.md", "ensembles.md"}


IDS = [f"{page}-{k}" for page, k, _ in SNIPPETS]


@pytest.mark.parametrize(("page", "index", "text"), SNIPPETS, ids=IDS)
def test_a_recipe_snippet_is_a_valid_recipe(page, index, text, tmp_path):
    snippet, _ = read_yaml(text)  # the strict reader recipes go through (no key twice...)
    assert isinstance(snippet, dict), f"{page} snippet {index} is not a mapping"
    snippet = _written(snippet)
    raw = _merged(_minimal(_task_of(snippet)), snippet)
    recipe = recipe_from_dict(raw, f"{page} snippet {index}", folder=tmp_path)
    for section in snippet:
        assert getattr(recipe, section, None) is not None, (page, index, section)
