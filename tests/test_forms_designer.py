"""The pure operations of the field-by-field form designer (app/formkit/designer.py).

Every result must be publishable (check_form_schema) and drawable (render_form); the inputs are
never changed; bad inputs give French messages at pointers into the operation's arguments.
"""

import contextlib
import copy
import itertools

import pytest

from app.formkit import designer, fields
from app.formkit.render import render_form
from app.formkit.schema import check_form_schema, validate_data
from app.validation import InvalidInput

STARTER = {"type": "object", "additionalProperties": False, "properties": {}, "required": []}
OPTIONS = {"choice": ["Domicile", "EHPAD", "Autre"], "radio": ["Oui", "Non", "Autre"]}
OPTIONS["checkboxes"] = ["Soins infirmiers", "Kinésithérapie", "Autre"]
_versions = itertools.count(1)


def valid(schema, ui):
    """A designer result: publishable, drawable, and returned for chaining."""
    check_form_schema(schema, ui)
    render_form(schema, ui)
    return schema, ui


def validate(schema, data):
    # validate_data caches validators by (key, version): each schema gets its own version.
    return validate_data("designer-test", next(_versions), schema, data)


def errors_of(call, *args):
    with pytest.raises(InvalidInput) as raised:
        call(*args)
    return raised.value.fields


def spec_for(kind, label=None, **more):
    spec = {"type": kind, "label": label or designer.FIELD_TYPES[kind]}
    if kind in designer.CHOICES:
        spec["options"] = OPTIONS[kind]
    return {**spec, **more}


def nested():
    """A form with a section "sante" and a group "actions", each holding a text field."""
    schema, ui, _ = designer.add_field(STARTER, {}, [], spec_for("section", "Santé"))
    schema, ui, _ = designer.add_field(schema, ui, [], spec_for("group", "Actions"))
    schema, ui, _ = designer.add_field(schema, ui, ["sante"], spec_for("text", "Douleur"))
    schema, ui, _ = designer.add_field(schema, ui, ["actions"], spec_for("text", "Action"))
    return valid(schema, ui)


def container(schema, path):
    node = schema
    for name in path:
        node = node["properties"][name]
        node = node["items"] if node["type"] == "array" else node
    return node


def container_ui(ui, path):
    node = ui
    for name, kind in path:
        node = node[name]["items"] if kind == "group" else node[name]
    return node


# --- Adding each type --------------------------------------------------------------------------

EXPECTED = {
    "text": ({"type": "string", "maxLength": 200}, None),
    "textarea": ({"type": "string", "maxLength": 5000}, "textarea"),
    "number": ({"type": "number"}, None),
    "integer": ({"type": "integer"}, None),
    "date": ({"type": "string", "format": "date"}, None),
    "boolean": ({"type": "boolean"}, None),
    "choice": (
        {
            "type": "string",
            "oneOf": [
                {"const": "domicile", "title": "Domicile"},
                {"const": "ehpad", "title": "EHPAD"},
                {"const": "autre", "title": "Autre"},
            ],
        },
        "select",
    ),
    "radio": (
        {
            "type": "string",
            "oneOf": [
                {"const": "oui", "title": "Oui"},
                {"const": "non", "title": "Non"},
                {"const": "autre", "title": "Autre"},
            ],
        },
        "radio",
    ),
    "checkboxes": (
        {
            "type": "array",
            "items": {
                "type": "string",
                "oneOf": [
                    {"const": "soins_infirmiers", "title": "Soins infirmiers"},
                    {"const": "kinesitherapie", "title": "Kinésithérapie"},
                    {"const": "autre", "title": "Autre"},
                ],
            },
            "uniqueItems": True,
        },
        "checkboxes",
    ),
    "email": ({"type": "string", "format": "email", "maxLength": 254}, None),
    "tel": ({"type": "string", "maxLength": 20, "pattern": "^[0-9+ ().-]{6,20}$"}, "tel"),
    "file": ({"type": "string", "contentMediaType": "application/octet-stream"}, "file"),
    "section": (
        {"type": "object", "additionalProperties": False, "properties": {}, "required": []},
        None,
    ),
    "group": (
        {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {},
                "required": [],
            },
        },
        None,
    ),
}


def test_field_types_are_listed_in_french_in_order():
    assert list(designer.FIELD_TYPES) == list(EXPECTED)
    assert designer.FIELD_TYPES["boolean"] == "Oui / non"
    assert designer.FIELD_TYPES["group"] == "Groupe répétable"


