"""An account request from the public page to a working account: the platform team asks for
more on the demande_compte pathway, the requester answers from their follow page, the team
accepts; the account is linked to its directory entry and a welcome e-mail lets its owner
choose a password once. Also: a refusal, the forgotten password link."""

import re
from datetime import timedelta
from html import unescape

import pytest
import test_notifications_mail as mails
from test_invitations import shipped  # noqa: F401
from test_notifications_mail import body, deliver

from app import clock
from app.accounts.models import User
from app.directory.models import Professional
from app.onboarding.models import AccountRequest

smtp, app_config = mails.smtp, mails.app_config  # a real SMTP server on loopback, its settings
BASE = mails.BASE
REQUEST = {"last_name": "Durand", "first_name": "Léa", "email": "lea.durand@exemple.fr",
           "profession": "60", "rpps": "10101010101",
           "structure_name": "Cabinet du Tarn"}  # fmt: skip
PASSWORD = "une phrase de passe solide"


def page(response):
    return unescape(response.get_data(as_text=True))


def csrf_of(client, url):
    return re.search(r'name="csrf_token" value="([^"]+)"', page(client.get(url))).group(1)


def link_in(message, path):
    found = re.search(rf"{re.escape(BASE)}({path}\S+)", body(message))
    assert found, body(message)
    return found.group(1)


def decide(api, decision, **more):
    [task] = api.get("/tasks?scope=available").json["items"]
    done = api.post(f"/tasks/{task['id']}/complete", json={"data": {"decision": decision, **more}})
    assert done.status_code == 200, done.json
    return task


@pytest.fixture
def requested(app, shipped, smtp):  # noqa: F811
    """A confirmed request: (the requester's browser, the follow page's path)."""
    Professional(rpps=REQUEST["rpps"], last_name="DURAND", first_name="Léa", profession="60",
                 source="rpps").save()  # fmt: skip
    client = app.test_client()
    token = csrf_of(client, "/demande-de-compte")
    done = client.post("/demande-de-compte", data={**REQUEST, "csrf_token": token})
    assert done.status_code == 302
    follow = done.headers["Location"]
    assert "Adresse e-mail à confirmer" in page(client.get(follow))
    deliver()
    [confirmation] = smtp.inbox.messages()
    client.get(link_in(confirmation, "/demande-de-compte/confirmer/"))
    return client, follow


def test_asked_for_more_then_accepted(requested, smtp, api_as, login_as, platform_admin):
    client, follow = requested
    admin = api_as(platform_admin)
    # The team's task page shows the request, pre-verified against the directory.
    [task] = admin.get("/tasks?scope=available").json["items"]
    shown = page(login_as(platform_admin).get(f"/taches/{task['id']}"))
    assert "identité pré-vérifiée" in shown
    assert "Cabinet du Tarn" in shown
    decide(admin, "completer", motif="Joignez votre numéro ADELI ancien.")
    request = AccountRequest.objects.get()
    assert request.status == "more_info"
    deliver()
    asked = smtp.inbox.messages()[-1]
    assert asked["Subject"] == "Votre demande de compte : informations demandées"
    assert "ADELI" not in body(asked)  # the message is on the page, behind the link
    answer_page = page(client.get(follow))
    assert "Joignez votre numéro ADELI ancien." in answer_page
    token = re.search(r'name="csrf_token" value="([^"]+)"', answer_page).group(1)
    assert client.post(follow, data={"text": "   ", "csrf_token": token}).status_code == 400
    client.post(follow, data={"text": "Mon ancien numéro : 069999999", "csrf_token": token})
    request.reload()
    assert request.status == "submitted"
    assert [e["by"] for e in request.exchanges] == ["equipe", "demandeur"]
    # The process caught the answer: the team decides again, and accepts.
    decide(admin, "accepter", identite_verifiee=True)
    user = User.objects.get(email=REQUEST["email"])
    assert (user.status, user.name, user.password_hash) == ("active", "Léa Durand", None)
    assert Professional.objects.get(rpps=REQUEST["rpps"]).user == user.id
    assert AccountRequest.objects.get().status == "accepted"
    deliver()
    welcome = smtp.inbox.messages()[-1]
    assert welcome["Subject"] == "Bienvenue sur Parcours"
    choose = link_in(welcome, "/mot-de-passe/")
    token = csrf_of(client, choose)
    short = client.post(choose, data={"password": "court", "confirmation": "court",
                                      "csrf_token": token})  # fmt: skip
    assert short.status_code == 400
    other = client.post(choose, data={"password": PASSWORD, "confirmation": PASSWORD + "x",
                                      "csrf_token": token})  # fmt: skip
    assert "ne sont pas identiques" in page(other)
    done = client.post(choose, data={"password": PASSWORD, "confirmation": PASSWORD,
                                     "csrf_token": token})  # fmt: skip
    assert done.headers["Location"].endswith("/connexion")
    assert client.get(choose).status_code == 410  # used: it no longer works
    sign_in = {"email": REQUEST["email"], "password": PASSWORD,
               "csrf_token": csrf_of(client, "/connexion")}  # fmt: skip
    signed_in = client.post("/connexion", data=sign_in)
    assert signed_in.status_code == 302


