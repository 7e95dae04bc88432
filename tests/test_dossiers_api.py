"""Dossiers through the API: creation under consent, duplicates, circle of care, consent
withdrawal, entries with their history, documents and the timeline."""

import io

import pytest
from dossier_helpers import IDENTITY, JPEG, PDF, VALID_INS, new_dossier
from helpers import snapshot

from app.audit import AuditEvent

DOSSIER_COLLECTIONS = ("dossiers", "entries", "timeline", "documents.files", "join_requests")


def body(**overrides):
    data = {
        "identity": dict(IDENTITY),
        "consent": {"mode": "written", "date": "2026-02-01"},
        "structure": "dac-test",
    }
    data.update(overrides)
    return data


@pytest.fixture
def gp(make_user, other_structure):
    return make_user(
        other_structure, email="gp@example.org", name="Dr Généraliste", profession="10"
    )


@pytest.fixture
def helper(make_user, other_structure):
    return make_user(
        other_structure,
        email="aide@example.org",
        name="Aide Domicile",
        profession="aide_a_domicile",
    )


@pytest.fixture
def dossier(coordinator, structure):
    return new_dossier(coordinator, structure)


def test_a_coordinator_creates_a_dossier_under_consent(api_as, coordinator, structure):
    api = api_as(coordinator)
    response = api.post("/dossiers", json=body())
    assert response.status_code == 201, response.json
    dossier_id = response.json["id"]
    shown = api.get(f"/dossiers/{dossier_id}").json
    assert shown["identity"]["birth_name"] == "Lefèbvre"
    assert shown["consent"] == {
        "mode": "written",
        "date": "2026-02-01",
        "collected_by": "Coordinatrice",
    }
    assert shown["structure"] == "dac-test"
    assert [(m["name"], m["care_role"]) for m in shown["members"]] == [
        ("Coordinatrice", "coordinateur")
    ]
    assert shown["permissions"] == {"edit": True, "manage_members": True, "withdraw_consent": True}
    actions = [e.action for e in AuditEvent.objects(dossier=dossier_id).order_by("seq")]
    assert actions == ["dossier.create", "dossier.read"]
    kinds = [i["kind"] for i in api.get(f"/dossiers/{dossier_id}/timeline").json["items"]]
    assert kinds == ["consent", "dossier"]


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"consent": None}, "/consent"),
        ({"identity": {**IDENTITY, "birth_date": "2099-01-01"}}, "/identity/birth_date"),
        ({"identity": {**IDENTITY, "birth_date": "1899-12-31"}}, "/identity/birth_date"),
        ({"identity": {**IDENTITY, "birth_date": "1941-02-30"}}, "/identity/birth_date"),
        ({"identity": {**IDENTITY, "ins": "185057800608400"}}, "/identity/ins"),
        ({"identity": {**IDENTITY, "ins": "12345"}}, "/identity/ins"),
        ({"identity": {**IDENTITY, "birth_place_code": "3155"}}, "/identity/birth_place_code"),
        ({"identity": {**IDENTITY, "birth_place_code": "2C123"}}, "/identity/birth_place_code"),
        ({"identity": {**IDENTITY, "sex": "X"}}, "/identity/sex"),
        ({"identity": {**IDENTITY, "birth_name": " "}}, "/identity/birth_name"),
        ({"identity": {**IDENTITY, "birth_name": "x" * 101}}, "/identity/birth_name"),
        ({"consent": {"mode": "tacit", "date": "2026-01-01"}}, "/consent/mode"),
        ({"consent": {"mode": "oral", "date": "2099-01-01"}}, "/consent/date"),
        ({"structure": "nope"}, "/structure"),
    ],
)
def test_invalid_dossiers_are_refused_and_nothing_is_stored(
    api_as, coordinator, structure, change, pointer
):
    api = api_as(coordinator)
    data = body(**change)
    data = {k: v for k, v in data.items() if v is not None}
    before = snapshot(DOSSIER_COLLECTIONS)
    response = api.post("/dossiers", json=data)
    assert response.status_code == 422, response.json
    assert pointer in response.json["error"]["fields"]
    assert snapshot(DOSSIER_COLLECTIONS) == before