@pytest.mark.parametrize("kind", list(EXPECTED))
@pytest.mark.parametrize("where", ["root", "section", "group"])
def test_each_type_is_added_with_the_conventions_of_the_shipped_forms(kind, where):
    schema, ui = nested()
    path, ui_path = {
        "root": ([], []),
        "section": (["sante"], [("sante", "section")]),
        "group": (["actions"], [("actions", "group")]),
    }[where]
    label = designer.FIELD_TYPES[kind]
    schema, ui, first = designer.add_field(schema, ui, path, spec_for(kind))
    assert first == fields.slugify(label)
    schema, ui, name = designer.add_field(
        schema, ui, path, spec_for(kind, help="Une aide.", name="nouveau")
    )
    valid(schema, ui)
    expected, widget = EXPECTED[kind]
    field = container(schema, path)["properties"][name]
    assert field == {**expected, "title": label, "description": "Une aide."}
    assert list(field)[:2] == ["type", "title"]
    box_ui = container_ui(ui, ui_path)
    assert box_ui["ui:order"][-1] == "nouveau"
    assert box_ui["ui:order"] == list(container(schema, path)["properties"])
    assert box_ui.get(name, {}).get("ui:widget") == widget
    if kind == "section":
        assert box_ui[name] == {"ui:order": []}
    if kind == "group":
        assert box_ui[name] == {"items": {"ui:order": []}}
    row = next(r for r in designer.describe(schema, ui) if r["name"] == name)
    assert row["type"] == kind
    assert row["path"] == path


def test_fields_go_inside_nested_sections_and_groups():
    schema, ui = nested()
    schema, ui, _ = designer.add_field(schema, ui, ["sante"], spec_for("group", "Traitements"))
    schema, ui, name = designer.add_field(
        schema, ui, ["sante", "traitements"], spec_for("date", "Début", required=True)
    )
    valid(schema, ui)
    rows = schema["properties"]["sante"]["properties"]["traitements"]["items"]
    assert rows["required"] == ["debut"]
    assert ui["sante"]["traitements"]["items"]["ui:order"] == ["debut"]
    validate(schema, {"sante": {"traitements": [{"debut": "2024-05-02"}]}})
    with pytest.raises(InvalidInput) as raised:
        validate(schema, {"sante": {"traitements": [{}]}})
    assert raised.value.fields == {"/sante/traitements/0/debut": "Ce champ est obligatoire."}


def test_group_max_items_and_number_bounds():
    schema, ui, _ = designer.add_field(STARTER, {}, [], spec_for("group", "Actions", max_items=3))
    assert schema["properties"]["actions"]["maxItems"] == 3
    spec = spec_for("integer", "Âge", minimum=0, maximum=120, placeholder="En années")
    schema, ui, _ = designer.add_field(schema, ui, [], spec)
    valid(schema, ui)
    assert schema["properties"]["age"] == {
        "type": "integer",
        "title": "Âge",
        "minimum": 0,
        "maximum": 120,
    }
    assert ui["age"] == {"ui:placeholder": "En années"}


def test_a_text_keeps_its_chosen_max_length():
    schema, ui, _ = designer.add_field(STARTER, {}, [], spec_for("text", "Nom", max_length=80))
    assert schema["properties"]["nom"]["maxLength"] == 80


# --- Names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("Date de visite", "date_de_visite"),
        ("Été", "ete"),
        ("  Cœur : fréquence (bpm) ", "coeur_frequence_bpm"),
        ("2e visite", "champ_2e_visite"),
        ("<script>alert(1)</script>", "script_alert_1_script"),
        ("???", "champ"),
        (
            "Une très longue question posée à la personne accompagnée",
            "une_tres_longue_question_posee_a_la_pers",
        ),
    ],
)
def test_names_are_slugs_of_the_labels(label, name):
    _, _, found = designer.add_field(STARTER, {}, [], spec_for("text", label))
    assert found == name
    assert len(found) <= 40


def test_names_are_unique_among_siblings_only():
    schema, ui, first = designer.add_field(STARTER, {}, [], spec_for("text", "Nom"))
    schema, ui, second = designer.add_field(schema, ui, [], spec_for("text", "Nom"))
    schema, ui, third = designer.add_field(schema, ui, [], spec_for("text", "nom"))
    assert (first, second, third) == ("nom", "nom_2", "nom_3")
    schema, ui, _ = designer.add_field(schema, ui, [], spec_for("section", "Proche"))
    schema, ui, inside = designer.add_field(schema, ui, ["proche"], spec_for("text", "Nom"))
    assert inside == "nom"
    valid(schema, ui)


