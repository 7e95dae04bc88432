"""A structure administrator designs a pathway in the browser (bpmn-js and our properties
panel), deploys it, fixes a broken diagram from the listed problems, and reads the diagram on
the version page."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from test_engine_parser import VALID

from app import policy
from app.formkit.services import sync_directory
from app.pathways import services
from app.pathways.models import Pathway, PathwayVersion

pytestmark = pytest.mark.e2e

BPMN = VALID.replace('"visite_domicile"', '"compte_rendu_visite_domicile"').encode()


@pytest.fixture(autouse=True)
def forms(app):
    sync_directory(Path(app.root_path).parent / "forms")


def _sign_in(page, live_server, user, password):
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse e-mail").fill(user.email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).not_to_have_url(re.compile("/connexion"))


def _csp_violations(page):
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def _select(page, element_id, position=None):
    """Click a diagram element as a person does (the palette floats over the canvas's left)."""
    page.locator("#m-canvas").scroll_into_view_if_needed()
    shape = page.locator(f'#m-canvas [data-element-id="{element_id}"]').first
    box = shape.bounding_box()
    x, y = position or (box["width"] / 2, box["height"] / 2)
    page.mouse.click(box["x"] + x, box["y"] + y)
    expect(page.locator("#m-panel code")).to_have_text(element_id)


def test_design_deploy_and_view_a_new_pathway(
    live_server, browser, structure_admin, structure, password
):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    violations = _csp_violations(page)
    _sign_in(page, live_server, structure_admin, password)
    page.goto(f"{live_server}/parcours/")
    page.get_by_role("link", name="Nouveau parcours").click()
    expect(page.locator("#m-canvas[data-ready]")).to_be_attached()
    expect(page.locator(".bjs-powered-by")).to_be_visible()  # the bpmn.io logo (licence)

    page.get_by_label("Nom du parcours").fill("Suivi à domicile")
    page.get_by_label("Nom du parcours").press("Tab")
    expect(page.get_by_label("Identifiant")).to_have_value("suivi_a_domicile")

    _select(page, "first_step")
    expect(page.get_by_role("heading", name="Propriétés : Tâche utilisateur")).to_be_visible()
    page.get_by_label("Formulaire").select_option(
        label="Évaluation multidimensionnelle (evaluation_multidimensionnelle)"
    )
    page.get_by_role("button", name="Délai de 7 jours (P7D)").click()
    expect(page.get_by_label("Délai (dueIn)")).to_have_value("P7D")
    _select(page, "lane_coordinateur", position=(400, 20))
    # A nurse may not write the evaluation's medical data: the deployment says so…
    page.get_by_label("Rôle").select_option(label="Infirmier")
    page.get_by_role("button", name="Vérifier et déployer").click()
    expect(page.get_by_text("ne peut pas écrire les données « Médical »")).to_be_visible()
    assert PathwayVersion.objects(pathway="suivi_a_domicile").count() == 0
    # …a GP may.
    page.get_by_label("Rôle").select_option(label="Médecin traitant")
    page.get_by_role("button", name="Vérifier et déployer").click()
    expect(page.locator("#m-status")).to_contain_text("Version 1 déployée")
    version = PathwayVersion.objects.get(pathway="suivi_a_domicile")
    assert version.summary["user_tasks"] == [
        {
            "id": "first_step",
            "name": "Première étape",
            "lane": "medecin_traitant",
            "form_key": "evaluation_multidimensionnelle",
            "due_in": "P7D",
        }
    ]
    assert Pathway.objects.get().owner == structure.id
    # The page now edits that pathway: a second save makes no copy of it.
    expect(page).to_have_url(re.compile("/parcours/suivi_a_domicile/modifier$"))

    page.get_by_role("link", name="Voir la version 1").click()
    figure = page.locator("[data-pathway-diagram]")
    expect(figure).to_have_attribute("data-diagram-state", "ready")
    expect(figure.locator("svg [data-element-id='first_step']")).to_be_visible()
    expect(
        page.get_by_text("Médecin traitant · formulaire evaluation_multidimensionnelle")
    ).to_be_visible()
    assert violations == []
    context.close()


def test_problems_are_listed_and_lead_to_the_element_on_a_phone(
    live_server, phone, platform_admin, password
):
    services.deploy(policy.SYSTEM, BPMN)  # a BPMN without drawing: laid out on the page
    violations = _csp_violations(phone)
    _sign_in(phone, live_server, platform_admin, password)
    phone.goto(f"{live_server}/parcours/suivi_gir/modifier")
    expect(phone.locator("#m-canvas[data-ready]")).to_be_attached()
    expect(phone.locator("#m-status")).to_contain_text("disposés automatiquement")

    # Without a pointer: the panel lists every element of the drawing.
    phone.get_by_label("Élément à régler").select_option(
        label="Tâche utilisateur : Visite à domicile"
    )
    expect(phone.locator("#m-panel code")).to_have_text("visite")
    expect(phone.get_by_label("Élément à régler")).to_be_focused()
    phone.get_by_label("Formulaire").select_option("")
    phone.get_by_label("Nom", exact=True).fill("<img src=x onerror=alert(1)>Visite")
    phone.get_by_label("Nom", exact=True).press("Tab")
    phone.get_by_role("button", name="Vérifier et déployer").click()

    problems = phone.get_by_role("alert", name="Problèmes du parcours")
    expect(problems).to_contain_text("Le parcours contient un problème.")
    problem = problems.get_by_role("button", name=re.compile("sans formulaire"))
    expect(problem).to_contain_text("« <img src=x onerror=alert(1)>Visite »")
    expect(problems.locator("img")).to_have_count(0)
    expect(phone.locator('[data-element-id="visite"].pathway-problem')).to_have_count(1)
    assert PathwayVersion.objects.count() == 1

    phone.get_by_label("Élément à régler").select_option(label="Événement de début : start")
    expect(phone.locator("#m-panel code")).to_have_text("start")
    problem.click()
    expect(phone.get_by_role("heading", name="Propriétés : Tâche utilisateur")).to_be_focused()
    expect(phone.locator("#m-panel")).to_contain_text("Un problème est signalé")
    phone.get_by_label("Formulaire").select_option("compte_rendu_visite_domicile")
    phone.get_by_role("button", name="Vérifier et déployer").click()
    expect(phone.locator("#m-status")).to_contain_text("Version 2 déployée")
    expect(phone.locator(".pathway-problem")).to_have_count(0)
    # Opening and saving kept what the panel did not touch (operator, parameters, timer).
    first, second = PathwayVersion.objects.order_by("version")
    for part in ("service_tasks", "timers"):
        assert second.summary[part] == first.summary[part]
    assert 'resultVariable="notification"' in second.bpmn
    assert second.bpmn.count("<spiffworkflow:parameter ") == 2
    assert violations == []
