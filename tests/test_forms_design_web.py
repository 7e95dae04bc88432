"""The field-by-field designer page: bad input, access, and what it writes."""

import pytest
from helpers import html, snapshot

from app.formkit.models import Form

COLLECTIONS = ("forms", "form_versions", "audit_events")


@pytest.fixture
def manager(login_as, structure_admin, structure):
    browser = login_as(structure_admin)
    response = browser.post(
        "/formulaires/nouveau",
        {"key": "bilan", "title": "Bilan", "category": "social", "structure": structure.key},
    )
    assert response.status_code == 302
    return browser


def _add(browser, **fields):
    return browser.post("/formulaires/bilan/concevoir", {"op": "add", **fields})


def test_adding_fields_builds_the_draft(manager):
    assert (
        _add(
            manager, type="integer", label="Âge", minimum="16", maximum="110", required="on"
        ).status_code
        == 302
    )
    assert _add(manager, type="radio", label="Motif", options="Santé\nAutre").status_code == 302
    form = Form.objects.get(key="bilan")
    assert '"age"' in form.draft_schema_json
    assert '"minimum":16' in form.draft_schema_json
    page = html(manager.get("/formulaires/bilan/concevoir"))
    assert "Âge" in page
    assert "obligatoire" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "text", "label": ""}, "Libellé"),
        ({"type": "integer", "label": "Âge", "minimum": "seize"}, "Saisissez un nombre."),
        ({"type": "radio", "label": "Motif", "options": "Seul"}, "choix"),
        ({"type": "inconnu", "label": "X"}, "type"),
        ({"type": "text", "label": "x" * 10_000}, "200"),
    ],
)
def test_bad_fields_are_refused_in_french(manager, fields, message):
    before = snapshot(COLLECTIONS)
    response = _add(manager, **fields)
    assert response.status_code == 400
    assert message.lower() in html(response).lower()
    assert snapshot(COLLECTIONS) == before


def test_unknown_operation(manager):
    response = manager.post("/formulaires/bilan/concevoir", {"op": "exec"})
    assert response.status_code == 400
    assert "Action inconnue." in html(response)


def test_conditions_need_fields_of_one_section(manager):
    _add(manager, type="section", label="Contact")
    _add(manager, type="text", label="Nom", container="contact")
    _add(manager, type="radio", label="Motif", options="Santé\nAutre")
    response = manager.post(
        "/formulaires/bilan/concevoir",
        {"op": "condition", "target": "contact/nom", "when": "motif", "equals": "Autre"},
    )
    assert response.status_code == 400
    assert "même section" in html(response)


def test_others_cannot_design(manager, login_as, professional, make_user, other_structure):
    other = login_as(make_user(other_structure, roles=["structure_admin"]))
    pro = login_as(professional)
    before = snapshot(COLLECTIONS)
    for browser in (other, pro):
        assert browser.get("/formulaires/bilan/concevoir").status_code == 403
        assert _add(browser, type="text", label="Intrus").status_code == 403
    assert snapshot(COLLECTIONS) == before


def test_publishing_an_empty_draft_is_refused_clearly(manager):
    response = manager.post("/formulaires/bilan/concevoir", {"op": "publish"})
    assert response.status_code == 400
    assert "Ajoutez au moins un champ avant de publier." in html(response)
    assert Form.objects.get(key="bilan").latest_version == 0


def test_the_last_field_can_be_removed_and_moves_keep_every_field(manager):
    _add(manager, type="text", label="Nom")
    _add(manager, type="date", label="Date")
    response = manager.post("/formulaires/bilan/concevoir", {"op": "up", "name": "date"})
    assert response.status_code == 302
    page = html(manager.get("/formulaires/bilan/concevoir"))
    assert page.index("Date</div>") < page.index("Nom</div>")
    for name in ("nom", "date"):
        response = manager.post("/formulaires/bilan/concevoir", {"op": "remove", "name": name})
        assert response.status_code == 302
    assert '"properties":{}' in Form.objects.get(key="bilan").draft_schema_json


def test_a_field_is_edited_in_place(manager):
    _add(manager, type="integer", label="Âge", minimum="16", maximum="110")
    _add(manager, type="radio", label="Motif", options="Santé\nAutre")
    page = html(manager.get("/formulaires/bilan/concevoir"))
    assert 'value="16"' in page
    assert "Santé\nAutre" in page
    response = manager.post(
        "/formulaires/bilan/concevoir",
        {
            "op": "update",
            "name": "age",
            "type": "integer",
            "label": "Âge de l'aidant",
            "minimum": "18",
            "maximum": "110",
            "required": "on",
            "help": "En années",
        },
    )
    assert response.status_code == 302, html(response)
    response = manager.post(
        "/formulaires/bilan/concevoir",
        {
            "op": "update",
            "name": "motif",
            "type": "radio",
            "label": "Motif",
            "options": "Santé\nAutre\nSocial",
        },
    )
    assert response.status_code == 302, html(response)
    schema = Form.objects.get(key="bilan").draft_schema_json
    assert '"title":"Âge de l\'aidant"' in schema
    assert '"minimum":18' in schema
    assert '"description":"En années"' in schema
    assert '"const":"social"' in schema
    assert '"const":"sante"' in schema  # unchanged options keep their values
    response = manager.post(
        "/formulaires/bilan/concevoir",
        {"op": "update", "name": "age", "type": "integer", "label": "", "minimum": "x"},
    )
    assert response.status_code == 400
