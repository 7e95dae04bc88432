"""Who may do what on a dossier: one table, kind of user x action, checked through the policy,
the API and the HTML routes; consent withdrawal; IDOR attempts answered 404 without a trace.

The tables hold the CORRECT answers. A cell the application gets wrong is listed in BUGS and
checked apart, as one strict xfail case per bug, so that the rest of its row stays checked.
"""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from dossier_helpers import PDF, new_dossier
from helpers import html, snapshot
from test_policy import DOSSIER_ACTIONS

from app import policy
from app.clock import today
from app.dossiers import circle, documents, entries
from app.dossiers.models import Entry

# Kinds of user of dossier A, in the order of the flags below ("TT TTTTTT FFFFFFF").
KINDS = (
    "coordinator",  # coordinator of the coordinating structure, created A: in the circle, referent
    "team_coordinator",  # coordinator of the coordinating structure, not in the circle
    "gp",  # members of the circle, one per profession: "10" médecin (medical)
    "nurse",  # "60" infirmier (paramedical)
    "pharmacist",  # "21" (pharmacie)
    "home_helper",  # aide_a_domicile
    "social_worker",  # assistant_social (social)
    "psychologist",  # psychologue
    "former",  # a nurse whose membership ended (until in the past)
    "colleague",  # a doctor of the coordinating structure, not coordinator, not in the circle
    "outsider",  # a coordinator of another structure, not in the circle
    "structure_admin",  # administrator (not coordinator) of the coordinating structure
    "excluded",  # a doctor, member until the patient refused them
    "excluded_coordinator",  # a coordinator of the coordinating structure, refused
    "platform_admin",  # not a care professional: sees no dossier
)
MEMBERS = {  # kind: (profession, care role)
    "gp": ("10", "medecin_traitant"),
    "nurse": ("60", "infirmier"),
    "pharmacist": ("21", "pharmacien"),
    "home_helper": ("aide_a_domicile", "aide_a_domicile"),
    "social_worker": ("assistant_social", "assistant_social"),
    "psychologist": ("psychologue", "psychologue"),
    "former": ("60", "infirmier"),
    "excluded": ("10", "medecin_specialiste"),
}

