"""Documents as the API shows them, to a given viewer."""

from app import policy
from app.structures.services import structures_by_id


def user_json(user, viewer, structures=None):
    """The account as `viewer` may see it.

    A structure admin looking at a member sees only the memberships of the structures they
    manage, not the member's other structures, phone or platform role. `structures` maps ids
    to structures; loaded in one query if absent.
    """
    if structures is None:
        structures = structures_by_id(m.structure for m in user.memberships)
    full = policy.can(viewer, "user.view_details", user)
    shown = {
        "id": str(user.id),
        "email": user.email,
        "name": user.name,
        "profession": user.profession,
        "profession_label": user.profession_label,
        "status": user.status,
        "memberships": [
            {"structure": structures[m.structure].key, "roles": list(m.roles)}
            for m in user.memberships
            if m.structure in structures
            and (full or policy.can(viewer, "structure.manage_members", structures[m.structure]))
        ],
    }
    if full:
        shown.update(phone=user.phone, platform_admin=user.platform_admin)
    return shown


def users_json(users, viewer):
    """Many users with two queries in all, whatever their number."""
    users = list(users)
    structures = structures_by_id({m.structure for u in users for m in u.memberships})
    return [user_json(user, viewer, structures) for user in users]


STRUCTURE_KEYS = (
    "key",
    "name",
    "sector",
    "kind",
    "finess",
    "siret",
    "address",
    "department",
    "phone",
    "email",
    "active",
)


def structure_json(structure):
    return {"id": str(structure.id), **{k: structure[k] for k in STRUCTURE_KEYS}}
