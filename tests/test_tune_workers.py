"""Several worker processes on one study (PostgreSQL and the journal file); `kill -9` of a
worker mid-trial, then a restart that continues the study without losing a completed trial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from pg_server import Cluster, server_bin
from tune_helpers import search_recipe

from tunesmith.tune.storage import open_storage

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@pytest.fixture(scope="module")
def postgres_url():
    bindir = server_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (.ci/install_postgres.sh does it)")
    cluster = Cluster(bindir).start()
    yield cluster.url
    cluster.stop()


def _worker(recipe, hpo, storage: str, trials: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "tunesmith.cli", "tune", str(recipe), "-o", str(hpo)]
    command += ["--storage", storage, "--trials", str(trials), "--worker"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _study(storage: str, hpo):
    return optuna.load_study(study_name="tiny", storage=open_storage(storage, hpo))


def _wait(proc: subprocess.Popen, seconds: float = 300) -> None:
    _, err = proc.communicate(timeout=seconds)
    assert proc.returncode == 0, err.decode()[-2000:]


def test_two_workers_share_one_postgres_study(tiny_recipe, tmp_path, postgres_url):
    recipe = search_recipe(tiny_recipe, pruner="none", study="two-workers")
    hpo = tmp_path / "hpo"
    workers = [_worker(recipe, hpo, postgres_url, trials=4) for _ in range(2)]
    for proc in workers:
        _wait(proc)
    study = optuna.load_study(study_name="two-workers", storage=open_storage(postgres_url, hpo))
    finished = [t for t in study.trials if t.state in FINISHED]
    assert len(finished) >= 4
    assert len({t.user_attrs["worker"] for t in finished}) == 2  # both did trials
    assert len({t.number for t in study.trials}) == len(study.trials)


@pytest.mark.parametrize("kind", ["postgres", "journal"])
def test_kill_9_mid_trial_then_restart_continues(tiny_recipe, tmp_path, kind, request):
    storage = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    storage = storage or str(tmp_path / "hpo" / "study.journal")
    recipe = search_recipe(tiny_recipe, pruner="none", study="tiny")
    _slow_trials(recipe)
    hpo = tmp_path / "hpo"
    victim = _worker(recipe, hpo, storage, trials=3)
    completed = _wait_for_running_after_complete(storage, hpo, victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    _wait(_worker(recipe, hpo, storage, trials=3))
    study = _study(storage, hpo)
    after = {t.number: t for t in study.trials}
    for number, value in completed.items():  # no completed trial lost or changed
        assert after[number].state == optuna.trial.TrialState.COMPLETE
        assert after[number].value == value
    killed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(killed) == 1
    dead = killed[0]
    retried = [t for t in study.trials if t.params == dead.params and t.number > dead.number]
    assert retried and retried[0].state in FINISHED
    assert len([t for t in study.trials if t.state in FINISHED]) == 3


def _slow_trials(recipe) -> None:
    """Long enough trials that the kill lands mid-trial."""
    import yaml

    raw = yaml.safe_load(recipe.read_text(encoding="utf-8"))
    raw["training"].update({"max_steps": 48, "eval_every": 4})
    recipe.write_text(yaml.safe_dump(raw), encoding="utf-8")


def _wait_for_running_after_complete(storage, hpo, proc, seconds: float = 240) -> dict:
    """{number: value} of completed trials, once one is complete and another is running with
    its owner recorded and a validation result reported (so its parameters are all drawn: a
    kill between the trial's creation and its draws leaves a trial with no parameters to retry,
    and the retry then draws new ones)."""
    deadline = time.monotonic() + seconds
    # one storage for every poll: each RDB storage opened holds a connection pool until it is
    # collected, and a poll every 0.2 s on a slow machine ran PostgreSQL out of connections
    opened = open_storage(storage, hpo)
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        try:
            trials = optuna.load_study(study_name="tiny", storage=opened).trials
        except KeyError:  # the worker has not created the study yet
            trials = []
        done = {t.number: t.value for t in trials if t.state == optuna.trial.TrialState.COMPLETE}
        # running, owned, and training (past its parameter draws)
        owned = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
        if done and any(t.user_attrs.get("worker") and t.intermediate_values for t in owned):
            return done
        time.sleep(0.2)
    raise AssertionError("no trial completed in time")


_ASK_AND_DIE = """
import os, sys
import optuna
from tunesmith.tune.storage import open_storage
from pathlib import Path
study = optuna.load_study(study_name="owned", storage=open_storage(sys.argv[1], Path(sys.argv[2])))
study.ask()  # a trial made RUNNING, then the process dies before any objective code runs
os._exit(0)
"""


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # ask() without optimize()
@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_a_worker_dead_right_after_ask_leaves_a_trial_that_is_failed(kind, tmp_path):
    """The trial's owner is stored with its creation, so no window leaves it ownerless."""
    from tunesmith.tune.storage import OWNER_ATTR, worker_id
    from tunesmith.tune.study import fail_dead_local_trials

    hpo = tmp_path / "hpo"
    storage = str(hpo / "study.journal") if kind == "journal" else f"sqlite:///{tmp_path}/s.db"
    study = optuna.create_study(study_name="owned", storage=open_storage(storage, hpo))
    mine = study.ask()  # this process's own trial: owned by this live process
    assert study.trials[mine.number].user_attrs[OWNER_ATTR] == worker_id()
    died = subprocess.run([sys.executable, "-c", _ASK_AND_DIE, storage, str(hpo)], check=True)
    assert died.returncode == 0
    study = _study_named("owned", storage, hpo)
    running = [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    assert len(running) == 2
    assert fail_dead_local_trials(study) == 1  # the dead process's trial, not ours
    states = {t.number: t.state for t in _study_named("owned", storage, hpo).trials}
    assert states[mine.number] == optuna.trial.TrialState.RUNNING
    assert states[1 - mine.number] == optuna.trial.TrialState.FAIL
    assert optuna.trial.TrialState.WAITING in states.values()  # queued for a retry
    retry = study.ask()  # popped from the queue: owned by the process that popped it
    assert states[retry.number] == optuna.trial.TrialState.WAITING
    assert _study_named("owned", storage, hpo).trials[retry.number].user_attrs[OWNER_ATTR] == (
        worker_id()
    )


def _study_named(name: str, storage: str, hpo):
    return optuna.load_study(study_name=name, storage=open_storage(storage, hpo))
