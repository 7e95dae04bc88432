"""API: dossiers, their circle of care, consent, entries, documents and timeline."""

import json

from flask import request

from app import policy
from app.api.core import current_api_user, json_body, page_args, route
from app.dossiers import (
    circle,
    documents,
    entries,
    habilitations,
    listing,
    schemas,
    services,
    timeline,
)
from app.dossiers.limits import identity_lookups
from app.dossiers.serializers import (
    dossier_json,
    dossier_summary_json,
    entry_json,
    member_json,
    timeline_item_json,
)
from app.paging import int_arg
from app.structures.services import cached_structure
from app.uploads import accepts_uploads, uploaded_file
from app.validation import InvalidInput

TAG = "Dossiers"
CREATED = {"type": "object", "properties": {"id": {"type": "string"}}}
LIST = {
    "type": "object",
    "properties": {
        "items": {"type": "array"},
        "total": {"type": "integer"},
        "page": {"type": "integer"},
    },
}
CURSOR_LIST = {
    "type": "object",
    "properties": {"items": {"type": "array"}, "next": {"type": ["string", "null"]}},
}
TIMELINE = {
    "type": "object",
    "properties": {"items": {"type": "array"}, "next_before": {"type": ["integer", "null"]}},
}
UPLOAD = {
    "type": "object",
    "required": ["file", "category", "visibility"],
    "properties": {
        "file": {"type": "string", "contentMediaType": "application/octet-stream"},
        **entries.DOCUMENT_META["properties"],
    },
}


def _dossier(dossier_id, action="dossier.view"):
    return services.get_dossier(current_api_user(), dossier_id, action, record=False)


def _full(dossier):
    actor = current_api_user()
    return dossier_json(dossier, actor, cached_structure(dossier.structure))


@route(
    "/dossiers",
    "POST",
    "Créer un dossier (consentement requis ; 409 si doublon probable)",
    body=schemas.DOSSIER_CREATE,
    response=CREATED,
    status=201,
    tag=TAG,
    limited=True,
)
@identity_lookups(deduct_when=lambda response: response.status_code == 409)
def create_dossier():
    dossier = services.create_dossier(current_api_user(), json_body())
    return {"id": str(dossier.id)}, 201


@route(
    "/dossiers",
    "GET",
    "Mes dossiers (scope=mine) ou ceux que ma structure coordonne ; page suivante : after=next",
    response=CURSOR_LIST,
    params=(
        "q",
        ("scope", {"enum": ["mine", "structure"], "description": "mine par défaut"}),
        ("sort", {"enum": list(listing.SORTS), "description": "activity par défaut"}),
        "after",
        "per_page",
    ),
    tag=TAG,
)
def list_dossiers():
    _, per_page = page_args()
    found, next_cursor = listing.list_dossiers(
        current_api_user(),
        request.args.get("q", ""),
        request.args.get("scope", "mine"),
        request.args.get("sort", "activity"),
        request.args.get("after"),
        per_page,
    )
    return {"items": [dossier_summary_json(d) for d in found], "next": next_cursor}


@route(
    "/dossiers/search",
    "GET",
    "Retrouver un dossier : nom de naissance entier et date de naissance, ou matricule INS "
    "(identité minimale des résultats ; limité par compte, tracé)",
    response=LIST,
    params=listing.SEARCH_FIELDS,
    tag=TAG,
    limited=True,
)
@identity_lookups()
def search_dossiers():
    wanted = {name: request.args.get(name, "") for name in listing.SEARCH_FIELDS}
    found = listing.search_identity(current_api_user(), wanted)
    return {"items": found, "total": len(found), "page": 1}


@route("/dossiers/<dossier_id>", "GET", "Un dossier", tag=TAG)
def get_dossier(dossier_id):
    actor = current_api_user()
    return _full(services.get_dossier(actor, dossier_id))


@route(
    "/dossiers/<dossier_id>",
    "PATCH",
    "Modifier l'identité ou la situation",
    body=schemas.DOSSIER_UPDATE,
    tag=TAG,
)
def update_dossier(dossier_id):
    actor = current_api_user()
    dossier = _dossier(dossier_id, "dossier.edit")
    return _full(services.update_dossier(actor, dossier, json_body()))


