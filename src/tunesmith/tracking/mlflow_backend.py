"""MLflow: one MLflow run per stage run, in a SQLite store inside the run folder by default
(inside the search's or group's folder for its run folders, nested under its own run:
mlflow_parent.py)."""

from __future__ import annotations

import contextlib
import posixpath
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from tunesmith.config.tracking import TrackingConfig
from tunesmith.errors import UserError, masked_url, one_line
from tunesmith.tracking import mlflow_open_runs as open_runs
from tunesmith.tracking.base import TRACKERS, Backend, StageRun, home, replay
from tunesmith.tracking.checks import TIMEOUT_SECONDS, reachable, writable

PARAMS_PER_BATCH = 100  # MLflow's log_batch limit
PARAM_VALUE_MAX = 6000
NAME_MAX = 250  # MLflow's longest param or metric name
# what MLflow refuses in a param or metric name (on Windows ':' too, so refused everywhere)
_NOT_IN_NAMES = re.compile(r"[^\w./\- ]")
KEY = "tracking.mlflow.tracking_uri"
LOOKUP = "/api/2.0/mlflow/experiments/get-by-name"  # the first call a tracker makes
MESSAGE_MAX = 200


# MLflow's HTTP defaults (7 retries, backoff factor 2, 120 s per request) keep a stage waiting
# for minutes on a tracking server that died mid-run before its one-line error. These bound
# the wait to under a minute: 3 attempts of at most 15 s, with 0 s and 2 s (+ up to 1 s
# jitter) between them. 15 s, not less: the server answers an adapter's upload only once it
# has stored it, and a timeout there fails the stage.
BOUNDED_HTTP = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": 2,
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": 1,
    "MLFLOW_HTTP_REQUEST_TIMEOUT": 15,
}


_BOUNDING = threading.Lock()
_bounded: dict[str, int] = {"calls": 0}  # calls inside `bounded_http_retries` now
_ours: list[str] = []  # the variables those calls set (the user had not)


@contextlib.contextmanager
def bounded_http_retries():
    """MLflow's HTTP retry and timeout variables at BOUNDED_HTTP while the block runs, each only
    where the user has not set it (their own value is kept). MLflow reads them from os.environ
    at each request and its client takes no such setting, so they are set for the block and
    removed after it: set for good, they bounded every later MLflow call of the process (the
    UI server, another run or tune trial in it) and showed in its environment. Counted, so a
    tracker calling in another thread keeps them until the last call ends."""
    from mlflow import environment_variables

    with _BOUNDING:
        if _bounded["calls"] == 0:
            for name, value in BOUNDED_HTTP.items():
                variable = getattr(environment_variables, name)  # the installed MLflow's name
                if not variable.is_set():
                    variable.set(value)
                    _ours.append(name)
        _bounded["calls"] += 1
    try:
        yield
    finally:
        with _BOUNDING:
            _bounded["calls"] -= 1
            if _bounded["calls"] == 0:
                while _ours:
                    getattr(environment_variables, _ours.pop()).unset()


MLFLOW_PARENT_RUN_ID = "mlflow.parentRunId"  # mlflow.utils.mlflow_tags' name for it


def tracking_uri(config: TrackingConfig, root: Path) -> str:
    return config.mlflow.tracking_uri or f"sqlite:///{root.resolve() / 'tracking' / 'mlflow.db'}"


def mlflow_name(key: str) -> str:
    """`key` as a name MLflow takes for a param or metric: each character it refuses written
    as '_', and '/' too where the name would read as another path ('a//b', 'a/../b'), cut to
    its length limit. The recipe's own dict keys (data.fill_missing's field names) can hold
    any character, and one refused name failed the whole log_batch, so every stage."""
    name = _NOT_IN_NAMES.sub("_", key)[:NAME_MAX]
    if posixpath.normpath(name) != name or name.startswith(("/", "..")):
        name = name.replace("/", "_")
    return name


def _check(config: TrackingConfig, root: Path) -> None:
    uri = tracking_uri(config, home(root))
    scheme = urlparse(uri).scheme
    if scheme in ("http", "https"):
        reachable(uri, KEY)
        _answers_as_mlflow(uri, config.mlflow.experiment)
    elif scheme == "sqlite":
        writable(Path(uri.removeprefix("sqlite:///")).parent, KEY)
    elif scheme in ("", "file"):
        _file_store_allowed(uri)
        writable(_file_store_folder(uri), KEY)
    elif scheme.split("+")[0] in DATABASES:
        _database_answers(uri, scheme.split("+")[0])
    else:
        _scheme_known(uri)


