"""The identity's confidence level (RNIV): provisional, validated on a document, retrieved
through INSi, qualified with both; recorded through the API and the identity page, undone by
a change of trait."""

import re

import pytest
from dossier_helpers import IDENTITY, VALID_INS, new_dossier
from helpers import html, snapshot

from app.audit import AuditEvent
from app.dossiers.models import Dossier, TimelineItem


@pytest.fixture
def dossier(coordinator, structure):
    return new_dossier(coordinator, structure, {"ins": VALID_INS})


@pytest.fixture
def gp(make_user, other_structure):
    return make_user(other_structure, name="Dr Généraliste", profession="10")


def url(dossier):
    return f"/dossiers/{dossier.id}/identity/check"


def join(api, dossier, user):
    added = api.post(f"/dossiers/{dossier.id}/members",
                     json={"user": str(user.id), "care_role": "medecin_traitant"})  # fmt: skip
    assert added.status_code == 201


def edited(**traits):
    return {"identity": {**IDENTITY, "ins": VALID_INS, **traits}}


def identity_of(dossier):
    return Dossier.objects.get(id=dossier.id).identity


@pytest.mark.parametrize(("document", "ins_checked", "status"), [
    ("", False, "provisoire"),
    ("cni", False, "validee"),
    ("", True, "recuperee"),
    ("passeport", True, "qualifiee"),
])  # fmt: skip
def test_the_check_gives_the_rniv_status(api_as, coordinator, dossier, document, ins_checked,
                                         status):  # fmt: skip
    checked = api_as(coordinator).post(url(dossier), json={"document": document,
                                                           "ins_checked": ins_checked})  # fmt: skip
    assert checked.status_code == 200, checked.json
    shown = checked.json["identity"]
    assert (shown["status"], shown["ins_checked"]) == (status, ins_checked)
    assert shown["checked_at"]
    identity = identity_of(dossier)
    assert (identity.status, identity.document, identity.checked_by) == (
        status, document or None, coordinator.id)  # fmt: skip
    event = AuditEvent.objects(action="dossier.identity_check").first()
    assert event.details["status"] == status
    assert TimelineItem.objects(dossier=dossier.id, details__status=status).count() == 1


BAD_CHECKS = [
    ({"document": "carte_vitale", "ins_checked": False}, "/document"),
    ({"document": "cni", "ins_checked": "oui"}, "/ins_checked"),
    ({"document": "cni"}, "/ins_checked"),
    ({"document": "cni", "ins_checked": True, "status": "qualifiee"}, "/status"),
    ({"document": "x" * 100_000, "ins_checked": True}, "/document"),
]


@pytest.mark.parametrize(("data", "pointer"), BAD_CHECKS)
def test_a_bad_check_is_refused_with_its_field_and_nothing_changed(
    api_as, coordinator, dossier, data, pointer
):
    before = snapshot(("dossiers", "timeline"))
    refused = api_as(coordinator).post(url(dossier), json=data)
    assert refused.status_code == 422
    assert pointer in refused.json["error"]["fields"]
    assert snapshot(("dossiers", "timeline")) == before


def test_an_identity_without_ins_cannot_say_its_ins_was_checked(api_as, coordinator, structure):
    plain = new_dossier(coordinator, structure, {"birth_name": "Sansins"})
    refused = api_as(coordinator).post(url(plain), json={"document": "cni", "ins_checked": True})
    assert refused.status_code == 422
    assert refused.json["error"]["fields"] == {
        "/ins_checked": "Saisissez d'abord le matricule INS de l'usager dans son identité."
    }
    assert identity_of(plain).status == "provisoire"


def test_only_who_edits_the_dossier_checks_its_identity(api_as, coordinator, gp, dossier):
    check = {"document": "cni", "ins_checked": True}
    assert api_as(gp).post(url(dossier), json=check).status_code == 404  # not in the circle
    join(api_as(coordinator), dossier, gp)
    assert api_as(gp).post(url(dossier), json=check).status_code == 403  # sees, may not edit
    assert identity_of(dossier).status == "provisoire"


def test_a_changed_trait_undoes_the_check_and_the_used_name_does_not(api_as, coordinator, dossier):
    api = api_as(coordinator)
    api.post(url(dossier), json={"document": "cni", "ins_checked": True})
    renamed = api.patch(f"/dossiers/{dossier.id}", json=edited(used_name="Durand"))
    assert renamed.status_code == 200, renamed.json
    assert renamed.json["identity"]["status"] == "qualifiee"
    assert identity_of(dossier).document == "cni"
    fixed = api.patch(f"/dossiers/{dossier.id}", json=edited(first_names="Marie"))
    assert fixed.json["identity"]["status"] == "provisoire"
    identity = identity_of(dossier)
    assert (identity.document, identity.ins_checked, identity.checked_at) == (None, False, None)
    event = AuditEvent.objects(action="dossier.update").first()
    assert "identity.status" in event.details["fields"]


