"""What an account may change about itself, and what only someone else may (issue 17): the
name and the profession (habilitations follow the profession) are verified facts that the
platform team changes, with a reason; nobody grants or drops their own structure roles."""

import pytest
from dossier_helpers import new_dossier
from helpers import html, snapshot

from app.accounts.models import User
from app.audit import AuditEvent
from app.dossiers import circle, entries

OWN_PROFESSION = "Votre profession est vérifiée par l&#39;équipe de la plateforme"
OWN_NAME = "Votre nom est vérifié par l&#39;équipe de la plateforme"
OWN_ROLES = "Vous ne pouvez pas changer vos propres rôles"
REASON = "Indiquez le motif du changement de profession."


@pytest.fixture
def helper(make_user, structure):
    return make_user(
        structure, email="aide@example.org", name="Aide Domicile", profession="aide_a_domicile"
    )


@pytest.fixture
def medical_note(coordinator, structure, make_user, helper):
    """A medical note shared with the circle, in which the home help is too."""
    gp = make_user(structure, email="gp@example.org", name="Dr Généraliste", profession="10")
    dossier = new_dossier(coordinator, structure)
    for person, role in ((gp, "medecin_traitant"), (helper, "aide_a_domicile")):
        circle.add_member(coordinator, dossier, {"user": str(person.id), "care_role": role})
    return entries.add_entry(
        gp, dossier, {"note": "Bilan", "category": "medical", "visibility": "shared"}
    )


def profession_of(user):
    return User.objects.get(id=user.id).profession


# --- the profession and the name, on one's own profile -------------------------------------


def test_a_home_help_cannot_make_themself_a_doctor(login_as, helper, medical_note):
    browser = login_as(helper)
    assert browser.get(f"/entrees/{medical_note.id}").status_code == 404
    before = snapshot()
    response = browser.post(
        "/profil", {"name": helper.name, "profession": "10", "phone": "05 61 00 00 00"}
    )
    assert response.status_code == 403
    assert OWN_PROFESSION in html(response)
    assert snapshot() == before  # not even the phone: all or nothing
    assert profession_of(helper) == "aide_a_domicile"
    assert browser.get(f"/entrees/{medical_note.id}").status_code == 404


@pytest.mark.parametrize("profession", ["", "60"], ids=["cleared", "another"])
def test_nobody_changes_or_clears_their_own_profession(login_as, professional, profession):
    browser = login_as(professional)
    User.objects(id=professional.id).update_one(set__profession="10")
    before = snapshot()
    response = browser.post("/profil", {"profession": profession, "phone": "0102030405"})
    if profession == "":
        # An empty field is a field not sent: the profession stays, the phone is saved.
        assert response.status_code == 302
        assert profession_of(professional) == "10"
        return
    assert response.status_code == 403
    assert snapshot() == before


def test_nobody_renames_themself(login_as, professional):
    browser = login_as(professional)
    before = snapshot()
    response = browser.post("/profil", {"name": "Dr Jean Martin", "phone": "0102030405"})
    assert response.status_code == 403
    assert OWN_NAME in html(response)
    assert snapshot() == before


def test_the_profile_saves_the_phone_and_accepts_unchanged_verified_fields(login_as, professional):
    browser = login_as(professional)
    response = browser.post(
        "/profil", {"name": professional.name, "profession": "60", "phone": "05 61 00 00 00"}
    )
    assert response.status_code == 302
    professional.reload()
    assert (professional.name, professional.profession) == ("Infirmière Pro", "60")
    assert professional.phone == "05 61 00 00 00"
    event = AuditEvent.objects(action="profile.update").first()
    assert event.details["fields"] == ["phone"]


def test_the_profile_shows_the_name_and_profession_without_a_field(login_as, professional):
    page = html(login_as(professional).get("/profil"))
    assert "Infirmière Pro" in page
    assert "Infirmier" in page
    assert 'name="profession"' not in page
    assert 'name="name"' not in page
    assert 'name="phone"' in page
    assert "vérifiés par l'équipe de la plateforme" in page


