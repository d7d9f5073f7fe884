"""docs/curation.md's option tables (written by hand beside the prose) state the defaults the
schema has: the generated reference docs/recipe.md is checked against the schema elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

from tunesmith.config.docs import recipe_reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "curation.md"


def _documented_defaults() -> dict[str, str]:
    """{data.curation.<step>.<option>: default} of every `<step>` options: table."""
    found, step = {}, None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"`([\w.]+)` options:", line)
        if heading:
            step = heading.group(1)
        row = re.match(r"\| `([a-z_.]+)` \| `?([^|`]*?)`? \| ", line)
        if step and row:
            found[f"data.curation.{step}.{row.group(1)}"] = row.group(2).strip('"')
    return found


def test_every_option_table_default_is_the_schema_default():
    row = r"^\| `(data\.curation\.[\w.]+)` \| [^|]+ \| `([^`]*)` \|"
    reference = dict(re.findall(row, recipe_reference(), re.M))
    documented = _documented_defaults()
    checked = 0
    for key, default in documented.items():
        if key not in reference:  # a sub-section row ("on (defaults)"), not a plain option
            continue
        assert default.lower() == reference[key].lower().replace("'", '"'), key
        checked += 1
    assert checked >= 50
