"""Creating, editing as JSON, importing and exporting forms in the browser."""

import io
import json

import pytest
from helpers import html, snapshot

from app.formkit.models import Form, FormVersion

COLLECTIONS = ("forms", "form_versions", "audit_events")
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["nom"],
    "properties": {
        "nom": {"type": "string", "title": "Nom", "maxLength": 100},
        "suivi": {"type": "boolean", "title": "Suivi en cours"},
    },
}


@pytest.fixture
def manager(login_as, structure_admin):
    return login_as(structure_admin)


@pytest.fixture
def draft(manager, structure):
    response = manager.post(
        "/formulaires/nouveau",
        {
            "key": "bilan_social",
            "title": "Bilan social",
            "category": "social",
            "structure": structure.key,
        },
    )
    assert response.status_code == 302, html(response)
    assert response.headers["Location"] == "/formulaires/bilan_social/concevoir"
    return Form.objects.get(key="bilan_social")


def _edit(browser, schema, action="draft", ui=None, title="Bilan social"):
    text = schema if isinstance(schema, str) else json.dumps(schema)
    return browser.post(
        "/formulaires/bilan_social/modifier",
        {"title": title, "schema": text, "ui_schema": json.dumps(ui or {}), "action": action},
    )


def test_a_new_form_is_a_draft_of_its_structure(draft, structure):
    assert draft.owner == structure.id
    assert draft.latest_version == 0
    assert draft.has_draft
    assert FormVersion.objects.count() == 0


def test_save_a_draft_then_publish_versions(manager, draft, client):
    assert _edit(manager, SCHEMA).status_code == 302
    assert FormVersion.objects.count() == 0  # a draft publishes nothing
    page = html(manager.get("/formulaires/bilan_social/modifier"))
    assert "Brouillon non publié." in page
    assert 'for="apercu-nom"' in page  # the live preview renders the draft

    response = _edit(manager, SCHEMA, action="publish")
    assert response.headers["Location"] == "/formulaires/bilan_social"
    changed = {**SCHEMA, "required": ["nom", "suivi"]}
    _edit(manager, changed, action="publish", title="Bilan social v2")
    assert Form.objects.get(key="bilan_social").latest_version == 2
    assert not Form.objects.get(key="bilan_social").has_draft
    assert FormVersion.objects.get(form="bilan_social", version=1).schema == SCHEMA
    assert "Bilan social v2" in html(manager.get("/formulaires/bilan_social"))


def test_invalid_json_names_the_line(manager, draft):
    before = snapshot(COLLECTIONS)
    response = _edit(manager, '{\n  "type": "object",\n  oops\n}')
    assert response.status_code == 400
    assert "JSON invalide (ligne 3, colonne 3)." in html(response)
    assert snapshot(COLLECTIONS) == before


def test_publication_problems_are_listed_with_their_place(manager, draft):
    _edit(manager, SCHEMA)
    before = snapshot(COLLECTIONS)
    bad = {**SCHEMA, "properties": {"nom": {"type": "texte"}}}
    response = _edit(manager, bad, action="publish", ui={"nom": {"ui:widget": "magie"}})
    page = html(response)
    assert response.status_code == 400
    assert "Le formulaire ne peut pas être publié." in page
    assert "/schema/properties/nom/type" in page
    assert "/ui_schema/nom/ui:widget" in page
    assert FormVersion.objects.count() == 0
    # The draft keeps the work (saved), but nothing was published.
    assert snapshot(("form_versions",)) == {"form_versions": before["form_versions"]}


def test_export_then_import_gives_the_same_form(manager, draft, structure):
    _edit(manager, SCHEMA, action="publish")
    response = manager.get("/formulaires/bilan_social/export")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="bilan_social-v1.json"'
    exported = json.loads(response.get_data(as_text=True))
    assert exported["schema"] == SCHEMA
    assert exported["structure"] == structure.key

    upload = (io.BytesIO(json.dumps(exported).encode()), "bilan.json")
    response = manager.post(
        "/formulaires/nouveau",
        {"key": "bilan_copie", "structure": structure.key, "fichier": upload},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, html(response)
    copy = Form.objects.get(key="bilan_copie")
    assert copy.title == "Bilan social"
    assert json.loads(copy.draft_schema_json) == SCHEMA


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe pas du texte", "n&#39;est pas un formulaire JSON valide"),
        (b"[1, 2]", "doit contenir un objet avec"),
        (b"{" + b" " * (301 * 1024) + b"}", "dépasse 300 Kio"),
    ],
)
def test_bad_imports_are_refused(manager, structure, content, message):
    before = snapshot(COLLECTIONS)
    response = manager.post(
        "/formulaires/nouveau",
        {
            "key": "importe",
            "title": "Importé",
            "category": "social",
            "structure": structure.key,
            "fichier": (io.BytesIO(content), "f.json"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert message in html(response)
    assert snapshot(COLLECTIONS) == before


def test_others_cannot_create_or_edit(
    login_as, professional, make_user, other_structure, draft, structure
):
    other_admin = make_user(other_structure, roles=["structure_admin"])
    pro, other = login_as(professional), login_as(other_admin)
    before = snapshot(COLLECTIONS)
    assert pro.get("/formulaires/nouveau").status_code == 403
    assert (
        pro.post(
            "/formulaires/nouveau",
            {"key": "x_pro", "title": "X", "category": "social", "structure": structure.key},
        ).status_code
        == 403
    )
    assert other.get("/formulaires/bilan_social/modifier").status_code == 403
    assert _edit(other, SCHEMA, action="publish").status_code == 403
    # A structure admin cannot create a platform-wide form by emptying the owner.
    response = other.post(
        "/formulaires/nouveau", {"key": "x_global", "title": "X", "category": "social"}
    )
    assert response.status_code == 403
    assert snapshot(COLLECTIONS) == before


def test_editing_needs_the_csrf_token(manager, draft):
    before = snapshot(COLLECTIONS)
    response = manager.post(
        "/formulaires/bilan_social/modifier",
        {"title": "X", "schema": json.dumps(SCHEMA)},
        csrf=False,
    )
    assert response.status_code == 400
    assert snapshot(COLLECTIONS) == before


def test_the_platform_admin_creates_global_forms(login_as, platform_admin):
    admin = login_as(platform_admin)
    response = admin.post(
        "/formulaires/nouveau",
        {"key": "global_form", "title": "Global", "category": "administratif"},
    )
    assert response.status_code == 302
    assert Form.objects.get(key="global_form").owner is None
