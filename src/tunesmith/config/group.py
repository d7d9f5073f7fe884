"""The `group:` recipe section: several fine-tuned members of one recipe (`tunesmith group`),
their ensembles at the output and their adapter merges (docs/ensembles.md).

Name lists here are kept equal to the registries (`ensemble/`) by tests/test_group_config.py:
the recipe stays torch-free and a typo is still an error with the known names.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from tunesmith.config.base import Section, adds_no_rule, rule

EnsembleName = Literal["majority", "probability", "mbr", "likelihood"]
SimilarityName = Literal["rouge", "bleu"]
MergeName = Literal["linear", "ties", "dare_linear", "dare_ties"]
KIND_HELP = "Member kind (seeds, subsets or variants; implied by the other keys): "


class SeedMembers(Section):
    kind: Literal["seeds"] = Field(
        "seeds",
        description=KIND_HELP + "one member per seed.",
    )
    seeds: list[int] = Field(
        [0, 1, 2], min_length=2, description="One member per training seed (training.seed)."
    )

    @field_validator("seeds")
    @classmethod
    @rule("each seed at most once")
    def _seeds_differ(cls, seeds: list[int]) -> list[int]:
        """Members are named and stored by seed: a repeated seed would be one folder, one model."""
        repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
        if repeated:
            raise ValueError(f"each seed at most once ({', '.join(map(str, repeated))} repeated)")
        return seeds

    def size(self) -> int:
        return len(self.seeds)


class SubsetMembers(Section):
    kind: Literal["subsets"] = Field(
        "subsets",
        description=KIND_HELP + "one member per random training subset.",
    )
    count: int = Field(3, ge=2, description="Members, each trained on its own random subset.")
    fraction: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Share of the curated training split each member trains on (sampled "
        "without replacement, seeded per member; validation and test splits are shared).",
    )
    seed: int = Field(0, description="Seed of the subset sampling (member k uses seed + k).")

    def size(self) -> int:
        return self.count


class VariantMembers(Section):
    kind: Literal["variants"] = Field(
        "variants",
        description=KIND_HELP + "one member per listed override mapping.",
    )
    variants: list[dict[str, Any]] = Field(
        ...,
        min_length=2,
        description="One member per override mapping of dotted recipe keys, e.g. "
        "[{training.lora.r: 4}, {training.lora.r: 16, training.learning_rate: 0.0005}].",
    )

    def size(self) -> int:
        return len(self.variants)


Members = Annotated[SeedMembers | SubsetMembers | VariantMembers, Field(discriminator="kind")]


class MergeConfig(Section):
    method: MergeName = Field(
        ...,
        description="How the members' LoRA adapters are combined: linear (weighted sum of the "
        "adapters' weight deltas, exact), ties (trim, elect sign, disjoint merge), dare_linear "
        "or dare_ties (random drop and rescale, then linear or TIES); peft "
        "add_weighted_adapter.",
    )
    weights: list[float] | None = Field(
        None, description="One weight per member, in member order (default: 1/members each)."
    )
    density: float = Field(
        0.5,
        gt=0,
        le=1,
        description="ties / dare: share of each delta's entries kept (ignored by linear).",
    )
    majority_sign: Literal["total", "frequency"] = Field(
        "total",
        description="ties / dare_ties: elect each entry's sign by total magnitude or by count.",
    )
    svd_rank: int | None = Field(
        None,
        ge=1,
        description="ties / dare: rank of the merged LoRA (the merged delta is re-factorised "
        "by SVD; default: the sum of the members' ranks; at most the smallest targeted module's "
        "full rank).",
    )
    max_error: float = Field(
        1e-3,
        gt=0,
        description="Largest relative (Frobenius) error allowed between the reloaded merged "
        "adapter's weight deltas and the exact combination of the members' deltas (at the "
        "merged rank); above it the merge is refused as wrong and not scored.",
    )
    seed: int = Field(0, description="dare: seed of the random drop.")

    def name(self) -> str:
        return f"merge_{self.method}"


class GroupConfig(Section):
    members: Members = Field(
        default_factory=SeedMembers,
        description="Where members differ: kind seeds, subsets (bagging-style data subsets) "
        "or variants (listed overrides).",
    )
    ensembles: list[EnsembleName] | None = Field(
        None,
        description="Output ensembles to score: majority and probability (classification), "
        "mbr and likelihood (generation). Default: every one that applies to the task.",
    )
    similarity: SimilarityName = Field(
        "rouge", description="mbr: similarity between two members' outputs (rouge = ROUGE-L)."
    )
    merges: list[MergeConfig] = Field(
        [], description="Adapter merges of the members, each saved, reloaded and re-scored."
    )

    @field_validator("members", mode="before")
    @classmethod
    @adds_no_rule
    def _kind_from_keys(cls, value: object) -> object:
        """`members: {seeds: [...]}` needs no `kind:`; the key says which kind it is."""
        if isinstance(value, dict) and "kind" not in value:
            for kind, key in (("seeds", "seeds"), ("variants", "variants")):
                if key in value:
                    return {"kind": kind, **value}
            if "count" in value or "fraction" in value:
                return {"kind": "subsets", **value}
        return value

    @model_validator(mode="after")
    @rule("one per member", "merges.weights")
    @rule("each method at most once", "merges.method")
    def _weights_match_members(self) -> GroupConfig:
        count = self.members.size()
        for k, merge in enumerate(self.merges):
            if merge.weights is not None and len(merge.weights) != count:
                raise ValueError(
                    f"merges.{k}.weights has {len(merge.weights)} weights for {count} members"
                )
        names = [m.name() for m in self.merges]
        if len(set(names)) != len(names):
            raise ValueError("merges: each method at most once")
        return self