def test_corsican_codes_and_a_valid_ins_are_accepted(api_as, coordinator, structure):
    identity = {**IDENTITY, "birth_place_code": "2A004", "ins": VALID_INS}
    response = api_as(coordinator).post("/dossiers", json=body(identity=identity))
    assert response.status_code == 201, response.json


def test_only_a_coordinator_of_the_structure_creates_a_dossier(api_as, professional, structure):
    before = snapshot(DOSSIER_COLLECTIONS)
    assert api_as(professional).post("/dossiers", json=body()).status_code == 403
    assert snapshot(DOSSIER_COLLECTIONS) == before


def test_a_probable_duplicate_is_shown_with_minimal_identity(
    api_as, coordinator, structure, make_user, other_structure
):
    new_dossier(coordinator, structure, address="1 rue Secrète")
    other = make_user(other_structure, roles=["coordinator"], profession="coordinateur")
    api = api_as(other)
    # Accents, case, first names in another order, birth name given as the used name.
    twin = {
        "birth_name": "MARTIN",
        "used_name": "",
        "first_names": "marie jeanne",
        "birth_date": IDENTITY["birth_date"],
        "sex": "F",
    }
    response = api.post("/dossiers", json=body(identity=twin, structure=other_structure.key))
    assert response.status_code == 409
    error = response.json["error"]
    assert error["message"] == "Ce dossier existe peut-être déjà."
    [candidate] = error["candidates"]
    assert set(candidate) == {
        "id",
        "birth_name",
        "used_name",
        "first_names",
        "birth_date",
        "structure",
    }
    assert "Secrète" not in response.get_data(as_text=True)
    confirmed = body(identity=twin, structure=other_structure.key, confirm_new=True)
    assert api.post("/dossiers", json=confirmed).status_code == 201


def test_different_people_are_not_duplicates(api_as, coordinator, structure):
    new_dossier(coordinator, structure)
    api = api_as(coordinator)
    for identity in (
        {**IDENTITY, "birth_date": "1941-03-13"},
        {**IDENTITY, "first_names": "Paul", "sex": "M"},
        {**IDENTITY, "birth_name": "Durand", "used_name": ""},
    ):
        assert api.post("/dossiers", json=body(identity=identity)).status_code == 201


def test_a_professional_finds_a_dossier_and_asks_to_join(api_as, coordinator, gp, dossier):
    gp_api = api_as(gp)
    assert gp_api.get(f"/dossiers/{dossier.id}").status_code == 404
    too_vague = gp_api.get("/dossiers/search?birth_name=lefebvre")
    assert too_vague.status_code == 422
    whole = f"/dossiers/search?birth_name=LEFEBVRE&birth_date={IDENTITY['birth_date']}"
    found = gp_api.get(whole).json["items"]
    assert [(d["birth_name"], d["can_view"], d["can_join"]) for d in found] == [
        ("Lefèbvre", False, True)
    ]
    asked = gp_api.post(
        f"/dossiers/{dossier.id}/join-requests",
        json={"care_role": "medecin_traitant", "message": "Je suis son MT"},
    )
    assert asked.status_code == 201
    again = gp_api.post(
        f"/dossiers/{dossier.id}/join-requests", json={"care_role": "medecin_traitant"}
    )
    assert again.status_code == 409
    coord = api_as(coordinator)
    [pending] = coord.get(f"/dossiers/{dossier.id}/join-requests").json["items"]
    decided = coord.post(
        f"/dossiers/{dossier.id}/join-requests/{pending['id']}", json={"decision": "accept"}
    )
    assert decided.json["status"] == "accepted"
    assert gp_api.get(f"/dossiers/{dossier.id}").status_code == 200
    twice = coord.post(
        f"/dossiers/{dossier.id}/join-requests/{pending['id']}", json={"decision": "refuse"}
    )
    assert twice.status_code == 409


