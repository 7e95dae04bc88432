"""Who may do what on a dossier: one table, kind of user x action, checked through the policy,
the API and the HTML routes; consent withdrawal; IDOR attempts answered 404 without a trace.
"""

import io
from datetime import date, timedelta
from types import SimpleNamespace

import mongoengine
import pytest
from dossier_helpers import PDF, new_dossier
from helpers import html, snapshot
from test_policy import DOSSIER_ACTIONS

from app import policy
from app.accounts.models import User
from app.clock import today
from app.dossiers import circle, documents, entries
from app.dossiers.models import Dossier, Entry
from app.reference import DATA_CATEGORIES
from app.validation import InvalidInput

# Kinds of user of dossier A, in the order of the flags below ("TT TTTTTT FFFFFFF").
KINDS = (
    "coordinator",  # coordinator of the coordinating structure, created A: in the circle, referent
    "team_coordinator",  # coordinator of the coordinating structure, not in the circle
    "gp",  # members of the circle, one per profession: "10" médecin (medical)
    "nurse",  # "60" infirmier (paramedical)
    "pharmacist",  # "21" pharmacien (pharmacie)
    "home_helper",  # aide_a_domicile
    "social_worker",  # assistant_social (social)
    "psychologist",  # psychologue (psychologie)
    "former",  # a nurse whose membership ended (until: 30 days ago)
    "colleague",  # a doctor of the coordinating structure, not coordinator, not in the circle
    "outsider",  # a coordinator of another structure, not in the circle
    "structure_admin",  # administrator (not coordinator) of the coordinating structure
    "excluded",  # a doctor, member until the patient refused them
    "excluded_coordinator",  # a coordinator of the coordinating structure, refused
    "platform_admin",  # not a care professional: sees no dossier
)
MEMBERS = {  # kind: (profession, care role); the other kinds are not in the circle
    "gp": ("10", "medecin_traitant"),
    "nurse": ("60", "infirmier"),
    "pharmacist": ("21", "pharmacien"),
    "home_helper": ("aide_a_domicile", "aide_a_domicile"),
    "social_worker": ("assistant_social", "assistant_social"),
    "psychologist": ("psychologue", "psychologue"),
    "former": ("60", "infirmier"),
    "excluded": ("10", "medecin_specialiste"),
}
COORDINATORS = {"coordinator", "team_coordinator"}

DOSSIER_MATRIX = {
    "dossier.view": "TT TTTTTT FFFFFFF",
    "dossier.edit": "TT FFFFFF FFFFFFF",  # the coordinators (the creator is also the referent)
    "dossier.manage_members": "TT FFFFFF FFFFFFF",
    "dossier.withdraw_consent": "TT TTTTTT FFFFFFF",  # whoever hears the patient withdraw it
    # Whoever has no place yet and was not refused; a coordinator decides. A former member is
    # still listed in the circle: the coordinators change their dates.
    "dossier.request_join": "FF FFFFFF FTTTFFT",
    # Shown by an identity search or a duplicate check: who sees it, or may ask to join it.
    "dossier.find": "TT TTTTTT FTTTFFT",
}
# entry.create, target (dossier, data category): the "write" cells of DEFAULT_HABILITATIONS.
CREATE_MATRIX = {
    "administratif": "TT TFFFTF FFFFFFF",
    "social": "TT FFFFTF FFFFFFF",
    "medical": "TT TFFFFF FFFFFFF",
    "soins": "FF TTTFFF FFFFFFF",
    "autonomie": "TT TTFTTF FFFFFFF",
    "psychologique": "FF FFFFFT FFFFFFF",
}
# The entries of A, key: (author, category, visibility); "document" is a PDF, the rest notes.
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
# key: (entry.view, entry.edit, entry.delete). Shared: the habilitated readers of the category.
# Edit: the author, still habilitated. Delete: the author, or a coordinator who sees the entry.
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
# A's traits, as a search for it needs them.
SEARCH_A = "birth_name=quenardel&birth_date=1941-03-12"  # typed: shown back in the form


def flags(row):
    row = row.replace(" ", "")
    assert len(row) == len(KINDS), row
    return {kind: flag == "T" for kind, flag in zip(KINDS, row, strict=True)}


