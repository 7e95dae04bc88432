"""The demo region: structures and accounts to try Parcours. Idempotent."""

from app import policy
from app.accounts.models import User
from app.accounts.services import create_user
from app.formkit.services import sync_directory
from app.structures.models import Structure
from app.structures.services import create_structure

DEMO_PASSWORD = "Parcours-Demo-2026"  # noqa: S105 - public demo password

STRUCTURES = [
    {
        "key": "dac-31",
        "name": "DAC 31 — Dispositif d'appui à la coordination",
        "sector": "medico_social",
        "kind": "dac",
        "department": "31",
        "address": "12 rue des Lois, 31000 Toulouse",
        "phone": "05 61 00 00 01",
    },
    {
        "key": "chu-purpan",
        "name": "CHU de Toulouse — Hôpital Purpan",
        "sector": "sanitaire",
        "kind": "hopital",
        "finess": "310781406",
        "department": "31",
        "address": "Place du Docteur Baylac, 31300 Toulouse",
    },
    {
        "key": "ssiad-garonne",
        "name": "SSIAD Garonne — Soins infirmiers à domicile",
        "sector": "medico_social",
        "kind": "ssiad",
        "department": "31",
        "address": "5 avenue de Muret, 31300 Toulouse",
    },
    {
        "key": "ccas-toulouse",
        "name": "CCAS de Toulouse",
        "sector": "social",
        "kind": "ccas",
        "department": "31",
        "address": "17 place de la Daurade, 31000 Toulouse",
    },
]

# email, name, profession, platform admin, structure, roles
USERS = [
    ("admin@parcours.test", "Claire Fontaine", None, True, None, []),
    (
        "admin.dac@parcours.test",
        "Marc Lefèbvre",
        "coordinateur",
        False,
        "dac-31",
        ["structure_admin"],
    ),
    (
        "coord.martin@parcours.test",
        "Sophie Martin",
        "coordinateur",
        False,
        "dac-31",
        ["coordinator"],
    ),
    (
        "coord.benali@parcours.test",
        "Karim Benali",
        "coordinateur",
        False,
        "dac-31",
        ["coordinator"],
    ),
    ("dr.dupuis@parcours.test", "Dr Anne Dupuis", "10", False, "chu-purpan", ["professional"]),
    ("kine.roux@parcours.test", "Julien Roux", "70", False, "chu-purpan", ["professional"]),
    ("inf.moreau@parcours.test", "Léa Moreau", "60", False, "ssiad-garonne", ["professional"]),
    (
        "aide.petit@parcours.test",
        "Nadia Petit",
        "aide_a_domicile",
        False,
        "ssiad-garonne",
        ["professional"],
    ),
    (
        "as.garcia@parcours.test",
        "Thomas Garcia",
        "assistant_social",
        False,
        "ccas-toulouse",
        ["professional"],
    ),
]


def seed_demo(forms_folder=None):
    """Create what is missing of the demo region; return how many documents were created.

    With `forms_folder`, its forms are loaded too (parcours forms sync).
    """
    created = 0
    existing = set(Structure.objects(key__in=[s["key"] for s in STRUCTURES]).scalar("key"))
    for data in STRUCTURES:
        if data["key"] not in existing:
            create_structure(policy.SYSTEM, data)
            created += 1
    existing = set(User.objects(email__in=[u[0] for u in USERS]).scalar("email"))
    for email, name, profession, admin, structure, roles in USERS:
        if email in existing:
            continue
        data = {"email": email, "name": name, "password": DEMO_PASSWORD, "platform_admin": admin}
        if profession:
            data["profession"] = profession
        if structure:
            data["memberships"] = [{"structure": structure, "roles": roles}]
        create_user(policy.SYSTEM, data)
        created += 1
    if forms_folder is not None and forms_folder.is_dir():
        report = sync_directory(forms_folder)
        created += len(report["created"]) + len(report["published"])
    return created


def demo_logins():
    return [(email, DEMO_PASSWORD, name) for email, name, *_ in USERS]
