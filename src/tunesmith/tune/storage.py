"""Open Optuna storage: a journal file by default (safe for several local workers), or an RDB
URL (PostgreSQL, MySQL, SQLite) shared by workers on several machines."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tunesmith.errors import UserError

HEARTBEAT_SECONDS = 10  # a killed worker's trial is failed (and retried) after ~2 beats
GRACE_SECONDS = 30


def mask(url: str) -> str:
    """The URL without its password (error lines and reports are shared)."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def open_storage(url: str | None, hpo_dir: Path):
    """Optuna storage for `url` (None: hpo_dir/study.journal). Bad URLs raise UserError."""

    target = url or str(hpo_dir / "study.journal")
    if "://" not in target:
        return _journal(Path(target))
    try:
        return _rdb(target)
    except ModuleNotFoundError as exc:
        raise UserError(
            f"--storage {mask(target)}: driver '{exc.name}' missing (pip install 'tunesmith[tune]')"
        ) from None
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"--storage {mask(target)}: cannot open: {mask(first)}") from None


def _rdb(url: str, attempts: int = 3):
    import warnings

    import optuna
    from sqlalchemy.exc import IntegrityError

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
                heartbeat_stale_trial_callback=retry,
                engine_kwargs=_engine_options(url),
            )
        except IntegrityError:
            # two workers creating the tables of a fresh database at once: the loser retries
            if attempt == attempts - 1:
                raise
            time.sleep(1 + attempt)


def _engine_options(url: str) -> dict:
    # fail fast on an unreachable server instead of waiting for the OS's TCP timeout
    return {"connect_args": {"connect_timeout": 5}} if url.startswith("postgresql") else {}


def _journal(path: Path):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if path.exists() and not path.is_file():
        raise UserError(f"--storage {path}: not a journal file")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    except Exception as exc:
        raise UserError(f"--storage {path}: cannot open the journal: {exc}") from None
