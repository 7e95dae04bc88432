"""The form library through the API: publish, versions, validation, and bad input."""

import json

import pytest
from helpers import snapshot

from app.formkit.models import Form, FormVersion

FORM_COLLECTIONS = ("forms", "form_versions", "audit_events")

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["motif", "gir"],
    "properties": {
        "motif": {
            "type": "string",
            "title": "Motif",
            "oneOf": [{"const": "sante", "title": "Santé"}, {"const": "autre", "title": "Autre"}],
        },
        "precision": {"type": "string", "title": "Précisez", "maxLength": 200},
        "gir": {"type": "integer", "title": "GIR", "minimum": 1, "maximum": 6},
        "date_visite": {"type": "string", "format": "date", "title": "Date de visite"},
        "courriel": {"type": "string", "format": "email", "maxLength": 254},
        "aidant": {"type": "boolean"},
        "aidant_nom": {"type": "string", "maxLength": 100},
        "actions": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["action"],
                "properties": {"action": {"type": "string", "maxLength": 200}},
            },
        },
    },
    "if": {"properties": {"motif": {"const": "autre"}}, "required": ["motif"]},
    "then": {"required": ["precision"]},
    "dependentRequired": {"aidant": ["aidant_nom"]},
}
UI = {
    "ui:order": ["motif", "precision", "gir"],
    "motif": {"ui:widget": "radio"},
    "actions": {"items": {"action": {"ui:widget": "textarea"}}},
}


def new_form(**changes):
    return {
        "key": "evaluation",
        "title": "Évaluation",
        "category": "medical",
        "schema": SCHEMA,
        "ui_schema": UI,
        **changes,
    }


@pytest.fixture
def apis(api_as, platform_admin, structure_admin, professional, make_user, other_structure):
    other_admin = make_user(other_structure, roles=["structure_admin"])
    return {
        "platform_admin": api_as(platform_admin),
        "structure_admin": api_as(structure_admin),
        "professional": api_as(professional),
        "other_admin": api_as(other_admin),
    }


@pytest.fixture
def published(apis):
    response = apis["platform_admin"].post("/forms", json=new_form())
    assert response.status_code == 201, response.json
    return response.json


def test_platform_admin_publishes_a_global_form(apis, published):
    assert published == {"key": "evaluation", "version": 1}
    body = apis["professional"].get("/forms/evaluation").json
    assert body["version"] == 1
    assert body["structure"] is None
    assert body["schema"] == SCHEMA  # "$schema" and all, kept exactly
    assert body["ui_schema"] == UI
    listed = apis["professional"].get("/forms").json["items"]
    assert [f["key"] for f in listed] == ["evaluation"]


def test_a_structure_admin_publishes_for_their_structure_only(apis, structure):
    mine = new_form(key="bilan_dac", structure=structure.key)
    assert apis["structure_admin"].post("/forms", json=mine).status_code == 201
    assert Form.objects.get(key="bilan_dac").owner == structure.id
    before = snapshot(FORM_COLLECTIONS)
    for who, body in [
        ("other_admin", {**mine, "key": "x_other"}),
        ("structure_admin", new_form(key="global_form")),
        ("professional", {**mine, "key": "x_pro"}),
    ]:
        response = apis[who].post("/forms", json=body)
        assert response.status_code == 403, (who, response.json)
    assert (
        apis["other_admin"].post("/forms/bilan_dac/versions", json={"schema": SCHEMA}).status_code
        == 403
    )
    assert snapshot(FORM_COLLECTIONS) == before


def test_new_versions_keep_the_old_ones_readable(apis, published):
    changed = {**SCHEMA, "required": ["motif"]}
    response = apis["platform_admin"].post("/forms/evaluation/versions", json={"schema": changed})
    assert response.json == {"key": "evaluation", "version": 2}
    assert apis["professional"].get("/forms/evaluation").json["schema"] == changed
    first = apis["professional"].get("/forms/evaluation?version=1").json
    assert first["version"] == 1
    assert first["schema"] == SCHEMA
    assert apis["professional"].get("/forms/evaluation?version=3").status_code == 404
    assert apis["professional"].get("/forms/evaluation?version=abc").status_code == 422


def test_duplicate_key_is_a_conflict(apis, published):
    before = snapshot(FORM_COLLECTIONS)
    response = apis["platform_admin"].post("/forms", json=new_form(title="Autre"))
    assert response.status_code == 409
    assert response.json["error"]["fields"] == {
        "/key": "Un formulaire existe déjà avec cet identifiant."
    }
    assert snapshot(FORM_COLLECTIONS) == before


def _deep(levels):
    node = {"type": "string"}
    for _ in range(levels):
        node = {"type": "object", "properties": {"child": node}}
    return node