def test_long_names_stay_within_40_characters_when_numbered():
    label = "x" * 60
    schema, ui, first = designer.add_field(STARTER, {}, [], spec_for("text", label))
    schema, ui, second = designer.add_field(schema, ui, [], spec_for("text", label))
    assert first == "x" * 40
    assert second == "x" * 38 + "_2"


def test_an_explicit_name_must_be_a_free_slug():
    schema, ui, _ = designer.add_field(STARTER, {}, [], spec_for("text", "Nom"))
    for bad in ("Nom", "1abc", "a-b", "é", "", "x" * 41, 12):
        problems = errors_of(designer.add_field, schema, ui, [], spec_for("text", "A", name=bad))
        assert "/name" in problems
    problems = errors_of(designer.add_field, schema, ui, [], spec_for("text", "A", name="nom"))
    assert problems == {"/name": "Le nom « nom » est déjà utilisé à cet endroit."}


# --- Required and defaults ---------------------------------------------------------------------


def test_required_fields_are_listed_and_enforced():
    schema, ui, _ = designer.add_field(STARTER, {}, [], spec_for("text", "Nom", required=True))
    schema, ui, _ = designer.add_field(schema, ui, [], spec_for("boolean", "Accord"))
    valid(schema, ui)
    assert schema["required"] == ["nom"]
    with pytest.raises(InvalidInput) as raised:
        validate(schema, {})
    assert raised.value.fields == {"/nom": "Ce champ est obligatoire."}
    schema, ui = valid(*designer.update_field(schema, ui, [], "nom", {"required": False}))
    assert schema["required"] == []
    validate(schema, {})


@pytest.mark.parametrize(
    ("kind", "default"),
    [
        ("text", "Bonjour"),
        ("number", 1.5),
        ("integer", 3),
        ("date", "2024-05-02"),
        ("boolean", False),
        ("choice", "ehpad"),
        ("radio", "autre"),
        ("checkboxes", ["autre", "kinesitherapie"]),
        ("email", "a@exemple.fr"),
        ("tel", "01 23 45 67 89"),
    ],
)
def test_valid_defaults_are_kept_and_prefill_the_form(kind, default):
    schema, ui, name = designer.add_field(STARTER, {}, [], spec_for(kind, "Champ", default=default))
    valid(schema, ui)
    assert schema["properties"][name]["default"] == default


@pytest.mark.parametrize(
    ("kind", "default"),
    [
        ("text", 12),
        ("text", "x" * 201),
        ("number", "1,5"),
        ("number", float("nan")),
        ("integer", 1.5),
        ("integer", True),
        ("date", "02/05/2024"),
        ("boolean", "oui"),
        ("choice", "inconnu"),
        ("checkboxes", ["autre", "autre"]),
        ("checkboxes", "autre"),
        ("email", "pas une adresse"),
        ("tel", "abc"),
    ],
)
def test_invalid_defaults_are_refused(kind, default):
    spec = spec_for(kind, "Champ", default=default)
    problems = errors_of(designer.add_field, STARTER, {}, [], spec)
    assert problems == {"/default": "La valeur par défaut ne convient pas à ce champ."}


def test_defaults_follow_the_bounds_and_can_be_cleared():
    spec = spec_for("integer", "Âge", minimum=0, maximum=120, default=150)
    assert errors_of(designer.add_field, STARTER, {}, [], spec) == {
        "/default": "La valeur par défaut ne convient pas à ce champ."
    }
    spec["default"] = 80
    schema, ui, _ = designer.add_field(STARTER, {}, [], spec)
    problems = errors_of(designer.update_field, schema, ui, [], "age", {"maximum": 60})
    assert "/default" in problems
    schema, ui = designer.update_field(schema, ui, [], "age", {"maximum": 60, "default": None})
    assert "default" not in valid(schema, ui)[0]["properties"]["age"]


# --- Options -----------------------------------------------------------------------------------