def expected(kind):
    """{(action, target key): allowed} for one kind: its column of every table."""
    cells = {(action, None): flags(row)[kind] for action, row in DOSSIER_MATRIX.items()}
    cells.update({("entry.create", c): flags(row)[kind] for c, row in CREATE_MATRIX.items()})
    for key, rows in ENTRY_MATRIX.items():
        cells.update(
            {(a, key): flags(row)[kind] for a, row in zip(ENTRY_ACTIONS, rows, strict=True)}
        )
    return cells


def test_the_tables_cover_exactly_the_dossier_actions():
    assert set(DOSSIER_MATRIX) | {"entry.create"} | set(ENTRY_ACTIONS) == DOSSIER_ACTIONS
    assert set(ENTRY_MATRIX) == set(ENTRIES)
    assert set(CREATE_MATRIX) == set(DATA_CATEGORIES)


def text(key):
    return f"Contenu {key.replace('/', ' ')} Q7"


def title(key):
    return f"Titre {key.replace('/', ' ')} Q7"


NAMES_A = ["Quenardel", "QUENARDEL", "Philomene"]
SECRETS_A = [*NAMES_A, "Impasse Alpha", *map(text, ENTRIES), *map(title, ENTRIES)]
SECRETS_B = ["Zanetti", "ZANETTI", "Octavie", "Allee Beta", "Note B secrete", "Piece B secrete"]


# --- the world: dossier A with its circle and entries, dossier B for the IDOR attempts ---------


def build_world(make_user, make_structure):
    structure = make_structure(key="dac-test", name="DAC de test", kind="dac")
    elsewhere = make_structure(key="autre", name="Autre structure")
    roles = {  # kind: (structure, roles, profession)
        "coordinator": (structure, ["coordinator"], "coordinateur"),
        "team_coordinator": (structure, ["coordinator"], "coordinateur"),
        "colleague": (structure, ["professional"], "10"),
        "outsider": (elsewhere, ["coordinator"], "coordinateur"),
        "structure_admin": (structure, ["structure_admin"], "coordinateur"),
        "excluded_coordinator": (structure, ["coordinator"], "coordinateur"),
        "platform_admin": (None, [], "10"),
        "spare": (elsewhere, ["professional"], "70"),  # someone to add to the circle
        **{kind: (elsewhere, ["professional"], p) for kind, (p, _) in MEMBERS.items()},
    }
    users = {
        kind: make_user(
            where, roles, profession=p, email=f"{kind}@example.org", platform_admin=not where
        )
        for kind, (where, roles, p) in roles.items()
    }
    coordinator = users["coordinator"]
    identity = {"birth_name": "Quenardel", "used_name": "", "first_names": "Philomene"}
    dossier = new_dossier(coordinator, structure, identity, address="3 Impasse Alpha")
    ended = date.fromisoformat(today()) - timedelta(days=30)
    for kind, (_, care_role) in MEMBERS.items():
        member = {"user": str(users[kind].id), "care_role": care_role}
        if kind == "former":
            member.update(since=str(ended - timedelta(days=100)), until=str(ended))
        circle.add_member(coordinator, dossier, member)
    for key, (author, category, visibility) in ENTRIES.items():
        meta = {"category": category, "visibility": visibility, "title": title(key)}
        if key == "document":
            upload = documents.inspect(PDF, "bilan.pdf")
            entries.add_document(users[author], dossier, upload, {**meta, "text": text(key)})
        else:
            entries.add_entry(users[author], dossier, {**meta, "note": text(key)})
    for kind in ("excluded", "excluded_coordinator"):
        circle.exclude(coordinator, dossier, {"user": str(users[kind].id), "reason": "Refus"})
    identity = {"birth_name": "Zanetti", "used_name": "", "first_names": "Octavie"}
    other = new_dossier(users["outsider"], elsewhere, {**identity, "birth_date": "1950-07-14"})
    other.update(set__address="9 Allee Beta")
    note = {"note": "Note B secrete", "category": "social", "visibility": "public"}
    entries.add_entry(users["outsider"], other, note)
    meta = {"category": "social", "visibility": "public", "title": "Piece B secrete"}
    entries.add_document(users["outsider"], other, documents.inspect(PDF, "b.pdf"), meta)
    return {"structure": structure.id, "dossier": dossier.id, "other": other.id}


TEMPLATE = {}


