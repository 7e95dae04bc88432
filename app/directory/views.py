"""The directory in the browser: the platform admins' RPPS import (upload, progress bar,
report)."""

import tempfile
from pathlib import Path

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from app.directory import imports
from app.forms import acting_user, signed_in_only
from app.uploads import accepts_large_uploads

bp = Blueprint("directory", __name__, url_prefix="/annuaire")
signed_in_only(bp)
MAX_IMPORT = 2 * 1024**3  # the national extract is several hundred MB


@bp.get("/import")
def import_page():
    actor = acting_user()
    return render_template("directory/import.html", runs=imports.recent(actor))


@bp.post("/import")
@accepts_large_uploads(MAX_IMPORT)
def start_import():
    """The upload is streamed to a file (never held in memory), then imported in the
    background; the page shows its progress."""
    actor = acting_user()
    imports.recent(actor)  # the policy, before reading the body
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template(
            "directory/import.html", runs=imports.recent(actor), error="Choisissez un fichier."
        ), 400
    folder = Path(current_app.config["PARCOURS_DATA_DIR"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".txt", delete=False) as kept:
        upload.save(kept)
    record = imports.start_in_background(actor, kept.name, Path(upload.filename).name[:200])
    return redirect(url_for("directory.import_status", import_id=record.id))


@bp.get("/import/<import_id>")
def import_status(import_id):
    record = imports.get(acting_user(), import_id)
    template = (
        "directory/_progress.html"
        if request.headers.get("HX-Request")
        else ("directory/import_status.html")
    )
    return render_template(template, record=record)