def test_option_values_stay_stable_when_options_change():
    spec = spec_for("choice", "Destination", options=["Domicile", "EHPAD", "Autre"])
    schema, ui, _ = designer.add_field(STARTER, {}, [], spec)
    schema["properties"]["destination"]["oneOf"][1]["const"] = "etab"  # as a JSON edit might
    options = ["Autre", "Établissement de santé", "EHPAD", "Domicile"]
    new, new_ui = valid(*designer.update_field(schema, ui, [], "destination", {"options": options}))
    assert new["properties"]["destination"]["oneOf"] == [
        {"const": "autre", "title": "Autre"},
        {"const": "etablissement_de_sante", "title": "Établissement de santé"},
        {"const": "etab", "title": "EHPAD"},
        {"const": "domicile", "title": "Domicile"},
    ]
    assert new_ui == ui


def test_checkbox_options_are_updated_in_items():
    schema, ui, name = designer.add_field(STARTER, {}, [], spec_for("checkboxes", "Aides"))
    options = ["Autre", "Portage de repas"]
    schema, ui = valid(*designer.update_field(schema, ui, [], name, {"options": options}))
    assert schema["properties"][name]["items"]["oneOf"] == [
        {"const": "autre", "title": "Autre"},
        {"const": "portage_de_repas", "title": "Portage de repas"},
    ]


@pytest.mark.parametrize(
    ("options", "pointer", "message"),
    [
        (None, "/options", "Donnez au moins 2 options."),
        (["Seule"], "/options", "Donnez au moins 2 options."),
        ("Oui, Non", "/options", "Donnez au moins 2 options."),
        ([f"Option {i}" for i in range(101)], "/options", "Donnez au plus 100 options."),
        (["Oui", "  "], "/options/1", "Cette option est vide."),
        (
            ["Oui", "!!!"],
            "/options/1",
            "Une option doit contenir au moins une lettre ou un chiffre.",
        ),
        (["Été", "Ete"], "/options/1", "Cette option est en double."),
        (["Oui", "Non", "oui"], "/options/2", "Cette option est en double."),
        (["Oui", 3], "/options/1", "Saisissez un texte."),
        (["Oui", "x" * 201], "/options/1", "Saisissez au plus 200 caractères."),
    ],
)
def test_bad_options_are_refused(options, pointer, message):
    for kind in designer.CHOICES:
        spec = spec_for(kind, "Choix", options=options)
        assert errors_of(designer.add_field, STARTER, {}, [], spec) == {pointer: message}


def test_choices_need_options():
    spec = {"type": "radio", "label": "Choix"}
    assert errors_of(designer.add_field, STARTER, {}, [], spec) == {
        "/options": "Donnez au moins 2 options."
    }


# --- Update ------------------------------------------------------------------------------------


def test_update_changes_label_help_placeholder_and_bounds():
    schema, ui, _ = designer.add_field(STARTER, {}, [], spec_for("number", "Poids", help="En kg"))
    original = copy.deepcopy((schema, ui))
    spec = {"label": "Poids (kg)", "help": None, "placeholder": "72,5", "minimum": 0}
    new, new_ui = valid(*designer.update_field(schema, ui, [], "poids", spec))
    assert new["properties"]["poids"] == {"type": "number", "title": "Poids (kg)", "minimum": 0}
    assert new_ui["poids"] == {"ui:placeholder": "72,5"}
    assert (schema, ui) == original
    new, new_ui = valid(*designer.update_field(new, new_ui, [], "poids", {"placeholder": None}))
    assert "poids" not in new_ui


def test_update_refuses_a_type_or_name_change():
    schema, ui, _ = designer.add_field(STARTER, {}, [], spec_for("text", "Nom"))
    assert errors_of(designer.update_field, schema, ui, [], "nom", {"type": "textarea"}) == {
        "/type": "Le type d'un champ ne change pas : supprimez-le puis ajoutez-en un autre."
    }
    assert "/name" in errors_of(designer.update_field, schema, ui, [], "nom", {"name": "x"})
    assert "/name" in errors_of(designer.update_field, schema, ui, [], "absent", {})
    valid(*designer.update_field(schema, ui, [], "nom", {"type": "text", "name": "nom"}))