# Databases MLflow keeps runs in through SQLAlchemy (`postgresql+psycopg://...`), with the
# connect argument that bounds a connection attempt: MLflow itself retries an unreachable one
# for minutes, so `run` hung where validate had said ok
DATABASES = {"postgresql": "connect_timeout", "mysql": "connect_timeout", "mssql": "timeout"}


def _database_answers(uri: str, database: str) -> None:
    """One connection to the tracking database, bounded by TIMEOUT_SECONDS."""
    import sqlalchemy

    shown = masked_url(uri)
    try:
        engine = sqlalchemy.create_engine(
            uri, connect_args={DATABASES[database]: int(TIMEOUT_SECONDS)}
        )
    except ModuleNotFoundError as exc:
        raise UserError(f"{KEY}: {shown}: database driver '{exc.name}' is not installed") from None
    except Exception as exc:  # a malformed URL: sqlalchemy's ArgumentError, ValueError
        raise UserError(
            f"{KEY}: {shown} is not a database URL ({masked_url(one_line(exc))})"
        ) from None
    try:
        with engine.connect():
            pass
    except Exception as exc:  # OperationalError and what drivers raise: refused, auth, name
        first = str(getattr(exc, "orig", exc)).strip().splitlines() or [type(exc).__name__]
        raise UserError(f"{KEY}: {shown} cannot be opened ({masked_url(first[0])})") from None
    finally:
        engine.dispose()


def _scheme_known(uri: str) -> None:
    """A scheme MLflow has a tracking store for (its own registry: plugins add schemes), or
    one line naming those it has: `bogus://x` passed validate and failed the first stage."""
    from mlflow.exceptions import MlflowException

    try:
        from mlflow.tracking._tracking_service.utils import _tracking_store_registry as stores
    except ImportError:  # a private name: without it MLflow itself judges the URI at run time
        return
    try:
        stores.get_store_builder(uri)
    except MlflowException:
        known = ", ".join(f"{s}://" for s in sorted(stores._registry) if s)
        raise UserError(
            f"{KEY}: {masked_url(uri)}: MLflow has no tracking store for "
            f"'{urlparse(uri).scheme}' (it takes {known}, or a folder path)"
        ) from None


