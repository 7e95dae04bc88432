"""Structures and their members."""

from flask import g

from app import audit, policy
from app.accounts.models import Membership, User
from app.accounts.services import OWN_ROLES, clean_input, find_user, insert_user
from app.clock import utcnow
from app.db import save_unique
from app.errors import Conflict, Forbidden, NotFound
from app.structures import schemas
from app.structures.models import Structure
from app.validation import InvalidInput, check

DUPLICATE_KEY = "Une structure existe déjà avec cet identifiant."
OPTIONAL_FIELDS = ("finess", "siret", "address", "department", "phone", "email")


def get_structure(actor, key, action="structure.view"):
    structure = Structure.objects(key=key).first()
    if structure is None:
        raise NotFound("Cette structure n'existe pas.")
    policy.require(actor, action, structure)
    return structure


def list_structures(actor, include_inactive=True):
    policy.require(actor, "structure.list")
    structures = Structure.objects.order_by("name")
    return structures if include_inactive else structures.filter(active=True)


def structures_of(user):
    """The active structures `user` belongs to, in one query."""
    ids = [m.structure for m in user.memberships]
    return list(Structure.objects(id__in=ids, active=True).order_by("name")) if ids else []


def cached_structure(structure_id):
    """The structure with this id (or None), read once per request."""
    cache = g.setdefault("structures_by_id", {})
    if structure_id not in cache:
        cache[structure_id] = Structure.objects(id=structure_id).first()
    return cache[structure_id]


def structures_by_id(ids):
    return {s.id: s for s in Structure.objects(id__in=list(ids))} if ids else {}


def create_structure(actor, data):
    policy.require(actor, "structure.create")
    data = check(schemas.STRUCTURE_CREATE, clean_input(data))
    structure = Structure(**{k: v for k, v in data.items() if v != ""})
    save_unique(structure, Conflict(DUPLICATE_KEY, fields={"/key": DUPLICATE_KEY}), insert=True)
    audit.record(actor, "structure.create", structure, key=structure.key)
    return structure


def update_structure(actor, structure, data):
    """Edit a structure; `{"active": false}` deactivates it: its members lose their roles."""
    policy.require(actor, "structure.edit", structure)
    data = check(schemas.STRUCTURE_UPDATE, clean_input(data))
    for field, value in data.items():
        setattr(structure, field, None if value == "" and field in OPTIONAL_FIELDS else value)
    structure.updated_at = utcnow()
    structure.save()
    g.pop("structures_by_id", None)  # this request's copies are stale now
    action = {False: "structure.deactivate", True: "structure.reactivate"}.get(
        data.get("active"), "structure.update"
    )
    audit.record(actor, action, structure, fields=sorted(data))
    return structure


# --- members ---------------------------------------------------------------------------------


def list_members(actor, structure):
    policy.require(actor, "structure.manage_members", structure)
    return User.objects(memberships__structure=structure.id).order_by("name")


def get_member(actor, structure, user_id):
    policy.require(actor, "structure.manage_members", structure)
    user = find_user(user_id)
    if user is None or not user.roles_in(structure.id):
        raise NotFound("Ce membre n'existe pas dans cette structure.")
    return user


def _require_roles_change(actor, structure, user):
    """`actor` manages the members of `structure` and `user` (None: an account to create) is
    not themself: nobody gives, changes or takes away their own roles."""
    policy.require(actor, "structure.manage_members", structure)
    if not policy.can(actor, "member.set_roles", (structure, user)):
        raise Forbidden(OWN_ROLES)


def add_member(actor, structure, data):
    """Give roles in `structure` to the account with this e-mail, creating it if needed.

    An account created by a structure admin waits for the platform team's verification
    ("requested"); one created by a platform admin is active at once.
    """
    policy.require(actor, "structure.manage_members", structure)
    data = check(schemas.MEMBER_ADD, clean_input(data))
    membership = Membership(structure=structure.id, roles=data["roles"])
    user = User.objects(email=data["email"]).first()
    _require_roles_change(actor, structure, user)
    if user is None:
        missing = {
            f"/{f}": "Ce champ est obligatoire pour créer le compte."
            for f in ("name", "password")
            if not data.get(f)
        }
        if missing:
            raise InvalidInput(
                missing,
                "Aucun compte n'existe avec cette adresse : "
                "renseignez le nom et un mot de passe pour le créer.",
            )
        fields = {k: data[k] for k in ("email", "name", "profession", "password") if k in data}
        fields["status"] = "active" if policy.can(actor, "user.create") else "requested"
        user = insert_user(actor, fields, [membership])
    else:
        # Conditional push: two concurrent additions cannot give two memberships.
        added = User.objects(id=user.id, memberships__structure__ne=structure.id).update_one(
            push__memberships=membership
        )
        if not added:
            message = "Cette personne est déjà membre de la structure."
            raise Conflict(message, fields={"/email": message})
        user.reload()
    audit.record(actor, "member.add", user, structure=structure.key, roles=data["roles"])
    return user


def set_member_roles(actor, structure, user, data):
    """Replace `user`'s roles in `structure`; no role left removes the membership."""
    _require_roles_change(actor, structure, user)
    roles = check(schemas.MEMBER_ROLES, data)["roles"]
    if not roles:
        return remove_member(actor, structure, user)
    User.objects(id=user.id, memberships__structure=structure.id).update_one(
        set__memberships__S__roles=roles
    )
    user.reload()
    audit.record(actor, "member.roles", user, structure=structure.key, roles=roles)
    return user


def remove_member(actor, structure, user):
    _require_roles_change(actor, structure, user)
    User.objects(id=user.id).update_one(pull__memberships__structure=structure.id)
    user.reload()
    audit.record(actor, "member.remove", user, structure=structure.key)
    return user


def owner_by_key(key):
    """The structure that will own a form or a pathway, by key; None for the platform."""
    if not key:
        return None
    structure = Structure.objects(key=key).first()
    if structure is None:
        raise InvalidInput({"/structure": "Cette structure n'existe pas."})
    return structure


def owner_of(document):
    """The structure that owns a form or a pathway (its `owner` id), or None."""
    return Structure.objects(id=document.owner).first() if document.owner else None


def owner_choices(actor, action):
    """The owners `actor` may create for under `action` (form.manage, pathway.manage): the
    structures they administer, and None (the whole platform) for a platform admin."""
    owners = [s for s in structures_of(actor) if policy.can(actor, action, s)]
    return ([None] if policy.can(actor, action, None) else []) + owners