@route(
    "/dossiers/<dossier_id>/identity/check",
    "POST",
    "Enregistrer la vérification de l'identité (pièce, INSi) : statut RNIV",
    body=schemas.IDENTITY_CHECK,
    tag=TAG,
)
def check_identity(dossier_id):
    dossier = _dossier(dossier_id, "dossier.edit")
    return _full(services.check_identity(current_api_user(), dossier, json_body()))


@route(
    "/dossiers/<dossier_id>/members",
    "POST",
    "Ajouter un membre au cercle de soins",
    body=schemas.MEMBER_ADD,
    status=201,
    tag=TAG,
)
def add_circle_member(dossier_id):
    dossier = _dossier(dossier_id, "dossier.manage_members")
    return member_json(circle.add_member(current_api_user(), dossier, json_body())), 201


@route(
    "/dossiers/<dossier_id>/members/<member_id>",
    "DELETE",
    "Retirer un membre du cercle de soins",
    tag=TAG,
)
def remove_circle_member(dossier_id, member_id):
    dossier = _dossier(dossier_id, "dossier.manage_members")
    return member_json(circle.remove_member(current_api_user(), dossier, member_id))


@route(
    "/dossiers/<dossier_id>/exclusions",
    "POST",
    "Enregistrer un professionnel que l'usager refuse",
    body=schemas.PERSON,
    status=201,
    tag=TAG,
)
def add_exclusion(dossier_id):
    dossier = _dossier(dossier_id, "dossier.manage_members")
    exclusion = circle.exclude(current_api_user(), dossier, json_body())
    return {"name": exclusion.name}, 201


@route(
    "/dossiers/<dossier_id>/consent/withdraw",
    "POST",
    "Enregistrer le retrait du consentement",
    body=schemas.CONSENT_WITHDRAW,
    tag=TAG,
)
def withdraw_consent(dossier_id):
    dossier = _dossier(dossier_id, "dossier.withdraw_consent")
    return _full(circle.withdraw_consent(current_api_user(), dossier, json_body()))


@route(
    "/dossiers/<dossier_id>/join-requests",
    "POST",
    "Demander à rejoindre le cercle de soins",
    body=schemas.JOIN_REQUEST,
    response=CREATED,
    status=201,
    tag=TAG,
)
def request_join(dossier_id):
    dossier = _dossier(dossier_id, "dossier.request_join")
    join = circle.request_join(current_api_user(), dossier, json_body())
    return {"id": str(join.id)}, 201


@route("/dossiers/<dossier_id>/join-requests", "GET", "Les demandes en attente", tag=TAG)
def list_join_requests(dossier_id):
    dossier = _dossier(dossier_id, "dossier.manage_members")
    return {
        "items": [
            {
                "id": str(r.id),
                "user": str(r.user),
                "name": r.user_name,
                "care_role": r.care_role,
                "message": r.message,
            }
            for r in circle.pending_requests(current_api_user(), dossier)
        ]
    }


@route(
    "/dossiers/<dossier_id>/join-requests/<request_id>",
    "POST",
    "Accepter ou refuser une demande",
    body=schemas.JOIN_DECISION,
    tag=TAG,
)
def decide_join(dossier_id, request_id):
    dossier = _dossier(dossier_id, "dossier.manage_members")
    decided = circle.decide_join(
        current_api_user(), dossier, services.object_id(request_id), json_body()
    )
    return {"id": str(decided.id), "status": decided.status}


@route(
    "/dossiers/<dossier_id>/entries",
    "POST",
    "Ajouter une note ou un formulaire rempli",
    body=schemas.ENTRY_CREATE,
    status=201,
    tag=TAG,
)
def add_entry(dossier_id):
    dossier = _dossier(dossier_id)
    return entry_json(entries.add_entry(current_api_user(), dossier, json_body())), 201