def _answers_as_mlflow(uri: str, experiment: str) -> None:
    """The server answers the tracker's first call (look up the experiment) as MLflow does.

    A port that accepts connections may be another web server, or (in some sandboxes) nothing
    at all: only a real request tells. MLflow's own HTTP helper sends it, so the credentials
    and TLS settings from MLFLOW_TRACKING_* apply; no retries, a short timeout.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    try:
        response = http_request(
            get_default_host_creds(uri),
            LOOKUP,
            "GET",
            max_retries=0,
            timeout=TIMEOUT_SECONDS,
            raise_on_status=False,
            params={"experiment_name": experiment},
        )
    except MlflowException as exc:
        if isinstance(_root_cause(exc), TimeoutError):
            raise UserError(f"{KEY}: {uri} did not answer within {TIMEOUT_SECONDS:g} s") from None
        raise UserError(f"{KEY}: {uri} failed ({_reason(exc)})") from None
    if not _mlflow_answer(response):
        answered = f"HTTP {response.status_code} {response.reason or ''}".strip()
        raise UserError(
            f"{KEY}: {uri} is not an MLflow tracking server (GET {LOOKUP} answered {answered})"
        )


def _mlflow_answer(response) -> bool:
    """The experiment, or MLflow's "no such experiment" (the tracker then creates it)."""
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    if response.status_code == 200:
        return "experiment" in body
    return body.get("error_code") == "RESOURCE_DOES_NOT_EXIST"


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost error: MLflow wraps requests', which wraps urllib3's, which wraps the OS's
    (urllib3 sometimes passes it as an argument instead of raising from it)."""
    while True:
        carried = (arg for arg in exc.args if isinstance(arg, BaseException))
        inner = exc.__cause__ or exc.__context__ or next(carried, None)
        if inner is None:
            return exc
        exc = inner


def _reason(exc: Exception) -> str:
    """A few words on what failed: the network error under MLflow's wrappers when there is one
    (their messages repeat the URL and urllib3's retry story), else MLflow's first line (its
    messages can carry a whole web page), cut short."""
    root = _root_cause(exc)
    told = root if isinstance(root, OSError) else exc
    first = (str(told).splitlines() or [""])[0] or type(told).__name__
    return first if len(first) <= MESSAGE_MAX else first[:MESSAGE_MAX] + "..."


def _file_store_allowed(uri: str) -> None:
    """Recent MLflow refuses a folder store (mid-run) unless MLFLOW_ALLOW_FILE_STORE is set."""
    from mlflow import environment_variables

    allowed = getattr(environment_variables, "MLFLOW_ALLOW_FILE_STORE", None)
    if allowed is not None and not allowed.get():
        raise UserError(
            f"{KEY}: {uri} is a folder store, which this MLflow refuses unless "
            "MLFLOW_ALLOW_FILE_STORE=true is set; use sqlite:///<path>.db instead"
        )


def _file_store_folder(uri: str) -> Path:
    from mlflow.utils.file_utils import local_file_uri_to_path

    return Path(local_file_uri_to_path(uri))


# `mlflow server`'s default --artifacts-destination (./mlartifacts): where a local store's
# proxied artefacts live, beside the store
ARTEFACTS_FOLDER = "mlartifacts"
PROXIED = "mlflow-artifacts"  # the scheme of artefact URIs a server resolves (no host, no path)


def _local_store_folder(uri: str) -> Path | None:
    """The folder a local store lives in (a SQLite file's folder, a folder store's parent);
    None for a server or another database."""
    scheme = urlparse(uri).scheme
    if scheme == "sqlite":
        return Path(uri.removeprefix("sqlite:///")).resolve().parent
    if scheme in ("file", ""):
        return _file_store_folder(uri).resolve().parent
    return None


def _artefact_root(uri: str, folder: Path, experiment: str) -> str | None:
    """Where a new experiment keeps its runs' artefacts. A local store: MLflow's proxied
    location, mlflow-artifacts:/<experiment>, its files in mlartifacts/ beside the store. The
    store holds no path then, so the folder can be moved or copied (rsync off the training
    box) and `mlflow server` started beside the store serves them: an absolute file:// root
    broke every artefact link of a moved run folder. Beside the store, not in the first run
    folder to file into it (run folders sharing it lost their artefacts with that one). A
    server (None) keeps them itself; another database has no folder, so `folder` (the
    trackers' folder of the run folder, or of its search or group)."""
    if _local_store_folder(uri) is not None:
        return f"{PROXIED}:/{_NOT_IN_FOLDER_NAMES.sub('_', experiment)}"
    if urlparse(uri).scheme in ("http", "https"):
        return None
    return (folder / ARTEFACTS_FOLDER).resolve().as_uri()


# an experiment's name as one folder name, never '.' or '..' (run ids keep runs apart in a
# folder experiments share)
_NOT_IN_FOLDER_NAMES = re.compile(r"[^\w\-]")


@contextlib.contextmanager
def _store_calls(uri: str, failed: Callable[[str], None]):
    """Calls to the store at `uri`: over HTTP with bounded retries (bounded_http_retries); an
    MLflow error (a server gone mid-run, a store that refuses) is handed to `failed` as one
    line naming the store, and the block ends there. Tracking is a copy of what the run folder
    keeps: its store failing is no reason to stop the run."""
    from mlflow.exceptions import MlflowException
    from requests import RequestException

    remote = urlparse(uri).scheme in ("http", "https")  # local stores: no HTTP calls
    try:
        with bounded_http_retries() if remote else contextlib.nullcontext():
            yield
    # RequestException: an artefact upload's error status (a proxy's 502 Bad Gateway in front
    # of a server gone) comes as requests' HTTPError, not wrapped by MLflow
    except (MlflowException, RequestException) as exc:
        failed(f"{KEY}: {masked_url(uri)} failed ({_reason(exc)})")


def warn(line: str) -> None:
    from tunesmith.models.truncation import warn as console_warning  # models/ imports torch

    console_warning(line)


# Stores that failed in this command: its later stages do not wait on them again (one warning
# line in all); each command (run_pipeline) tries its store afresh (`close_left_running`).
_FAILED_STORES: set[str] = set()


def close_left_running(config: TrackingConfig, root: Path) -> None:
    """Before a command's first stage: the runs an earlier attempt on `root` left RUNNING in
    the store are closed as KILLED (mlflow_open_runs), even when every stage is then skipped."""
    uri = tracking_uri(config, home(root))
    _FAILED_STORES.discard(uri)
    if not open_runs.listed(root):
        return
    from mlflow.tracking import MlflowClient

    later = "; the MLflow runs an earlier attempt left RUNNING stay so until a later command"
    with _store_calls(uri, lambda line: warn(line + later)):
        open_runs.close_left_running(MlflowClient(tracking_uri=uri), root, uri)


def store_client(uri: str):
    """An MlflowClient of the store at `uri` (a SQLite file's folder made first)."""
    from mlflow.tracking import MlflowClient

    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri)


def experiment_of(client, config: TrackingConfig, uri: str, folder: Path) -> str:
    """The id of the recipe's experiment in the store, created if need be (artefacts as
    `_artefact_root` says; `folder`: the trackers' folder, for a store without one)."""
    experiment = client.get_experiment_by_name(config.mlflow.experiment)
    if experiment is not None:
        return experiment.experiment_id
    root = _artefact_root(uri, folder, config.mlflow.experiment)
    return client.create_experiment(config.mlflow.experiment, artifact_location=root)


class MlflowTracker:
    def __init__(self, config: TrackingConfig, run: StageRun) -> None:
        self.uri = tracking_uri(config, run.home)
        self.root = run.root
        self.failed_call = False
        self.run_id: str | None = None
        if self.uri in _FAILED_STORES:  # failed in an earlier stage of this command
            self.failed_call = True
            return
        with self._calls():
            self._open(config, run)

    def _calls(self):
        """Every call to the store (`_store_calls`). After one failed, the command goes on
        without MLflow: none of its later calls waits on that store again."""
        return _store_calls(self.uri, self._failed)

    def _failed(self, line: str) -> None:
        self.failed_call = True
        _FAILED_STORES.add(self.uri)
        warn(f"{line}; this command goes on without MLflow{self._left_open()}")

    def _left_open(self) -> str:
        """What the warning of a failed store says becomes of the run opened."""
        if not self.run_id:
            return ""
        return (
            f", and the MLflow run {self.run_id} it opened is closed as KILLED by the next "
            "command on this run folder that reaches the store"
        )

    def _skipping(self) -> bool:
        """No call to the store: it failed in this command (its warning said so)."""
        return self.failed_call

    def _open(self, config: TrackingConfig, run: StageRun) -> None:
        uri = self.uri
        self.client = store_client(uri)
        experiment_id = experiment_of(self.client, config, uri, run.folder)
        open_runs.close_left_running(self.client, run.root, uri)
        tags = {
            "tunesmith.run_folder": run.root.name,
            "tunesmith.group": run.group,
            "tunesmith.stage": run.stage,
        }
        parent = run.parent.opened.get("mlflow") if run.parent else None
        parent_id = parent.nest(self.client, config, experiment_id) if parent else None
        if parent_id:  # what MLflow's UI nests runs by (mlflow.start_run(nested=True) sets it)
            tags[MLFLOW_PARENT_RUN_ID] = parent_id
        created = self.client.create_run(experiment_id, run_name=run.run_name, tags=tags)
        self.run_id = created.info.run_id
        open_runs.remember(run.root, uri, self.run_id, run.stage)
        self._log_params(run.params)

    def _log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        named = {mlflow_name(k): str(v)[:PARAM_VALUE_MAX] for k, v in params.items()}
        items = [Param(k, v) for k, v in named.items()]
        for start in range(0, len(items), PARAMS_PER_BATCH):
            self.client.log_batch(self.run_id, params=items[start : start + PARAMS_PER_BATCH])

    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        rows = [Metric(mlflow_name(k), v, now, step or 0) for k, v in metrics.items()]
        if rows and not self._skipping():
            with self._calls():
                self.client.log_batch(self.run_id, metrics=rows)

    def log_artifact(self, path: Path) -> None:
        if self._skipping():
            return
        with self._calls():
            repository = self._artefacts()
            if path.is_dir():
                repository.log_artifacts(str(path), artifact_path=path.name)
            else:
                repository.log_artifact(str(path))

    def _artefacts(self):
        """The run's artefact repository. A local store's proxied location (mlflow-artifacts:,
        which MLflow resolves only through a server) is the folder a server beside the store
        serves it from; any other location, MLflow's repository for it (the run created in
        an experiment an older tunesmith made holds a file:// one)."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
        from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

        location = self.client.get_run(self.run_id).info.artifact_uri
        parsed, store = urlparse(location), _local_store_folder(self.uri)
        if parsed.scheme == PROXIED and store is not None:
            folder = store / ARTEFACTS_FOLDER / parsed.path.lstrip("/")
            return LocalArtifactRepository(folder.as_uri())
        return get_artifact_repository(location, tracking_uri=self.uri)

    def resume(self, step: int, history: list[tuple[int, dict]]) -> None:
        replay(self, history)

    def close(self, failed: bool) -> None:
        if self.failed_call:  # the store failed: its warning said so; a later command closes it
            return
        with self._calls():
            self.client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")
            open_runs.forget(self.root, self.run_id)


def _open_parent(config: TrackingConfig, parent):
    from tunesmith.tracking.mlflow_parent import MlflowParentRun

    return MlflowParentRun(config, parent)


TRACKERS.register(
    "mlflow",
    Backend("mlflow", "mlflow", _check, MlflowTracker, close_left_running, _open_parent),
)
