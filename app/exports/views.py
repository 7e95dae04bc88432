"""Export downloads: from a dossier's or an entry's page, and through the API."""

from flask import Blueprint, Response

from app.exports import services
from app.forms import acting_user, signed_in_only

bp = Blueprint("exports", __name__)
signed_in_only(bp)


def download(content, media_type, filename):
    response = Response(content, mimetype=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"  # health data: never kept by a cache
    return response


@bp.get("/dossiers/<dossier_id>/export/<fmt>")
def dossier(dossier_id, fmt):
    return download(*services.export(acting_user(), "dossier", dossier_id, fmt))


@bp.get("/entrees/<entry_id>/export/<fmt>")
def entry(entry_id, fmt):
    return download(*services.export(acting_user(), "entry", entry_id, fmt))


@bp.get("/parcours/instances/<instance_id>/export/<fmt>")
def pathway(instance_id, fmt):
    return download(*services.export(acting_user(), "pathway", instance_id, fmt))