DOSSIER_MATRIX = {
    "dossier.view": "TT TTTTTT FFFFFFF",
    "dossier.edit": "TT FFFFFF FFFFFFF",  # coordinators and the referent
    "dossier.manage_members": "TT FFFFFF FFFFFFF",
    "dossier.withdraw_consent": "TT TTTTTT FFFFFFF",  # whoever hears the patient withdraw
    # Someone with no place yet; a coordinator decides. (A former member is still listed.)
    "dossier.request_join": "FF FFFFFF FTTTFFT",
}
# entry.create, target (dossier, data category): DEFAULT_HABILITATIONS' "write" cells.
CREATE_MATRIX = {
    "administratif": "TT TFFFTF FFFFFFF",
    "social": "TT FFFFTF FFFFFFF",
    "medical": "TT TFFFFF FFFFFFF",
    "soins": "FF TTTFFF FFFFFFF",
    "autonomie": "TT TTFTTF FFFFFFF",
    "psychologique": "FF FFFFFT FFFFFFF",
}
# The entries of A: key: (author, category, visibility); "document" is a PDF, others notes.
ENTRIES = {
    "medical/private": ("gp", "medical", "private"),
    "medical/shared": ("gp", "medical", "shared"),
    "medical/public": ("gp", "medical", "public"),
    "social/private": ("social_worker", "social", "private"),
    "social/shared": ("social_worker", "social", "shared"),
    "social/public": ("social_worker", "social", "public"),
    "psychologique/private": ("psychologist", "psychologique", "private"),
    "psychologique/shared": ("psychologist", "psychologique", "shared"),
    "psychologique/public": ("psychologist", "psychologique", "public"),
    "autonomie/private": ("home_helper", "autonomie", "private"),
    "autonomie/shared": ("home_helper", "autonomie", "shared"),
    "autonomie/public": ("home_helper", "autonomie", "public"),
    "document": ("nurse", "soins", "shared"),
    "refused_author/private": ("excluded", "medical", "private"),  # written before the refusal
}
# entry: (entry.view, entry.edit, entry.delete). Edit: the author, if still habilitated.
# Delete: the author, or a coordinator (dossier.manage_members) who may see the entry.
ENTRY_MATRIX = {
    "medical/private": ("FF TFFFFF FFFFFFF", "FF TFFFFF FFFFFFF", "FF TFFFFF FFFFFFF"),
    "medical/shared": ("TT TTTFFT FFFFFFF", "FF TFFFFF FFFFFFF", "TT TFFFFF FFFFFFF"),
    "medical/public": ("TT TTTTTT FFFFFFF", "FF TFFFFF FFFFFFF", "TT TFFFFF FFFFFFF"),
    "social/private": ("FF FFFFTF FFFFFFF", "FF FFFFTF FFFFFFF", "FF FFFFTF FFFFFFF"),
    "social/shared": ("TT TTFFTT FFFFFFF", "FF FFFFTF FFFFFFF", "TT FFFFTF FFFFFFF"),
    "social/public": ("TT TTTTTT FFFFFFF", "FF FFFFTF FFFFFFF", "TT FFFFTF FFFFFFF"),
    "psychologique/private": ("FF FFFFFT FFFFFFF", "FF FFFFFT FFFFFFF", "FF FFFFFT FFFFFFF"),
    "psychologique/shared": ("TT TFFFFT FFFFFFF", "FF FFFFFT FFFFFFF", "TT FFFFFT FFFFFFF"),
    "psychologique/public": ("TT TTTTTT FFFFFFF", "FF FFFFFT FFFFFFF", "TT FFFFFT FFFFFFF"),
    "autonomie/private": ("FF FFFTFF FFFFFFF", "FF FFFTFF FFFFFFF", "FF FFFTFF FFFFFFF"),
    "autonomie/shared": ("TT TTTTTT FFFFFFF", "FF FFFTFF FFFFFFF", "TT FFFTFF FFFFFFF"),
    "autonomie/public": ("TT TTTTTT FFFFFFF", "FF FFFTFF FFFFFFF", "TT FFFTFF FFFFFFF"),
    "document": ("TT TTTFFT FFFFFFF", "FF FTFFFF FFFFFFF", "TT FTFFFF FFFFFFF"),
    "refused_author/private": ("FF FFFFFF FFFFFFF", "FF FFFFFF FFFFFFF", "FF FFFFFF FFFFFFF"),
}
ENTRY_ACTIONS = ("entry.view", "entry.edit", "entry.delete")
COORDINATORS = {"coordinator", "team_coordinator"}


def flags(row):
    row = row.replace(" ", "")
    assert len(row) == len(KINDS), row
    return {kind: flag == "T" for kind, flag in zip(KINDS, row, strict=True)}


def expected(kind):
    """{(action, target key): bool} for one kind: every cell of the tables."""
    cells = {(action, None): flags(row)[kind] for action, row in DOSSIER_MATRIX.items()}
    cells.update({("entry.create", c): flags(row)[kind] for c, row in CREATE_MATRIX.items()})
    for key, rows in ENTRY_MATRIX.items():
        cells.update({(a, key): flags(row)[kind] for a, row in zip(ENTRY_ACTIONS, rows)})
    return cells


# Cells where the application answers wrongly: (action, target key, kind).
BUGS = {
    "delete_unseen_entry": (
        "BUG: app/policy.py _removes_entry allows entry.delete to the coordinators "
        "(_manages_dossier) on entries they may not see (another member's private note)",
        {
            ("entry.delete", key, kind)
            for key in ENTRY_MATRIX
            if key.endswith("/private")
            for kind in COORDINATORS
        },
    ),
}
KNOWN_WRONG = set().union(*(cells for _, cells in BUGS.values()))


def test_the_tables_cover_exactly_the_dossier_actions():
    actions = set(DOSSIER_MATRIX) | {"entry.create"} | set(ENTRY_ACTIONS)
    assert actions == DOSSIER_ACTIONS
    assert set(ENTRY_MATRIX) == set(ENTRIES)
    assert set(CREATE_MATRIX) == {"administratif", "social", "medical", "soins", "autonomie",
                                  "psychologique"}


def text(key):
    return f"Contenu {key.replace('/', ' ')} Q7"


def title(key):
    return f"Titre {key.replace('/', ' ')} Q7"


