"""API: the caller, and accounts (platform admin)."""

from flask import request

from app import policy
from app.accounts import schemas, services
from app.api.core import current_api_user, json_body, page_args, route
from app.api.serializers import user_json, users_json

USER_LIST = {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": schemas.USER_OUT},
        "page": {"type": "integer"},
        "per_page": {"type": "integer"},
    },
}
CREATED = {"type": "object", "properties": {"id": {"type": "string"}}}


@route("/me", "GET", "Le compte de l'appelant", response=schemas.USER_OUT, tag="Comptes")
def me():
    actor = current_api_user()
    return user_json(actor, actor)


@route(
    "/users",
    "GET",
    "Liste des comptes (administrateur de la plateforme)",
    response=USER_LIST,
    params=("q", "page", "per_page"),
    tag="Comptes",
)
def list_users():
    page, per_page = page_args()
    users = services.list_users(current_api_user(), request.args.get("q", ""), page, per_page)
    return {"items": users_json(users, current_api_user()), "page": page, "per_page": per_page}


@route(
    "/users",
    "POST",
    "Créer un compte (administrateur de la plateforme)",
    body=schemas.USER_CREATE,
    response=CREATED,
    status=201,
    tag="Comptes",
)
def create_user():
    actor = current_api_user()
    policy.require(actor, "user.create")  # refused before the body is even read
    user = services.create_user(actor, json_body())
    return {"id": str(user.id)}, 201


@route("/users/<user_id>", "GET", "Un compte", response=schemas.USER_OUT, tag="Comptes")
def get_user(user_id):
    actor = current_api_user()
    return user_json(services.get_user(actor, user_id), actor)


@route(
    "/users/<user_id>",
    "PATCH",
    "Modifier un compte (administrateur de la plateforme)",
    body=schemas.USER_UPDATE,
    response=schemas.USER_OUT,
    tag="Comptes",
)
def update_user(user_id):
    actor = current_api_user()
    user = services.get_user(actor, user_id)
    return user_json(services.update_user(actor, user, json_body()), actor)
