"""Dossiers in the browser (test client): create under consent, duplicates, the timeline,
notes, documents and forms, the circle of care, join requests, consent withdrawal."""

import io

import pytest
from dossier_helpers import ELF, HTML, IDENTITY, JPEG, PDF, docx, new_dossier, zip_bomb
from helpers import html, snapshot

from app.dossiers import circle, entries
from app.dossiers.models import Dossier, Entry, HabilitationMatrix
from app.reference import DEFAULT_HABILITATIONS

DOSSIER_COLLECTIONS = ("dossiers", "entries", "timeline", "documents.files", "join_requests")


def form(**overrides):
    data = {
        "structure": "dac-test",
        "birth_name": IDENTITY["birth_name"],
        "used_name": IDENTITY["used_name"],
        "first_names": IDENTITY["first_names"],
        "birth_date": IDENTITY["birth_date"],
        "sex": "F",
        "birth_place_code": "31555",
        "consent_mode": "oral",
        "consent_date": "2026-02-01",
        "phone": "05 61 00 00 00",
        "living_situation": "seul",
        "contact_name": "Paul Martin",
        "contact_relation": "fils",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def coord_web(login_as, coordinator):
    return login_as(coordinator)


@pytest.fixture
def gp(make_user, other_structure):
    return make_user(
        other_structure, email="gp@example.org", name="Dr Généraliste", profession="10"
    )


@pytest.fixture
def dossier(coordinator, structure):
    return new_dossier(coordinator, structure)


def test_create_a_dossier_with_consent_and_a_scanned_document(coord_web):
    page = coord_web.get("/dossiers/nouveau")
    assert page.status_code == 200
    assert "Consentement de la personne" in html(page)
    data = form(consent_file=(io.BytesIO(PDF), "consentement.pdf"))
    response = coord_web.post("/dossiers/nouveau", data, content_type="multipart/form-data")
    assert response.status_code == 302, html(response)
    dossier = Dossier.objects.get()
    assert dossier.contacts[0].name == "Paul Martin"
    assert dossier.living_situation == "seul"
    consent_entry = Entry.objects.get(id=dossier.consent.document)
    assert (consent_entry.category, consent_entry.content_type) == (
        "administratif",
        "application/pdf",
    )
    shown = html(coord_web.get(response.headers["Location"]))
    assert "MARTIN (né·e LEFÈBVRE) Jeanne Marie" in shown
    assert "Consentement recueilli (oral)" in shown
    assert "Document ajouté : Recueil du consentement" in shown


def test_the_consent_document_is_linked_only_for_who_may_open_it(
    coord_web, coordinator, make_user, structure, api_as, login_as
):
    """A home helper whose profession may not read administrative entries (the platform's
    matrix), and anyone once the scan is removed: neither the link nor its entry."""
    data = form(consent_file=(io.BytesIO(PDF), "consentement.pdf"))
    coord_web.post("/dossiers/nouveau", data, content_type="multipart/form-data")
    dossier = Dossier.objects.get()
    scan = str(dossier.consent.document)
    helper = make_user(structure, profession="aide_a_domicile")
    circle.add_member(
        coordinator, dossier, {"user": str(helper.id), "care_role": "aide_a_domicile"}
    )
    rules = {**DEFAULT_HABILITATIONS, "administratif": {"coordination": "write"}}
    HabilitationMatrix(id="matrix", rules=rules).save()
    url = f"/dossiers/{dossier.id}"
    assert api_as(coordinator).get(url).json["consent"]["document"] == scan
    assert scan in html(coord_web.get(f"{url}/consentement"))
    assert "document" not in api_as(helper).get(url).json["consent"]
    page = html(login_as(helper).get(f"{url}/consentement"))
    assert scan not in page
    assert "Recueil du consentement" not in page
    entries.delete_entry(coordinator, scan, {"reason": "Mauvais fichier"})
    assert "document" not in api_as(coordinator).get(url).json["consent"]
    assert scan not in html(coord_web.get(f"{url}/consentement"))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"consent_mode": None}, "consent_mode", "obligatoire"),
        ({"consent_date": None}, "consent_date", "obligatoire"),
        ({"birth_date": "2099-05-01"}, "birth_date", "futur"),
        ({"birth_date": "1850-05-01"}, "birth_date", "1900"),
        ({"ins": "185057800608492"}, "ins", "clé de contrôle"),
        ({"birth_place_code": "315"}, "birth_place_code", ""),
        ({"consent_file": (io.BytesIO(ELF), "consentement.pdf")}, "consent_file", "type"),
        ({"consent_file": (io.BytesIO(HTML), "consentement.pdf")}, "consent_file", "type"),
    ],
)
def test_invalid_creation_shows_french_errors_and_stores_nothing(coord_web, change, field, message):
    before = snapshot(DOSSIER_COLLECTIONS)
    response = coord_web.post(
        "/dossiers/nouveau", form(**change), content_type="multipart/form-data"
    )
    assert response.status_code == 400
    page = html(response)
    assert f'id="e-{field}"' in page
    assert message in page.split(f'id="e-{field}">')[1].split("</div>")[0]
    assert snapshot(DOSSIER_COLLECTIONS) == before


