"""Create or join a study: seeded TPE, the configured pruner, and a fingerprint of the space
and objective so that a study made by another recipe is refused instead of polluted."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path

from tunesmith.artifacts.processes import pid_alive
from tunesmith.config.search import SearchConfig
from tunesmith.errors import UserError
from tunesmith.tune.storage import OWNER_ATTR

FINGERPRINT_ATTR = "tunesmith_fingerprint"
STUDY_ID_ATTR = "tunesmith_study_id"  # a random id its creator gives the study (claim_folder)
FOLDER_CLAIM = "study.json"  # in the search folder: the study whose trials it holds
RETRY_ATTR = "retried"  # user attr of a queued retry: the number of the trial it repeats


def _median(search: SearchConfig):
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=search.startup_trials, n_warmup_steps=0)


def _hyperband(search: SearchConfig):
    import optuna

    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto")


def _none(search: SearchConfig):
    import optuna

    return optuna.pruners.NopPruner()


PRUNERS = {"median": _median, "hyperband": _hyperband, "none": _none}


def fingerprint(space: dict, objective: str, metric: str | None) -> str:
    """Stable hash of what makes two searches comparable: the space and the objective."""
    payload = {
        "space": {k: v.model_dump(mode="json") for k, v in sorted(space.items())},
        "objective": objective,
        "metric": metric,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def open_study(storage, name: str, search: SearchConfig, direction: str, print_: str, worker: bool):
    """The study `name` in `storage`; exit 2 if it was created for another space/objective."""
    import optuna

    pruner = PRUNERS[search.pruner](search)
    try:
        study = optuna.create_study(
            study_name=name, storage=storage, pruner=pruner, direction=direction
        )
        # Only the command that created the study writes its fingerprint (creation is
        # atomic in the storage). Why: when every command wrote it if it found none, two
        # commands of different recipes starting at once on a fresh study both found none,
        # both wrote theirs, and both ran trials of their own space in one study.
        _mark_new(study, print_)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, pruner=pruner)
        _check_fingerprint(study, name, print_)
    if study.direction.name.lower() != direction:
        raise UserError(f"study '{name}' optimises the other direction; use another --study")
    existing = len(study.get_trials(deepcopy=False))
    seed = sampler_seed(search, worker, existing)
    study.sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=search.startup_trials)
    return study


def _check_fingerprint(study, name: str, print_: str, wait_seconds: float = 10.0) -> None:
    """Refuse a study whose creator's fingerprint differs from ours.

    The creator writes it right after creating the study: wait for it a moment. A study with
    none after that and no trials (made outside tunesmith) is adopted; one with trials and
    no fingerprint cannot be told apart from another recipe's, so it is refused.
    """
    deadline = time.monotonic() + wait_seconds
    stored = study.user_attrs.get(FINGERPRINT_ATTR)
    while stored is None and not study.trials and time.monotonic() < deadline:
        time.sleep(0.1)
        stored = study.user_attrs.get(FINGERPRINT_ATTR)
    if stored is None and not study.trials:
        _mark_new(study, print_)
    elif stored != print_:
        raise UserError(
            f"study '{name}' was created by another recipe (different search space or "
            "objective); choose another --study name or storage"
        )


def _mark_new(study, print_: str) -> None:
    """What the creator writes on a new study: its fingerprint and a random id."""
    import uuid

    study.set_user_attr(STUDY_ID_ATTR, uuid.uuid4().hex)
    study.set_user_attr(FINGERPRINT_ATTR, print_)


def claim_folder(hpo_dir: Path, study) -> None:
    """Bind the search folder to `study`, or refuse when it holds another study's trials.

    Why: trial folders are numbered per study (trials/trial-0000, ...), so a second study in
    the same folder (another --study or --storage, or the storage deleted and started over)
    ran its trials in the first one's folders: trial 0 of one study over trial 0 of the
    other (a trial whose values the old one had could find its training done there).
    """
    from tunesmith.artifacts import write_json
    from tunesmith.artifacts.files import read_json_object

    mine = {"study": study.study_name, "id": study.user_attrs.get(STUDY_ID_ATTR)}
    claim = hpo_dir / FOLDER_CLAIM
    if not claim.is_file():
        hpo_dir.mkdir(parents=True, exist_ok=True)
        write_json(claim, mine)
        return
    held = read_json_object(claim)
    ids = (held.get("id"), mine["id"])
    # a missing id: a study made before studies had one, told apart by its name only
    same = held.get("study") == mine["study"] and (None in ids or ids[0] == ids[1])
    if not same:
        raise UserError(
            f"{hpo_dir}: holds the trials of another study ('{held.get('study')}', see "
            f"{claim}); trial folders are numbered per study, so study '{mine['study']}' "
            "would run its trials in them: use another --output"
        )
    if held.get("id") is None and mine["id"] is not None:
        write_json(claim, mine)


def sampler_seed(search: SearchConfig, worker: bool, existing: int) -> int:
    """TPE's seed: `search.seed` for a fresh study, moved on by the trials already in it.

    Why the trial count: a restarted command seeded like the first one replayed the first
    one's random start-up proposals (trial 2 drew trial 0's learning rate). A fresh study
    (no trials) keeps exactly the seed it always had, so a given seed still reproduces a run.
    Workers also add their pid: two processes with one seed would propose the same trials.
    """
    return (search.seed + (os.getpid() if worker else 0) + existing) % 2**32  # numpy's range


def fail_dead_local_trials(study) -> int:
    """Fail RUNNING trials whose worker process on this host is gone (kill -9); retry them.

    Each failed trial says so in its `fail_reason` (summary.json and the report named it
    "unknown"). RDB storages also do this across machines through Optuna's heartbeat.
    """
    import optuna

    from tunesmith.tune.trial import FAIL_REASON_ATTR

    failed = 0
    for trial in _running(study):
        host, pid = _owner(trial)
        if host != socket.gethostname() or pid is None or pid_alive(pid):
            continue
        reason = f"its worker {host}:{pid} died mid-trial"
        retry = RETRY_ATTR not in trial.user_attrs  # `in`: a retry of trial 0 carries retried=0
        reason += "; retried with the same values" if retry else " (a retry: not retried again)"
        # Optuna has no public call to fail another process's trial; its own fail_stale_trials
        # (heartbeat storages only) uses the same storage methods. The reason first: a
        # finished trial takes no more attributes.
        try:
            study._storage.set_trial_user_attr(trial._trial_id, FAIL_REASON_ATTR, reason)
            study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another command (a worker starting at the same time) failed it first
        if retry:
            study.enqueue_trial(trial.params, user_attrs={RETRY_ATTR: trial.number})
        failed += 1
    return failed


def _owner(trial) -> tuple[str, int | None]:
    """The host and pid of the worker running `trial` (pid None: not recorded)."""
    host, _, pid = str(trial.user_attrs.get(OWNER_ATTR, "")).partition(":")
    return host, int(pid) if pid.isdigit() else None


def wait_for_other_workers(study, poll_seconds: float = 2.0, on_wait=None) -> None:
    """Return once the trials other workers are running now have ended (or their worker died).

    Why: the main command writes best.yaml, summary.json and the report when its own trials
    stop; a trial another worker was still running was left out of them (counted `running`,
    and best.yaml was not the best when that trial then finished better). Only the trials
    running now are waited for, each of which ends: a trial a worker starts later does not
    hold the result up. A worker known dead has its trial failed (and queued again) instead:
    on this host by its pid, elsewhere by the RDB heartbeat; another host's trial on a journal
    file (no heartbeat, nothing tells its worker died) is not waited for.
    `on_wait(numbers)` is called once with the trials waited for, if any.
    """
    from optuna.storages import fail_stale_trials
    from optuna.storages._heartbeat import is_heartbeat_enabled

    heartbeat = is_heartbeat_enabled(study._storage)
    waited = [t.number for t in _running(study) if _may_still_finish(t, heartbeat)]
    if waited and on_wait is not None:
        on_wait(waited)
    while waited:
        time.sleep(poll_seconds)
        fail_dead_local_trials(study)
        if heartbeat:
            fail_stale_trials(study)
        still = {t.number for t in _running(study)}
        waited = [number for number in waited if number in still]


def _running(study) -> list:
    import optuna

    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))


def _may_still_finish(trial, heartbeat: bool) -> bool:
    """A running trial of another worker that is, or may be, alive."""
    host, pid = _owner(trial)
    if host == socket.gethostname() and pid is not None:
        return pid != os.getpid() and pid_alive(pid)
    return heartbeat  # another host: only a heartbeat says when its worker died


def requeue_interrupted_trials(study) -> int:
    """Queue again the values of each trial a Ctrl-C stopped (Optuna marks it FAIL), once.

    Why: the CLI says "run the same command again to resume", yet Optuna never proposes a
    failed trial's values again, so the interrupted trial was simply lost. A Ctrl-C says
    nothing about the trial, so a retry that is interrupted in its turn is queued again too;
    a trial whose retry is already in the study is not queued twice.
    """
    import optuna

    from tunesmith.tune.trial import INTERRUPTED_ATTR

    trials = study.get_trials(deepcopy=False)
    queued = {t.user_attrs[RETRY_ATTR] for t in trials if RETRY_ATTR in t.user_attrs}
    count = 0
    for trial in trials:
        stopped = trial.state == optuna.trial.TrialState.FAIL and trial.user_attrs.get(
            INTERRUPTED_ATTR
        )
        # no params: stopped before drawing any, a new trial does the same
        if stopped and trial.params and trial.number not in queued:
            study.enqueue_trial(trial.params, user_attrs={RETRY_ATTR: trial.number})
            count += 1
    return count
