"""A search's or run group's own MLflow run, the parent its run folders' stage runs nest under.

One per search (or group) folder, store and experiment, kept in <folder>/tracking/parent.json
with the processes holding it (`host:pid`: the main `tune` command and its `--worker`s share
it). A command on the folder again (a search continued, restarted after a kill) takes the same
run up again, RUNNING, as `mlflow.start_run(run_id=...)` resumes one; the last process to let
go of it ends it FINISHED, or FAILED when its command failed or was interrupted. A store that
fails is a warning (mlflow_backend): the run is taken up by the next command that reaches it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from tunesmith.artifacts.processes import pid_alive
from tunesmith.config.tracking import TrackingConfig
from tunesmith.errors import masked_url
from tunesmith.tracking import mlflow_open_runs as open_runs
from tunesmith.tracking.base import Parent, flatten
from tunesmith.tracking.mlflow_backend import (
    _FAILED_STORES,
    MlflowTracker,
    experiment_of,
    store_client,
    tracking_uri,
)
from tunesmith.tracking.parent import parent_record


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(holder: str) -> bool:
    """A holder on this host whose process is gone let go of the run without saying so (it was
    killed); one on another host is taken to be alive (nothing here can tell)."""
    host, _, pid = holder.partition(":")
    if host != socket.gethostname():
        return True
    return pid.isdigit() and pid_alive(int(pid))


def _in_use(folder: Path) -> bool:
    """Whether a live process holds the run folder's lock (artifacts/lock.py writes its pid
    there while it holds it, and empties it when it lets go; a killed one leaves its pid)."""
    from tunesmith.artifacts.lock import LOCK_NAME

    lock = folder / LOCK_NAME
    owner = lock.read_text(encoding="utf-8", errors="replace").strip() if lock.is_file() else ""
    return owner.isdigit() and pid_alive(int(owner))


class MlflowParentRun(MlflowTracker):
    """`log_metrics` and `log_artifact` as a stage's MLflow run; opened (taken up or created)
    as the driver starts, or else (its store failed then) by the first stage run nested under
    it once the store answers again (`nest`)."""

    def __init__(self, config: TrackingConfig, parent: Parent) -> None:
        self.config, self.parent = config, parent
        self.uri = tracking_uri(config, parent.root)
        self.root = parent.root
        self.failed_call = False
        self.run_id: str | None = None
        _FAILED_STORES.discard(self.uri)  # each command tries its store afresh
        with self._calls():
            self.client = store_client(self.uri)
            self._join(experiment_of(self.client, config, self.uri, parent.root / "tracking"))

    def _skipping(self) -> bool:
        # not opened yet, or its store failed in this command (each pipeline run tries the
        # store again: a server back up gets the later figures)
        return self.run_id is None or self.uri in _FAILED_STORES

    def _left_open(self) -> str:
        if not self.run_id:
            return ""
        return (
            f", and the MLflow run {self.run_id} of {self.parent.kind} {self.root.name} is "
            "taken up again by the next command on that folder that reaches the store"
        )

    def _entry(self, kept: dict) -> dict:
        """This store's and experiment's entry in the parent's record (a new one if none)."""
        runs = kept.setdefault("mlflow", [])
        key = {"store": masked_url(self.uri), "experiment": self.config.mlflow.experiment}
        entry = next((r for r in runs if {k: r.get(k) for k in key} == key), None)
        if entry is None:
            entry = {**key, "run_id": None, "holders": []}
            runs.append(entry)
        return entry

    def nest(self, client, config: TrackingConfig, experiment_id: str) -> str | None:
        """The parent run's id for a stage run of `config` in `client`'s store, opened on the
        first call; None when that run goes to another store or experiment (a group member
        whose variant names its own), which MLflow's UI would not nest it in. Its errors are
        the stage run's (one warning for both)."""
        other = tracking_uri(config, self.root) != self.uri
        if other or config.mlflow.experiment != self.config.mlflow.experiment:
            return None
        if self.run_id is None:
            self.client = client
            self._join(experiment_id)
        return self.run_id

    def _join(self, experiment_id: str) -> None:
        """Take up the folder's run in this store (or create it) and hold it."""
        with parent_record(self.root) as kept:
            entry = self._entry(kept)
            entry["run_id"] = self._taken_up(entry.get("run_id")) or self._new(experiment_id)
            entry["holders"] = [h for h in entry["holders"] if _alive(h)] + [_me()]
            self.run_id = entry["run_id"]
        self._close_left_running()

    def _close_left_running(self) -> None:
        """Close as KILLED the child runs an earlier, killed command left RUNNING in run
        folders no command is running now (mlflow_open_runs): a trial never runs again in its
        own folder (its retry is a new trial), so the command on that folder which closes
        them elsewhere never comes, and they showed RUNNING under a FINISHED search."""
        for listed in sorted(self.root.glob(f"*/*/tracking/{open_runs.FILE}")):
            folder = listed.parent.parent
            if not _in_use(folder):
                open_runs.close_left_running(self.client, folder, self.uri)

    def _taken_up(self, run_id: str | None) -> str | None:
        """The earlier command's run, RUNNING again; None when it is gone from the store."""
        from mlflow.exceptions import MlflowException

        if not run_id:
            return None
        try:
            run = self.client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            return None
        if run.info.lifecycle_stage == "deleted":
            return None
        if run.info.status != "RUNNING":
            self.client.update_run(run_id, status="RUNNING")
        return run_id

    def _new(self, experiment_id: str) -> str:
        tags = {
            "tunesmith.kind": self.parent.kind,
            "tunesmith.group": self.parent.group,
            "tunesmith.run_folder": self.root.name,
            **self.parent.tags,
        }
        created = self.client.create_run(experiment_id, run_name=self.root.name, tags=tags)
        self.run_id = created.info.run_id
        self._log_params(flatten(self.parent.params))  # what no command on the folder changes
        return self.run_id

    def close(self, status: str) -> None:
        """This process lets go of the run; the last to do so ends it with `status`."""
        if self.run_id is None:
            return
        with parent_record(self.root) as kept:
            entry = self._entry(kept)
            entry["holders"] = [h for h in entry["holders"] if h != _me() and _alive(h)]
            if entry["holders"] or self._skipping():  # its store failed: taken up next time
                return
            with self._calls():
                self.client.set_terminated(self.run_id, status=status)
