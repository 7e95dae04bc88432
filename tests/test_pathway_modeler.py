"""The BPMN modeler's pages and its save (JSON for pathway-modeler.js), and the diagram viewer
on a version's page: who may design, what a save deploys, every refusal in French."""

import json
import re
from pathlib import Path

import pytest
from helpers import html, snapshot
from test_engine_parser import VALID

from app.formkit.services import sync_directory
from app.pathways.modeler_views import STARTER
from app.pathways.models import Pathway, PathwayVersion

BPMN = VALID.replace('"visite_domicile"', '"compte_rendu_visite_domicile"').encode()
COLLECTIONS = ("pathways", "pathway_versions")
DATA_RE = re.compile(r'<script type="application/json" id="modeler-data">(.*?)</script>', re.S)


@pytest.fixture(autouse=True)
def forms(app):
    sync_directory(Path(app.root_path).parent / "forms")


def save(web, body=BPMN, query="", csrf=True, content_type="application/xml"):
    headers = {"X-CSRFToken": web.csrf()} if csrf else {}
    return web.client.post(
        f"/parcours/enregistrer{query}", data=body, headers=headers, content_type=content_type
    )


def page_data(response):
    return json.loads(DATA_RE.search(html(response)).group(1))


def test_the_modeler_opens_for_a_designer(login_as, platform_admin):
    web = login_as(platform_admin)
    page = web.get("/parcours/nouveau")
    assert page.status_code == 200
    text = html(page)
    assert "Nouveau parcours" in text
    assert "vendor/bpmn-js/bpmn-modeler.production.min.js" in text
    assert "js/pathway-modeler.js" in text
    assert "<script>" not in text  # the CSP allows no inline script: data goes in JSON
    data = page_data(page)
    assert data["mode"] == "new"
    assert data["saveUrl"] == "/parcours/enregistrer"
    assert {"key": "evaluation_multidimensionnelle", "title": "Évaluation multidimensionnelle"} in [
        {"key": f["key"], "title": f["title"]} for f in data["forms"]
    ]
    assert {"key": "medecin_traitant", "label": "Médecin traitant"} in data["roles"]
    assert {"key": "notify", "label": "Notifier"} in data["operators"]
    assert data["starter"] == STARTER
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "Nouveau parcours" in html(web.get("/parcours/"))


def test_the_starter_needs_only_a_form(login_as, platform_admin):
    web = login_as(platform_admin)
    refused = save(web, STARTER.encode())
    assert refused.status_code == 422
    assert [p["element"] for p in refused.json["error"]["problems"]] == ["first_step"]
    with_form = STARTER.replace(
        '<bpmn:userTask id="first_step" name="Première étape">',
        '<bpmn:userTask id="first_step" name="Première étape"><bpmn:extensionElements>'
        '<spiffworkflow:properties><spiffworkflow:property name="formKey" '
        'value="evaluation_multidimensionnelle"/></spiffworkflow:properties>'
        "</bpmn:extensionElements>",
    )
    assert save(web, with_form.encode()).status_code == 201


def test_saving_deploys_a_version(login_as, structure_admin):
    web = login_as(structure_admin)
    first = save(web, query="?structure=dac-test&nouveau=suivi_gir")
    assert first.status_code == 201, first.json
    assert first.json == {
        "key": "suivi_gir",
        "version": 1,
        "created": True,
        "url": "/parcours/suivi_gir?version=1",
        "edit_url": "/parcours/suivi_gir/modifier",
    }
    assert Pathway.objects.get().owner == structure_admin.memberships[0].structure
    same = save(web, query="?structure=dac-test")
    assert (same.status_code, same.json["version"], same.json["created"]) == (200, 1, False)
    changed = save(web, BPMN.replace(b'"P7D"', b'"P10D"'), query="?structure=dac-test")
    assert (changed.status_code, changed.json["version"]) == (201, 2)
    assert PathwayVersion.objects(pathway="suivi_gir", version=2).get().bpmn.count('"P10D"') == 1
    # The modeler of the pathway loads its latest version, for its owner's admins.
    edit = web.get("/parcours/suivi_gir/modifier")
    assert edit.status_code == 200
    data = page_data(edit)
    assert data["mode"] == "edit"
    assert (data["key"], data["structure"]) == ("suivi_gir", "dac-test")
    assert data["bpmnUrl"] == "/parcours/suivi_gir/bpmn"
    assert web.get(data["bpmnUrl"]).data == BPMN.replace(b'"P7D"', b'"P10D"')
    # A new pathway may not take an existing key: it would add a version to it.
    taken = save(web, query="?structure=dac-test&nouveau=suivi_gir")
    assert taken.status_code == 409
    assert "suivi_gir" in taken.json["error"]["message"]
    assert PathwayVersion.objects.count() == 2


def test_every_problem_comes_back_as_json(login_as, platform_admin):
    web = login_as(platform_admin)
    broken = BPMN.replace(b'"compte_rendu_visite_domicile"', b'"formulaire_inconnu"').replace(
        b'name="medecin_traitant"', b'name="sorcier"'
    )
    before = snapshot(COLLECTIONS)
    response = save(web, broken)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_bpmn"
    assert error["message"] == "Le parcours contient 2 problèmes."
    by_element = {p["element"]: p for p in error["problems"]}
    assert set(by_element) == {"visite", "lane_mt"}
    assert "formulaire_inconnu" in by_element["visite"]["message"]
    assert by_element["lane_mt"]["line"]
    assert snapshot(COLLECTIONS) == before


