"""Invitations ("kit de maillage") through a real SMTP server: the e-mail and its signed,
expiring, single-use link that opens a prefilled account request; the text to copy; my
invitations and their status; forged, expired, reused links; the account request that follows
(handed to the platform team on demande_compte, or confirmed by e-mail first)."""

import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
import test_notifications_mail as mails
from dossier_helpers import new_dossier
from helpers import html as raw_html
from test_notifications_mail import body, deliver

from app import clock
from app.audit import AuditEvent
from app.demo import deploy_shipped_workflows
from app.directory.services import add_professional
from app.dossiers import circle
from app.formkit.services import sync_directory
from app.invitations.models import Invitation
from app.onboarding.models import AccountRequest
from app.pathways.models import PathwayInstance, Task

BASE = mails.BASE
smtp, app_config = mails.smtp, mails.app_config  # a real SMTP server on loopback, its settings


def html(response):
    return unescape(raw_html(response))


INVITED = {"email": "Lea.Martin@Exemple.fr", "name": "MARTIN Léa", "profession": "60"}


@pytest.fixture
def shipped(app):
    sync_directory(Path(app.root_path).parent / "forms")
    deploy_shipped_workflows()


def invite(web, **more):
    sent = web.post("/invitations", {**INVITED, **more})
    assert sent.status_code == 200, html(sent)
    return html(sent)


def mailed_link(smtp):
    deliver()
    [message] = smtp.inbox.messages()[-1:]
    match = re.search(rf"{re.escape(BASE)}/demande-de-compte\?invitation=\S+", body(message))
    assert match, body(message)
    return message, match.group(0).removeprefix(BASE)


REQUEST = {"last_name": "MARTIN", "first_name": "Léa", "email": "lea.martin@exemple.fr",
           "profession": "60", "rpps": "10000000017",
           "structure_name": "Cabinet infirmier du Tarn"}  # fmt: skip


def test_an_invitation_opens_a_prefilled_request_once(
    shipped, smtp, login_as, coordinator, platform_admin, api_as
):
    web = login_as(coordinator)
    page = invite(web, note="Pour nos patients communs")
    # The text to copy carries the same personal link as the e-mail.
    assert "Texte d'invitation à copier" in page
    message, link = mailed_link(smtp)
    assert link.replace("&", "&amp;") in page or link in page
    assert message["To"] == "lea.martin@exemple.fr"
    assert message["Subject"] == f"{coordinator.name} vous invite sur Parcours"
    assert "Pour nos patients communs" not in body(message)  # the note stays off mailboxes
    # The link opens the form, prefilled, without signing in.
    anonymous = web.client.application.test_client()
    form = anonymous.get(link)
    assert form.status_code == 200
    text = html(form)
    assert 'value="lea.martin@exemple.fr"' in text
    assert 'value="MARTIN"' in text
    assert "Pour nos patients communs" in text
    # Submitting it: the address is proven by the link, the platform team gets the request.
    token = link.split("invitation=")[1]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)
    done = anonymous.post(
        "/demande-de-compte", data={**REQUEST, "invitation": token, "csrf_token": csrf}
    )
    assert done.status_code == 302, html(done)
    request = AccountRequest.objects.get()
    assert (request.status, request.invited_by) == ("submitted", coordinator.id)
    assert request.email_confirmed_at is not None
    instance = PathwayInstance.objects.get(subject=f"account_request:{request.id}")
    assert Task.objects.get(instance=instance.id).platform == 1
    assert Invitation.objects.get().status == "accepted"
    # Used: the link no longer works, and says so.
    again = anonymous.get(link)
    assert again.status_code == 410
    assert "déjà été utilisé" in html(again)
    assert AccountRequest.objects.count() == 1
    # My invitations show the status.
    assert "Demande de compte déposée" in html(web.get("/invitations"))
    assert AuditEvent.objects(action="invitation.create").count() == 1