PATIENT_A = {"birth_name": "Quenardel", "used_name": "", "first_names": "Philomene"}
PATIENT_B = {
    "birth_name": "Zanetti",
    "used_name": "",
    "first_names": "Octavie",
    "birth_date": "1950-07-14",
}
SECRETS_A = ["Quenardel", "QUENARDEL", "Philomene", "Impasse Alpha"]
SECRETS_B = ["Zanetti", "ZANETTI", "Octavie", "Allee Beta", "Note B secrete", "Piece B secrete"]


@pytest.fixture
def world(make_user, structure, other_structure):
    users = {
        "coordinator": make_user(structure, roles=["coordinator"], profession="coordinateur"),
        "team_coordinator": make_user(
            structure, roles=["coordinator"], profession="coordinateur"
        ),
        "colleague": make_user(structure, roles=["professional"], profession="10"),
        "outsider": make_user(other_structure, roles=["coordinator"], profession="coordinateur"),
        "structure_admin": make_user(
            structure, roles=["structure_admin"], profession="coordinateur"
        ),
        "excluded_coordinator": make_user(
            structure, roles=["coordinator"], profession="coordinateur"
        ),
        "platform_admin": make_user(platform_admin=True, profession="10"),
    }
    for kind, (profession, _) in MEMBERS.items():
        users[kind] = make_user(other_structure, profession=profession)
    coordinator = users["coordinator"]
    dossier = new_dossier(coordinator, structure, PATIENT_A, address="3 Impasse Alpha")
    ended = date.fromisoformat(today()) - timedelta(days=30)
    for kind, (_, care_role) in MEMBERS.items():
        member = {"user": str(users[kind].id), "care_role": care_role}
        if kind == "former":
            member.update(since=str(ended - timedelta(days=100)), until=str(ended))
        circle.add_member(coordinator, dossier, member)
    made = {}
    for key, (author, category, visibility) in ENTRIES.items():
        meta = {"category": category, "visibility": visibility, "title": title(key)}
        if key == "document":
            upload = documents.inspect(PDF, "bilan.pdf")
            made[key] = entries.add_document(users[author], dossier, upload, {**meta,
                                             "text": text(key)})
        else:
            made[key] = entries.add_entry(users[author], dossier, {**meta, "note": text(key)})
    for kind in ("excluded", "excluded_coordinator"):
        circle.exclude(coordinator, dossier, {"user": str(users[kind].id), "reason": "Refus"})
    dossier.reload()
    # Dossier B, another patient, coordinated elsewhere: for the IDOR attempts.
    other = new_dossier(users["outsider"], other_structure, PATIENT_B, address="9 Allee Beta")
    other_note = entries.add_entry(
        users["outsider"],
        other,
        {"note": "Note B secrete", "title": "Titre B", "category": "social", "visibility": "public"},
    )
    other_document = entries.add_document(
        users["outsider"],
        other,
        documents.inspect(PDF, "b.pdf"),
        {"category": "social", "visibility": "public", "title": "Piece B secrete"},
    )
    return SimpleNamespace(
        users=users,
        dossier=dossier,
        entries=made,
        other=other,
        other_note=other_note,
        other_document=other_document,
        spare=make_user(other_structure, profession="70"),  # a physiotherapist to add
    )


def answers(world, kind, cells):
    user, dossier = world.users[kind], world.dossier
    found = {}
    for action, key in cells:
        if action.startswith("dossier."):
            target = dossier
        elif action == "entry.create":
            target = (dossier, key)
        else:
            target = (dossier, world.entries[key])
        found[(action, key)] = policy.can(user, action, target)
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_policy(world, kind):
    """Every cell of the kind's column; the whole column is compared, so a failure shows all."""
    wanted = {
        cell: value
        for cell, value in expected(kind).items()
        if (*cell, kind) not in KNOWN_WRONG
    }
    assert answers(world, kind, wanted) == wanted


@pytest.mark.parametrize(
    "bug",
    [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=reason))
     for name, (reason, _) in BUGS.items()],
)
def test_policy_known_bugs(world, bug):
    _, cells = BUGS[bug]
    for action, key, kind in sorted(cells):
        assert answers(world, kind, [(action, key)]) == {(action, key): expected(kind)[(action, key)]}
