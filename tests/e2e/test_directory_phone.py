"""A coordinator, on a phone, looks a social worker up in the directory by the beginning of
her name, opens her profile (public contact, MSSanté, no personal phone) and adds her to the
circle of care of a dossier from there."""

import pytest
from dossier_helpers import new_dossier
from helpers import PASSWORD
from playwright.sync_api import expect
from test_inbox_phone import open_menu, sign_in

from app.directory.models import Professional, Site

pytestmark = pytest.mark.e2e


def test_find_a_colleague_on_a_phone_and_add_her_to_a_circle(
    app, live_server, phone, coordinator, structure
):
    dossier = new_dossier(coordinator, structure)
    for n in range(3):  # homonyms of another profession
        Professional(last_name="LEFÈBVRE", first_name=f"Paul{n}", profession="60").save()
    Professional(
        last_name="LEFÈBVRE", first_name="Jeanne", profession="assistant_social",
        mss="jeanne.lefebvre@ccas.mssante.fr",
        sites=[Site(name="CCAS de Muret", postcode="31600", commune="Muret", department="31",
                    phone="05 61 51 00 00")],
    ).save()  # fmt: skip
    sign_in(phone, live_server, coordinator, PASSWORD)
    open_menu(phone)
    phone.get_by_role("link", name="Annuaire").click()
    phone.get_by_label("Nom, prénom").fill("lefeb")
    phone.get_by_label("Profession").select_option(label="Assistant de service social")
    phone.get_by_role("button", name="Chercher").click()
    results = phone.locator("#resultats-annuaire li")
    expect(results).to_have_count(1)
    results.first.get_by_role("link").click()  # one tap on the card
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Jeanne LEFÈBVRE")
    expect(phone.locator("#lieux")).to_contain_text("05 61 51 00 00")
    expect(phone.get_by_text("jeanne.lefebvre@ccas.mssante.fr")).to_be_visible()
    phone.get_by_role("link", name="Ajouter à un cercle de soins").click()
    row = phone.locator("#dossiers-cercle li", has_text=dossier.identity.display_name)
    row.get_by_label("Rôle auprès de la personne").select_option("assistant_social")
    row.get_by_role("button", name="Ajouter").click()
    expect(phone.get_by_text("fait maintenant partie du cercle de soins")).to_be_visible()
    dossier.reload()
    assert "Jeanne LEFÈBVRE" in [m.name for m in dossier.members]