def test_a_refusal_shows_its_reason_on_the_follow_page(requested, smtp, api_as, platform_admin):
    client, follow = requested
    decide(api_as(platform_admin), "refuser", motif="Profession hors du champ de la plateforme.")
    shown = page(client.get(follow))
    assert "Refusée" in shown
    assert "Profession hors du champ de la plateforme." in shown
    assert User.objects(email=REQUEST["email"]).count() == 0
    assert client.get(follow.rsplit("/", 1)[0] + "/faux.jeton").status_code == 400


def test_a_forgotten_password(app, smtp, professional):
    client = app.test_client()
    token = csrf_of(client, "/mot-de-passe-oublie")
    unknown = client.post("/mot-de-passe-oublie", data={"email": "x@y.fr", "csrf_token": token})
    known = client.post("/mot-de-passe-oublie", data={"email": professional.email,
                                                      "csrf_token": token})  # fmt: skip
    assert page(unknown) == page(known)  # nobody learns who has an account
    deliver()
    [message] = smtp.inbox.messages()
    assert message["To"] == professional.email
    link = link_in(message, "/mot-de-passe/")
    with clock.travel(timedelta(hours=2)):
        expired = client.get(link)
    assert (expired.status_code, "a expiré" in page(expired)) == (410, True)
    assert client.get(link).status_code == 200
    assert client.get(link[:-4] + "abcd").status_code == 400


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("court-mais", "au moins 12 caractères"),
        ("azertyuiop123", "trop courant ou trop facile"),
        ("motdepasse1234", "trop courant ou trop facile"),
        ("xxxxxxxxxxxxxxxx", "trop courant ou trop facile"),
        ("pro.martin@exemple.fr!", "adresse e-mail"),
        ("pro.martin-2026-paris", "adresse e-mail"),
    ],
)
def test_weak_passwords_are_refused_everywhere(
    login_as, api_as, platform_admin, make_user, structure, password, says
):
    from helpers import PASSWORD as current

    user = make_user(structure, email="pro.martin@exemple.fr")
    web = login_as(user)
    changed = web.post("/profil/mot-de-passe", {"current_password": current,
                                                 "new_password": password})  # fmt: skip
    assert changed.status_code == 400
    assert says in page(changed)
    made = api_as(platform_admin).post(
        "/users", json={"email": "pro.martin@exemple.fr".replace("pro", "autre"),
                        "name": "Autre", "password": password.replace("pro.", "autre.")},
    )  # fmt: skip
    assert made.status_code == 422
    assert "/password" in made.json["error"]["fields"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"rpps": "1234"}, "Le numéro RPPS compte 11 chiffres, le numéro ADELI 9 chiffres."),
        ({"rpps": "1010101010A"}, "Le numéro RPPS compte 11 chiffres, le numéro ADELI 9 chiffres."),
        ({"rpps": "1" * 12}, "Le numéro RPPS compte 11 chiffres, le numéro ADELI 9 chiffres."),
        ({"rpps": ""}, "Le numéro RPPS ou ADELI est obligatoire pour cette profession."),
        ({"rpps": "10101010101"}, "Ce numéro est déjà rattaché à un compte"),
    ],
)
def test_a_request_with_a_bad_number_is_refused_and_nothing_kept(
    app,
    shipped,  # noqa: F811
    smtp,
    make_user,
    structure,
    change,
    says,  # noqa: F811
):
    owner = make_user(structure, email="deja@exemple.fr")
    Professional(rpps="10101010101", last_name="DURAND", profession="60", user=owner.id).save()
    client = app.test_client()
    token = csrf_of(client, "/demande-de-compte")
    refused = client.post("/demande-de-compte", data={**REQUEST, **change, "csrf_token": token})
    assert refused.status_code == 400
    assert says in page(refused)
    assert 'id="e-rpps"' in page(refused)
    assert AccountRequest.objects.count() == 0
    deliver()
    assert smtp.inbox.messages() == []


def test_a_social_worker_needs_no_rpps_number(app, shipped, smtp):  # noqa: F811
    client = app.test_client()
    token = csrf_of(client, "/demande-de-compte")
    data = {**REQUEST, "profession": "assistant_social", "rpps": "", "csrf_token": token}
    assert client.post("/demande-de-compte", data=data).status_code == 302
    assert AccountRequest.objects.get().rpps is None
