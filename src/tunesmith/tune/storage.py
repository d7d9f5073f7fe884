"""Open Optuna storage: a journal file by default (safe for several local workers), or an RDB
URL (PostgreSQL, MySQL, SQLite) shared by workers on several machines."""

from __future__ import annotations

import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from tunesmith.errors import UserError, masked_url

HEARTBEAT_SECONDS = 10  # a killed worker's trial is failed (and retried) after ~2 beats
GRACE_SECONDS = 30
OWNER_ATTR = "worker"  # user attr: "host:pid" of the worker process running the trial


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owned_template(template_trial):
    """Study.ask's new trial (no template; enqueue and add_trial pass one) with its owner."""
    if template_trial is not None:
        return template_trial
    import optuna

    return optuna.trial.create_trial(
        state=optuna.trial.TrialState.RUNNING, user_attrs={OWNER_ATTR: worker_id()}
    )


class _OwnedPops:
    """A trial popped from the queue (a retry) gets its owner in the write right after the one
    that makes it RUNNING, before any sampling."""

    def set_trial_state_values(self, trial_id: int, state, values=None) -> bool:
        import optuna

        changed = super().set_trial_state_values(trial_id, state, values)
        if changed and state == optuna.trial.TrialState.RUNNING:
            self.set_trial_user_attr(trial_id, OWNER_ATTR, worker_id())
        return changed


def _owned_classes() -> dict[str, type]:
    """Optuna's journal and RDB storages, each trial carrying its worker's id from the write
    that makes it RUNNING.

    Why: a worker killed between Optuna creating its trial and the objective recording the
    owner left a RUNNING trial nobody could attribute; only the RDB heartbeat's grace period
    failed it, and on a journal file nothing did. A new trial now gets the owner in the write
    that creates it: one journal entry, one RDB transaction. (Optuna wraps an RDB storage in
    its cache, which calls the backend's `_create_new_trial`, hence that override there.)
    """
    if not _OWNED:
        import optuna

        class OwnedJournalStorage(_OwnedPops, optuna.storages.JournalStorage):
            def create_new_trial(self, study_id: int, template_trial=None) -> int:
                return super().create_new_trial(study_id, _owned_template(template_trial))

        class OwnedRDBStorage(_OwnedPops, optuna.storages.RDBStorage):
            def _create_new_trial(self, study_id: int, template_trial=None):
                return super()._create_new_trial(study_id, _owned_template(template_trial))

        _OWNED.update(journal=OwnedJournalStorage, rdb=OwnedRDBStorage)
    return _OWNED


_OWNED: dict[str, type] = {}


def open_storage(url: str | None, hpo_dir: Path):
    """Optuna storage for `url` (None: hpo_dir/study.journal). Bad URLs raise UserError."""

    target = url or str(hpo_dir / "study.journal")
    shown = masked_url(target)
    if "://" not in target:
        return _journal(Path(target), hpo_dir / "trials")
    try:
        return _rdb(target)
    except ModuleNotFoundError as exc:
        raise UserError(
            f"--storage {shown}: driver '{exc.name}' missing (pip install 'tunesmith[tune]')"
        ) from None
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"--storage {shown}: cannot open: {masked_url(first)}") from None


def _rdb(url: str, attempts: int = 3):
    import warnings

    import optuna
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
    for attempt in range(attempts):
        try:
            return _owned_classes()["rdb"](
                url,
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
                heartbeat_stale_trial_callback=retry,
                engine_kwargs=_engine_options(url),
            )
        except (IntegrityError, ProgrammingError) as exc:
            # two workers creating the schema of a fresh database at once: the loser retries
            # (a table row: IntegrityError; PostgreSQL's enum types: DuplicateObject, "type
            # ... already exists", a ProgrammingError). Other programming errors are real.
            lost_race = isinstance(exc, IntegrityError) or "already exists" in str(exc)
            if not lost_race or attempt == attempts - 1:
                raise
            time.sleep(1 + attempt)


def _engine_options(url: str) -> dict:
    # fail fast on an unreachable server instead of waiting for the OS's TCP timeout
    return {"connect_args": {"connect_timeout": 5}} if url.startswith("postgresql") else {}


def _journal(path: Path, trials: Path):
    from optuna.storages.journal import JournalFileBackend

    if path.exists() and not path.is_file():
        raise UserError(f"--storage {path}: not a journal file")
    _check_journal(path, trials)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _owned_classes()["journal"](JournalFileBackend(str(path)))
    except Exception as exc:
        raise UserError(f"--storage {path}: cannot open the journal: {exc}") from None


@contextmanager
def _journal_lock(path: Path):
    """The lock Optuna's JournalFileBackend appends under (its default, a symbolic link beside
    the journal): workers sharing the journal append whole lines while holding it, so a line
    cut short seen under it is damage, not a write in progress. A lock left by a killed worker
    is released by Optuna after its grace period (30 s)."""
    from optuna.storages.journal import JournalFileSymlinkLock

    lock = JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _check_journal(path: Path, trials: Path) -> None:
    """Refuse a journal Optuna cannot replay, and a lost one, with one line each.

    Optuna replays the journal lazily: a line cut short (a copy or disk gone wrong) or of
    another shape was a JSONDecodeError or `AssertionError: Should not reach.` traceback at the
    first study call. A missing or empty journal beside trial folders would start a new study
    whose trial 0 retrains into trials/trial-0000 over the earlier search's results."""
    from tunesmith.artifacts import read_jsonl

    if path.is_file() and path.stat().st_size:
        with _journal_lock(path):  # another worker appends under it: no line is half-written
            read_jsonl(path)  # every line a JSON object, else `journal:line: damaged run file`
        return
    earlier = sorted(p.name for p in trials.glob("trial-*")) if trials.is_dir() else []
    if earlier:
        state = "empty" if path.is_file() else "missing"
        raise UserError(
            f"--storage {path}: {state}, but {trials} holds {len(earlier)} trial folder(s) of an "
            "earlier search, which a new study would overwrite; restore the journal or give "
            "another --output"
        )