def test_update_works_on_a_shipped_form():
    import json
    from pathlib import Path

    definition = json.loads((Path(__file__).parent.parent / "forms" / "ppcs.json").read_text())
    schema, ui = definition["schema"], definition["ui_schema"]
    spec = {"options": ["À faire", "En cours", "Réalisé", "Abandonné"]}
    new, new_ui = valid(*designer.update_field(schema, ui, ["actions"], "statut", spec))
    statut = new["properties"]["actions"]["items"]["properties"]["statut"]
    assert [c["const"] for c in statut["oneOf"]] == ["a_faire", "en_cours", "realise", "abandonne"]
    assert statut["default"] == "a_faire"
    rows = designer.describe(new, new_ui)
    assert [r["name"] for r in rows if r["depth"] == 0] == ui["ui:order"]
    reserves = next(r for r in rows if r["name"] == "reserves")
    assert reserves["conditional"] == {"field": "accord_personne", "equals": False}
    new, new_ui = valid(*designer.remove_field(new, new_ui, ["actions"], "echeance"))
    assert "dependentRequired" not in new["properties"]["actions"]["items"]
    new, new_ui = valid(*designer.remove_field(new, new_ui, [], "accord_personne"))
    assert "if" not in new
    assert "then" not in new


# --- Move and remove ---------------------------------------------------------------------------


def test_move_up_and_down_reorders_ui_order():
    schema, ui = STARTER, {}
    for label in ("A", "B", "C"):
        schema, ui, _ = designer.add_field(schema, ui, [], spec_for("text", label))
    schema, ui = valid(*designer.move_field(schema, ui, [], "c", "up"))
    assert ui["ui:order"] == ["a", "c", "b"]
    schema, ui = valid(*designer.move_field(schema, ui, [], "a", "down"))
    assert ui["ui:order"] == ["c", "a", "b"]
    schema, ui = valid(*designer.move_field(schema, ui, [], "c", "up"))  # already first
    assert ui["ui:order"] == ["c", "a", "b"]
    schema, ui = valid(*designer.move_field(schema, ui, [], "b", "down"))
    assert ui["ui:order"] == ["c", "a", "b"]
    assert errors_of(designer.move_field, schema, ui, [], "b", "left") == {
        "/direction": "Le sens doit être « up » ou « down »."
    }


def test_move_starts_from_the_properties_order_when_ui_order_is_missing_or_partial():
    schema, ui = STARTER, {}
    for label in ("A", "B", "C"):
        schema, ui, _ = designer.add_field(schema, ui, [], spec_for("text", label))
    _, new_ui = designer.move_field(schema, {}, [], "b", "up")
    assert new_ui["ui:order"] == ["b", "a", "c"]
    _, new_ui = designer.move_field(schema, {"ui:order": ["c"]}, [], "a", "down")
    assert new_ui["ui:order"] == ["c", "b", "a"]


def test_move_inside_a_group():
    schema, ui = nested()
    schema, ui, _ = designer.add_field(schema, ui, ["actions"], spec_for("date", "Échéance"))
    schema, ui = valid(*designer.move_field(schema, ui, ["actions"], "echeance", "up"))
    assert ui["actions"]["items"]["ui:order"] == ["echeance", "action"]


def test_remove_cleans_required_ui_and_conditions():
    schema, ui, _ = designer.add_field(STARTER, {}, [], spec_for("radio", "Destination"))
    schema, ui, _ = designer.add_field(schema, ui, [], spec_for("text", "Précision"))
    schema, ui, _ = designer.add_field(
        schema, ui, [], spec_for("tel", "Téléphone", required=True, placeholder="01 23 45 67 89")
    )
    schema, ui = designer.set_condition(schema, ui, [], "precision", "destination", "autre")
    schema["dependentRequired"] = {"telephone": ["precision"], "destination": ["telephone"]}
    valid(schema, ui)

    new, new_ui = valid(*designer.remove_field(schema, ui, [], "telephone"))
    assert "telephone" not in new["properties"]
    assert new["required"] == []
    assert "telephone" not in new_ui
    assert new_ui["ui:order"] == ["destination", "precision"]
    assert "dependentRequired" not in new
    assert new["allOf"] == schema["allOf"]

    new, new_ui = valid(*designer.remove_field(schema, ui, [], "destination"))
    assert "allOf" not in new
    assert new["dependentRequired"] == {"telephone": ["precision"]}
    assert new_ui["ui:order"] == ["precision", "telephone"]

    new, new_ui = valid(*designer.remove_field(schema, ui, [], "precision"))
    assert "allOf" not in new
    assert new["dependentRequired"] == {"destination": ["telephone"]}


def test_remove_a_section_with_its_fields():
    schema, ui = nested()
    schema, ui = valid(*designer.remove_field(schema, ui, [], "sante"))
    assert list(schema["properties"]) == ["actions"]
    assert set(ui) == {"ui:order", "actions"}


# --- Conditions --------------------------------------------------------------------------------


