"""API: pathway definitions (DESIGN.md §5)."""

from flask import request

from app.api.core import ApiAbort, current_api_user, route
from app.pathways import services
from app.structures.services import structures_by_id

TAG = "Parcours"
XML_TYPES = {"application/xml", "text/xml", "application/bpmn+xml"}
DEPLOYED = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "version": {"type": "integer"},
        "created": {"type": "boolean"},
    },
}
BPMN_BODY = {"type": "object", "properties": {"bpmn": {"type": "string"}}}


def _summary(pathway, owners):
    owner = owners.get(pathway.owner)
    return {
        "key": pathway.key,
        "name": pathway.name,
        "structure": owner.key if owner else None,
        "version": pathway.latest_version,
    }


@route(
    "/pathways",
    "POST",
    "Déployer un parcours (BPMN XML) ; 422 liste tous les problèmes ; ?structure=clé",
    body=BPMN_BODY,
    body_type="application/xml",
    response=DEPLOYED,
    status=201,
    params=("structure",),
    tag=TAG,
)
def deploy_pathway():
    if request.mimetype not in XML_TYPES:
        raise ApiAbort(
            415,
            "unsupported_media_type",
            "Le contenu doit être du BPMN XML (en-tête Content-Type: application/xml).",
        )
    pathway, version, created = services.deploy(
        current_api_user(), request.get_data(), request.args.get("structure") or None
    )
    return {"key": pathway.key, "version": version.version, "created": created}, (
        201 if created else 200
    )


@route("/pathways", "GET", "Les parcours déployés et leurs versions", tag=TAG)
def list_pathways():
    pathways = list(services.list_pathways(current_api_user()))
    owners = structures_by_id({p.owner for p in pathways if p.owner})
    return {"items": [_summary(p, owners) for p in pathways]}


@route(
    "/pathways/<key>",
    "GET",
    "Une version d'un parcours (la dernière par défaut)",
    params=("version",),
    tag=TAG,
)
def get_pathway(key):
    number = request.args.get("version", type=int)
    pathway, version = services.get_version(current_api_user(), key, number)
    return {
        "key": pathway.key,
        "name": version.name,
        "version": version.version,
        "deployed_at": version.deployed_at.isoformat(),
        "summary": version.summary,
        "bpmn": version.bpmn,
    }
