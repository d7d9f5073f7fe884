"""The members of a run group: one registered builder per `group.members.kind`.

A member is a name, the recipe overrides it trains with (through `override_recipe`, the one
override function) and, for data subsets, the share of the curated training split it keeps.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tunesmith.artifacts import RunDir, read_jsonl, write_jsonl
from tunesmith.registry import Registry


@dataclass(frozen=True)
class Member:
    name: str  # folder under members/ and row name in the group's compare.json
    overrides: dict = field(default_factory=dict)
    subset: tuple[float, int] | None = None  # (fraction, seed) of the training split kept


MEMBER_KINDS: Registry[Callable[[object], list[Member]]] = Registry("group member kind")


@MEMBER_KINDS.register("seeds")
def _seeds(settings) -> list[Member]:
    return [Member(f"seed-{s}", {"training.seed": s}) for s in settings.seeds]


@MEMBER_KINDS.register("subsets")
def _subsets(settings) -> list[Member]:
    return [
        Member(f"subset-{k}", {}, (settings.fraction, settings.seed + k))
        for k in range(settings.count)
    ]


@MEMBER_KINDS.register("variants")
def _variants(settings) -> list[Member]:
    return [Member(f"variant-{k}", dict(v)) for k, v in enumerate(settings.variants)]


def members_of(group) -> list[Member]:
    return MEMBER_KINDS.get(group.members.kind)(group.members)


def keep_subset(run_dir: RunDir, fraction: float, seed: int) -> int:
    """Replace the member's train.jsonl (a hard link) by its seeded subset; returns its size.

    The write is atomic (a new file, renamed): the shared curated file is never written."""
    path = run_dir.data / "train.jsonl"
    rows = read_jsonl(path)
    keep = max(1, round(fraction * len(rows)))
    chosen = sorted(random.Random(seed).sample(range(len(rows)), keep))
    write_jsonl(path, [rows[i] for i in chosen])
    return keep