def conditional_form(kind):
    schema, ui, when = designer.add_field(STARTER, {}, [], spec_for(kind, "Destination"))
    schema, ui, target = designer.add_field(schema, ui, [], spec_for("text", "Précision"))
    return schema, ui, when, target


@pytest.mark.parametrize(
    ("kind", "equals", "met", "not_met", "test"),
    [
        ("choice", "autre", "autre", "ehpad", {"const": "autre"}),
        ("radio", "autre", "autre", "oui", {"const": "autre"}),
        ("checkboxes", "autre", ["kinesitherapie", "autre"], ["kinesitherapie"], None),
        ("boolean", False, False, True, {"const": False}),
    ],
)
def test_a_condition_shows_and_requires_its_target(kind, equals, met, not_met, test):
    schema, ui, when, target = conditional_form(kind)
    schema, ui = valid(*designer.set_condition(schema, ui, [], target, when, equals))
    assert schema["allOf"] == [
        {
            "if": {
                "properties": {when: test or {"contains": {"const": "autre"}}},
                "required": [when],
            },
            "then": {"required": [target]},
        }
    ]
    assert "data-show-when" in str(render_form(schema, ui))
    with pytest.raises(InvalidInput) as raised:
        validate(schema, {when: met})
    assert raised.value.fields == {f"/{target}": "Ce champ est obligatoire."}
    validate(schema, {when: met, target: "Chez sa fille"})
    validate(schema, {when: not_met})
    validate(schema, {})
    row = next(r for r in designer.describe(schema, ui) if r["name"] == target)
    assert row["conditional"] == {"field": when, "equals": equals}
    assert row["required"] is False


def test_a_condition_replaces_the_previous_one_and_the_plain_requirement():
    schema, ui, when, target = conditional_form("radio")
    schema, ui = designer.update_field(schema, ui, [], target, {"required": True})
    schema, ui = designer.set_condition(schema, ui, [], target, when, "autre")
    assert target not in schema["required"]
    schema, ui = valid(*designer.set_condition(schema, ui, [], target, when, "non"))
    assert len(schema["allOf"]) == 1
    assert schema["allOf"][0]["if"]["properties"] == {when: {"const": "non"}}
    assert errors_of(designer.update_field, schema, ui, [], target, {"required": True}) == {
        "/required": "Ce champ est obligatoire sous condition : retirez d'abord la condition."
    }
    schema, ui = valid(*designer.remove_condition(schema, ui, [], target))
    assert "allOf" not in schema
    validate(schema, {when: "non"})
    assert errors_of(designer.remove_condition, schema, ui, [], target) == {
        "/target": "Ce champ n'a pas de condition."
    }


def test_conditions_inside_a_group():
    schema, ui = nested()
    schema, ui, _ = designer.add_field(schema, ui, ["actions"], spec_for("boolean", "Urgent"))
    schema, ui = valid(*designer.set_condition(schema, ui, ["actions"], "action", "urgent", True))
    with pytest.raises(InvalidInput) as raised:
        validate(schema, {"actions": [{"urgent": False}, {"urgent": True}]})
    assert raised.value.fields == {"/actions/1/action": "Ce champ est obligatoire."}


def test_bad_conditions_are_refused():
    schema, ui, when, target = conditional_form("radio")
    schema, ui, _ = designer.add_field(schema, ui, [], spec_for("date", "Date"))
    cases = [
        (("absent", when, "autre"), {"/target": "Ce champ n'existe pas : absent."}),
        ((target, "absent", "autre"), {"/when_field": "Ce champ n'existe pas : absent."}),
        ((when, when, "autre"), {"/when_field": "Un champ ne peut pas dépendre de lui-même."}),
        ((target, when, "inconnu"), {"/equals": "Choisissez une des options de ce champ."}),
        ((target, when, True), {"/equals": "Choisissez une des options de ce champ."}),
        (
            (target, "date", "2024-01-01"),
            {"/when_field": "Une condition porte sur un choix ou sur un champ Oui / non."},
        ),
    ]
    for args, expected in cases:
        assert errors_of(designer.set_condition, schema, ui, [], *args) == expected
    schema, ui, _ = designer.add_field(schema, ui, [], spec_for("boolean", "Accord"))
    assert errors_of(designer.set_condition, schema, ui, [], target, "accord", "oui") == {
        "/equals": "Choisissez Oui (true) ou Non (false)."
    }