@pytest.fixture
def world(app, make_user, make_structure):
    """The world, built through the services by the first test that needs it; its documents
    are then copied into each test's fresh database (building takes a second, copying a few
    round trips)."""
    db = mongoengine.get_db()
    if not TEMPLATE:
        TEMPLATE["ids"] = build_world(make_user, make_structure)
        names = [n for n in db.list_collection_names() if not n.startswith("system.")]
        TEMPLATE["documents"] = {name: list(db[name].find()) for name in names}
    else:
        for name, found in TEMPLATE["documents"].items():
            if found:
                db[name].insert_many([dict(d) for d in found])
    ids = TEMPLATE["ids"]
    users = {u.email.split("@")[0]: u for u in User.objects}
    dossier, other = Dossier.objects.get(id=ids["dossier"]), Dossier.objects.get(id=ids["other"])
    found = {e.title: e for e in Entry.objects(dossier=dossier.id)}
    b_entries = {e.kind: e for e in Entry.objects(dossier=other.id)}
    return SimpleNamespace(
        users=users,
        spare=users["spare"],
        structure=ids["structure"],
        dossier=dossier,
        entries={key: found[title(key)] for key in ENTRIES},
        other=other,
        other_note=b_entries["note"],
        other_document=b_entries["document"],
    )


@pytest.fixture
def app_config(app_config):
    """A sign-in per kind of user in some tests: no login rate limit here."""
    return {**app_config, "LOGIN_RATE_LIMIT": "1000 per minute"}


# --- the policy ------------------------------------------------------------------------------


def answers(world, kind, cells):
    def target(action, key):
        if action.startswith("dossier."):
            return world.dossier
        return (world.dossier, key if action == "entry.create" else world.entries[key])

    user = world.users[kind]
    return {(a, key): policy.can(user, a, target(a, key)) for a, key in cells}


def wrong_answers(world, expect):
    """{(kind, action, key): the wrong answer} over every kind."""
    wrong = {}
    for kind in KINDS:
        wanted = expect(kind)
        got = answers(world, kind, wanted)
        wrong.update({(kind, *c): got[c] for c in wanted if got[c] is not wanted[c]})
    return wrong


def test_policy(world):
    assert wrong_answers(world, expected) == {}


# --- through the API and the HTML routes -----------------------------------------------------


class Outcomes:
    """The answers to one kind's requests, gathered so that a failure lists every wrong one;
    a 404 must carry none of `secrets`."""

    def __init__(self, cells, secrets=SECRETS_A):
        self.cells, self.secrets, self.wrong = cells, secrets, []

    def check(self, label, response, status):
        if response.status_code != status:
            self.wrong.append((label, status, response.status_code))
        body = response.get_data(as_text=True)
        if response.status_code == 404 and any(s in body for s in self.secrets):
            self.wrong.append((label, "leaks", [s for s in self.secrets if s in body]))
        return response.status_code == status

    def expect(self, response, action, key=None, ok=200, allowed=None):
        """`ok` if `action` is allowed, 403 if its target is seen, else 404 (the target's
        existence is not revealed); True when allowed and answered so."""
        seen = self.cells[("entry.view", key) if key in ENTRIES else ("dossier.view", None)]
        allowed = self.cells[(action, key)] if allowed is None else allowed
        status = ok if allowed else 403 if seen else 404
        return self.check(f"{action} {key or ''}", response, status) and allowed

    def visible(self, world):
        return {str(world.entries[k].id) for k in ENTRIES if self.cells[("entry.view", k)]}


