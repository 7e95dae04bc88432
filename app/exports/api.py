"""API: exports of a dossier or an entry (GET …/export?format=pdf|json|fhir)."""

from flask import request

from app.api.core import current_api_user, route
from app.exports import services
from app.exports.views import download


@route("/dossiers/<dossier_id>/export", "GET", "Exporter un dossier (ce que l'appelant peut voir)",
       params=("format",), tag="Exports")  # fmt: skip
def api_dossier_export(dossier_id):
    fmt = request.args.get("format", "")
    return download(*services.export(current_api_user(), "dossier", dossier_id, fmt))


@route("/entries/<entry_id>/export", "GET", "Exporter une entrée d'un dossier",
       params=("format",), tag="Exports")  # fmt: skip
def api_entry_export(entry_id):
    fmt = request.args.get("format", "")
    return download(*services.export(current_api_user(), "entry", entry_id, fmt))


@route("/instances/<instance_id>/export", "GET", "Exporter un parcours d'un dossier",
       params=("format",), tag="Exports")  # fmt: skip
def api_pathway_export(instance_id):
    fmt = request.args.get("format", "")
    return download(*services.export(current_api_user(), "pathway", instance_id, fmt))