def test_conditions_may_not_loop():
    schema, ui, _ = designer.add_field(STARTER, {}, [], spec_for("boolean", "A"))
    schema, ui, _ = designer.add_field(schema, ui, [], spec_for("boolean", "B"))
    schema, ui = designer.set_condition(schema, ui, [], "b", "a", True)
    assert errors_of(designer.set_condition, schema, ui, [], "a", "b", True) == {
        "/when_field": "Ces champs dépendraient l'un de l'autre."
    }


def test_an_option_used_by_a_condition_cannot_disappear():
    schema, ui, when, target = conditional_form("choice")
    schema, ui = designer.set_condition(schema, ui, [], target, when, "autre")
    problems = errors_of(designer.update_field, schema, ui, [], when, {"options": ["A", "B"]})
    assert list(problems) == ["/options"]
    valid(*designer.update_field(schema, ui, [], when, {"options": ["Autre", "Domicile"]}))


# --- describe ----------------------------------------------------------------------------------


def test_describe_lists_fields_in_display_order_with_depth():
    schema, ui = nested()
    schema, ui, _ = designer.add_field(schema, ui, [], spec_for("boolean", "Accord", required=True))
    schema, ui, _ = designer.add_field(schema, ui, ["sante"], spec_for("radio", "Chutes"))
    schema, ui = designer.set_condition(schema, ui, ["sante"], "douleur", "chutes", "oui")
    schema, ui = designer.move_field(schema, ui, [], "accord", "up")
    rows = designer.describe(schema, ui)
    settings = {row["name"]: row.pop("settings") for row in rows}
    assert settings["chutes"]["options"] == ["Oui", "Non", "Autre"]
    assert settings["douleur"] == {
        "help": "",
        "placeholder": "",
        "minimum": "",
        "maximum": "",
        "default": "",
    }
    assert rows == [
        {
            "path": [],
            "name": "sante",
            "type": "section",
            "label": "Santé",
            "required": False,
            "conditional": None,
            "depth": 0,
        },
        {
            "path": ["sante"],
            "name": "douleur",
            "type": "text",
            "label": "Douleur",
            "required": False,
            "conditional": {"field": "chutes", "equals": "oui"},
            "depth": 1,
        },
        {
            "path": ["sante"],
            "name": "chutes",
            "type": "radio",
            "label": "Chutes",
            "required": False,
            "conditional": None,
            "depth": 1,
        },
        {
            "path": [],
            "name": "accord",
            "type": "boolean",
            "label": "Accord",
            "required": True,
            "conditional": None,
            "depth": 0,
        },
        {
            "path": [],
            "name": "actions",
            "type": "group",
            "label": "Actions",
            "required": False,
            "conditional": None,
            "depth": 0,
        },
        {
            "path": ["actions"],
            "name": "action",
            "type": "text",
            "label": "Action",
            "required": False,
            "conditional": None,
            "depth": 1,
        },
    ]
    assert designer.describe(STARTER, None) == []


# --- Inputs never change -----------------------------------------------------------------------


def test_no_operation_changes_its_inputs():
    schema, ui = nested()
    schema, ui, _ = designer.add_field(schema, ui, ["sante"], spec_for("radio", "Chutes"))
    schema, ui = designer.set_condition(schema, ui, ["sante"], "douleur", "chutes", "oui")
    spec = spec_for("checkboxes", "Aides", required=True)
    before = copy.deepcopy((schema, ui, spec))
    calls = [
        lambda: designer.add_field(schema, ui, ["sante"], spec),
        lambda: designer.add_field(schema, ui, ["actions"], spec),
        lambda: designer.update_field(schema, ui, ["sante"], "chutes", {"options": ["A", "Oui"]}),
        lambda: designer.remove_field(schema, ui, ["sante"], "chutes"),
        lambda: designer.remove_field(schema, ui, [], "sante"),
        lambda: designer.move_field(schema, ui, ["sante"], "chutes", "up"),
        lambda: designer.set_condition(schema, ui, ["sante"], "douleur", "chutes", "non"),
        lambda: designer.remove_condition(schema, ui, ["sante"], "douleur"),
        lambda: designer.describe(schema, ui),
        lambda: designer.add_field(schema, ui, ["sante"], {"type": "text", "label": ""}),
    ]
    for call in calls:
        with contextlib.suppress(InvalidInput):
            call()
        assert (schema, ui, spec) == before