# --- the platform admin: another's profession with a reason, never their own -----------------


def admin_form(user, **changes):
    form = {"email": user.email, "name": user.name, "profession": user.profession or "",
            "phone": user.phone or "", "status": user.status}  # fmt: skip
    if user.platform_admin:
        form["platform_admin"] = "on"
    form.update(changes)
    return form


def test_a_platform_admin_cannot_change_their_own_profession(login_as, api_as, platform_admin):
    browser, api = login_as(platform_admin), api_as(platform_admin)
    api.get("/me")  # the token's first use is noted
    before = snapshot()
    response = browser.post(
        f"/admin/utilisateurs/{platform_admin.id}",
        admin_form(platform_admin, profession="10", reason="Je suis médecin"),
    )
    assert response.status_code == 403
    assert OWN_PROFESSION in html(response)
    response = api.patch(
        f"/users/{platform_admin.id}", json={"profession": "10", "reason": "Je suis médecin"}
    )
    assert response.status_code == 403
    assert "/profession" in response.json["error"]["fields"]
    assert snapshot() == before


def test_a_platform_admin_cannot_rename_themself(api_as, platform_admin):
    api = api_as(platform_admin)
    api.get("/me")
    before = snapshot()
    response = api.patch(f"/users/{platform_admin.id}", json={"name": "Autre"})
    assert response.status_code == 403
    assert snapshot() == before


def test_a_profession_change_needs_a_reason_on_the_web(login_as, platform_admin, professional):
    browser = login_as(platform_admin)
    before = snapshot()
    response = browser.post(
        f"/admin/utilisateurs/{professional.id}", admin_form(professional, profession="10")
    )
    assert response.status_code == 400
    page = html(response)
    assert REASON in page
    assert 'id="f-reason"' in page
    assert snapshot() == before
    response = browser.post(
        f"/admin/utilisateurs/{professional.id}",
        admin_form(professional, profession="10", reason="Diplôme vérifié (RPPS 10001234567)"),
    )
    assert response.status_code == 302
    assert profession_of(professional) == "10"
    event = AuditEvent.objects(action="user.update").first()
    assert event.actor == str(platform_admin.id)
    assert event.details["profession"] == {"from": "60", "to": "10"}
    assert event.details["reason"] == "Diplôme vérifié (RPPS 10001234567)"


def test_the_admin_form_asks_for_the_reason(login_as, platform_admin, professional):
    page = html(login_as(platform_admin).get(f"/admin/utilisateurs/{professional.id}"))
    assert 'name="reason"' in page
    assert "Motif" in page


def test_a_profession_change_needs_a_reason_in_the_api(api_as, platform_admin, professional):
    api = api_as(platform_admin)
    api.get("/me")
    before = snapshot()
    for body in ({"profession": "10"}, {"profession": "10", "reason": "   "}):
        response = api.patch(f"/users/{professional.id}", json=body)
        assert response.status_code == 422
        assert response.json["error"]["fields"] == {"/reason": REASON}
    assert snapshot() == before
    response = api.patch(
        f"/users/{professional.id}", json={"profession": "10", "reason": "Erreur à la création"}
    )
    assert response.status_code == 200
    assert response.json["profession"] == "10"
    event = AuditEvent.objects(action="user.update").first()
    assert event.details["reason"] == "Erreur à la création"
    # The same profession again is no change: no reason asked.
    assert api.patch(f"/users/{professional.id}", json={"profession": "10"}).status_code == 200


def test_a_reason_goes_with_a_change_of_name_or_profession(api_as, platform_admin, professional):
    api = api_as(platform_admin)
    response = api.patch(f"/users/{professional.id}", json={"phone": "01", "reason": "pour rien"})
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {
        "/reason": "Le motif accompagne un changement de nom ou de profession."
    }
    response = api.patch(
        f"/users/{professional.id}", json={"name": "Nom Corrigé", "reason": "Coquille"}
    )
    assert response.status_code == 200
    assert AuditEvent.objects(action="user.update").first().details["reason"] == "Coquille"