def test_forged_expired_and_revoked_links_are_refused(
    smtp, login_as, coordinator, make_user, structure
):
    web = login_as(coordinator)
    invite(web)
    _, link = mailed_link(smtp)
    anonymous = web.client.application.test_client()
    forged = anonymous.get(link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb"))
    assert forged.status_code == 400
    assert "n'est pas valide" in html(forged)
    assert anonymous.get("/demande-de-compte?invitation=nimportequoi").status_code == 400
    with clock.travel(timedelta(days=15)):
        expired = anonymous.get(link)
    assert expired.status_code == 410
    assert "a expiré" in html(expired)
    # A second invitation of the same person replaces the first: its link stops working.
    invite(web)
    _, second = mailed_link(smtp)
    assert anonymous.get(link).status_code == 410
    assert anonymous.get(second).status_code == 200
    [current] = Invitation.objects(status="sent")
    someone = login_as(make_user(structure, profession="60"))  # not theirs: not found, kept
    someone.post(f"/invitations/{current.id}/annuler")
    assert Invitation.objects.get(id=current.id).status == "sent"
    assert web.post(f"/invitations/{current.id}/annuler").status_code == 302
    cancelled = anonymous.get(second)
    assert (cancelled.status_code, "annulée" in html(cancelled)) == (410, True)
    assert AccountRequest.objects.count() == 0


def test_bad_invitations_are_refused(login_as, coordinator, make_user, structure, api_as):
    web = login_as(coordinator)
    existing = make_user(structure, email="deja@exemple.fr")
    refused = web.post("/invitations", {**INVITED, "email": existing.email})
    assert refused.status_code == 400
    assert "déjà celle d'un compte" in html(refused)
    assert web.post("/invitations", {**INVITED, "email": "pas-une-adresse"}).status_code == 400
    assert web.post("/invitations", {"email": "a@b.fr"}).status_code == 400  # no name
    api = api_as(coordinator)
    long = api.post("/invitations", json={**INVITED, "note": "x" * 1001})
    assert (long.status_code, list(long.json["error"]["fields"])) == (422, ["/note"])
    unknown = api.post("/invitations", json={**INVITED, "dossier": "0" * 24})
    assert unknown.status_code == 404
    assert Invitation.objects.count() == 0


def test_invite_from_a_circle_of_care_and_the_api(
    smtp, login_as, api_as, coordinator, structure, make_user
):
    dossier = new_dossier(coordinator, structure)
    entry = add_professional(coordinator, {"last_name": "Kiné", "profession": "70"})
    circle.add_member(coordinator, dossier, {"professional": str(entry.id),
                                             "care_role": "kinesitherapeute"})  # fmt: skip
    page = html(login_as(coordinator).get(f"/dossiers/{dossier.id}/cercle"))
    assert "Inviter sur Parcours" in page
    api = api_as(coordinator)
    made = api.post("/invitations", json={**INVITED, "dossier": str(dossier.id)})
    assert made.status_code == 201, made.json
    assert made.json["context"] == "dossier"
    assert made.json["link"].startswith(f"{BASE}/demande-de-compte?invitation=")
    assert made.json["link"] in made.json["text"]
    # The e-mail names no patient, even when sent from a circle of care.
    deliver()
    raw = smtp.inbox.raw().decode("utf-8", "replace")
    assert dossier.identity.birth_name not in raw
    assert dossier.identity.first_names not in raw
    # Someone who does not see the dossier cannot invite "from" it.
    stranger = api_as(make_user(structure, profession="60"))
    assert (
        stranger.post("/invitations", json={**INVITED, "dossier": str(dossier.id)}).status_code
        == 404
    )
    assert [i["status"] for i in api.get("/invitations").json["items"]] == ["sent"]


def test_a_request_without_invitation_confirms_its_address_first(
    shipped, smtp, app, make_user, structure
):
    anonymous = app.test_client()
    page = html(anonymous.get("/demande-de-compte"))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    bad = anonymous.post("/demande-de-compte", data={**REQUEST, "rpps": "123", "csrf_token": csrf})
    assert bad.status_code == 400
    assert AccountRequest.objects.count() == 0
    taken = make_user(structure, email="pris@exemple.fr")
    clash = anonymous.post(
        "/demande-de-compte", data={**REQUEST, "email": taken.email, "csrf_token": csrf}
    )
    assert "Un compte existe déjà" in html(clash)
    done = anonymous.post("/demande-de-compte", data={**REQUEST, "csrf_token": csrf})
    assert done.status_code == 302
    request = AccountRequest.objects.get()
    assert request.status == "unconfirmed"
    assert PathwayInstance.objects.count() == 0
    deliver()
    [message] = smtp.inbox.messages()
    link = re.search(rf"{re.escape(BASE)}(/demande-de-compte/confirmer/\S+)", body(message)).group(
        1
    )
    assert anonymous.get(link[:-2] + "xx").status_code == 400
    confirmed = anonymous.get(link, follow_redirects=True)
    assert "L'équipe de la plateforme vérifie votre identité" in html(confirmed)
    assert anonymous.get(link).status_code == 302  # twice: still one process
    request.reload()
    assert request.status == "submitted"
    assert PathwayInstance.objects(subject=f"account_request:{request.id}").count() == 1