# --- Bad and hostile inputs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "spec", "expected"),
    [
        ([], {"type": "text", "label": ""}, {"/label": "Le libellé est obligatoire."}),
        ([], {"type": "text", "label": "   "}, {"/label": "Le libellé est obligatoire."}),
        ([], {"type": "text"}, {"/label": "Le libellé est obligatoire."}),
        ([], {"type": "text", "label": 3}, {"/label": "Saisissez un texte."}),
        ([], {"type": "text", "label": "x" * 201}, {"/label": "Saisissez au plus 200 caractères."}),
        ([], {"type": "photo", "label": "A"}, {"/type": "Type de champ inconnu."}),
        ([], {"label": "A"}, {"/type": "Type de champ inconnu."}),
        (
            [],
            {"type": "number", "label": "A", "minimum": 10, "maximum": 1},
            {"/minimum": "Le minimum ne peut pas dépasser le maximum."},
        ),
        (
            [],
            {"type": "number", "label": "A", "minimum": "1"},
            {"/minimum": "Saisissez un nombre."},
        ),
        (
            [],
            {"type": "integer", "label": "A", "maximum": 1.5},
            {"/maximum": "Saisissez un nombre entier."},
        ),
        (
            [],
            {"type": "text", "label": "A", "options": ["a", "b"]},
            {"/options": "Ce réglage ne s'applique pas à ce type de champ."},
        ),
        (
            [],
            {"type": "text", "label": "A", "max_length": 0},
            {"/max_length": "La longueur maximale doit être un entier de 1 à 100 000."},
        ),
        (
            [],
            {"type": "group", "label": "A", "max_items": 0},
            {"/max_items": "Le nombre de lignes doit être un entier de 1 à 500."},
        ),
        (
            [],
            {"type": "text", "label": "A", "required": "oui"},
            {"/required": "Indiquez true ou false."},
        ),
        (
            [],
            {"type": "text", "label": "A", "placeholder": "x" * 201},
            {"/placeholder": "Saisissez au plus 200 caractères."},
        ),
        (
            ["absent"],
            {"type": "text", "label": "A"},
            {"/path/0": "« absent » n'est ni une section ni un groupe répétable."},
        ),
        (
            ["accord"],
            {"type": "text", "label": "A"},
            {"/path/0": "« accord » n'est ni une section ni un groupe répétable."},
        ),
        (
            "sante",
            {"type": "text", "label": "A"},
            {"/path": "Le chemin doit être une liste de noms de champs."},
        ),
        ([], "texte", {"/spec": "Les réglages du champ doivent être un objet JSON."}),
    ],
)
def test_bad_inputs_give_a_french_message_at_their_pointer(path, spec, expected):
    schema, ui, _ = designer.add_field(STARTER, {}, [], spec_for("boolean", "Accord"))
    assert errors_of(designer.add_field, schema, ui, path, spec) == expected


def test_every_problem_is_reported_at_once():
    spec = {"type": "number", "label": "", "help": 3, "minimum": "a", "colour": "red"}
    assert set(errors_of(designer.add_field, STARTER, {}, [], spec)) == {
        "/label",
        "/help",
        "/minimum",
        "/colour",
    }


def test_schemas_that_are_not_objects_are_refused():
    assert errors_of(designer.add_field, [], {}, [], spec_for("text")) == {
        "/schema": "Le schéma doit être un objet JSON."
    }
    assert errors_of(designer.add_field, STARTER, [], [], spec_for("text")) == {
        "/ui_schema": "Le schéma d'affichage doit être un objet JSON."
    }


def test_nesting_is_limited_to_the_publication_depth():
    schema, ui, path = STARTER, {}, []
    problems = None
    for level in range(12):
        try:
            schema, ui, name = designer.add_field(
                schema, ui, path, spec_for("section", f"N{level}")
            )
        except InvalidInput as error:
            problems = error.fields
            break
        path = [*path, name]
    assert problems == {"/path": "Un formulaire ne peut pas imbriquer plus de 10 niveaux."}
    assert len(path) == 9  # the root and nine sections: ten levels
    valid(schema, ui)


def test_hostile_labels_stay_plain_titles():
    label = '<script>alert("x")</script>'
    spec = spec_for("radio", label, help="<b>aide</b>", options=["<i>Oui</i>", "Non"])
    schema, ui, name = designer.add_field(STARTER, {}, [], spec)
    valid(schema, ui)
    assert schema["properties"][name]["title"] == label
    html = str(render_form(schema, ui))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<i>Oui</i>" not in html
    assert errors_of(designer.add_field, STARTER, {}, [], spec_for("text", "x" * 10_000)) == {
        "/label": "Saisissez au plus 200 caractères."
    }