def test_circle_of_care_add_and_remove(api_as, coordinator, gp, dossier):
    coord = api_as(coordinator)
    added = coord.post(
        f"/dossiers/{dossier.id}/members",
        json={"user": str(gp.id), "care_role": "medecin_traitant"},
    )
    assert added.status_code == 201, added.json
    assert api_as(gp).get(f"/dossiers/{dossier.id}").status_code == 200
    again = coord.post(
        f"/dossiers/{dossier.id}/members",
        json={"user": str(gp.id), "care_role": "medecin_specialiste"},
    )
    assert again.status_code == 409
    unknown_role = coord.post(
        f"/dossiers/{dossier.id}/members", json={"user": str(gp.id), "care_role": "chaman"}
    )
    assert unknown_role.status_code == 422
    assert "/care_role" in unknown_role.json["error"]["fields"]
    removed = coord.delete(f"/dossiers/{dossier.id}/members/{added.json['id']}")
    assert removed.status_code == 200
    assert api_as(gp).get(f"/dossiers/{dossier.id}").status_code == 404
    # Members of the circle do not manage it.
    coord.post(
        f"/dossiers/{dossier.id}/members",
        json={"user": str(gp.id), "care_role": "medecin_traitant"},
    )
    refused = api_as(gp).post(
        f"/dossiers/{dossier.id}/members",
        json={"user": str(coordinator.id), "care_role": "infirmier"},
    )
    assert refused.status_code == 403


def test_a_refused_professional_loses_all_access_and_cannot_come_back(
    api_as, coordinator, gp, dossier, make_user, structure
):
    coord = api_as(coordinator)
    coord.post(
        f"/dossiers/{dossier.id}/members",
        json={"user": str(gp.id), "care_role": "medecin_traitant"},
    )
    excluded = coord.post(
        f"/dossiers/{dossier.id}/exclusions",
        json={"user": str(gp.id), "reason": "Souhait de l'usager"},
    )
    assert excluded.status_code == 201
    gp_api = api_as(gp)
    assert gp_api.get(f"/dossiers/{dossier.id}").status_code == 404
    whole = f"/dossiers/search?birth_name=Lefèbvre&birth_date={IDENTITY['birth_date']}"
    assert gp_api.get(whole).json["items"] == []
    before = snapshot(DOSSIER_COLLECTIONS)
    back = coord.post(
        f"/dossiers/{dossier.id}/members",
        json={"user": str(gp.id), "care_role": "medecin_traitant"},
    )
    assert back.status_code == 422
    assert "refusé" in back.json["error"]["fields"]["/user"]
    assert (
        gp_api.post(
            f"/dossiers/{dossier.id}/join-requests", json={"care_role": "medecin_traitant"}
        ).status_code
        == 404
    )
    assert snapshot(DOSSIER_COLLECTIONS) == before
    # Even a coordinator role in the coordinating structure gives no access.
    refused_coordinator = make_user(structure, roles=["coordinator"], profession="coordinateur")
    coord.post(f"/dossiers/{dossier.id}/exclusions", json={"user": str(refused_coordinator.id)})
    assert api_as(refused_coordinator).get(f"/dossiers/{dossier.id}").status_code == 404


def test_withdrawing_consent_stops_sharing(api_as, coordinator, gp, dossier, make_user, structure):
    coord = api_as(coordinator)
    coord.post(
        f"/dossiers/{dossier.id}/members",
        json={"user": str(gp.id), "care_role": "medecin_traitant"},
    )
    gp_api = api_as(gp)
    bad_date = gp_api.post(
        f"/dossiers/{dossier.id}/consent/withdraw", json={"date": "2099-01-01", "reason": "x"}
    )
    assert bad_date.status_code == 422
    withdrawn = gp_api.post(
        f"/dossiers/{dossier.id}/consent/withdraw",
        json={"date": "2026-03-01", "reason": "Ne souhaite plus"},
    )
    assert withdrawn.status_code == 200
    assert gp_api.get(f"/dossiers/{dossier.id}").status_code == 404
    # The coordinating structure's coordinators keep a read-only view.
    other_coordinator = make_user(structure, roles=["coordinator"], profession="coordinateur")
    shown = api_as(other_coordinator).get(f"/dossiers/{dossier.id}")
    assert shown.status_code == 200
    assert shown.json["status"] == "consent_withdrawn"
    assert shown.json["permissions"] == {
        "edit": False,
        "manage_members": False,
        "withdraw_consent": False,
    }
    note = {"note": "x", "category": "social", "visibility": "public"}
    assert coord.post(f"/dossiers/{dossier.id}/entries", json=note).status_code == 403
    assert AuditEvent.objects(action="dossier.consent.withdraw", dossier=str(dossier.id)).count()