@pytest.mark.parametrize("kind", KINDS)
def test_api(world, api_as, kind):
    out, api = Outcomes(expected(kind)), api_as(world.users[kind])
    url, document = f"/dossiers/{world.dossier.id}", world.entries["document"].id
    if out.expect(shown := api.get(url), "dossier.view"):
        names = ("edit", "manage_members", "withdraw_consent")
        assert shown.json["permissions"] == {n: out.cells[(f"dossier.{n}", None)] for n in names}
    if out.expect(listed := api.get(f"{url}/entries"), "dossier.view"):
        assert {e["id"] for e in listed.json["items"]} == out.visible(world)
    if out.expect(line := api.get(f"{url}/timeline?per_page=50"), "dossier.view"):
        assert line.json["next_before"] is None
        assert {i["entry"] for i in line.json["items"] if "entry" in i} == out.visible(world)
    for key, entry in world.entries.items():
        out.expect(api.get(f"/entries/{entry.id}"), "entry.view", key)
        out.expect(api.get(f"/entries/{entry.id}/versions"), "entry.view", key)
    if out.expect(got := api.get(f"/entries/{document}/file"), "entry.view", "document"):
        assert got.data == PDF
    # The writes, consent last: it ends the others.
    out.expect(api.patch(url, json={"city": "Albi"}), "dossier.edit")
    check = {"document": "cni", "ins_checked": False}
    out.expect(api.post(f"{url}/identity/check", json=check), "dossier.edit")
    for category in CREATE_MATRIX:
        note = {"note": "Ajout", "category": category, "visibility": "public"}
        out.expect(api.post(f"{url}/entries", json=note), "entry.create", category, 201)
    upload = {"file": (io.BytesIO(PDF), "x.pdf"), "category": "autonomie", "visibility": "public"}
    response = api.post(f"{url}/documents", data=upload, content_type="multipart/form-data")
    out.expect(response, "entry.create", "autonomie", 201)
    for key, entry in world.entries.items():
        out.expect(api.patch(f"/entries/{entry.id}", json={"title": "x"}), "entry.edit", key)
    for key, entry in world.entries.items():
        out.expect(api.delete(f"/entries/{entry.id}"), "entry.delete", key)
    member = {"user": str(world.spare.id), "care_role": "kinesitherapeute"}
    out.expect(api.post(f"{url}/members", json=member), "dossier.manage_members", ok=201)
    join = {"care_role": "infirmier"}
    out.expect(api.post(f"{url}/join-requests", json=join), "dossier.request_join", ok=201)
    withdraw = {"date": today(), "reason": "Refus"}
    out.expect(api.post(f"{url}/consent/withdraw", json=withdraw), "dossier.withdraw_consent")
    assert out.wrong == []


@pytest.mark.parametrize("kind", KINDS)
def test_html(world, login_as, kind):
    out, web = Outcomes(expected(kind)), login_as(world.users[kind])
    url, document = f"/dossiers/{world.dossier.id}", world.entries["document"].id
    if out.expect(page := web.get(url), "dossier.view"):
        for key, entry in world.entries.items():  # the timeline: titles, and the notes' texts
            assert (title(key) in html(page)) is out.cells[("entry.view", key)], key
            if entry.kind == "note":
                assert (text(key) in html(page)) is out.cells[("entry.view", key)], key
    for path in ("cercle", "identite", "consentement"):
        out.expect(web.get(f"{url}/{path}"), "dossier.view")
    for key, entry in world.entries.items():
        if out.expect(shown := web.get(f"/entrees/{entry.id}"), "entry.view", key):
            assert text(key) in html(shown)
    if out.expect(got := web.get(f"/entrees/{document}/fichier"), "entry.view", "document"):
        assert got.data == PDF
    writes = any(out.cells[("entry.create", c)] for c in CREATE_MATRIX)
    out.expect(web.get(f"{url}/notes/nouvelle"), "entry.create", allowed=writes)
    # The writes, consent last.
    identity = {"birth_name": "Quenardel", "first_names": "Philomene", "birth_date": "1941-03-12"}
    out.expect(web.post(f"{url}/identite", {**identity, "sex": "F"}), "dossier.edit", ok=302)
    check = {"document": "passeport"}
    out.expect(web.post(f"{url}/identite/verification", check), "dossier.edit", ok=302)
    for category in CREATE_MATRIX:
        note = {"note": "Ajout", "category": category, "visibility": "public"}
        out.expect(web.post(f"{url}/notes/nouvelle", note), "entry.create", category, 302)
    for key, entry in world.entries.items():
        change = {"title": title(key), "visibility": ENTRIES[key][2], "note": text(key)}
        out.expect(web.post(f"/entrees/{entry.id}/modifier", change), "entry.edit", key, 302)
    for key, entry in world.entries.items():
        out.expect(web.post(f"/entrees/{entry.id}/supprimer"), "entry.delete", key, 302)
    member = {"user": str(world.spare.id), "care_role": "infirmier"}
    out.expect(web.post(f"{url}/cercle/membres", member), "dossier.manage_members", ok=302)
    join = {"care_role": "infirmier"}
    out.expect(web.post(f"{url}/rejoindre", join), "dossier.request_join", ok=302)
    withdraw = {"date": today(), "reason": "Refus"}
    out.expect(web.post(f"{url}/consentement", withdraw), "dossier.withdraw_consent", ok=302)
    assert out.wrong == []


