"""API: structures (platform admin) and their members (platform or structure admin)."""

from app import policy
from app.accounts.schemas import USER_OUT
from app.api.core import current_api_user, json_body, route
from app.api.serializers import structure_json, user_json, users_json
from app.structures import schemas, services

STRUCTURE_LIST = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": schemas.STRUCTURE_OUT}},
}
MEMBER_LIST = {"type": "object", "properties": {"items": {"type": "array", "items": USER_OUT}}}


@route(
    "/structures",
    "GET",
    "Liste des structures (administrateur de la plateforme)",
    response=STRUCTURE_LIST,
    tag="Structures",
)
def list_structures():
    return {"items": [structure_json(s) for s in services.list_structures(current_api_user())]}


@route(
    "/structures",
    "POST",
    "Créer une structure (administrateur de la plateforme)",
    body=schemas.STRUCTURE_CREATE,
    response=schemas.STRUCTURE_OUT,
    status=201,
    tag="Structures",
)
def create_structure():
    actor = current_api_user()
    policy.require(actor, "structure.create")  # refused before the body is even read
    structure = services.create_structure(actor, json_body())
    return structure_json(structure), 201


@route(
    "/structures/<key>", "GET", "Une structure", response=schemas.STRUCTURE_OUT, tag="Structures"
)
def get_structure(key):
    return structure_json(services.get_structure(current_api_user(), key))


@route(
    "/structures/<key>",
    "PATCH",
    'Modifier une structure ; {"active": false} la désactive (administrateur de la plateforme)',
    body=schemas.STRUCTURE_UPDATE,
    response=schemas.STRUCTURE_OUT,
    tag="Structures",
)
def update_structure(key):
    actor = current_api_user()
    structure = services.get_structure(actor, key, "structure.edit")
    return structure_json(services.update_structure(actor, structure, json_body()))


@route(
    "/structures/<key>/members",
    "GET",
    "Les membres d'une structure",
    response=MEMBER_LIST,
    tag="Structures",
)
def list_members(key):
    actor = current_api_user()
    structure = services.get_structure(actor, key, "structure.manage_members")
    return {"items": users_json(services.list_members(actor, structure), actor)}


@route(
    "/structures/<key>/members",
    "POST",
    "Ajouter un membre (le compte est créé si l'adresse n'en a pas)",
    body=schemas.MEMBER_ADD,
    response=USER_OUT,
    status=201,
    tag="Structures",
)
def add_member(key):
    actor = current_api_user()
    structure = services.get_structure(actor, key, "structure.manage_members")
    user = services.add_member(actor, structure, json_body())
    return user_json(user, actor), 201


@route(
    "/structures/<key>/members/<user_id>",
    "PATCH",
    "Changer les rôles d'un membre (aucun rôle : il quitte la structure)",
    body=schemas.MEMBER_ROLES,
    response=USER_OUT,
    tag="Structures",
)
def set_member_roles(key, user_id):
    actor = current_api_user()
    structure = services.get_structure(actor, key, "structure.manage_members")
    user = services.get_member(actor, structure, user_id)
    data = json_body()
    return user_json(services.set_member_roles(actor, structure, user, data), actor)


@route(
    "/structures/<key>/members/<user_id>",
    "DELETE",
    "Retirer un membre de la structure",
    status=204,
    tag="Structures",
)
def remove_member(key, user_id):
    actor = current_api_user()
    structure = services.get_structure(actor, key, "structure.manage_members")
    services.remove_member(actor, structure, services.get_member(actor, structure, user_id))
    return "", 204