def test_entries_visibility_and_habilitations(api_as, coordinator, gp, helper, dossier):
    coord = api_as(coordinator)
    for person, role in ((gp, "medecin_traitant"), (helper, "aide_a_domicile")):
        coord.post(
            f"/dossiers/{dossier.id}/members", json={"user": str(person.id), "care_role": role}
        )
    gp_api, helper_api = api_as(gp), api_as(helper)
    made = {}
    for visibility in ("private", "shared", "public"):
        response = gp_api.post(
            f"/dossiers/{dossier.id}/entries",
            json={"note": f"note {visibility}", "category": "medical", "visibility": visibility},
        )
        assert response.status_code == 201, response.json
        made[visibility] = response.json["id"]
    seen = {e["note"] for e in helper_api.get(f"/dossiers/{dossier.id}/entries").json["items"]}
    assert seen == {"note public"}
    seen = {e["note"] for e in coord.get(f"/dossiers/{dossier.id}/entries").json["items"]}
    assert seen == {"note public", "note shared"}
    assert helper_api.get(f"/entries/{made['shared']}").status_code == 404
    assert coord.get(f"/entries/{made['private']}").status_code == 404
    helper_timeline = helper_api.get(f"/dossiers/{dossier.id}/timeline").json["items"]
    assert [i.get("entry") for i in helper_timeline if i["kind"] == "entry"] == [made["public"]]
    # A home helper does not write in the medical category.
    refused = helper_api.post(
        f"/dossiers/{dossier.id}/entries",
        json={"note": "x", "category": "medical", "visibility": "public"},
    )
    assert refused.status_code == 403
    assert "habilitée" in refused.json["error"]["message"]


def test_editing_an_entry_keeps_its_history_and_deleting_is_traced(api_as, coordinator, dossier):
    api = api_as(coordinator)
    made = api.post(
        f"/dossiers/{dossier.id}/entries",
        json={"note": "premier jet", "category": "social", "visibility": "public"},
    ).json
    edited = api.patch(
        f"/entries/{made['id']}", json={"note": "version finale"}, headers={"If-Match": "1"}
    )
    assert edited.status_code == 200
    assert (edited.json["note"], edited.json["version"]) == ("version finale", 2)
    stale = api.patch(
        f"/entries/{made['id']}", json={"note": "trop tard"}, headers={"If-Match": "1"}
    )
    assert stale.status_code == 409
    history = api.get(f"/entries/{made['id']}/versions").json["items"]
    assert [(v["version"], v["note"]) for v in history] == [(1, "premier jet")]
    assert api.delete(f"/entries/{made['id']}", json={"reason": "doublon"}).status_code == 200
    assert api.get(f"/entries/{made['id']}").status_code == 404
    summaries = [i["summary"] for i in api.get(f"/dossiers/{dossier.id}/timeline").json["items"]]
    assert summaries[0] == "Note supprimé : Note"
    assert AuditEvent.objects(action="entry.delete").count() == 1


def test_a_form_submission_is_validated_and_stored_with_its_version(
    api_as, coordinator, dossier, app
):
    from app.formkit.services import sync_directory

    sync_directory(app.root_path + "/../forms")
    api = api_as(coordinator)
    invalid = api.post(
        f"/dossiers/{dossier.id}/entries",
        json={"form": "evaluation_multidimensionnelle", "data": {"gir": 9}, "visibility": "shared"},
    )
    assert invalid.status_code == 422
    assert any(p.startswith("/data") for p in invalid.json["error"]["fields"])