@route("/dossiers/<dossier_id>/entries", "GET", "Les entrées visibles du dossier", tag=TAG)
def list_entries(dossier_id):
    actor = current_api_user()
    dossier = services.get_dossier(actor, dossier_id)
    kind = request.args.get("kind") or None
    return {"items": [entry_json(e) for e in entries.list_entries(actor, dossier, kind)]}


@route(
    "/dossiers/<dossier_id>/documents",
    "POST",
    "Déposer un document (multipart : file, category, visibility, title)",
    body=UPLOAD,
    body_type="multipart/form-data",
    status=201,
    tag=TAG,
)
@accepts_uploads
def upload_document(dossier_id):
    actor = current_api_user()
    dossier = _dossier(dossier_id)
    meta = {
        k: request.form[k]
        for k in ("title", "text", "category", "visibility")
        if request.form.get(k)
    }
    missing = {
        f"/{k}": "Ce champ est obligatoire." for k in ("category", "visibility") if k not in meta
    }
    if missing:
        raise InvalidInput(missing)
    upload = documents.inspect(*uploaded_file())
    return entry_json(entries.add_document(actor, dossier, upload, meta)), 201


@route(
    "/dossiers/<dossier_id>/timeline",
    "GET",
    "La ligne de vie du dossier, la plus récente d'abord (before = numéro de l'élément)",
    response=TIMELINE,
    params=("before", "kind", "per_page"),
    tag=TAG,
)
def dossier_timeline(dossier_id):
    actor = current_api_user()
    dossier = services.get_dossier(actor, dossier_id)
    before = int_arg("before")
    kind = request.args.get("kind") or None
    if kind and kind not in timeline.KINDS:
        raise InvalidInput({"/kind": "Ce type d'élément n'existe pas."})
    _, per_page = page_args()
    items, next_before = timeline.page(actor, dossier, before, kind, min(per_page, 50))
    return {"items": [timeline_item_json(i) for i in items], "next_before": next_before}


@route("/entries/<entry_id>", "GET", "Une entrée", tag=TAG)
def get_entry(entry_id):
    return entry_json(entries.read_entry(current_api_user(), entry_id)[1])


@route(
    "/entries/<entry_id>",
    "PATCH",
    "Modifier une entrée (son auteur) ; l'état précédent est conservé ; en-tête If-Match : "
    "numéro de version",
    body=schemas.ENTRY_UPDATE,
    tag=TAG,
)
def update_entry(entry_id):
    expected = request.headers.get("If-Match", "").strip('"')
    version = int(expected) if expected.isdigit() else None
    entry = entries.update_entry(current_api_user(), entry_id, json_body(), version)
    return entry_json(entry)


@route("/entries/<entry_id>/versions", "GET", "Les versions précédentes d'une entrée", tag=TAG)
def entry_versions(entry_id):
    _, entry, earlier = entries.versions_of(current_api_user(), entry_id)
    return {
        "items": [
            {
                "version": v.version,
                "title": v.title,
                "note": v.text,
                "data": json.loads(v.data_json) if v.data_json else None,
                "visibility": v.visibility,
                "edited_at": v.edited_at.isoformat() if v.edited_at else None,
            }
            for v in earlier
        ]
    }


@route("/entries/<entry_id>", "DELETE", "Supprimer une entrée (suppression tracée)", tag=TAG)
def delete_entry(entry_id):
    data = json_body() if request.content_length else {}
    entries.delete_entry(current_api_user(), entry_id, data)
    return {"deleted": True}


@route("/entries/<entry_id>/file", "GET", "Télécharger le fichier d'un document", tag=TAG)
@documents.serves_files
def download_document(entry_id):
    entry, stored = entries.open_document(current_api_user(), entry_id)
    return documents.send(entry, stored)


@route("/habilitations", "GET", "La matrice d'habilitations", tag=TAG)
def get_habilitations():
    return habilitations.matrix()


@route(
    "/habilitations",
    "PUT",
    "Remplacer la matrice d'habilitations (administrateur)",
    body=schemas.HABILITATIONS,
    tag=TAG,
)
def put_habilitations():
    actor = current_api_user()
    policy.require(actor, "habilitation.manage")
    return habilitations.update_matrix(actor, json_body())
