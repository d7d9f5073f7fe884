"""Start a run from a recipe: upload or pick an example, validate as the CLI does, edit, start."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from tunesmith.artifacts.files import decode_text
from tunesmith.errors import UserError
from tunesmith.ui.app import page
from tunesmith.ui.forms import FIELD_PREFIX, recipe_fields, values_from_form
from tunesmith.ui.launch import (
    MAX_RECIPE_BYTES,
    example_names,
    example_text,
    recipe_from_text,
    require_recipe_size,
    start_run,
)
from tunesmith.ui.request_body import RECIPE_FORM_BYTES, RECIPE_UPLOAD_BYTES, body_limit
from tunesmith.ui.security import require_token

router = APIRouter()


@router.get("/new")
def new_form(request: Request):
    return page(request, "new.html.j2", examples=example_names(), error=None)


@router.post("/new/recipe")
@body_limit(RECIPE_UPLOAD_BYTES)
async def check_recipe(request: Request):
    """Validate the uploaded or picked recipe, then show it as an editable form."""
    form = await request.form()
    upload = form.get("recipe_file")
    local = str(form.get("recipe_path") or "").strip()
    try:
        if local:  # a file on this machine: its relative data paths work as on the CLI
            require_token(request, str(form.get("token") or ""))
            from tunesmith.config import load_recipe

            recipe = load_recipe(Path(local).expanduser())
        elif upload is not None and getattr(upload, "filename", ""):
            # no token is needed to check a recipe: read no more than a recipe may hold
            data = await upload.read(MAX_RECIPE_BYTES + 1)
            require_recipe_size(len(data), Path(upload.filename).name)
            text = decode_text(data, upload.filename)
            # Relative data paths in an upload start from the folder the server runs in.
            recipe = recipe_from_text(text, Path.cwd(), Path(upload.filename).name)
        else:
            name = str(form.get("example") or "")
            text, base = example_text(name)
            recipe = recipe_from_text(text, base, f"{name}.yaml")
    except UserError as exc:
        return page(request, "new.html.j2", 400, examples=example_names(), error=str(exc))
    fields = recipe_fields(recipe.model_dump(mode="json"))
    return page(request, "edit.html.j2", fields=fields, prefix=FIELD_PREFIX, error=None)


@router.post("/new/start")
@body_limit(RECIPE_FORM_BYTES)
async def start(request: Request):
    form = await request.form()
    require_token(request, str(form.get("token") or ""))
    from tunesmith.config.loader import recipe_from_dict

    submitted = {k: str(v) for k, v in form.items()}
    fields = recipe_fields({})
    try:
        raw = values_from_form(submitted, fields)
        recipe = recipe_from_dict(raw, source="form")
        root = start_run(recipe, request.app.state.runs_dir)
    except UserError as exc:
        for field in fields:  # show the form again with what the user typed
            if "key" in field:
                field["value"] = submitted.get(FIELD_PREFIX + field["key"], field["value"])
        return page(
            request, "edit.html.j2", 400, fields=fields, prefix=FIELD_PREFIX, error=str(exc)
        )
    return RedirectResponse(f"/runs/{root.name}", status_code=303)
