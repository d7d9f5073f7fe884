"""`tunesmith group`: train every member in its own run folder on shared curated data, then
score the ensembles and merges against the members (group/compare.py).

A driver above the pipeline (DESIGN: multi-run work): members are ordinary run folders under
DIR/members/, curated once through tune/shared_data.py (the search's machinery, not a second
one), and resumable because each member is `run_pipeline(..., force=False)`: a finished member
is skipped stage by stage, an interrupted one resumes its training checkpoints.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.artifacts import RunDir, atomic_write_text, write_json
from tunesmith.artifacts.files import previous_folder, remove
from tunesmith.artifacts.lock import RunLock
from tunesmith.config import Recipe
from tunesmith.config.group import GroupConfig
from tunesmith.config.overrides import override_recipe
from tunesmith.drivers import DriverSpec, register_driver
from tunesmith.errors import UserError, is_user_error, one_line
from tunesmith.group.members import Member, keep_subset, members_of
from tunesmith.interrupts import raise_if_interrupted
from tunesmith.stages import PreflightHook

# Members run the stages after the shared data up to their own evaluation; the group scores
# the rest (risk checks and the per-run report are not needed to compare members).
FIRST_SHARED, LAST_MEMBER_STAGE = "data", "evaluate"
# What the group builds over its members, rebuilt by every command (cheap next to training)
COMBINED = ("ensembles", "merges", "compare.json", "report.html")


@dataclass(frozen=True)
class GroupMember:
    member: Member
    recipe: Recipe
    run_dir: RunDir


def with_group(recipe: Recipe) -> Recipe:
    """The recipe with a `group:` section (the defaults when it has none: three seeds)."""
    if recipe.group is not None:
        return recipe
    return override_recipe(recipe, {"group": GroupConfig().model_dump(mode="json")})


def member_recipe(recipe: Recipe, member: Member) -> Recipe:
    """The member's recipe: the group's, with its overrides, without the group section and
    without the few-shot row (the group compares trained members; base is scored once each)."""
    values = {**member.overrides, "group": None, "evaluation.few_shot": 0}
    return override_recipe(recipe, values, source=f"group member {member.name}")


def member_stages(recipe: Recipe) -> list[str]:
    from tunesmith.stages import STAGES, load_stages, ordered_stages

    load_stages()
    low, high = STAGES.get(FIRST_SHARED).order, STAGES.get(LAST_MEMBER_STAGE).order
    return [s.name for s in ordered_stages(recipe) if low < s.order <= high]


def group_members(recipe: Recipe, out: Path) -> list[GroupMember]:
    group = recipe.group or GroupConfig()
    return [
        GroupMember(m, member_recipe(recipe, m), RunDir(out / "members" / m.name))
        for m in members_of(group)
    ]


def preflight_members(recipe: Recipe, members: list[GroupMember]) -> None:
    """Every check `tunesmith validate` makes, on every member's recipe, before anything is
    written: a variant that cannot train (a target module the model lacks, say) is one line
    now, not a crash after the other members trained. The costly reads (model, tokenizer,
    data) are shared by members alike in them (preflight.shared_checks)."""
    from tunesmith.group.vocabularies import check_one_vocabulary
    from tunesmith.preflight import preflight, shared_checks

    if recipe.group and recipe.group.merges:  # fail before training what cannot merge
        from tunesmith.ensemble.merge_check import check_same_base_and_method

        check_same_base_and_method(members)
    check_one_vocabulary(recipe, members)  # per-token scores of different vocabularies
    with shared_checks():  # the model and the data are read once for members alike in them
        for gm in members:
            try:
                preflight(gm.recipe, gm.run_dir.root)
            except UserError as exc:
                raise UserError(f"group member {gm.member.name}: {exc}") from None


@dataclass
class Trained:
    """The members in order, and those that failed: {name: {error, kind}} (kind 'user' for
    bad input, 'crash' for anything else)."""

    members: list[GroupMember]
    failed: dict[str, dict] = field(default_factory=dict)

    @property
    def succeeded(self) -> list[GroupMember]:
        return [gm for gm in self.members if gm.member.name not in self.failed]


def train_members(recipe: Recipe, out: Path, on_member=None) -> Trained:
    """Run (or resume) every member. One that fails is recorded and the others go on: the
    members that trained are hours of work the group can still compare. Ctrl-C still stops
    at once (a KeyboardInterrupt is not an Exception, and a swallowed one is raised again)."""
    from tunesmith.models import reuse_loaded_models

    trained = Trained(group_members(recipe, out))
    with reuse_loaded_models():
        for k, gm in enumerate(trained.members):
            raise_if_interrupted()
            try:
                outcome = _run_member(gm, out)
            except Exception as exc:
                raise_if_interrupted()  # a Ctrl-C a library turned into another error
                trained.failed[gm.member.name] = _failure(gm, exc)
                outcome = {"failed": trained.failed[gm.member.name]["error"]}
            if on_member:
                on_member(k, gm, outcome)
    write_json(out / "group.json", _group_record(recipe, trained))
    return trained


def _run_member(gm: GroupMember, out: Path) -> dict[str, str]:
    from tunesmith.pipeline import run_pipeline
    from tunesmith.tune.shared_data import curated, link_data

    link_data(curated(gm.recipe, out), gm.run_dir, with_test=True)
    if gm.member.subset is not None:
        keep_subset(gm.run_dir, *gm.member.subset)
    return run_pipeline(gm.recipe, gm.run_dir, only=member_stages(gm.recipe), force=False)


def _failure(gm: GroupMember, exc: Exception) -> dict:
    """The one-line record of a failed member; the traceback goes to its logs (a crash is
    a bug to report, and the line alone would not show where it came from)."""
    user = is_user_error(exc)  # a folder where a member's run file goes is not a crash
    error = one_line(exc, named=not user)  # bad input in its own words; a crash by its type
    if not user:
        log = gm.run_dir.logs / "group-failure.log"
        atomic_write_text(log, "".join(traceback.format_exception(exc)))
    return {"error": error, "kind": "user" if user else "crash"}


def _group_record(recipe: Recipe, trained: Trained) -> dict:
    return {
        "recipe": recipe.name,
        "members": [
            {
                "name": gm.member.name,
                "overrides": gm.member.overrides,
                "subset": gm.member.subset,
                "run_dir": str(gm.run_dir.root),
                "status": "failed" if gm.member.name in trained.failed else "done",
                **trained.failed.get(gm.member.name, {}),
            }
            for gm in trained.members
        ],
    }


class MembersFailed(UserError):
    """Raised after the group's results are written: names the members that failed. Exit 2
    when every failure was bad input, 1 when one crashed (a bug to report)."""

    def __init__(self, failed: dict[str, dict], out: Path) -> None:
        reasons = "; ".join(f"{name} ({f['error']})" for name, f in failed.items())
        super().__init__(
            f"group member{'s' * (len(failed) > 1)} failed: {reasons}; see {out / 'group.json'}"
            "; run the same command again to retry them"
        )
        self.exit_code = 2 if all(f["kind"] == "user" for f in failed.values()) else 1


def run_group(recipe: Recipe, out: Path, on_member=None, on_step=None) -> dict:
    """Members, then ensembles and merges over those that trained, then DIR/compare.json and
    DIR/report.html. `failed_members` in the result names the members that failed (the CLI
    exits non-zero for them after showing the rest)."""
    from tunesmith.ensemble.methods import check_listed

    recipe = with_group(recipe)
    check_listed(recipe)  # the recipe alone tells: refused before the folder is touched
    with group_lock(out):
        preflight_members(recipe, group_members(recipe, out))
        with combined_cleared(out), _tracked(recipe, out) as parent:
            trained = train_members(recipe, out, on_member)
            parent.failed = bool(trained.failed)  # the command exits non-zero for them
            if not trained.succeeded:
                return {"members": [], "failed_members": trained.failed}
            comparison = _compare(recipe, trained, out, on_step)
            for name in ("compare.json", "report.html"):  # the group's outcome, beside it
                parent.log_artifact(out / name)
            return comparison


def _tracked(recipe: Recipe, out: Path):
    """The group as one run in the trackers, its members' stage runs nested under it
    (tracking/parent.py): params the group section, tags the recipe's name."""
    from tunesmith.tracking.parent import nested_runs

    params = {"group": recipe.group.model_dump(mode="json")}
    tags = {"tunesmith.recipe": recipe.name}
    return nested_runs(recipe.tracking, out, "group", params, tags)


