"""A nurse, on a phone: a pathway step is given to her; she sees the bell and her task,
opens it from the inbox in one tap and completes it. The coordinator sees it done in "Suivi";
both then talk in the dossier's thread, which refreshes itself on the other side."""

import re
from pathlib import Path

import pytest
from dossier_helpers import new_dossier
from playwright.sync_api import expect
from test_pathways import BPMN

from app import policy
from app.dossiers import circle
from app.formkit.services import sync_directory
from app.pathways import instances
from app.pathways.models import Task
from app.pathways.services import deploy

pytestmark = pytest.mark.e2e

# The visit of the test pathway goes to the circle's nurse, with a form of her care category.
NURSE_BPMN = BPMN.replace(b'name="medecin_traitant"', b'name="infirmier"').replace(
    b'"compte_rendu_visite_domicile"', b'"verification_infirmier"'
)
EVALUATION = {
    "date_evaluation": "2026-11-27",
    "lieu_evaluation": "domicile",
    "gir": 3,
    "synthese": {"analyse": "Chutes à répétition."},
}


def sign_in(page, live_server, user, password):
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse e-mail").fill(user.email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


def open_menu(page):
    """On a phone the navigation is folded behind its button."""
    toggler = page.get_by_role("button", name=re.compile("menu", re.I))
    if toggler.is_visible():
        toggler.click()


@pytest.fixture
def visit_for_the_nurse(app, coordinator, structure, make_user, other_structure):
    sync_directory(Path(app.root_path).parent / "forms")
    deploy(policy.SYSTEM, NURSE_BPMN)
    dossier = new_dossier(coordinator, structure)
    nurse = make_user(other_structure, profession="60", name="Infirmière Lina Roche")
    circle.add_member(coordinator, dossier, {"user": str(nurse.id), "care_role": "infirmier"})
    dossier.reload()
    instances.start_pathway(coordinator, dossier, "suivi_gir")
    evaluation = Task.objects.get(status="open")
    instances.complete_task(coordinator, evaluation.id, EVALUATION)
    visit = Task.objects.get(status="open")
    assert visit.assignee == nurse.id
    return dossier, nurse, visit


def test_a_nurse_completes_her_task_and_talks_with_the_coordinator(
    live_server, browser, phone, desktop, coordinator, password, visit_for_the_nurse
):
    dossier, nurse, visit = visit_for_the_nurse
    page = phone
    sign_in(page, live_server, nurse, password)
    # The bell counts two notices (added to the circle, a task given); the inbox, the task.
    expect(page.locator("#cloche .badge")).to_have_text("2")
    open_menu(page)
    nav = page.locator("#nav-taches")
    expect(nav).to_contain_text("1")
    nav.click()
    card = page.locator(".task-card").filter(has_text="Visite à domicile")
    expect(card).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    card.click()  # one tap: the card's link covers it
    expect(page.get_by_role("button", name="Terminer l'étape")).to_be_visible()
    page.get_by_label("Date de la visite").fill("2026-11-28")
    page.get_by_role("radiogroup", name="La personne a pu être vue").get_by_label("Oui").check()
    page.get_by_label("État général").fill("Bon état général, plaie propre.")
    page.get_by_role("button", name="Terminer l'étape").click()
    expect(page.get_by_text("est fait : le parcours continue")).to_be_visible()
    visit.reload()
    assert (visit.status, visit.completed_by) == ("completed", nurse.id)

    # The coordinator follows the dossiers of her structure: the step is done.
    other = desktop
    sign_in(other, live_server, coordinator, password)
    other.locator("#nav-suivi").click()
    other.get_by_role("link", name="Terminées (30 jours)").click()
    done = other.locator(".task-card").filter(has_text="Visite à domicile")
    expect(done).to_contain_text("Infirmière Lina Roche")

    # Both in the dossier's thread: each message appears on the other side by itself.
    other.goto(f"{live_server}/dossiers/{dossier.id}/discussion")
    page.goto(f"{live_server}/dossiers/{dossier.id}/discussion")
    page.get_by_label("Votre message").fill("Visite faite, <b>tout va bien</b>.")
    page.get_by_role("button", name="Envoyer").click()
    expect(page.locator("#fil")).to_contain_text("Visite faite, <b>tout va bien</b>.")
    expect(other.locator("#fil")).to_contain_text(
        "Visite faite, <b>tout va bien</b>.", timeout=15_000
    )
    other.get_by_label("Votre message").fill("Merci, je préviens le médecin.")
    other.get_by_role("button", name="Envoyer").click()
    expect(page.locator("#fil")).to_contain_text("Merci, je préviens le médecin.", timeout=15_000)
    # No dictation button where the browser has no speech recognition (headless chromium
    # has webkitSpeechRecognition: then it shows).
    has_speech = page.evaluate(
        "Boolean(window.SpeechRecognition || window.webkitSpeechRecognition)"
    )
    expect(page.locator("#dicter")).to_be_visible() if has_speech else expect(
        page.locator("#dicter")
    ).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