@pytest.mark.parametrize(
    ("schema", "ui", "pointer", "message"),
    [
        (
            {"type": "object", "properties": {"a": {"type": "chaîne"}}},
            None,
            "/schema/properties/a/type",
            "Schéma JSON invalide",
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "https://example.org/s.json"}}},
            None,
            "/schema/properties/a/$ref",
            "références internes",
        ),
        (
            {"type": "object", "$defs": {"x": {"$ref": "file:///etc/passwd"}}},
            None,
            "/schema/$defs/x/$ref",
            "références internes",
        ),
        ({"type": "object", "$id": "https://evil.example/s"}, None, "/schema/$id", "externe"),
        ({"type": "array"}, None, "/schema/type", "racine"),
        (_deep(11), None, "/schema", "plus de 10 niveaux"),
        (
            SCHEMA,
            {"motif": {"ui:widget": "script"}},
            "/ui_schema/motif/ui:widget",
            "Type de champ inconnu",
        ),
        (SCHEMA, {"inconnu": {"ui:widget": "radio"}}, "/ui_schema/inconnu", "n'existe pas"),
        (SCHEMA, {"ui:order": ["motif", "nope"]}, "/ui_schema/ui:order", "nope"),
        (SCHEMA, {"ui:onload": "alert(1)"}, "/ui_schema/ui:onload", "inconnue"),
    ],
)
def test_unsafe_or_invalid_schemas_are_refused(apis, schema, ui, pointer, message):
    body = new_form(schema=schema, ui_schema=ui) if ui else new_form(schema=schema)
    if ui is None:
        body.pop("ui_schema")
    before = snapshot(FORM_COLLECTIONS)
    response = apis["platform_admin"].post("/forms", json=body)
    assert response.status_code == 422, response.json
    assert message in response.json["error"]["fields"][pointer]
    assert snapshot(FORM_COLLECTIONS) == before


def test_an_oversized_schema_is_refused(apis):
    big = {
        "type": "object",
        "properties": {f"champ_{i}": {"type": "string", "title": "x" * 300} for i in range(900)},
    }
    assert len(json.dumps(big)) > 256 * 1024
    response = apis["platform_admin"].post("/forms", json=new_form(schema=big, ui_schema={}))
    assert response.status_code == 422
    assert "256 Kio" in response.json["error"]["fields"]["/schema"]
    assert Form.objects.count() == 0


def test_a_published_version_cannot_be_changed_in_place(apis, published):
    version = FormVersion.objects.get(form="evaluation", version=1)
    assert (
        apis["platform_admin"].patch("/forms/evaluation", json={"schema": SCHEMA}).status_code
        == 405
    )
    assert FormVersion.objects.get(id=version.id).schema_json == version.schema_json


VALID = {
    "motif": "sante",
    "gir": 2,
    "date_visite": "2026-11-27",
    "actions": [{"action": "Portage de repas"}],
}


def test_valid_data(apis, published):
    response = apis["professional"].post("/forms/evaluation/validate", json={"data": VALID})
    assert response.status_code == 200
    assert response.json == {"valid": True}


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        (
            {},
            {"/data/gir": "Ce champ est obligatoire.", "/data/motif": "Ce champ est obligatoire."},
        ),
        ({**VALID, "gir": 9}, {"/data/gir": "La valeur doit être comprise entre 1 et 6."}),
        ({**VALID, "gir": "deux"}, {"/data/gir": "La valeur doit être un nombre entier."}),
        ({**VALID, "motif": "inconnu"}, {"/data/motif": "Choisissez une valeur de la liste."}),
        (
            {**VALID, "date_visite": "31/02/2026"},
            {"/data/date_visite": "Saisissez une date valide."},
        ),
        (
            {**VALID, "courriel": "pas-un-mail"},
            {"/data/courriel": "Saisissez une adresse e-mail valide."},
        ),
        ({**VALID, "motif": "autre"}, {"/data/precision": "Ce champ est obligatoire."}),
        ({**VALID, "aidant": True}, {"/data/aidant_nom": "Ce champ est obligatoire."}),
        (
            {**VALID, "precision": "x" * 10_000},
            {"/data/precision": "Saisissez au plus 200 caractères."},
        ),
        ({**VALID, "pirate": 1}, {"/data/pirate": "Ce champ n'est pas attendu."}),
        ({**VALID, "actions": [{}]}, {"/data/actions/0/action": "Ce champ est obligatoire."}),
    ],
)
def test_invalid_data_gets_french_messages_by_field(apis, published, data, fields):
    before = snapshot(FORM_COLLECTIONS)
    response = apis["professional"].post("/forms/evaluation/validate", json={"data": data})
    assert response.status_code == 422
    assert response.json["error"]["fields"] == fields
    assert snapshot(FORM_COLLECTIONS) == before


def test_html_in_text_is_just_text(apis, published):
    data = {**VALID, "motif": "autre", "precision": "<script>alert(1)</script>"}
    response = apis["professional"].post("/forms/evaluation/validate", json={"data": data})
    assert response.status_code == 200


def test_validation_of_an_older_version(apis, published):
    apis["platform_admin"].post(
        "/forms/evaluation/versions", json={"schema": {**SCHEMA, "required": ["motif"]}}
    )
    data = {"motif": "sante"}
    assert (
        apis["professional"].post("/forms/evaluation/validate", json={"data": data}).status_code
        == 200
    )
    assert (
        apis["professional"]
        .post("/forms/evaluation/validate?version=1", json={"data": data})
        .status_code
        == 422
    )


def test_unknown_form(apis):
    assert apis["professional"].get("/forms/nope").status_code == 404
    response = apis["professional"].post("/forms/nope/validate", json={"data": {}})
    assert response.status_code == 404


def test_an_incomplete_email_is_refused_with_its_message(apis, published):
    """jsonschema alone accepts any text with an "@"; the compiled validator does not."""
    data = {**VALID, "courriel": "anne.petit@"}
    response = apis["professional"].post("/forms/evaluation/validate", json={"data": data})
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {
        "/data/courriel": "Saisissez une adresse e-mail valide."
    }


def test_a_reserved_key_is_refused(apis):
    response = apis["platform_admin"].post("/forms", json=new_form(key="nouveau"))
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {
        "/key": "Cette valeur est réservée : choisissez-en une autre."
    }
    assert Form.objects.count() == 0
