"""A rating session: eval/human/<session>.json (settings) + <session>.jsonl (one line a rating)."""

from __future__ import annotations

import json
import os
import random
from datetime import datetime, timezone
from pathlib import Path

from tunesmith.artifacts.files import create_new_json, read_json, read_jsonl
from tunesmith.errors import UserError
from tunesmith.human.items import Item, load_items
from tunesmith.human.names import check_name, child_of, inside

# A = the left answer is better, B = the right one; tie = equally good; both_bad = neither usable.
VERDICTS = ("A", "B", "tie", "both_bad")
DEFAULT_SYSTEMS = ("tuned", "base")
RATING_KEYS = ("rater", "item", "verdict", "winner")  # what the figures read of a rating


class NotFound(UserError):
    """A session or item that does not exist (the UI answers 404)."""

    status = 404


class SessionExists(UserError):
    """A session name already taken by a session with other settings (the UI answers 409)."""

    status = 409


class Session:
    """One blind comparison of two systems on a run's held-out split; several raters may join."""

    def __init__(self, run_root: Path, name: str) -> None:
        self.run_root = Path(run_root)
        self.name = check_name(name, "session")
        self.folder = inside(self.run_root, self.run_root / "eval" / "human", "session")
        self.settings_path = child_of(self.folder, f"{name}.json", "session")
        self.ratings_path = child_of(self.folder, f"{name}.jsonl", "session")

    @classmethod
    def create(
        cls,
        run_root: Path,
        name: str,
        systems: tuple[str, str] = DEFAULT_SYSTEMS,
        split: str = "test",
        show_reference: bool = True,
    ) -> Session:
        """A new session, or the existing one of that name when its settings are these."""
        session = cls(run_root, name)
        for system in systems:  # joined into the predictions' file names
            check_name(system, "system")
        if systems[0] == systems[1]:
            raise UserError("session: the two systems must differ")
        wanted = {
            "systems": list(systems),
            "split": check_name(split, "split"),
            "show_reference": show_reference,
        }
        load_items(session.run_root, systems, split)  # fails early when there is nothing to rate
        # created only where no file is (atomically): two raters starting one new session at
        # once both saw none and both wrote, the later file silently replacing the other's
        # settings; now the second finds the first's file and is checked against it
        if not create_new_json(session.settings_path, {**wanted, "created": _now()}):
            session._check_settings_are(wanted)
        return session

    def _check_settings_are(self, wanted: dict) -> None:
        """Refuse to hand back an existing session that compares something else than asked:
        its ratings would be counted for systems the caller did not choose."""
        have = {**self.settings, "show_reference": self.settings.get("show_reference", True)}
        if any(have.get(key) != value for key, value in wanted.items()):
            raise SessionExists(
                f"session {self.name!r} already exists and compares {_describe(have)}, "
                f"not {_describe(wanted)}; choose another session name"
            )

    @property
    def settings(self) -> dict:
        if not self.settings_path.is_file():
            raise NotFound(f"session {self.name!r} does not exist in {self.run_root.name}")
        # a copied run folder's file may hold anything: one line naming it, not a traceback
        return _checked_settings(read_json(self.settings_path), self.settings_path)

    @property
    def systems(self) -> tuple[str, str]:
        first, second = self.settings["systems"]
        return first, second

    def items(self) -> list[Item]:
        """The session's items in its own seeded order (the same for every rater)."""
        items = load_items(self.run_root, self.systems, self.settings["split"])
        random.Random(f"{self.name}/order").shuffle(items)
        return items

    def order(self, item_id: str) -> tuple[str, str]:
        """(left system, right system) for one item: a coin seeded by session and item."""
        first, second = self.systems
        flip = random.Random(f"{self.name}/{item_id}").random() < 0.5
        return (second, first) if flip else (first, second)

    def ratings(self) -> list[dict]:
        if not self.ratings_path.is_file():
            return []
        ratings = read_jsonl(self.ratings_path)
        for number, rating in enumerate(ratings, 1):
            if not isinstance(rating, dict) or not all(
                isinstance(rating.get(key), str) for key in RATING_KEYS
            ):
                raise UserError(
                    f"{self.ratings_path}: damaged session file, rating {number} is not an "
                    f"object with {', '.join(RATING_KEYS)}"
                )
        return ratings

    def rated_by(self, rater: str) -> set[str]:
        return {r["item"] for r in self.ratings() if r["rater"] == rater}

    def next_item(self, rater: str) -> Item | None:
        """The first item this rater has not rated yet: a session resumes where it stopped."""
        done = self.rated_by(rater)
        return next((item for item in self.items() if item.id not in done), None)

    def rate(self, rater: str, item_id: str, verdict: str, reason: str = "") -> dict:
        """Append one rating (atomically: one O_APPEND write of a whole line, under a lock)."""
        check_name(rater, "rater")
        if verdict not in VERDICTS:
            raise UserError(f"verdict: {verdict!r} is not one of {', '.join(VERDICTS)}")
        if item_id not in {item.id for item in self.items()}:
            raise NotFound(f"item: {item_id!r} is not an item of session {self.name!r}")
        left, right = self.order(item_id)
        winner = {"A": left, "B": right}.get(verdict, verdict)
        record = {
            "rater": rater,
            "item": item_id,
            "order": [left, right],
            "verdict": verdict,
            "winner": winner,
            "reason": str(reason)[:2000],
            "time": _now(),
        }
        append_line(self.ratings_path, json.dumps(record, ensure_ascii=False))
        return record


def append_line(path: Path, line: str) -> None:
    """Append a line so concurrent writers never interleave and a crash never leaves half a line."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock


def list_sessions(run_root: Path) -> list[str]:
    folder = Path(run_root) / "eval" / "human"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def _checked_settings(settings, path: Path) -> dict:
    """A session's settings as `create` writes them: two system names and a split name."""
    systems = settings.get("systems") if isinstance(settings, dict) else None
    if not isinstance(systems, list) or len(systems) != 2:
        raise UserError(f"{path}: damaged session file, no pair of systems")
    for system in systems:
        check_name(system, f"{path}: system")
    check_name(settings.get("split"), f"{path}: split")
    return settings


def _describe(settings: dict) -> str:
    first, second = settings["systems"]
    shown = "shown" if settings.get("show_reference", True) else "hidden"
    return f"{first} vs {second} on {settings['split']} (reference {shown})"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