def test_the_identity_page_shows_the_status_and_records_a_check(login_as, coordinator, dossier):
    web = login_as(coordinator)
    page = html(web.get(f"/dossiers/{dossier.id}/identite"))
    assert "Statut de l'identité" in page
    assert "Provisoire" in page
    done = web.post(f"/dossiers/{dossier.id}/identite/verification",
                    {"document": "titre_sejour", "ins_checked": "oui"})  # fmt: skip
    assert done.status_code == 302
    page = html(web.get(done.headers["Location"]))
    assert "Statut de l&#39;identité : qualifiée." in page
    assert "Identité qualifiée</a>" in html(web.get(f"/dossiers/{dossier.id}"))  # every page
    assert "Titre de séjour permanent" in page
    assert "par Coordinatrice" in page
    assert identity_of(dossier).status == "qualifiee"


def test_the_identity_page_explains_a_refused_check(login_as, coordinator, structure):
    plain = new_dossier(coordinator, structure, {"birth_name": "Sansins"})
    web = login_as(coordinator)
    refused = web.post(f"/dossiers/{plain.id}/identite/verification",
                       {"document": "cni", "ins_checked": "oui"})  # fmt: skip
    assert refused.status_code == 400
    assert "Saisissez d&#39;abord le matricule INS" in html(refused)
    assert 'value="Sansins"' in html(refused)  # the identity form is still filled
    forged = web.post(f"/dossiers/{plain.id}/identite/verification", {"document": "permis"})
    assert forged.status_code == 400
    assert identity_of(plain).status == "provisoire"


def test_a_member_who_may_not_edit_sees_the_status_without_the_form(
    api_as, login_as, coordinator, gp, dossier
):
    join(api_as(coordinator), dossier, gp)
    page = html(login_as(gp).get(f"/dossiers/{dossier.id}/identite"))
    assert "Statut de l'identité" in page
    assert "Enregistrer la vérification" not in page
    refused = login_as(gp).post(f"/dossiers/{dossier.id}/identite/verification",
                                {"document": "cni", "ins_checked": "oui"})  # fmt: skip
    assert refused.status_code == 403
    assert identity_of(dossier).status == "provisoire"


def test_a_check_on_traits_changed_meanwhile_is_refused(api_as, login_as, coordinator, dossier):
    web = login_as(coordinator)
    shown = html(web.get(f"/dossiers/{dossier.id}/identite"))
    traits = re.search(r'name="traits" value="([0-9a-f]{16})"', shown).group(1)
    # A colleague corrects the INS while the page is open.
    other_ins = "285057800608441"
    edited_meanwhile = api_as(coordinator).patch(
        f"/dossiers/{dossier.id}", json=edited(ins=other_ins)
    )
    assert edited_meanwhile.status_code == 200, edited_meanwhile.json
    late = web.post(f"/dossiers/{dossier.id}/identite/verification",
                    {"document": "cni", "ins_checked": "oui", "traits": traits})  # fmt: skip
    assert late.status_code == 409
    assert "L&#39;identité a été modifiée depuis l&#39;affichage de cette page" in html(late)
    assert identity_of(dossier).status == "provisoire"
    api = api_as(coordinator)
    stale = api.post(url(dossier), json={"document": "cni", "ins_checked": True, "traits": traits})
    assert stale.status_code == 409
    fresh = api.get(f"/dossiers/{dossier.id}").json["identity"]["traits"]
    done = api.post(url(dossier), json={"document": "cni", "ins_checked": True, "traits": fresh})
    assert done.json["identity"]["status"] == "qualifiee"


def test_a_bad_identity_form_is_shown_again_with_its_errors(login_as, coordinator, dossier):
    web = login_as(coordinator)
    web.post(
        f"/dossiers/{dossier.id}/identite/verification", {"document": "cni", "ins_checked": "oui"}
    )
    refused = web.post(f"/dossiers/{dossier.id}/identite",
                       {**IDENTITY, "ins": VALID_INS, "birth_date": "2999-01-01"})  # fmt: skip
    assert refused.status_code == 400
    page = html(refused)
    assert "La date de naissance ne peut pas être dans le futur." in page
    assert "Enregistrer la vérification" in page  # the check's form, with what is recorded
    assert identity_of(dossier).status == "qualifiee"
    fixed = web.post(f"/dossiers/{dossier.id}/identite",
                     {**IDENTITY, "ins": VALID_INS, "birth_date": "1941-03-13"})  # fmt: skip
    assert fixed.status_code == 302
    assert identity_of(dossier).status == "provisoire"  # a strict trait changed on the page