def test_lists_and_searches_show_only_what_one_may_open(world, api_as):
    dossier_id, wrong = str(world.dossier.id), []
    for kind in KINDS:
        cells, api = expected(kind), api_as(world.users[kind])
        seen = cells[("dossier.view", None)]
        # "mine": the circles one is in; "structure": the dossiers one coordinates.
        wanted = {
            "mine": seen and kind != "team_coordinator",
            "structure": seen and kind in COORDINATORS,
        }
        for scope, want in wanted.items():
            items = api.get(f"/dossiers?scope={scope}").json["items"]
            if (dossier_id in {d["id"] for d in items}) is not want:
                wrong.append((kind, scope))
        found = api.get(f"/dossiers/search?{SEARCH_A}").json["items"]
        answer = [(d["id"], d["can_view"], d["can_join"]) for d in found]
        want = [(dossier_id, seen, cells[("dossier.request_join", None)])]
        if answer != (want if cells[("dossier.find", None)] else []) or "Impasse" in str(found):
            wrong.append((kind, "search", found))
    assert wrong == []


# --- consent withdrawn -----------------------------------------------------------------------


def after_withdrawal(kind):
    """The coordinating structure's coordinators keep what they read; nobody writes."""
    return {
        cell: allowed
        and kind in COORDINATORS
        and cell[0] in ("dossier.view", "entry.view", "dossier.find")
        for cell, allowed in expected(kind).items()
    }


def test_after_consent_withdrawal_only_the_coordinators_read(world, api_as, login_as):
    reason = {"date": today(), "reason": "Ne souhaite plus"}
    circle.withdraw_consent(world.users["social_worker"], world.dossier, reason)
    assert wrong_answers(world, after_withdrawal) == {}
    collections = ("dossiers", "entries", "timeline", "join_requests", "documents.files")
    before, url, wrong = snapshot(collections), f"/dossiers/{world.dossier.id}", []
    note = {"note": "Ajout", "category": "autonomie", "visibility": "public"}
    member = {"user": str(world.spare.id), "care_role": "kinesitherapeute"}
    join = {"care_role": "infirmier"}
    for kind in KINDS:
        out = Outcomes(after_withdrawal(kind))
        api, web = api_as(world.users[kind]), login_as(world.users[kind])
        if out.expect(shown := api.get(url), "dossier.view"):
            assert shown.json["status"] == "consent_withdrawn"
            assert not any(shown.json["permissions"].values())
        if out.expect(listed := api.get(f"{url}/entries"), "dossier.view"):
            assert {e["id"] for e in listed.json["items"]} == out.visible(world)
        if out.expect(page := web.get(url), "dossier.view"):
            assert "lecture seule" in html(page)
            assert "Ajouter une note" not in html(page)
            for key in ENTRIES:
                assert (title(key) in html(page)) is out.cells[("entry.view", key)], key
        document = world.entries["document"].id
        out.expect(api.get(f"/entries/{document}/file"), "entry.view", "document")
        out.expect(web.get(f"/entrees/{document}/fichier"), "entry.view", "document")
        for key, entry in world.entries.items():
            out.expect(api.patch(f"/entries/{entry.id}", json={"title": "x"}), "entry.edit", key)
            out.expect(api.delete(f"/entries/{entry.id}"), "entry.delete", key)
        out.expect(api.patch(url, json={"city": "Albi"}), "dossier.edit")
        out.expect(api.post(f"{url}/entries", json=note), "entry.create", "autonomie")
        out.expect(api.post(f"{url}/members", json=member), "dossier.manage_members")
        out.expect(api.post(f"{url}/join-requests", json=join), "dossier.request_join")
        out.expect(api.post(f"{url}/consent/withdraw", json=reason), "dossier.withdraw_consent")
        out.expect(web.get(f"{url}/notes/nouvelle"), "entry.create", "autonomie")
        out.expect(web.post(f"{url}/notes/nouvelle", note), "entry.create", "autonomie")
        out.expect(web.post(f"{url}/cercle/membres", member), "dossier.manage_members")
        out.expect(web.post(f"{url}/consentement", reason), "dossier.withdraw_consent")
        out.expect(web.post(f"{url}/rejoindre", join), "dossier.request_join")
        wrong += [(kind, *w) for w in out.wrong]
    assert wrong == []
    assert snapshot(collections) == before