def test_a_probable_duplicate_is_announced_before_creation(coord_web, dossier):
    twin = form(birth_name="LEFEBVRE", used_name="", first_names="Marie-Jeanne")
    response = coord_web.post("/dossiers/nouveau", twin, content_type="multipart/form-data")
    assert response.status_code == 409
    page = html(response)
    assert "Ce dossier existe peut-être déjà" in page
    assert f"/dossiers/{dossier.id}/rejoindre" in page
    assert Dossier.objects.count() == 1
    confirmed = coord_web.post(
        "/dossiers/nouveau", {**twin, "confirm_new": "on"}, content_type="multipart/form-data"
    )
    assert confirmed.status_code == 302
    assert Dossier.objects.count() == 2


def test_only_coordinators_open_the_creation_page(login_as, professional):
    assert login_as(professional).get("/dossiers/nouveau").status_code == 403


def test_my_dossiers_lists_searches_and_sorts(coord_web, coordinator, structure):
    new_dossier(coordinator, structure)
    new_dossier(
        coordinator,
        structure,
        identity={"birth_name": "Abadie", "used_name": "", "first_names": "Louis", "sex": "M"},
    )
    page = html(coord_web.get("/dossiers/?sort=name"))
    assert page.index("ABADIE Louis") < page.index("MARTIN (né·e LEFÈBVRE)")
    filtered = html(coord_web.get("/dossiers/?q=lefeb"))
    assert "ABADIE" not in filtered
    assert "LEFÈBVRE" in filtered


