"""Members that tokenise with different vocabularies (variants of `model.name`).

Per-token perplexity counts tokens of the model's own vocabulary: across such members it is in
different units, so the group's comparison leaves it out (as `tunesmith compare` does, with the
same fingerprint, evaluate/runs.py), and an ensemble adding up per-token scores is refused
before anything is written when listed, skipped with why when chosen by default.
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.errors import UserError

PERPLEXITY = "perplexity"


def vocabularies_apart(members) -> str | None:
    """Words naming two members whose tokenizers differ (None: one vocabulary, or unknown)."""
    from tunesmith.evaluate.runs import folder_fingerprint

    if len({gm.recipe.model.name for gm in members}) < 2:
        return None  # one model: one vocabulary, no tokenizer to load
    prints: dict[str, str | None] = {}
    seen: dict[str, object] = {}  # fingerprint -> the first member with it
    for gm in members:
        name = gm.recipe.model.name
        if name not in prints:
            prints[name] = folder_fingerprint(_model_folder(name))
        if prints[name] is not None:
            seen.setdefault(prints[name], gm)
    if len(seen) < 2:
        return None
    first, other = list(seen.values())[:2]
    return (
        f"members {first.member.name} ({first.recipe.model.name}) and {other.member.name} "
        f"({other.recipe.model.name}) tokenise with different vocabularies"
    )


def _model_folder(name: str) -> Path:
    from tunesmith.models import resolve_model

    try:
        return Path(resolve_model(name, fetch=False))
    except UserError:  # the pre-flight's model check says what is wrong with it
        return Path(name)


def check_one_vocabulary(recipe, members) -> None:
    """Before anything is written: UserError when the members' vocabularies differ and the
    group would rank them, or list an ensemble, by per-token scores."""
    from tunesmith.ensemble.methods import ENSEMBLES, load_ensembles

    apart = vocabularies_apart(members)
    if apart is None:
        return
    if recipe.target_metric() == PERPLEXITY:
        raise UserError(
            f"group: {apart}; the headline perplexity is per token of each vocabulary and "
            "cannot rank them (set evaluation.target.metric to a text metric, or give the "
            "members one tokenizer)"
        )
    load_ensembles()
    for name in recipe.group.ensembles or []:
        method = ENSEMBLES.get(name)
        if method.per_token_scores:
            raise UserError(
                f"group.ensembles: '{name}' ({method.label}) {method.per_token_scores}, but "
                f"{apart}; list ensembles that combine texts or labels, or give the members "
                "one tokenizer"
            )


def without_perplexity(recipe):
    """The recipe the comparison of members of different vocabularies is scored with."""
    from tunesmith.config.overrides import override_recipe

    kept = [m for m in recipe.metrics() if m != PERPLEXITY]
    return override_recipe(recipe, {"evaluation.metrics": kept}, source="group comparison")