# --- IDOR ------------------------------------------------------------------------------------


def test_foreign_and_malformed_ids_are_404_without_a_trace(world, api_as, login_as):
    """A member of A, and A's coordinator, ask for B, B's entry and document, an entry of A
    private to someone else, malformed ids: 404 and nothing of the content; writes through
    these ids change nothing."""
    b, note, document = world.other.id, world.other_note.id, world.other_document.id
    private = world.entries["psychologique/private"].id
    secrets = [*SECRETS_B, text("psychologique/private"), title("psychologique/private")]
    collections = ("dossiers", "entries", "timeline", "entry_versions", "documents.files")
    before, wrong = snapshot(collections), []
    bad_ids = ("x", "..%2F..%2F", "%2e%2e", "0" * 24, "f" * 25, note, world.spare.id)
    ids = (note, document, private)
    api_reads = [f"/dossiers/{b}{end}" for end in ("", "/entries", "/timeline", "/join-requests")]
    api_reads += [f"/entries/{i}{end}" for i in ids for end in ("", "/versions", "/file")]
    web_reads = [f"/dossiers/{b}{end}" for end in ("", "/cercle", "/consentement", "/identite")]
    web_reads += [
        f"/entrees/{i}{end}" for i in ids for end in ("", "/fichier", "/apercu", "/modifier")
    ]
    for bad in bad_ids:
        api_reads += [f"/dossiers/{bad}{end}" for end in ("", "/entries", "/timeline")]
        api_reads += [f"/entries/{bad}{end}" for end in ("", "/file")]
        web_reads += [f"/dossiers/{bad}", f"/entrees/{bad}", f"/entrees/{bad}/fichier"]
    new = {"note": "Intrusion", "category": "medical", "visibility": "public"}
    withdraw = {"date": today(), "reason": "x"}
    for kind in ("gp", "coordinator"):
        out, user = Outcomes({}, secrets), world.users[kind]
        api, web = api_as(user), login_as(user)
        me = {"user": str(world.users[kind].id), "care_role": "medecin_traitant"}
        for label, response in (
            *((f"GET {path}", api.get(path)) for path in api_reads),
            *((f"GET {path}", web.get(path)) for path in web_reads),
            ("POST B entry", api.post(f"/dossiers/{b}/entries", json=new)),
            ("POST B member", api.post(f"/dossiers/{b}/members", json=me)),
            ("PATCH B", api.patch(f"/dossiers/{b}", json={"city": "Albi"})),
            ("POST B withdraw", api.post(f"/dossiers/{b}/consent/withdraw", json=withdraw)),
            ("PATCH B note", api.patch(f"/entries/{note}", json={"note": "Intrusion"})),
            ("DELETE B note", api.delete(f"/entries/{note}")),
            ("DELETE B document", api.delete(f"/entries/{document}")),
            ("PATCH A private", api.patch(f"/entries/{private}", json={"note": "Intrusion"})),
            ("DELETE A private", api.delete(f"/entries/{private}")),
            ("POST B note page", web.post(f"/dossiers/{b}/notes/nouvelle", new)),
            ("POST B member page", web.post(f"/dossiers/{b}/cercle/membres", me)),
            ("POST B consent page", web.post(f"/dossiers/{b}/consentement", withdraw)),
            ("POST B note edit", web.post(f"/entrees/{note}/modifier", new)),
            ("POST B note delete", web.post(f"/entrees/{note}/supprimer")),
            ("POST A private delete", web.post(f"/entrees/{private}/supprimer")),
        ):
            out.check(label, response, 404)
        wrong += [(kind, *w) for w in out.wrong]
    assert wrong == []
    assert snapshot(collections) == before


def test_the_policy_refuses_an_entry_paired_with_another_dossier(world):
    """entry.* on (A, an entry of B): a place in A says nothing of B's entries."""
    got = {
        (kind, action): policy.can(world.users[kind], action, (world.dossier, world.other_note))
        for kind in ("gp", "coordinator")
        for action in ENTRY_ACTIONS
    }
    assert not any(got.values()), got


