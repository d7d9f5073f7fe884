"""Guards around peft's `add_weighted_adapter`, whose merges are silently wrong for some
adapters (huggingface/peft#3761: rsLoRA, lora_bias, DoRA; #3737: rank_pattern reloads).

Before merging: refuse what cannot merge (other methods or base models, DoRA, LoRA biases).
After reloading the saved merge: compare every module's weight delta with the exact
combination of the members' deltas (peft's own merge_utils on the members' `get_delta_weight`,
with DARE's random drop replayed), so a wrong merge is caught rather than scored.
"""

from __future__ import annotations

import contextlib

from tunesmith.errors import UserError

# Adapter settings peft's combination ignores or gets wrong: refused, with the reason.
REFUSED = {
    "use_dora": "DoRA magnitude vectors are not combined by peft (huggingface/peft#3761)",
    "lora_bias": "LoRA biases are not combined by peft (huggingface/peft#3761)",
}


def adapter_config(gm) -> dict:
    from tunesmith.artifacts.files import read_json
    from tunesmith.methods import method_of
    from tunesmith.models.safe_files import check_adapter_config

    path = gm.run_dir.train / method_of(gm.recipe.training).artefact / "adapter_config.json"
    if not path.is_file():
        raise UserError(
            f"group.merges: member {gm.member.name} has no PEFT adapter ({path}); merging "
            "needs adapter members"
        )
    check_adapter_config(path.parent)  # damaged or edited: one line, not a KeyError below
    return read_json(path)


def check_same_base_and_method(members) -> None:
    """Members of other methods or base models, and adapters the recipes already say peft
    cannot combine (another method than LoRA, DoRA), do not merge: checked before any
    training, not after every member trained."""
    first = members[0]
    for gm in members[1:]:
        where = f"group.merges: member {gm.member.name}"
        if gm.recipe.training.method != first.recipe.training.method:
            raise UserError(
                f"{where} trains with method {gm.recipe.training.method}, "
                f"{first.member.name} with {first.recipe.training.method}; adapters merge only "
                "within one method"
            )
        if gm.recipe.model.name != first.recipe.model.name:
            raise UserError(
                f"{where} fine-tunes base model {gm.recipe.model.name}, {first.member.name} "
                f"{first.recipe.model.name}; adapters of different base models do not merge"
            )
    if first.recipe.training.method != "lora":
        raise UserError(
            f"group.merges: the members train with method {first.recipe.training.method}; "
            "merging needs LoRA adapters"
        )
    for gm in members:
        if gm.recipe.training.lora.use_dora:
            raise UserError(_refusal(gm, "use_dora"))


def check_mergeable(members) -> list[dict]:
    """The members' adapter configs, or a UserError naming what does not match."""
    check_same_base_and_method(members)
    configs = [adapter_config(gm) for gm in members]
    for gm, config in zip(members, configs, strict=True):
        where = f"group.merges: member {gm.member.name}"
        if config.get("peft_type") != "LORA":
            raise UserError(f"{where} is a {config.get('peft_type')} adapter; merging needs LoRA")
        for key in REFUSED:
            if config.get(key):
                raise UserError(_refusal(gm, key))
    return configs


def _refusal(gm, key: str) -> str:
    return f"group.merges: member {gm.member.name} uses {key}: {REFUSED[key]}; merging is refused"


@contextlib.contextmanager
def recorded_drops(log: list):
    """Record every random drop DARE makes (peft's merge_utils.random_pruning)."""
    from peft.utils import merge_utils

    original = merge_utils.random_pruning

    def record(tensor, density, rescale):
        result = original(tensor, density, rescale)
        log.append((tensor.detach().clone(), result.detach().clone()))
        return result

    merge_utils.random_pruning = record
    try:
        yield
    finally:
        merge_utils.random_pruning = original


@contextlib.contextmanager
def replayed_drops(log: list):
    """Replay the recorded drops in order; a drop asked of another tensor is an error."""
    from peft.utils import merge_utils

    original, queue = merge_utils.random_pruning, list(log)

    def replay(tensor, density, rescale):
        seen, result = queue.pop(0)
        if seen.shape != tensor.shape or not bool((seen == tensor).all()):
            raise ValueError("DARE drops were asked in another order than recorded")
        return result

    merge_utils.random_pruning = replay
    try:
        yield
    finally:
        merge_utils.random_pruning = original


def lora_deltas(model, adapter: str) -> dict:
    """{module name: weight delta} of `adapter` in a PeftModel."""
    from peft.tuners.lora import LoraLayer

    return {
        name: module.get_delta_weight(adapter).detach().float()
        for name, module in model.named_modules()
        if isinstance(module, LoraLayer) and adapter in module.lora_A
    }


def expected_deltas(model, adapters, weights, combine, drops: list) -> dict:
    """The exact combination of the members' deltas, module by module (peft's order)."""
    import torch

    members = [lora_deltas(model, a) for a in adapters]
    weight = torch.tensor(weights)
    with replayed_drops(drops):
        return {name: combine([m[name] for m in members], weight) for name in members[0]}


def best_at_rank(deltas: dict, rank: int) -> dict:
    """Each delta's best rank-`rank` approximation (Eckart-Young): what a rank-r LoRA holding
    the combination must equal; the combination itself when its rank is at most `rank`."""
    import torch

    out = {}
    for name, delta in deltas.items():
        u, s, vh = torch.linalg.svd(delta, full_matrices=False)
        out[name] = (u[:, :rank] * s[:rank]) @ vh[:rank]
    return out


def relative_error(actual: dict, expected: dict) -> dict:
    """Overall and worst-module relative Frobenius error of the reloaded merge; error None
    when the two hold different modules (the merge then cannot be verified)."""
    if set(actual) != set(expected):
        missing = sorted(set(expected) ^ set(actual))[:3]
        # no error can be measured between different module sets: None (null in JSON), not
        # inf, which json writes as Infinity, a file strict readers reject
        return {"error": None, "worst_module": f"modules differ: {missing}"}
    num = den = 0.0
    worst, worst_name = 0.0, ""
    for name, want in expected.items():
        diff = float((actual[name] - want).norm()) ** 2
        size = float(want.norm()) ** 2
        num, den = num + diff, den + size
        local = (diff / size) ** 0.5 if size else diff**0.5
        if local > worst:
            worst, worst_name = local, name
    overall = (num / den) ** 0.5 if den else num**0.5
    return {"error": overall, "worst_module_error": worst, "worst_module": worst_name}
