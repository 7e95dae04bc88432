"""API: the form library (DESIGN.md §5)."""

from flask import request

from app.api.core import current_api_user, json_body, route
from app.formkit import schemas, services
from app.structures.services import structures_by_id
from app.validation import InvalidInput, check

FORM_LIST = {"type": "object", "properties": {"items": {"type": "array"}}}
PUBLISHED = {
    "type": "object",
    "properties": {"key": {"type": "string"}, "version": {"type": "integer"}},
}
VALID = {"type": "object", "properties": {"valid": {"const": True}}}


def _summary(form, owners):
    owner = owners.get(form.owner)
    return {
        "key": form.key,
        "title": form.title,
        "description": form.description,
        "category": form.category,
        "sector": form.sector,
        "purpose": form.purpose,
        "structure": owner.key if owner else None,
        "version": form.latest_version,
    }


@route("/forms", "GET", "Les formulaires de la bibliothèque", response=FORM_LIST, tag="Formulaires")
def list_forms():
    forms = list(services.list_forms(current_api_user()))
    owners = structures_by_id({form.owner for form in forms if form.owner})
    return {"items": [_summary(form, owners) for form in forms]}


@route(
    "/forms",
    "POST",
    "Créer un formulaire et publier sa version 1",
    body=schemas.FORM_CREATE,
    response=PUBLISHED,
    status=201,
    tag="Formulaires",
)
def create_form():
    form, version = services.create_form(current_api_user(), json_body())
    return {"key": form.key, "version": version.version}, 201


def _version_arg():
    number = request.args.get("version")
    if number is None:
        return None
    if not number.isdigit() or len(number) > 9:
        raise InvalidInput({"/version": "Le numéro de version doit être un entier positif."})
    return int(number)


@route(
    "/forms/<key>",
    "GET",
    "Une version d'un formulaire (la dernière sans ?version=N)",
    response=schemas.FORM_OUT,
    tag="Formulaires",
)
def get_form(key):
    form, version = services.get_version(current_api_user(), key, _version_arg())
    owners = structures_by_id({form.owner} if form.owner else set())
    return {
        **_summary(form, owners),
        "title": version.title,
        "version": version.version,
        "schema": version.schema,
        "ui_schema": version.ui_schema,
        "published_at": version.published_at.isoformat(),
    }


@route(
    "/forms/<key>/versions",
    "POST",
    "Publier une nouvelle version",
    body=schemas.VERSION_CREATE,
    response=PUBLISHED,
    status=201,
    tag="Formulaires",
)
def publish_version(key):
    actor = current_api_user()
    form = services.get_form(actor, key)
    version = services.publish_version(actor, form, json_body())
    return {"key": form.key, "version": version.version}, 201


@route(
    "/forms/<key>/validate",
    "POST",
    "Valider des données (dernière version, ou ?version=N) sans rien enregistrer",
    body=schemas.SUBMISSION,
    response=VALID,
    tag="Formulaires",
)
def validate(key):
    _, version = services.get_version(current_api_user(), key, _version_arg())
    body = check(schemas.SUBMISSION, json_body())
    try:
        services.validate_submission(version, body["data"])
    except InvalidInput as error:  # pointers into the request body: /data/...
        raise InvalidInput({f"/data{k}": v for k, v in error.fields.items()}, error.message)
    return {"valid": True}