def test_a_refused_directory_entry_stays_refused_once_it_has_an_account(world, make_user):
    """The patient refuses a professional known by their directory entry (no account yet); the
    entry later gets its account (Professional.user: the RPPS import, an invitation)."""
    from app.directory.models import Professional
    from app.directory.services import add_professional
    from app.structures.models import Structure

    coordinator, dossier = world.users["coordinator"], world.dossier
    entry = add_professional(coordinator, {"last_name": "Refuse", "profession": "10"})
    member = {"professional": str(entry.id), "care_role": "medecin_specialiste"}
    circle.add_member(coordinator, dossier, member)
    circle.exclude(coordinator, dossier, {"professional": str(entry.id)})
    structure = Structure.objects.get(id=world.structure)
    account = make_user(structure, ["coordinator"], profession="10", email="refuse@example.org")
    Professional.objects(id=entry.id).update_one(set__user=account.id)  # no service links yet
    try:
        circle.add_member(coordinator, dossier, member)  # the entry now stands for the account
        readmitted = True
    except InvalidInput:
        readmitted = False
    dossier.reload()
    assert (policy.can(account, "dossier.view", dossier), readmitted) == (False, False)


# --- every route refuses who must not see ------------------------------------------------------

# Every dossier and entry route. <entry_id>: A's public medical note, its document for a file.
ROUTES = """
GET /dossiers/
GET POST /dossiers/nouveau
GET /dossiers/recherche
GET /dossiers/<dossier_id>
GET POST /dossiers/<dossier_id>/identite
POST /dossiers/<dossier_id>/identite/verification
GET POST /dossiers/<dossier_id>/consentement
GET POST /dossiers/<dossier_id>/rejoindre
GET /dossiers/<dossier_id>/cercle
POST /dossiers/<dossier_id>/cercle/membres
POST /dossiers/<dossier_id>/cercle/sans-compte
POST /dossiers/<dossier_id>/cercle/membres/<member_id>/retirer
POST /dossiers/<dossier_id>/cercle/refus
POST /dossiers/<dossier_id>/cercle/demandes/<request_id>
POST /dossiers/<dossier_id>/cercle/referent
GET POST /dossiers/<dossier_id>/notes/nouvelle
GET POST /dossiers/<dossier_id>/documents/nouveau
GET /dossiers/<dossier_id>/formulaires
GET POST /dossiers/<dossier_id>/formulaires/<key>
GET /entrees/<entry_id>
GET POST /entrees/<entry_id>/modifier
POST /entrees/<entry_id>/supprimer
GET /entrees/<entry_id>/fichier
GET /entrees/<entry_id>/apercu
GET POST /api/v1/dossiers
GET /api/v1/dossiers/search
GET PATCH /api/v1/dossiers/<dossier_id>
POST /api/v1/dossiers/<dossier_id>/identity/check
POST /api/v1/dossiers/<dossier_id>/members
DELETE /api/v1/dossiers/<dossier_id>/members/<member_id>
POST /api/v1/dossiers/<dossier_id>/exclusions
POST /api/v1/dossiers/<dossier_id>/consent/withdraw
GET POST /api/v1/dossiers/<dossier_id>/join-requests
POST /api/v1/dossiers/<dossier_id>/join-requests/<request_id>
GET POST /api/v1/dossiers/<dossier_id>/entries
POST /api/v1/dossiers/<dossier_id>/documents
GET /api/v1/dossiers/<dossier_id>/timeline
POST /api/v1/dossiers/<dossier_id>/pathways
POST /api/v1/dossiers/<dossier_id>/events
GET POST /dossiers/<dossier_id>/parcours
GET /dossiers/<dossier_id>/discussion
GET POST /api/v1/dossiers/<dossier_id>/messages
GET PATCH DELETE /api/v1/entries/<entry_id>
GET /api/v1/entries/<entry_id>/versions
GET /api/v1/entries/<entry_id>/file
GET /dossiers/<dossier_id>/export/<fmt>
GET /entrees/<entry_id>/export/<fmt>
GET /api/v1/dossiers/<dossier_id>/export
GET /api/v1/entries/<entry_id>/export
"""
ROUTE_LIST = [(m, line.split()[-1]) for line in ROUTES.split("\n") for m in line.split()[:-1]]
# Every answer is 404 but these: creating a dossier is a coordinator's (403); lists and
# searches answer (without what one may not see); the colleague, not refused, may ask to join.
ANSWERS = {
    ("GET", "/dossiers/nouveau"): 403,
    ("POST", "/dossiers/nouveau"): 403,
    ("POST", "/api/v1/dossiers"): 403,
    ("GET", "/dossiers/"): 200,
    ("GET", "/dossiers/recherche"): 200,
    ("GET", "/api/v1/dossiers"): 200,
    ("GET", "/api/v1/dossiers/search"): 200,
    ("colleague", "GET", "/dossiers/<dossier_id>/rejoindre"): 200,
    ("colleague", "POST", "/dossiers/<dossier_id>/rejoindre"): 302,
    ("colleague", "POST", "/api/v1/dossiers/<dossier_id>/join-requests"): 201,
}
# Where the colleague sees A's minimal identity (names, birth date), but nothing else.
MINIMAL = {"/dossiers/recherche", "/api/v1/dossiers/search", "/dossiers/<dossier_id>/rejoindre"}
# One body for every write (the access check comes before the body is read); these need
# theirs to pass validation: what they refuse, or accept, is the access.
BODY = {"user": "spare", "care_role": "infirmier", "note": "x", "category": "autonomie"}
BODY.update(visibility="public", decision="accept", date="2026-01-06", reason="x", city="Albi")
BODIES = {
    "/api/v1/dossiers": {
        "identity": {"birth_name": "X", "first_names": "Y", "birth_date": "1950-01-01", "sex": "F"},
        "consent": {"mode": "oral", "date": "2026-01-05"},
        "structure": "dac-test",
    },
    "/api/v1/dossiers/<dossier_id>/join-requests": {"care_role": "infirmier"},
}