@contextlib.contextmanager
def combined_cleared(out: Path):
    """Clear the previous command's ensembles, merges, compare.json and report: left in place,
    those this one does not rebuild (an ensemble or merge the recipe no longer lists, one now
    skipped or refused, every one when no member trained) would still be read next to results
    of other members. The members' run folders, the work that matters, are kept.

    They are moved aside (`.name.old`, which recover_killed_writes puts back after a kill) and
    put back when the command fails: a damaged member file found while comparing (exit 2)
    removed the whole previous comparison."""
    aside = {out / name: previous_folder(out / name) for name in COMBINED}
    for path, old in aside.items():
        remove(old)
        if path.exists():
            os.replace(path, old)
    try:
        yield
    except BaseException:
        for path, old in aside.items():
            if old.exists():
                remove(path)
                os.replace(old, path)
        raise
    finally:
        for old in aside.values():
            remove(old)


@contextlib.contextmanager
def group_lock(out: Path):
    """One command per group folder, from before the pre-flight (which reads the members'
    folders) to the end: two commands would both pass the pre-flight, then both rebuild the
    shared ensembles, merges and compare.json, or one would be refused midway by a member's own
    lock. A folder made only to hold the lock is removed again, under the lock, when nothing
    else was written into it (a recipe the pre-flight refuses leaves no folder behind)."""
    made = _first_missing(out)
    out.mkdir(parents=True, exist_ok=True)
    with RunLock(out) as lock:
        try:
            yield
        finally:
            if made is not None and [p.name for p in out.iterdir()] == [lock.path.name]:
                lock.path.unlink()
                for folder in (out, *out.parents):
                    folder.rmdir()
                    if folder == made:
                        break


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of `path` that does not exist yet (None: `path` exists)."""
    if path.exists():
        return None
    while not path.parent.exists():
        path = path.parent
    return path


def _compare(recipe: Recipe, trained: Trained, out: Path, on_step) -> dict:
    from tunesmith.group.compare import group_compare
    from tunesmith.group.report import write_report

    comparison = group_compare(recipe, trained.succeeded, out, on_step, trained.failed)
    write_json(out / "compare.json", comparison)
    comparison["report"] = str(write_report(comparison, out))
    return comparison


def _group_checks(recipe: Recipe, facts) -> list[str]:
    """`group:`: members of different vocabularies only when the listed ensembles can score
    them, and each listed ensemble applies to the task (the members' own recipes are checked
    by `group` and `validate` themselves, preflight_members)."""
    if recipe.group is None:
        return []
    from tunesmith.group.vocabularies import check_one_vocabulary

    check_one_vocabulary(recipe, group_members(recipe, Path("group")))  # paths only
    if not recipe.group.ensembles:
        return []
    from tunesmith.ensemble.methods import check_listed

    check_listed(recipe)
    return [f"group.ensembles: ok ({', '.join(recipe.group.ensembles)})"]


register_driver(DriverSpec("group", preflight=(PreflightHook("end", _group_checks),)))
