"""Run list, a run's live progress, its report, and runs side by side."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse

from tunesmith.errors import UserError
from tunesmith.ui.app import StandardJSONResponse, page, set_token_cookie
from tunesmith.ui.progress import run_progress
from tunesmith.ui.runs import (
    lenient_file,
    list_runs,
    read_json,
    read_recipe,
    run_file,
    run_info,
)
from tunesmith.ui.security import run_path, token_ok

router = APIRouter()
REPORT_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
COMPARE_SETTINGS = (
    ("model", ("model", "name")),
    ("method", ("training", "method")),
    ("learning rate", ("training", "learning_rate")),
    ("epochs", ("training", "epochs")),
    ("LoRA r", ("training", "lora", "r")),
    ("batch size", ("training", "batch_size")),
)


def _runs(request: Request) -> list[dict]:
    runs_dir = request.app.state.runs_dir
    if not runs_dir.is_dir():
        raise HTTPException(404, f"runs folder {runs_dir} does not exist")
    return list_runs(runs_dir)


@router.get("/")
def index(request: Request, token: str | None = None):
    if token is not None:  # the start-up link: keep the token in a cookie, drop it from the URL
        response = RedirectResponse("/", status_code=303)
        if token_ok(request, token):
            set_token_cookie(response, token)
        return response
    return page(request, "runs.html.j2", runs=_runs(request), runs_dir=request.app.state.runs_dir)


@router.get("/api/runs")
def api_runs(request: Request):
    return StandardJSONResponse({"runs": _runs(request)})


@router.get("/runs/{name}")
def run_page(request: Request, name: str):
    root = run_path(request, name)
    return page(
        request,
        "run.html.j2",
        run=run_info(root),
        progress=run_progress(root),
        has_report=(root / "report" / "report.html").is_file(),
    )


@router.get("/api/runs/{name}/progress")
def api_progress(request: Request, name: str):
    return StandardJSONResponse(run_progress(run_path(request, name)))


@router.get("/runs/{name}/report")
def report(request: Request, name: str):
    root = run_path(request, name)
    path = run_file(root, "report/report.html")
    if not path.is_file():
        raise HTTPException(404, f"run {name!r} has no report yet (the report stage writes it)")
    # The file is whatever the run folder holds (a copied folder's may be planted): sandboxed,
    # its scripts cannot run as this origin, read the token the UI's forms carry and post.
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=REPORT_HEADERS)


@router.get("/compare")
def compare(request: Request, run: list[str] = Query(default=[])):
    if len(run) < 2:
        raise HTTPException(400, "pick two or more runs to compare (tick them in the run list)")
    roots = [run_path(request, name) for name in run]
    columns = [_column(root) for root in roots]
    metrics = list(dict.fromkeys(m for c in columns for m in c["metrics"]))
    return page(
        request,
        "compare.html.j2",
        columns=columns,
        metrics=metrics,
        settings=[label for label, _ in COMPARE_SETTINGS],
        vocabularies_differ=_vocabularies_differ(roots),
    )


def _vocabularies_differ(roots) -> bool:
    """Whether the runs' models tokenise with different vocabularies (unknown ones aside):
    each column's perplexity is then per token of its own vocabulary, not comparable across
    columns (`tunesmith compare` leaves it out for the same reason)."""
    known = {_vocabulary(root) for root in roots} - {None}
    return len(known) > 1


def _vocabulary(root) -> str | None:
    """The run's tokenizer fingerprint; None (unknown) when its recipe is missing, does not
    load or is a link out of the run folder: the page shows the run without it (a run
    without a loadable recipe made the whole page a 400)."""
    from tunesmith.evaluate.runs import tokenizer_fingerprint

    if lenient_file(root, "recipe.yaml") is None:
        return None
    try:
        return tokenizer_fingerprint(root)
    except UserError:
        return None


def _column(root) -> dict:
    recipe = read_recipe(root)
    compare = read_json(root, "eval/compare.json")
    return {
        "info": run_info(root),
        "metrics": compare.get("metrics") or {},
        "n": compare.get("sample_size"),
        "train": read_json(root, "train/summary.json"),
        "settings": {label: _dig(recipe, path) for label, path in COMPARE_SETTINGS},
    }


def _dig(data, path):
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data