def test_the_route_list_is_every_dossier_route(app):
    found = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if any(word in rule.rule for word in ("dossier", "entree", "entries"))
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert found == set(ROUTE_LIST)


@pytest.mark.parametrize("layer", ["html", "api"])
@pytest.mark.parametrize("kind", ["colleague", "excluded"])
def test_every_route_refuses_who_may_not_see(world, api_as, login_as, kind, layer):
    """A professional outside the circle, and one the patient refused: every route, 404."""
    dossier = world.dossier
    pending = circle.request_join(world.spare, dossier, {"care_role": "kinesitherapeute"})
    values = {
        "<dossier_id>": str(dossier.id),
        "<member_id>": str(dossier.member_for(world.users["gp"].id).id),
        "<request_id>": str(pending.id),
        "<key>": "evaluation_multidimensionnelle",
        "<fmt>": "json",
        "recherche": f"recherche?{SEARCH_A}",
        "/search": f"/search?{SEARCH_A}",
    }
    client = api_as(world.users[kind]) if layer == "api" else login_as(world.users[kind])
    collections = ("dossiers", "entries", "timeline", "entry_versions", "documents.files")
    before, out = snapshot(collections), Outcomes({})
    for method, rule in ROUTE_LIST:
        if rule.startswith("/api/") != (layer == "api"):
            continue
        file = rule.endswith(("fichier", "apercu", "file"))
        url = rule.replace(
            "<entry_id>", str(world.entries["document" if file else "medical/public"].id)
        )
        for placeholder, value in values.items():
            url = url.replace(placeholder, value)
        body = {k: str(world.spare.id) if v == "spare" else v for k, v in BODY.items()}
        body = BODIES.get(rule, body) if method != "GET" else None
        if layer == "api":
            response = client.request(method, url.removeprefix("/api/v1"), json=body)
        else:
            response = client.get(url) if method == "GET" else client.post(url, body)
        wanted = ANSWERS.get((kind, method, rule), ANSWERS.get((method, rule), 404))
        out.check(f"{method} {rule}", response, wanted)
        hidden = SECRETS_A[len(NAMES_A) :] if kind == "colleague" and rule in MINIMAL else SECRETS_A
        if response.status_code == 200:
            assert [s for s in hidden if s in response.get_data(as_text=True)] == [], url
    assert out.wrong == []
    assert snapshot(collections) == before
