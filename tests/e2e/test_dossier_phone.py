"""A coordinator, on a phone: creates a dossier under consent, adds a member to the circle of
care, adds a note and a photo taken with the camera, and sees them in the timeline."""

import pytest
from dossier_helpers import PNG
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def no_horizontal_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_dossier_from_creation_to_timeline_on_a_phone(
    live_server, phone, coordinator, make_user, other_structure, password, tmp_path
):
    make_user(other_structure, name="Docteur Anne Dupuis", profession="10")
    page = phone
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse e-mail").fill(coordinator.email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()

    page.get_by_role("link", name="Nouveau dossier").click()
    page.get_by_label("Nom de naissance").fill("Durand")
    page.get_by_label("Prénoms (tous, dans l'ordre de l'état civil)").fill("Marcel")
    page.get_by_label("Date de naissance").fill("1938-06-14")
    page.get_by_label("Sexe").select_option("M")
    assert no_horizontal_scroll(page)
    # Without consent the dossier is not created: the error says why, in French.
    page.get_by_role("button", name="Créer le dossier").click()
    expect(page.locator("#e-consent_mode")).to_have_text("Ce champ est obligatoire.")
    page.get_by_label("Recueilli").select_option("oral")
    page.get_by_role("button", name="Créer le dossier").click()
    expect(page.get_by_role("heading", name="DURAND Marcel")).to_be_visible()
    expect(page.get_by_text("Consentement recueilli (oral)")).to_be_visible()

    pages = page.get_by_role("navigation", name="Pages du dossier")
    pages.get_by_role("link", name="Cercle de soins").click()
    page.get_by_placeholder("Nom du professionnel").fill("dupuis")
    page.get_by_role("button", name="Chercher").click()
    row = page.get_by_role("listitem").filter(has_text="Docteur Anne Dupuis")
    row.get_by_label("Rôle").select_option("medecin_traitant")
    row.get_by_role("button", name="Ajouter").click()
    expect(page.get_by_text("Docteur Anne Dupuis fait maintenant partie")).to_be_visible()
    assert no_horizontal_scroll(page)

    pages.get_by_role("link", name="Ligne de vie").click()
    page.get_by_role("link", name="Ajouter une note").click()
    page.get_by_role("textbox", name="Note", exact=True).fill("Visite faite, logement encombré.")
    page.get_by_label("Catégorie de l'information").select_option("social")
    page.get_by_label("Publique (tout le cercle de soins)").check()
    page.get_by_role("button", name="Enregistrer la note").click()
    expect(page.get_by_text("Visite faite, logement encombré.")).to_be_visible()

    page.get_by_role("link", name="Photo ou document").click()
    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG)
    page.get_by_label("Prendre une photo").set_input_files(str(photo))
    page.get_by_label("Titre (facultatif)").fill("Escalier")
    page.get_by_role("button", name="Déposer").click()
    expect(page.get_by_text("Document ajouté : Escalier")).to_be_visible()
    thumbnail = page.get_by_role("img", name="Escalier")
    expect(thumbnail).to_be_visible()
    assert page.evaluate("(img) => img.naturalWidth", thumbnail.element_handle()) == 1

    timeline = page.locator("ol.timeline > li")
    expect(timeline.first).to_contain_text("Escalier")
    expect(timeline.nth(1)).to_contain_text("Visite faite")
    expect(page.get_by_text("Docteur Anne Dupuis rejoint le cercle de soins")).to_be_visible()
    assert no_horizontal_scroll(page)
