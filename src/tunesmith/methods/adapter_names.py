"""The base model a saved PEFT adapter's README.md names: a Hub id or nothing, never a local folder.

peft's save_pretrained writes the base model's `_name_or_path` (the folder transformers read
it from: /home/me/models/x, or tunesmith's cache folder for an alias) into README.md's Hub
front matter, as `base_model` and the `base_model:adapter:` tag. The Hub takes only a Hub id
there, and a local path leaks the trainer's file system into a card meant to be shared. They
are rewritten from the recipe's model.name (models/naming.py): the Hub id when tunesmith knows
one, else left out, as the export cards do. adapter_config.json's `base_model_name_or_path`
stays as peft wrote it: `AutoPeftModelForCausalLM.from_pretrained(adapter)` loads the base
from there, and a name that is no folder and no Hub id would break that even where it worked.
"""

from __future__ import annotations

from pathlib import Path


def base_names(model) -> tuple[str | None, str | None]:
    """(public name, Hub id or None) of the base model `model` was built on; (None, None)
    when nothing says."""
    from tunesmith.models.naming import base_hub_id, public_model_name, recipe_model_name

    name = recipe_model_name(model) or _loaded_from(model)
    if not name:
        return None, None
    return public_model_name(name), base_hub_id(name)


def _loaded_from(model) -> str | None:
    """A model tunesmith did not load: the folder or id transformers read it from."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(getattr(inner, "config", None), "_name_or_path", None) or None


def portable_readme(path: Path, hub_id: str | None) -> None:
    """README.md's front matter with `base_model` and its tag naming `hub_id`, or neither.
    Written with yaml.safe_dump (the name is the user's text); the body is kept as it is."""
    import yaml

    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    end = text.find("\n---\n", 4)
    if not text.startswith("---\n") or end < 0:
        return
    meta = yaml.safe_load(text[4:end]) or {}
    if not isinstance(meta, dict):
        return
    meta.pop("base_model", None)
    tags = [tag for tag in meta.pop("tags", None) or [] if not str(tag).startswith("base_model:")]
    if hub_id:
        meta = {"base_model": hub_id, **meta}
        tags.insert(0, f"base_model:adapter:{hub_id}")
    if tags:
        meta["tags"] = tags
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    path.write_text("---\n" + front + text[end + 1 :], encoding="utf-8")