# --- structure roles: someone else changes them ----------------------------------------------


@pytest.fixture
def second_admin(make_user, structure):
    return make_user(structure, roles=["structure_admin"], email="admin2@example.org")


@pytest.mark.parametrize(
    ("method", "body"),
    [("PATCH", {"roles": ["structure_admin", "coordinator"]}), ("PATCH", {"roles": []}),
     ("DELETE", None)],
    ids=["grant-coordinator", "no-role", "leave"],
)  # fmt: skip
def test_a_structure_admin_cannot_change_their_own_roles_in_the_api(
    api_as, structure_admin, coordinator, structure, method, body
):
    dossier = new_dossier(coordinator, structure)
    api = api_as(structure_admin)
    assert api.get(f"/dossiers/{dossier.id}").status_code in (403, 404)  # also notes the token
    before = snapshot()
    response = api.request(method, f"/structures/dac-test/members/{structure_admin.id}", json=body)
    assert response.status_code == 403
    assert "Vous ne pouvez pas changer vos propres rôles" in response.json["error"]["message"]
    assert snapshot() == before
    assert api.get(f"/dossiers/{dossier.id}").status_code in (403, 404)


@pytest.mark.parametrize(
    ("url", "data"),
    [("roles", {"roles": ["structure_admin", "coordinator"]}), ("roles", {}), ("retirer", {})],
    ids=["grant-coordinator", "no-role", "leave"],
)
def test_a_structure_admin_cannot_change_their_own_roles_on_the_web(
    login_as, structure_admin, url, data
):
    browser = login_as(structure_admin)
    before = snapshot()
    response = browser.post(f"/structures/dac-test/membres/{structure_admin.id}/{url}", data)
    assert response.status_code == 403
    assert OWN_ROLES in html(response)
    assert snapshot() == before


def test_the_members_page_offers_no_role_change_on_ones_own_row(login_as, structure_admin):
    page = html(login_as(structure_admin).get("/structures/dac-test/membres"))
    assert f"/membres/{structure_admin.id}/roles" not in page
    assert f"/membres/{structure_admin.id}/retirer" not in page
    assert OWN_ROLES in page


def test_a_second_admin_changes_the_first_ones_roles(api_as, structure_admin, second_admin):
    response = api_as(second_admin).patch(
        f"/structures/dac-test/members/{structure_admin.id}",
        json={"roles": ["structure_admin", "coordinator"]},
    )
    assert response.status_code == 200
    event = AuditEvent.objects(action="member.roles").first()
    assert event.actor == str(second_admin.id)
    assert event.object_id == str(structure_admin.id)


def test_a_platform_admin_cannot_join_a_structure_themself(
    api_as, login_as, platform_admin, structure
):
    api, browser = api_as(platform_admin), login_as(platform_admin)
    api.get("/me")
    before = snapshot()
    mine = {"email": platform_admin.email, "roles": ["coordinator"]}
    response = api.post("/structures/dac-test/members", json=mine)
    assert response.status_code == 403
    response = browser.post(
        "/structures/dac-test/membres", {"email": platform_admin.email, "roles": "coordinator"}
    )
    assert response.status_code == 403
    assert OWN_ROLES in html(response)
    assert snapshot() == before


def test_a_platform_admin_cannot_give_themself_memberships(api_as, platform_admin, structure):
    api = api_as(platform_admin)
    api.get("/me")
    before = snapshot()
    response = api.patch(
        f"/users/{platform_admin.id}",
        json={"memberships": [{"structure": "dac-test", "roles": ["coordinator"]}]},
    )
    assert response.status_code == 403
    assert "/memberships" in response.json["error"]["fields"]
    assert snapshot() == before


def test_a_platform_admin_edits_their_own_phone(api_as, platform_admin):
    response = api_as(platform_admin).patch(
        f"/users/{platform_admin.id}",
        json={"phone": "0102030405", "name": platform_admin.name, "memberships": []},
    )
    assert response.status_code == 200, response.json