def test_notes_photos_and_documents_reach_the_timeline(coord_web, dossier):
    note = coord_web.post(
        f"/dossiers/{dossier.id}/notes/nouvelle",
        {
            "title": "Visite",
            "note": "Chute sans gravité.",
            "category": "social",
            "visibility": "public",
        },
    )
    assert note.status_code == 302
    photo = coord_web.post(
        f"/dossiers/{dossier.id}/documents/nouveau",
        {
            "photo": (io.BytesIO(JPEG), "image.jpg"),
            "file": (io.BytesIO(b""), ""),
            "category": "autonomie",
            "visibility": "public",
            "title": "Escalier",
        },
        content_type="multipart/form-data",
    )
    assert photo.status_code == 302, html(photo)
    word = coord_web.post(
        f"/dossiers/{dossier.id}/documents/nouveau",
        {"file": (io.BytesIO(docx()), "plan.docx"), "category": "social", "visibility": "shared"},
        content_type="multipart/form-data",
    )
    assert word.status_code == 302
    page = html(coord_web.get(f"/dossiers/{dossier.id}"))
    assert "Note ajouté : Visite" in page
    assert "Chute sans gravité." in page
    assert "Document ajouté : Escalier" in page
    photo_entry = Entry.objects.get(title="Escalier")
    preview = coord_web.get(f"/entrees/{photo_entry.id}/apercu")
    assert preview.status_code == 200
    assert preview.headers["Content-Type"] == "image/jpeg"
    assert preview.headers["Content-Disposition"].startswith("inline")
    only_documents = html(coord_web.get(f"/dossiers/{dossier.id}?kind=document"))
    assert "Escalier" in only_documents
    assert "Chute sans gravité." not in only_documents
    word_entry = Entry.objects.get(filename="plan.docx")
    assert coord_web.get(f"/entrees/{word_entry.id}/apercu").status_code == 404
    download = coord_web.get(f"/entrees/{word_entry.id}/fichier")
    assert download.headers["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (ELF, "rapport.pdf", "type de fichier"),
        (HTML, "page.pdf", "type de fichier"),
        (b"", "vide.pdf", "Le fichier est vide."),
        (b"PK\x03\x04" + b"\x00" * 200, "faux.docx", "type de fichier"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(coord_web, dossier, content, name, message):
    before = snapshot(DOSSIER_COLLECTIONS)
    response = coord_web.post(
        f"/dossiers/{dossier.id}/documents/nouveau",
        {"file": (io.BytesIO(content), name), "category": "social", "visibility": "public"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert message in html(response)
    assert snapshot(DOSSIER_COLLECTIONS) == before


def multipart(fields, name, filename, content):
    """A multipart body built by hand: the test client would spool a big file to a temporary
    file that it never closes when the server refuses the request."""
    boundary = "----parcours-test"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
        f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_zip_bomb_and_an_oversized_file_are_refused(coord_web, dossier):
    before = snapshot(DOSSIER_COLLECTIONS)
    bomb = coord_web.post(
        f"/dossiers/{dossier.id}/documents/nouveau",
        {
            "file": (io.BytesIO(zip_bomb()), "bombe.docx"),
            "category": "social",
            "visibility": "public",
        },
        content_type="multipart/form-data",
    )
    assert bomb.status_code == 400
    assert "taille anormale" in html(bomb)
    fields = {"csrf_token": coord_web.csrf(), "category": "social", "visibility": "public"}
    body, content_type = multipart(fields, "file", "gros.pdf", PDF + b"0" * (25 * 1024 * 1024))
    big = coord_web.client.post(
        f"/dossiers/{dossier.id}/documents/nouveau", data=body, content_type=content_type
    )
    assert big.status_code == 413
    assert "20 Mio" in html(big)
    assert snapshot(DOSSIER_COLLECTIONS) == before


def test_filling_a_form_stores_an_entry(coord_web, dossier, app):
    from app.formkit.services import sync_directory

    sync_directory(app.root_path + "/../forms")
    page = coord_web.get(f"/dossiers/{dossier.id}/formulaires")
    assert "Évaluation multidimensionnelle" in html(page) or "valuation" in html(page)
    empty = coord_web.post(
        f"/dossiers/{dossier.id}/formulaires/evaluation_multidimensionnelle",
        {"visibility": "shared"},
    )
    assert empty.status_code == 400
    assert Entry.objects.count() == 0


def test_circle_of_care_through_the_pages(coord_web, dossier, gp, login_as):
    page = html(coord_web.get(f"/dossiers/{dossier.id}/cercle?q=generaliste"))
    assert "Dr Généraliste" in page
    added = coord_web.post(
        f"/dossiers/{dossier.id}/cercle/membres",
        {"user": str(gp.id), "care_role": "medecin_traitant"},
    )
    assert added.status_code == 302
    assert login_as(gp).get(f"/dossiers/{dossier.id}").status_code == 200
    unknown = coord_web.post(
        f"/dossiers/{dossier.id}/cercle/membres", {"user": str(gp.id), "care_role": "sorcier"}
    )
    assert unknown.status_code == 400
    refused = coord_web.post(f"/dossiers/{dossier.id}/cercle/refus", {"user": str(gp.id)})
    assert refused.status_code == 302
    assert login_as(gp).get(f"/dossiers/{dossier.id}").status_code == 404
    back = coord_web.post(
        f"/dossiers/{dossier.id}/cercle/membres",
        {"user": str(gp.id), "care_role": "medecin_traitant"},
    )
    assert back.status_code == 400
    assert "refusé ce professionnel" in html(back)
    without_account = coord_web.post(
        f"/dossiers/{dossier.id}/cercle/sans-compte",
        {
            "last_name": "Durand",
            "first_name": "Aline",
            "profession": "assistant_social",
            "care_role": "assistant_social",
        },
    )
    assert without_account.status_code == 302
    assert "Aline Durand" in html(coord_web.get(f"/dossiers/{dossier.id}/cercle"))


def test_join_request_through_the_pages(coord_web, dossier, gp, login_as):
    gp_web = login_as(gp)
    search = "/dossiers/recherche?birth_name=lefebvre&birth_date=1941-03-12"
    found = html(gp_web.get(search))
    assert "Demander à rejoindre" in found
    assert "05 61" not in found
    asked = gp_web.post(
        f"/dossiers/{dossier.id}/rejoindre",
        {"care_role": "medecin_traitant", "message": "Médecin traitant"},
    )
    assert asked.status_code == 302
    assert "Demande envoyée" in html(gp_web.get(search))
    circle = html(coord_web.get(f"/dossiers/{dossier.id}/cercle"))
    assert "Médecin traitant" in circle
    request_id = circle.split("/cercle/demandes/")[1].split('"')[0]
    accepted = coord_web.post(
        f"/dossiers/{dossier.id}/cercle/demandes/{request_id}", {"decision": "accept"}
    )
    assert accepted.status_code == 302
    assert gp_web.get(f"/dossiers/{dossier.id}").status_code == 200


def test_withdrawing_consent_through_the_page(coord_web, dossier):
    empty = coord_web.post(f"/dossiers/{dossier.id}/consentement", {"date": "2026-03-01"})
    assert empty.status_code == 400
    done = coord_web.post(
        f"/dossiers/{dossier.id}/consentement",
        {"date": "2026-03-01", "reason": "Refus de l'accompagnement"},
    )
    assert done.status_code == 302
    page = html(coord_web.get(f"/dossiers/{dossier.id}"))
    assert "le partage est arrêté" in page
    assert "Ajouter une note" not in page


def test_editing_a_note_keeps_the_previous_version(coord_web, dossier):
    coord_web.post(
        f"/dossiers/{dossier.id}/notes/nouvelle",
        {"note": "Premier jet", "category": "social", "visibility": "public"},
    )
    entry = Entry.objects.get()
    edited = coord_web.post(
        f"/entrees/{entry.id}/modifier",
        {"note": "Texte corrigé", "visibility": "public", "version": "1"},
    )
    assert edited.status_code == 302
    page = html(coord_web.get(f"/entrees/{entry.id}"))
    assert "Texte corrigé" in page
    assert "Premier jet" in page
    assert "Version 1" in page
    stale = coord_web.post(
        f"/entrees/{entry.id}/modifier", {"note": "Autre", "visibility": "public", "version": "1"}
    )
    assert stale.status_code == 409
    removed = coord_web.post(f"/entrees/{entry.id}/supprimer", {"reason": "erreur"})
    assert removed.status_code == 302
    assert coord_web.get(f"/entrees/{entry.id}").status_code == 404


def test_the_platform_admin_edits_the_habilitation_matrix(
    login_as, platform_admin, coordinator, dossier, api_as
):
    admin = login_as(platform_admin)
    page = html(admin.get("/admin/habilitations"))
    assert 'name="medical.aide_domicile"' in page
    api = api_as(coordinator)
    note = {"note": "x", "category": "psychologique", "visibility": "public"}
    assert api.post(f"/dossiers/{dossier.id}/entries", json=note).status_code == 403
    assert (
        admin.post("/admin/habilitations", {"psychologique.coordination": "write"}).status_code
        == 302
    )
    assert api.post(f"/dossiers/{dossier.id}/entries", json=note).status_code == 201
    assert login_as(coordinator).get("/admin/habilitations").status_code == 403


def test_the_coordinator_names_a_referent_who_then_manages_the_circle(
    coord_web, dossier, gp, login_as
):
    coord_web.post(
        f"/dossiers/{dossier.id}/cercle/membres",
        {"user": str(gp.id), "care_role": "medecin_traitant"},
    )
    gp_web = login_as(gp)
    assert (
        gp_web.post(f"/dossiers/{dossier.id}/cercle/refus", {"user": str(gp.id)}).status_code == 403
    )
    named = coord_web.post(f"/dossiers/{dossier.id}/cercle/referent", {"user": str(gp.id)})
    assert named.status_code == 302
    assert "Dr Généraliste est maintenant le référent" in html(
        coord_web.get(named.headers["Location"])
    )
    page = html(gp_web.get(f"/dossiers/{dossier.id}/cercle"))
    assert "Ajouter un membre" in page
    outsider = coord_web.post(f"/dossiers/{dossier.id}/cercle/referent", {"user": "0" * 24})
    assert outsider.status_code == 400
    assert "Le référent doit être membre du cercle de soins." in html(outsider)
