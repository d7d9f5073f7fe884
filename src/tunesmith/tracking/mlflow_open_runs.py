"""The MLflow runs a run folder opened and has not closed yet, kept in the folder itself.

A stage's MLflow run stays RUNNING when its process cannot close it: the tracking server went
away mid-stage, or the process was killed (`kill -9`, a machine that rebooted). The id of each
run a stage opens is written to <run>/tracking/mlflow-open-runs.json and removed once the run
is closed; the next tunesmith command on the folder that reaches the same store closes the
ones still listed as KILLED (`close_left_running`), so no run stays RUNNING for good.
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.artifacts.files import read_json_object, write_json
from tunesmith.errors import masked_url

FILE = "mlflow-open-runs.json"
# the tag on a run closed this way, saying why it ended without its stage's own status
CLOSED_BY = "tunesmith.closed_by"
CLOSED_BY_NEXT_ATTEMPT = (
    "a later tunesmith command on this run folder: the attempt that opened this run could not "
    "close it (tracking server gone, or the process killed)"
)


def _path(folder: Path) -> Path:
    return folder / "tracking" / FILE


def listed(folder: Path) -> list[dict]:
    """[{store, run_id, stage}] of the runs `folder` opened and did not close."""
    path = _path(folder)
    return read_json_object(path).get("runs", []) if path.is_file() else []


def _write(folder: Path, runs: list[dict]) -> None:
    path = _path(folder)
    if runs:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"runs": runs})
    elif path.is_file():
        path.unlink()


def remember(folder: Path, uri: str, run_id: str, stage: str) -> None:
    # the store as masked_url shows it: no password of a database URI is written to disk
    entry = {"store": masked_url(uri), "run_id": run_id, "stage": stage}
    _write(folder, [*listed(folder), entry])


def forget(folder: Path, run_id: str) -> None:
    _write(folder, [r for r in listed(folder) if r.get("run_id") != run_id])


def close_left_running(client, folder: Path, uri: str) -> None:
    """Close as KILLED every run of `folder` in the store at `uri` still RUNNING there (an
    earlier attempt's; this process has not opened its own yet), and forget them. Runs of
    another store stay listed, for a command that reaches that store."""
    from mlflow.exceptions import MlflowException

    store = masked_url(uri)
    for entry in listed(folder):
        if entry.get("store") != store:
            continue
        try:
            status = client.get_run(entry["run_id"]).info.status
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise  # the store failed: the run stays listed for a later command
            status = None  # deleted from the store since: nothing left to close
        if status == "RUNNING":
            client.set_tag(entry["run_id"], CLOSED_BY, CLOSED_BY_NEXT_ATTEMPT)
            client.set_terminated(entry["run_id"], status="KILLED")
        forget(folder, entry["run_id"])
