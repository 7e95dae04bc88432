"""API: exports of a dossier or an entry (GET …/export?format=pdf|json|fhir)."""

from flask import request

from app.api.core import current_api_user, route
from app.exports import services
from app.exports.views import download
from app.plugins import host_of


def formats(app):
    """What ?format= accepts: the formats that the app's plugins registered."""
    names = sorted(host_of(app).exporters)
    if not names:
        return {"type": "string", "description": "Aucun format : l'extension exports est éteinte"}
    return {"enum": names, "description": "Format d'export (extensions)"}


def produced(app):
    """{media type: schema} of the files the registered formats make."""
    return {
        exporter.media_type: (
            {"type": "object"}
            if exporter.media_type.endswith(("/json", "+json"))
            else {"type": "string", "format": "binary"}
        )
        for exporter in host_of(app).exporters.values()
    }


EXPORT = {"params": (("format", formats),), "produces": produced, "tag": "Exports"}


@route("/dossiers/<dossier_id>/export", "GET", "Exporter un dossier (ce que l'appelant peut voir)",
       **EXPORT)  # fmt: skip
def api_dossier_export(dossier_id):
    fmt = request.args.get("format", "")
    return download(*services.export(current_api_user(), "dossier", dossier_id, fmt))


@route("/entries/<entry_id>/export", "GET", "Exporter une entrée d'un dossier", **EXPORT)
def api_entry_export(entry_id):
    fmt = request.args.get("format", "")
    return download(*services.export(current_api_user(), "entry", entry_id, fmt))


@route("/instances/<instance_id>/export", "GET", "Exporter un parcours d'un dossier", **EXPORT)
def api_pathway_export(instance_id):
    fmt = request.args.get("format", "")
    return download(*services.export(current_api_user(), "pathway", instance_id, fmt))
