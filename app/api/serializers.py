"""Documents as the API shows them."""

from app.structures.services import structures_by_id


def user_json(user, structures=None):
    """`structures` maps ids to structures for the memberships; loaded in one query if absent."""
    if structures is None:
        structures = structures_by_id(m.structure for m in user.memberships)
    return {
        "id": str(user.id),
        "email": user.email,
        "name": user.name,
        "profession": user.profession,
        "profession_label": user.profession_label,
        "phone": user.phone,
        "status": user.status,
        "platform_admin": user.platform_admin,
        "memberships": [
            {"structure": structures[m.structure].key, "roles": list(m.roles)}
            for m in user.memberships
            if m.structure in structures
        ],
    }


def users_json(users):
    """Many users with two queries in all, whatever their number."""
    users = list(users)
    structures = structures_by_id({m.structure for u in users for m in u.memberships})
    return [user_json(user, structures) for user in users]


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