def test_documents_are_typed_by_content_and_downloaded_as_attachments(api_as, coordinator, dossier):
    api = api_as(coordinator)
    uploaded = api.post(
        f"/dossiers/{dossier.id}/documents",
        data={
            "file": (__import__("io").BytesIO(PDF), "../../compte rendu.exe"),
            "category": "medical",
            "visibility": "shared",
        },
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.json
    document = uploaded.json["document"]
    assert (document["filename"], document["content_type"]) == (
        "compte rendu.pdf",
        "application/pdf",
    )
    download = api.client.get(document["url"], headers=api.headers)
    assert download.status_code == 200
    assert download.data == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"].startswith("sandbox")
    photo = api.post(
        f"/dossiers/{dossier.id}/documents",
        data={
            "file": (__import__("io").BytesIO(JPEG), "IMG_0001.JPG"),
            "category": "autonomie",
            "visibility": "public",
        },
        content_type="multipart/form-data",
    )
    assert photo.status_code == 201


def test_every_read_is_audited(api_as, coordinator, dossier):
    api = api_as(coordinator)
    made = api.post(
        f"/dossiers/{dossier.id}/entries",
        json={"note": "x", "category": "social", "visibility": "public"},
    ).json
    AuditEvent.objects(dossier=str(dossier.id)).delete()
    api.get(f"/dossiers/{dossier.id}")
    api.get(f"/dossiers/{dossier.id}/entries")
    api.get(f"/dossiers/{dossier.id}/timeline")
    api.get(f"/entries/{made['id']}")
    actions = [e.action for e in AuditEvent.objects(dossier=str(dossier.id)).order_by("seq")]
    assert actions == ["dossier.read", "dossier.read", "dossier.read", "entry.read"]
    assert {e.actor for e in AuditEvent.objects(dossier=str(dossier.id))} == {str(coordinator.id)}


def test_an_oversized_upload_is_refused_by_the_api(api_as, coordinator, dossier):
    from test_dossiers_web import multipart

    api = api_as(coordinator)
    before = snapshot(DOSSIER_COLLECTIONS)
    fields = {"category": "social", "visibility": "public"}
    body, content_type = multipart(fields, "file", "gros.pdf", PDF + b"0" * (25 * 1024 * 1024))
    response = api.client.post(
        f"/api/v1/dossiers/{dossier.id}/documents",
        data=body,
        content_type=content_type,
        headers=api.headers,
    )
    assert response.status_code == 413
    assert response.json["error"]["message"] == "Le fichier dépasse la taille maximale de 20 Mio."
    assert snapshot(DOSSIER_COLLECTIONS) == before


def test_an_upload_without_category_or_file_is_refused(api_as, coordinator, dossier):
    api = api_as(coordinator)
    before = snapshot(DOSSIER_COLLECTIONS)
    missing = api.post(
        f"/dossiers/{dossier.id}/documents",
        data={"file": (io.BytesIO(PDF), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422
    assert set(missing.json["error"]["fields"]) == {"/category", "/visibility"}
    no_file = api.post(
        f"/dossiers/{dossier.id}/documents",
        data={"category": "social", "visibility": "public"},
        content_type="multipart/form-data",
    )
    assert no_file.status_code == 422
    assert "/file" in no_file.json["error"]["fields"]
    assert snapshot(DOSSIER_COLLECTIONS) == before


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd.pdf"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.pdf"),
        ("C:\\Users\\moi\\Bureau\\compte rendu.PDF", "compte rendu.pdf"),
        ("rapport\x00.html", "rapport.pdf"),
        ("...", "document.pdf"),
        ("", "document.pdf"),
        ("a" * 300 + ".pdf", "a" * 120 + ".pdf"),
        ('<script>"x"</script>.pdf', "script.pdf"),
    ],
)
def test_hostile_file_names_are_made_safe(name, expected):
    from app.dossiers.documents import safe_filename

    assert safe_filename(name, "pdf") == expected
