"""Sessions end on the server (issue 17): signing out ends this session, and every copy of its
cookie; "Se déconnecter partout" ends every session of the account; API tokens are not
sessions."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from dossier_helpers import new_dossier
from helpers import html, snapshot

from app.accounts.models import User
from app.accounts.services import MAX_SESSIONS
from app.audit import AuditEvent
from app.clock import travel


def copy_of(browser, app):
    """Another device holding a copy of `browser`'s session cookie."""
    thief = type(browser)(app.test_client())
    thief.client.set_cookie("session", browser.client.get_cookie("session").value)
    return thief


def signed_out(browser):
    response = browser.get("/")
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == (
        "/connexion"
    )


@pytest.fixture
def dossier(coordinator, structure):
    return new_dossier(coordinator, structure)


@pytest.mark.parametrize("url", ["/deconnexion", "/changer-de-compte"])
def test_a_copied_cookie_opens_nothing_after_signing_out(app, login_as, coordinator, dossier, url):
    browser = login_as(coordinator)
    thief = copy_of(browser, app)
    assert thief.get(f"/dossiers/{dossier.id}").status_code == 200
    assert browser.post(url).status_code == 302
    response = thief.get(f"/dossiers/{dossier.id}")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/connexion"
    assert signed_out(thief)  # and it does not keep itself alive
    assert signed_out(browser)


def test_a_session_that_idles_out_takes_its_busy_copies_with_it(app, login_as, professional):
    browser = login_as(professional)
    thief = copy_of(browser, app)
    with travel(timedelta(minutes=20)):
        assert thief.get("/taches").status_code == 200  # the copy's own activity
    with travel(timedelta(minutes=40)):
        assert browser.get("/taches").status_code == 302  # 40 minutes idle: ended
        assert signed_out(thief)  # 20 minutes idle only, but the session is over
    event = AuditEvent.objects(action="logout").get()
    assert event.details == {"reason": "idle"}


def test_signing_out_ends_this_session_only(login_as, professional):
    here, there = login_as(professional), login_as(professional)
    here.logout()
    assert signed_out(here)
    assert not signed_out(there)


def test_sign_out_everywhere_ends_every_session(app, login_as, api_as, professional):
    api = api_as(professional)
    here, there = login_as(professional), login_as(professional)
    thief = copy_of(there, app)
    response = here.post("/profil/deconnexion-partout")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/connexion"
    assert "Toutes vos sessions sont fermées" in html(here.get("/connexion"))
    for browser in (here, there, thief):
        assert signed_out(browser)
    assert api.get("/me").status_code == 200  # an API token is not a session
    event = AuditEvent.objects(action="logout.everywhere").get()
    assert event.actor == str(professional.id)
    assert not signed_out(login_as(professional))  # one signs in again as before


def test_sign_out_everywhere_is_a_post_with_its_csrf_token(login_as, professional):
    browser = login_as(professional)
    assert browser.get("/profil/deconnexion-partout").status_code == 405
    before = snapshot()
    assert browser.post("/profil/deconnexion-partout", csrf=False).status_code == 400
    assert snapshot() == before
    assert not signed_out(browser)


def test_the_profile_offers_to_sign_out_everywhere(login_as, professional):
    page = html(login_as(professional).get("/profil"))
    assert 'action="/profil/deconnexion-partout"' in page
    assert "Se déconnecter partout" in page


def test_a_password_change_ends_the_other_sessions_and_their_copies(app, login_as, professional):
    here, there = login_as(professional), login_as(professional)
    here_copy = copy_of(here, app)
    response = here.post(
        "/profil/mot-de-passe",
        {"current_password": "correct-horse-battery", "new_password": "a-brand-new-password"},
    )
    assert response.status_code == 302
    assert not signed_out(here)
    assert signed_out(there)
    here.logout()
    assert signed_out(here_copy)


def test_the_oldest_sessions_end_past_the_limit(app, login_as, professional, password):
    first = login_as(professional)
    others = []
    for n in range(MAX_SESSIONS):  # from as many addresses: the sign-in's rate limit is theirs
        browser = type(first)(app.test_client())
        response = browser.post(
            "/connexion",
            {"email": professional.email, "password": password},
            environ_base={"REMOTE_ADDR": f"192.0.2.{n + 1}"},
        )
        assert response.status_code == 302
        others.append(browser)
    assert signed_out(first)
    assert not any(signed_out(browser) for browser in others)
    assert len(User.objects.get(id=professional.id).sessions) == MAX_SESSIONS


def test_a_session_from_another_account_id_is_refused(app, login_as, professional, coordinator):
    """The session's id belongs to its account: pasted into another account's cookie it
    opens nothing (the cookie is signed: this is what a server-side copy would allow)."""
    mine, theirs = login_as(professional), login_as(coordinator)
    with theirs.client.session_transaction() as their_session:
        their_id = their_session["_user_id"]
    with mine.client.session_transaction() as my_session:
        my_session["_user_id"] = their_id
    assert signed_out(mine)
