"""The form renderer and the coercion of submitted fields, through pure functions.

A small HTML parser plays the browser: it submits what a browser would (text inputs their value,
checked boxes and radios theirs, the selected option, a textarea's text), then coerce() must give
back the data that was rendered.
"""

import json
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from app.formkit.coerce import coerce
from app.formkit.render import render_form, render_readonly
from app.formkit.schema import validate_data
from app.validation import InvalidInput

FORMS = Path(__file__).resolve().parent.parent / "forms"


def shipped(key):
    definition = json.loads((FORMS / f"{key}.json").read_text())
    return definition["schema"], definition["ui_schema"]


class Page(HTMLParser):
    """Every element with its attributes, and the fields a browser would submit (no JS)."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.elements, self.submitted, self.texts = [], [], {}
        self._template = 0
        self._select = self._option = self._textarea = None
        self.feed(str(html))
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = {name: "" if value is None else value for name, value in attrs}
        if tag == "template":
            self._template += 1
        self.elements.append((tag, attrs, self._template > 0))
        if self._template:
            return  # a template's content is inert: never submitted
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") != "file":
            if attrs.get("type") not in ("radio", "checkbox") or "checked" in attrs:
                self.submitted.append((name, attrs.get("value", "")))
        elif tag == "select":
            self._select = [name, None, None]  # name, first option, selected option
        elif tag == "option" and self._select:
            if self._select[1] is None:
                self._select[1] = attrs["value"]
            if "selected" in attrs:
                self._select[2] = attrs["value"]
        elif tag == "textarea":
            self._textarea, self.texts[name] = name, ""

    def handle_endtag(self, tag):
        if tag == "template":
            self._template -= 1
        elif tag == "select" and self._select:
            name, first, selected = self._select
            self.submitted.append((name, first if selected is None else selected))
            self._select = None
        elif tag == "textarea" and self._textarea:
            text = self.texts[self._textarea]
            text = text[1:] if text.startswith("\n") else text  # as an HTML parser does
            self.submitted.append((self._textarea, text.replace("\n", "\r\n")))  # and a browser
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and not self._template:
            self.texts[self._textarea] += data

    def form(self):
        return MultiDict(self.submitted)

    def by_id(self, id_):
        found = [attrs for _, attrs, _ in self.elements if attrs.get("id") == id_]
        assert len(found) == 1, f"{len(found)} elements with id {id_}"
        return found[0]

    def tags(self, tag, **wanted):
        return [
            attrs
            for name, attrs, inert in self.elements
            if name == tag and not inert and all(attrs.get(k) == v for k, v in wanted.items())
        ]


FILLED = {
    "ppcs": {
        "date_elaboration": "2026-01-12",
        "referent": "Mme Durand, coordinatrice DAC, 06 12 34 56 78",
        "attentes_personne": "Rester chez moi.\nNe plus tomber la nuit.",
        "objectifs": "1. Sécuriser le domicile\n2. Soulager l'aidante",
        "actions": [
            {"action": "Passage infirmier quotidien", "responsable": "IDEL", "statut": "en_cours"},
            {
                "action": "Barres d'appui dans la salle de bain",
                "responsable": "Ergothérapeute",
                "echeance": "2026-02-15",
                "statut": "a_faire",
            },
            {"action": "Dossier APA", "statut": "realise"},
        ],
        "date_reevaluation": "2026-07-12",
        "accord_personne": False,
        "reserves": "Refuse l'accueil de jour pour l'instant.",
    },
    "evaluation_multidimensionnelle": {
        "date_evaluation": "2026-11-27",
        "lieu_evaluation": "domicile",
        "sante": {
            "pathologies": "Insuffisance cardiaque\nDiabète de type 2",
            "traitements": "Furosémide, metformine",
            "hospitalisations_recentes": True,
            "hospitalisations_precision": "Mars 2026 : chute avec fracture du poignet",
            "douleur": 0,
            "troubles_cognitifs": "suspectes",
        },
        "gir": 3,
        "autonomie": {
            "aggir": {"coherence": "a", "toilette": "b", "transferts": "c"},
            "chutes": True,
            "nombre_chutes": 4,
            "aides_techniques": ["canne", "teleassistance"],
        },
        "situation_sociale": {
            "mode_de_vie": "seul",
            "ressources": "justes",
            "droits_ouverts": ["apa", "ald", "autre"],
            "droits_precision": "Carte de stationnement",
            "mesure_protection": "curatelle",
            "mandataire": "UDAF 33, M. Petit, 05 56 00 00 00",
        },
        "environnement": {
            "type_logement": "maison",
            "logement_adapte": "partiellement",
            "accessibilite": ["plain_pied"],
            "insalubrite": False,
        },
        "aidants": {
            "aidant_present": True,
            "aidant_lien": "enfant",
            "aidant_cohabitant": False,
            "epuisement": 8,
            "besoin_repit": True,
        },
        "risques": {
            "identifies": ["chute", "maltraitance"],
            "conduite_maltraitance": "Information préoccupante transmise le 27/11.",
        },
        "synthese": {
            "analyse": "Situation complexe, aidante épuisée.",
            "suites_proposees": ["ppcs"],
        },
    },
    "demande_appui_dac": {
        "demandeur": {
            "type_demandeur": "autre",
            "type_demandeur_precision": "Mandataire judiciaire",
            "nom": "Claire Martin",
            "telephone": "06 12 34 56 78",
            "email": "claire.martin@example.fr",
        },
        "personne": {
            "nom": "Lefèbvre",
            "prenoms": "Jeanne Marie",
            "date_naissance": "1938-04-02",
            "lieu_de_vie": "domicile",
            "vit_seul": True,
        },
        "difficultes": ["autonomie", "isolement", "autre"],
        "difficultes_precision": "Animaux nombreux au domicile",
        "urgence": "sous_huit_jours",
        "consentement_obtenu": True,
        "consentement_mode": "oral",
        "description_situation": "Retour à domicile difficile.",
    },
    "synthese_rcp": {
        "date_rcp": "2026-03-04",
        "modalite": "visioconference",
        "participants": [
            {"nom": "Dr Bernard", "profession": "Médecin traitant"},
            {"nom": "M. Roux", "profession": "Infirmier", "structure": "Cabinet des Lilas"},
        ],
        "motif": "situation_crise",
        "personne_informee": True,
        "situation": "Hospitalisations répétées.",
        "decisions": "Hébergement temporaire.",
        "actions": [
            {"action": "Chercher une place", "echeance": "2026-03-20", "responsable": "DAC"}
        ],
    },
    "fiche_liaison_sortie_hospitalisation": {
        "etablissement": "CH de Libourne",
        "service": "Médecine gériatrique",
        "date_entree": "2026-02-01",
        "date_sortie": "2026-02-10",
        "destination": "domicile",
        "motif": "Décompensation cardiaque",
        "traitements_sortie": "Furosémide 40 mg le matin",
        "ordonnances_remises": True,
        "soins_domicile": ["soins_infirmiers", "portage_repas"],
        "rendez_vous": [{"objet": "Cardiologie", "date": "2026-03-01", "lieu": "CH de Libourne"}],
        "contact_referent": {"nom": "Dr Morel", "telephone": "05 57 00 00 00"},
    },
    "compte_rendu_visite_domicile": {
        "date_visite": "2026-04-08",
        "objet_visite": "suivi",
        "personne_rencontree": False,
        "motif_non_rencontre": "Absente",
        "constats": {"logement": "Encombré ; escalier raide."},
        "signes_alerte": ["logement_insalubre", "isolement"],
        "suites": ["nouvelle_visite"],
    },
}


@pytest.mark.parametrize("key", sorted(FILLED))
def test_values_round_trip_through_the_browser(key):
    schema, ui = shipped(key)
    validate_data(f"test-{key}", 1, schema, FILLED[key])  # the data is realistic: it is valid
    page = Page(render_form(schema, ui, FILLED[key]))
    assert coerce(schema, page.form()) == FILLED[key]


@pytest.mark.parametrize("key", sorted(FILLED))
def test_ids_are_unique_and_every_control_has_a_label(key):
    schema, ui = shipped(key)
    page = Page(render_form(schema, ui, FILLED[key]))
    ids = [attrs["id"] for _, attrs, inert in page.elements if "id" in attrs and not inert]
    assert len(ids) == len(set(ids))
    labelled = {attrs["for"] for attrs in page.tags("label")}
    controls = page.tags("input") + page.tags("select") + page.tags("textarea")
    assert controls
    assert all(attrs["id"] in labelled for attrs in controls if attrs.get("type") != "hidden")


EVERY_TYPE = {
    "type": "object",
    "properties": {
        "texte": {"type": "string", "title": "Texte", "maxLength": 200},
        "long": {"type": "string", "title": "Long"},
        "entier": {"type": "integer", "title": "Entier", "minimum": 0},
        "decimal": {"type": "number", "title": "Décimal"},
        "jour": {"type": "string", "title": "Jour", "format": "date"},
        "courriel": {"type": "string", "title": "Courriel", "format": "email"},
        "tel": {"type": "string", "title": "Téléphone"},
        "oui_non": {"type": "boolean", "title": "Oui ou non"},
        "un": {"type": "string", "title": "Un", "oneOf": [{"const": "a", "title": "Alpha"}]},
        "liste": {
            "type": "string",
            "title": "Liste",
            "oneOf": [{"const": "x", "title": "Ixe"}, {"const": "y", "title": "Igrec"}],
        },
        "plusieurs": {
            "type": "array",
            "title": "Plusieurs",
            "items": {"type": "string", "oneOf": [{"const": "p", "title": "Pé"}]},
            "uniqueItems": True,
        },
        "piece": {"type": "string", "title": "Pièce", "contentMediaType": "application/pdf"},
        "cache": {"type": "string", "title": "Caché"},
        "section": {
            "type": "object",
            "title": "Section",
            "properties": {"dedans": {"type": "string", "title": "Dedans"}},
        },
        "lignes": {
            "type": "array",
            "title": "Lignes",
            "items": {"type": "object", "properties": {"nom": {"type": "string", "title": "Nom"}}},
        },
    },
}
EVERY_UI = {
    "long": {"ui:widget": "textarea"},
    "tel": {"ui:widget": "tel"},
    "un": {"ui:widget": "radio"},
    "liste": {"ui:widget": "select"},
    "plusieurs": {"ui:widget": "checkboxes"},
    "piece": {"ui:widget": "file"},
    "cache": {"ui:widget": "hidden"},
}


def test_each_field_type_renders_its_input_with_label_and_id():
    page = Page(render_form(EVERY_TYPE, EVERY_UI))
    labels = {attrs["for"] for attrs in page.tags("label")}
    for id_, kind in [
        ("f-texte", "text"),
        ("f-entier", "text"),
        ("f-decimal", "text"),
        ("f-jour", "date"),
        ("f-courriel", "email"),
        ("f-tel", "tel"),
        ("f-piece", "file"),
        ("f-section-dedans", "text"),
        ("f-lignes-0-nom", "text"),
        ("f-oui_non--0", "radio"),
        ("f-un--0", "radio"),
        ("f-plusieurs--0", "checkbox"),
    ]:
        assert page.by_id(id_)["type"] == kind, id_
        assert id_ in labels, id_
    assert page.by_id("f-entier")["inputmode"] == "numeric"
    assert page.by_id("f-decimal")["inputmode"] == "decimal"
    assert page.tags("textarea", id="f-long")
    assert page.tags("select", id="f-liste")
    assert {"f-long", "f-liste"} <= labels
    assert page.tags("input", type="hidden", name="cache")
    assert [a["value"] for a in page.tags("input", name="oui_non")] == ["true", "false"]
    for group in ("f-oui_non", "f-un", "f-plusieurs", "f-section", "f-lignes"):
        assert page.tags("fieldset", id=group), group
    html = str(render_form(EVERY_TYPE, EVERY_UI))
    assert ">Oui</label>" in html
    assert ">Non</label>" in html
    assert ">Igrec</option>" in html
    assert "<legend" in html
    assert "data-fk-add" in html
    assert "data-fk-remove" in html


def test_required_fields_are_marked():
    schema, ui = shipped("ppcs")
    page = Page(render_form(schema, ui))
    date = page.by_id("f-date_elaboration")
    assert "required" in date
    assert date["aria-required"] == "true"
    referent = page.by_id("f-referent")
    assert "required" not in referent
    assert "aria-required" not in referent
    assert page.by_id("f-accord_personne")["aria-required"] == "true"  # the radio group
    html = str(render_form(schema, ui))
    star = '<span class="text-danger" aria-hidden="true">*</span>'
    assert f"Date d&#39;élaboration {star}</label>" in html
    assert "Référent du plan</label>" in html


def test_help_and_errors_are_tied_to_their_field():
    schema, ui = shipped("evaluation_multidimensionnelle")
    errors = {
        "/gir": "La valeur doit être comprise entre 1 et 6.",
        "/sante/douleur": "La valeur doit être un nombre entier.",
        "/lieu_evaluation": "Ce champ est obligatoire.",
    }
    page = Page(render_form(schema, ui, {"gir": 9}, errors))
    gir = page.by_id("f-gir")
    assert gir["aria-describedby"].split() == ["f-gir--help", "f-gir--error"]
    assert gir["aria-invalid"] == "true"
    assert "is-invalid" in gir["class"]
    assert page.by_id("f-gir--error")["class"] == "invalid-feedback d-block"
    assert "f-sante-douleur--error" in page.by_id("f-sante-douleur")["aria-describedby"]
    assert "f-lieu_evaluation--error" in page.by_id("f-lieu_evaluation")["aria-describedby"]
    assert page.by_id("f-lieu_evaluation--0")["aria-invalid"] == "true"
    html = str(render_form(schema, ui, {"gir": 9}, errors))
    assert "La valeur doit être comprise entre 1 et 6.</div>" in html
    assert 'class="alert' not in html  # every error found its field


def test_row_errors_and_lost_errors_are_shown():
    schema, ui = shipped("ppcs")
    errors = {"/actions/0/action": "Ce champ est obligatoire.", "/inconnu": "Perdue <b>"}
    page = Page(render_form(schema, ui, {"actions": [{"statut": "a_faire"}]}, errors))
    assert page.by_id("f-actions-0-action")["aria-describedby"] == "f-actions-0-action--error"
    html = str(render_form(schema, ui, {}, errors))
    assert 'role="alert"' in html
    assert "Perdue &lt;b&gt;" in html


def test_defaults_prefill_only_a_new_form():
    schema, ui = shipped("compte_rendu_visite_domicile")
    assert "checked" in Page(render_form(schema, ui)).by_id("f-personne_rencontree--0")
    assert "checked" not in Page(render_form(schema, ui, {})).by_id("f-personne_rencontree--0")


def test_groups_render_one_spare_row_and_a_template_without_javascript():
    schema, ui = shipped("ppcs")
    page = Page(render_form(schema, ui, FILLED["ppcs"]))
    rows = page.tags("fieldset", **{"data-fk-row": ""})
    assert [row["id"] for row in rows] == [f"f-actions-{i}" for i in range(4)]
    group = page.by_id("f-actions")
    assert group["data-fk-name"] == "actions.__new__"
    assert group["data-fk-next"] == "4"
    assert group["data-fk-max"] == "50"
    inert = [attrs for tag, attrs, inside in page.elements if inside and tag == "input"]
    assert inert
    assert all("__new__" in attrs["name"] for attrs in inert)
    assert all("hidden" in b for b in page.tags("button"))  # formkit.js reveals them
    # The spare row holds the default "à faire" only: it is dropped as blank.
    assert ("actions.3.statut", "a_faire") in page.submitted
    assert len(coerce(schema, page.form())["actions"]) == 3


def test_conditions_are_described_for_formkit_js():
    schema, ui = shipped("demande_appui_dac")
    page = Page(render_form(schema, ui))
    shown = {
        attrs["data-show-when"]
        for attrs in page.tags("div") + page.tags("fieldset")
        if "data-show-when" in attrs
    }
    assert json.dumps([{"field": "difficultes", "contains": "autre"}]) in shown
    assert json.dumps([{"field": "consentement_obtenu", "equals": "true"}]) in shown
    assert json.dumps([{"field": "demandeur.type_demandeur", "equals": "autre"}]) in shown
    schema, ui = shipped("evaluation_multidimensionnelle")
    html = str(render_form(schema, ui))
    assert "&#34;in&#34;: [&#34;curatelle&#34;" in html
    schema, ui = shipped("ppcs")
    page = Page(render_form(schema, ui))
    wrapper = [a for a in page.tags("div") if "data-required-when" in a][0]
    assert json.loads(wrapper["data-required-when"]) == [
        {"field": "actions.0.echeance", "filled": True}
    ]
    assert "data-fk-required" in page.by_id("f-actions-0-responsable")
    assert "<script" not in html
    assert " style=" not in html
    assert " onclick" not in html


def test_hostile_values_are_escaped_in_both_renderers():
    schema, ui = shipped("ppcs")
    evil = '"><script>alert(1)</script>'
    data = {"referent": evil, "objectifs": "</textarea>" + evil, "actions": [{"action": evil}]}
    for html in (render_form(schema, ui, data), render_readonly(schema, ui, data)):
        assert "<script>" not in str(html)
        assert "</textarea><" not in str(html)
        assert "&lt;script&gt;" in str(html)
    titled = {"type": "object", "properties": {"x": {"type": "string", "title": evil}}}
    assert "<script>" not in str(render_form(titled, {})) + str(render_readonly(titled, {}, {}))


def test_unknown_names_never_reach_the_data():
    schema, _ = shipped("evaluation_multidimensionnelle")
    form = MultiDict(
        [
            ("__proto__", "x"),
            ("constructor.prototype", "y"),
            ("sante.__proto__", "z"),
            ("sante.douleur.0", "1"),
            ("gir", "3"),
            ("csrf_token", "t"),
        ]
    )
    assert coerce(schema, form) == {"gir": 3, "synthese": {}}


def test_row_numbers_are_capped_and_never_allocated():
    schema, _ = shipped("ppcs")
    assert coerce(schema, MultiDict({"actions.999999999.action": "Appeler"})) == {
        "actions": [{"action": "Appeler"}]
    }
    junk = ["actions.-1.action", "actions.1e3.action", "actions.x.action", "actions.０.action"]
    assert coerce(schema, MultiDict(dict.fromkeys(junk, "x"))) == {}
    deep = "actions.0." + "a.0." * 5000 + "action"
    many = MultiDict([(f"actions.{i * 7919}.action", f"Action {i}") for i in range(500)])
    many.add(deep, "x")
    started = time.perf_counter()
    actions = coerce(schema, many)["actions"]
    assert time.perf_counter() - started < 1
    assert len(actions) == 51
    assert actions[0] == {"action": "Action 0"}
    with pytest.raises(InvalidInput) as raised:
        validate_data("test-ppcs-cap", 1, schema, {"actions": actions})
    assert raised.value.fields["/actions"] == "Au plus 50 éléments."


def test_text_that_is_not_a_number_stays_as_typed():
    schema, ui = shipped("evaluation_multidimensionnelle")
    data = coerce(
        schema, MultiDict({"gir": "trois", "sante.douleur": "4,5", "date_evaluation": ""})
    )
    assert data["gir"] == "trois"
    assert data["sante"] == {"douleur": "4,5"}
    assert "date_evaluation" not in data
    with pytest.raises(InvalidInput) as raised:
        validate_data("test-evaluation", 1, schema, data)
    assert raised.value.fields["/gir"] == "La valeur doit être un nombre entier."
    assert raised.value.fields["/sante/douleur"] == "La valeur doit être un nombre entier."
    assert raised.value.fields["/date_evaluation"] == "Ce champ est obligatoire."
    page = Page(render_form(schema, ui, data, raised.value.fields))
    assert page.by_id("f-gir")["value"] == "trois"


def test_numbers_and_yes_no_are_converted():
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "array", "items": {"type": "object", "properties": EVERY_NUMBERS}},
            "b": {
                "type": "array",
                "items": {"type": "object", "properties": {"v": {"type": "boolean"}}},
            },
        },
    }
    cells = [("12,5", 12.5), ("1 200", 1200), ("-3", -3), ("1e999", "1e999"), ("nan", "nan")]
    form = MultiDict([(f"n.{i}.number", raw) for i, (raw, _) in enumerate(cells)])
    form.add("n.0.integer", "5.0")
    form.add("n.1.integer", "5.5")
    for i, raw in enumerate(["true", "false", "", "peut-être"]):
        form.add(f"b.{i}.v", raw)
    data = coerce(schema, form)
    assert [row["number"] for row in data["n"]] == [value for _, value in cells]
    assert data["n"][0]["integer"] == 5
    assert data["n"][1]["integer"] == "5.5"
    assert data["b"] == [{"v": True}, {"v": False}, {"v": "peut-être"}]


EVERY_NUMBERS = {"number": {"type": "number"}, "integer": {"type": "integer"}}


def test_text_is_stripped_and_line_endings_normalised():
    schema, _ = shipped("ppcs")
    data = coerce(schema, MultiDict({"objectifs": "  Un\r\nDeux \r\n", "referent": "   "}))
    assert data == {"objectifs": "Un\nDeux"}


def test_files_are_left_out():
    schema, _ = shipped("demande_appui_dac")
    assert "piece_jointe" not in coerce(schema, MultiDict({"piece_jointe": "C:\\fake.pdf"}))


def test_readonly_shows_titles_yes_no_and_french_dates():
    schema, ui = shipped("ppcs")
    html = str(render_readonly(schema, ui, FILLED["ppcs"]))
    assert '<dd class="col-sm-8">12/01/2026</dd>' in html
    assert ">Non</dd>" in html
    assert ">En cours</dd>" in html
    assert ">Réalisé</dd>" in html
    assert "Rester chez moi.<br>Ne plus tomber la nuit." in html
    assert "<ol" in html
    assert html.count("<li") == 3
    assert ">—</dd>" in html  # the "problematiques" left empty
    schema, ui = shipped("evaluation_multidimensionnelle")
    html = str(render_readonly(schema, ui, FILLED["evaluation_multidimensionnelle"]))
    assert "<li>Canne</li><li>Téléassistance</li>" in html
    assert ">Oui</dd>" in html
    assert "<h3" in html
    assert "<h4" in html


def test_rows_left_blank_are_dropped_even_with_a_required_section():
    schema = {
        "type": "object",
        "properties": {
            "g": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "s": {"type": "object", "properties": {"x": {"type": "string"}}},
                        "n": {"type": "integer", "default": 1},
                    },
                    "required": ["s"],
                },
            }
        },
    }
    form = MultiDict({"g.0.n": "1", "g.0.s.x": " ", "g.1.n": "2", "g.2.s.x": "oui"})
    assert coerce(schema, form) == {"g": [{"s": {}, "n": 2}, {"s": {"x": "oui"}}]}