def test_malformed_xml_gets_the_parsers_french_problem(login_as, platform_admin):
    response = save(login_as(platform_admin), b"<bpmn:definitions")
    assert response.status_code == 422
    assert response.json["error"]["problems"][0]["message"].startswith("XML mal formé")


def test_names_in_problems_are_data_not_html(login_as, platform_admin):
    hostile = BPMN.replace(b'name="medecin_traitant"', b'name="&lt;img src=x onerror=alert(1)&gt;"')
    response = save(login_as(platform_admin), hostile)
    assert response.status_code == 422
    assert response.mimetype == "application/json"
    (problem,) = response.json["error"]["problems"]
    # The page sets it with textContent; the JSON itself holds no markup of ours either.
    assert "<img src=x onerror=alert(1)>" in problem["message"]
    assert "<script" not in response.get_data(as_text=True)


def test_an_oversized_diagram_gets_the_size_message(login_as, platform_admin):
    web = login_as(platform_admin)
    big = BPMN.replace(b"</bpmn:definitions>", b"<!--" + b"x" * (6 * 1024 * 1024) + b"-->\n"
                       b"</bpmn:definitions>")  # fmt: skip
    response = save(web, big)
    assert response.status_code == 413
    assert response.json["error"]["message"] == "Le diagramme dépasse la taille maximale de 5 Mio."
    assert Pathway.objects.count() == 0


def test_the_save_needs_the_csrf_token_and_xml(login_as, platform_admin):
    web = login_as(platform_admin)
    assert save(web, csrf=False).status_code == 400
    assert save(web, content_type="text/plain").status_code == 415
    assert Pathway.objects.count() == 0


def test_who_may_design(login_as, professional, structure_admin, platform_admin, other_structure):
    deployed = save(login_as(platform_admin))  # a pathway of the whole platform
    assert deployed.status_code == 201
    pro = login_as(professional)
    assert pro.get("/parcours/nouveau").status_code == 403
    assert pro.get("/parcours/suivi_gir/modifier").status_code == 403
    refused = save(pro, BPMN.replace(b'"P7D"', b'"P9D"'))
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "forbidden"
    listing = html(pro.get("/parcours/"))
    assert "Nouveau parcours" not in listing
    assert "/parcours/suivi_gir/modifier" not in listing
    # A structure admin designs for their structure, not the platform's pathways.
    admin = login_as(structure_admin)
    assert admin.get("/parcours/nouveau").status_code == 200
    assert admin.get("/parcours/suivi_gir/modifier").status_code == 403
    assert "/parcours/suivi_gir/modifier" not in html(admin.get("/parcours/"))
    assert save(admin, query="?structure=autre").status_code == 403
    assert PathwayVersion.objects.count() == 1


def test_signed_out_means_the_sign_in_page(client):
    assert client.get("/parcours/nouveau").status_code == 302
    refused = client.post("/parcours/enregistrer", data=BPMN, content_type="application/xml")
    assert refused.status_code in (302, 400)  # no session, so no CSRF token either
    assert Pathway.objects.count() == 0


def test_the_version_page_draws_the_diagram(login_as, platform_admin, professional):
    save(login_as(platform_admin))
    save(login_as(platform_admin), BPMN.replace(b'"P7D"', b'"P9D"'))
    admin_page = html(login_as(platform_admin).get("/parcours/suivi_gir?version=1"))
    assert 'data-bpmn-url="/parcours/suivi_gir/bpmn?version=1"' in admin_page
    assert "vendor/bpmn-js/bpmn-navigated-viewer.production.min.js" in admin_page
    assert "/parcours/suivi_gir/modifier" in admin_page
    pro_page = html(login_as(professional).get("/parcours/suivi_gir"))
    assert "data-pathway-diagram" in pro_page
    assert "/parcours/suivi_gir/modifier" not in pro_page
    assert "Évaluation multidimensionnelle" in pro_page  # the summary stays


def test_the_diagram_macro_marks_steps(app):
    template = app.jinja_env.from_string(
        '{% from "pathways/_diagram.html" import diagram %}'
        "{{ diagram('/parcours/p/bpmn?version=2', completed=['a', 'b'], current=['c'], "
        "failed=['<x>'], labels={'a': 'Évaluation', 'c': '<b>Visite</b>'}) }}"
    )
    with app.test_request_context():
        text = template.render()
    assert 'data-completed="[&#34;a&#34;, &#34;b&#34;]"' in text
    assert 'data-current="[&#34;c&#34;]"' in text
    assert "\\u003cx\\u003e" in text  # ids are JSON, escaped
    assert "Étape terminée" in text
    assert "Étape en cours" in text
    assert "Étape en erreur" in text
    assert "Étapes terminées" in text
    assert "Évaluation, b" in text  # the text fallback names the steps
    assert "&lt;b&gt;Visite&lt;/b&gt;" in text
    assert "<b>Visite</b>" not in text
