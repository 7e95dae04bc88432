"""The demo region: structures and accounts to try Parcours. Idempotent."""

from app import policy, shipped
from app.accounts.models import User
from app.accounts.services import create_user
from app.formkit.models import Form
from app.formkit.services import sync_directory
from app.pathways.services import deploy
from app.structures.models import Structure
from app.structures.services import create_structure
from app.terms.services import publish_shipped

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

    With `forms_folder`, its forms are loaded too (parcours forms sync), then the pathways
    shipped in workflows/, which name those forms, are deployed.
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
    if forms_folder is not None:
        report = sync_directory(forms_folder)
        created += len(report["created"]) + len(report["published"])
        deploy_shipped_workflows()
    created += 1 if publish_shipped() else 0  # the demo's users accept the CGU at first sign-in
    return created + seed_demo_dossiers()


def deploy_shipped_workflows(folder=None):
    """Deploy every pathway of `folder` (default: workflows/) for the whole platform, trusted
    as shipped files are; an unchanged file deploys nothing. Return the keys deployed anew."""
    deployed = []
    for path in sorted((folder or shipped.workflows_folder()).glob("*.bpmn")):
        pathway, _, created = deploy(policy.SYSTEM, path.read_bytes(), trusted=True)
        if created:
            deployed.append(pathway.key)
    return deployed


def demo_logins():
    return [(email, DEMO_PASSWORD, name) for email, name, *_ in USERS]


# The demo dossiers: one active with a full circle, one with a pending join request and a
# professional the patient refused, one whose consent was withdrawn.
DOSSIERS = [
    {
        "identity": {
            "birth_name": "Durand",
            "first_names": "Marcel Henri",
            "birth_date": "1938-06-14",
            "sex": "M",
            "birth_place_code": "31555",
        },
        "address": "8 rue des Lilas",
        "postcode": "31200",
        "city": "Toulouse",
        "living_situation": "seul",
        "living_notes": "Vit seul au 2e étage sans ascenseur ; fille à Bordeaux.",
        "contacts": [{"name": "Isabelle Durand", "relation": "fille", "phone": "06 00 00 00 01"}],
        "members": [
            ("dr.dupuis@parcours.test", "medecin_traitant"),
            ("inf.moreau@parcours.test", "infirmier"),
            ("aide.petit@parcours.test", "aide_a_domicile"),
        ],
        "notes": [
            (
                "inf.moreau@parcours.test",
                "soins",
                "shared",
                "Pansement",
                "Pansement du talon refait, plaie propre. Prochain passage jeudi.",
            ),
            (
                "aide.petit@parcours.test",
                "autonomie",
                "public",
                "Courses",
                "Frigo presque vide ce matin, courses faites avec M. Durand.",
            ),
            (
                "dr.dupuis@parcours.test",
                "medical",
                "private",
                "À revoir",
                "Penser à réévaluer le traitement anticoagulant.",
            ),
        ],
        "evaluation": True,
    },
    {
        "identity": {
            "birth_name": "Faure",
            "used_name": "Bernard",
            "first_names": "Odette",
            "birth_date": "1942-11-02",
            "sex": "F",
        },
        "city": "Colomiers",
        "postcode": "31770",
        "living_situation": "couple",
        "members": [("dr.dupuis@parcours.test", "medecin_traitant")],
        "exclusions": ["kine.roux@parcours.test"],
        "join_requests": [("as.garcia@parcours.test", "assistant_social")],
        "notes": [],
    },
    {
        "identity": {
            "birth_name": "Lopez",
            "first_names": "Ahmed",
            "birth_date": "1951-01-23",
            "sex": "M",
        },
        "city": "Blagnac",
        "living_situation": "famille",
        "members": [("inf.moreau@parcours.test", "infirmier")],
        "notes": [],
        "withdrawn": "Ne souhaite plus d'accompagnement par le DAC.",
    },
]


def seed_demo_dossiers():
    """Create the demo dossiers that are missing (found by birth name and date)."""
    from app.dossiers import circle, entries, services
    from app.dossiers.models import Dossier

    users = {u.email: u for u in User.objects(email__in=[u[0] for u in USERS])}
    coordinator = users.get("coord.martin@parcours.test")
    if coordinator is None:
        return 0
    created = 0
    for spec in DOSSIERS:
        identity = spec["identity"]
        if Dossier.objects(
            identity__birth_name=identity["birth_name"], identity__birth_date=identity["birth_date"]
        ).count():
            continue
        details = {
            k: spec[k]
            for k in ("address", "postcode", "city", "living_situation", "living_notes", "contacts")
            if k in spec
        }
        dossier = services.create_dossier(
            coordinator,
            {
                "identity": identity,
                "consent": {"mode": "written", "date": "2026-09-01"},
                "structure": "dac-31",
                "confirm_new": True,
                **details,
            },
        )
        for email, role in spec["members"]:
            circle.add_member(
                coordinator, dossier, {"user": str(users[email].id), "care_role": role}
            )
        for email in spec.get("exclusions", []):
            circle.exclude(
                coordinator,
                dossier,
                {"user": str(users[email].id), "reason": "Refus exprimé par l'usagère"},
            )
        for email, role in spec.get("join_requests", []):
            circle.request_join(users[email], dossier, {"care_role": role})
        for email, category, visibility, title, text in spec["notes"]:
            entries.add_entry(
                users[email],
                dossier,
                {"title": title, "note": text, "category": category, "visibility": visibility},
            )
        if spec.get("evaluation") and Form.objects(key="evaluation_multidimensionnelle").count():
            entries.add_entry(
                coordinator,
                dossier,
                {
                    "form": "evaluation_multidimensionnelle",
                    "visibility": "shared",
                    "data": {
                        "date_evaluation": "2026-09-03",
                        "lieu_evaluation": "domicile",
                        "gir": 4,
                        "synthese": {"analyse": "Isolement, chutes récentes."},
                    },
                },
            )
        if spec.get("withdrawn"):
            circle.withdraw_consent(
                coordinator, dossier, {"date": "2026-10-15", "reason": spec["withdrawn"]}
            )
        created += 1
    return created
