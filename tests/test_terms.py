"""Terms of use (CGU): a platform admin publishes a version; everyone accepts it before any
other page (the API answers 403 meanwhile); a new version asks again; each acceptance is
audited; the CGU, legal notice and privacy pages open without login. Also the first-connection
guide offered on the home page."""

from html import unescape

from helpers import html, snapshot

from app.audit import AuditEvent
from app.terms.models import TermsAcceptance, TermsVersion

TEXT = "Article 1. Vous utilisez la plateforme pour coordonner.\n\nArticle 2. Secret partagé."


def published(login_as, platform_admin, text=TEXT, summary=""):
    """A new version by the platform admin (who accepts the current one first, like all)."""
    admin = login_as(platform_admin)
    latest = TermsVersion.objects.order_by("-version").first()
    if latest:
        accept(admin, latest.version)
    page = admin.post("/admin/cgu", {"text": text, "summary": summary})
    assert page.status_code == 302, html(page)
    assert page.headers["Location"] == "/admin/cgu"
    return TermsVersion.objects.order_by("-version").first()


def accept(browser, version, next_url="/"):
    return browser.post("/cgu/accepter", {"accepted": "1", "version": str(version),
                                          "next": next_url})  # fmt: skip


def test_everyone_accepts_the_published_cgu_before_anything_else(
    login_as, api_as, platform_admin, professional
):
    terms = published(login_as, platform_admin)
    assert terms.version == 1
    browser = login_as(professional)
    asked = browser.get("/taches")
    assert asked.status_code == 302
    assert asked.headers["Location"] == "/cgu/accepter?next=/taches"
    page = unescape(html(browser.get("/cgu/accepter?next=/taches")))
    assert "Article 2. Secret partagé." in page
    api = api_as(professional).get("/tasks")
    assert api.status_code == 403
    assert api.json["error"]["code"] == "terms_not_accepted"
    # Still open: the texts, the legal pages, the help, signing out.
    for path in ("/cgu", "/mentions-legales", "/confidentialite", "/aide"):
        assert browser.get(path).status_code == 200, path
    # The box must be ticked.
    unticked = browser.post("/cgu/accepter", {"version": "1", "next": "/taches"})
    assert unticked.status_code == 400
    assert "Cochez la case" in unescape(html(unticked))
    assert TermsAcceptance.objects.count() == 0
    done = accept(browser, 1, "/taches")
    assert (done.status_code, done.headers["Location"]) == (302, "/taches")
    assert browser.get("/taches").status_code == 200
    assert api_as(professional).get("/tasks").status_code == 200
    [accepted] = TermsAcceptance.objects
    assert (accepted.user, accepted.version) == (professional.id, 1)
    event = AuditEvent.objects(action="terms.accept").get()
    assert (event.actor, event.details["version"]) == (str(professional.id), 1)


def test_a_new_version_asks_again_and_says_what_changed(login_as, platform_admin, professional):
    published(login_as, platform_admin)
    browser = login_as(professional)
    accept(browser, 1)
    published(login_as, platform_admin, TEXT + "\n\nArticle 3. Nouveau.", "Un article 3.")
    asked = browser.get("/")
    assert asked.headers["Location"].startswith("/cgu/accepter")
    page = unescape(html(browser.get("/cgu/accepter")))
    assert "Les conditions d'utilisation ont changé (version 2)" in page
    assert "Un article 3." in page
    # A page left open on version 1 accepts nothing now.
    stale = accept(browser, 1)
    assert stale.status_code == 400
    assert "Une nouvelle version des conditions d'utilisation" in unescape(html(stale))
    assert TermsAcceptance.objects(version=2).count() == 0
    assert accept(browser, 2).status_code == 302
    assert browser.get("/").status_code == 200
    assert sorted(TermsAcceptance.objects(user=professional.id).scalar("version")) == [1, 2]


def test_the_cgu_are_public_and_markup_is_shown_as_text(client, login_as, platform_admin):
    assert "Aucune version" in unescape(html(client.get("/cgu")))
    published(login_as, platform_admin, "<script>alert(1)</script> Article unique.")
    page = html(client.get("/cgu"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Article unique." in page
    assert "<script>alert" not in page
    footer = html(client.get("/connexion")).split("<footer", 1)[1]
    assert 'href="/cgu"' in footer
    assert 'href="/mentions-legales"' in footer
    assert 'href="/confidentialite"' in footer


def test_the_next_page_after_accepting_stays_on_this_site(login_as, platform_admin, professional):
    published(login_as, platform_admin)
    browser = login_as(professional)
    done = accept(browser, 1, "//evil.example/phish")
    assert done.headers["Location"] == "/"


def test_only_platform_admins_publish_and_bad_texts_change_nothing(
    login_as, platform_admin, coordinator, structure_admin
):
    for user in (coordinator, structure_admin):
        browser = login_as(user)
        assert browser.get("/admin/cgu").status_code == 403
        assert browser.post("/admin/cgu", {"text": TEXT}).status_code == 403
    assert TermsVersion.objects.count() == 0
    admin = login_as(platform_admin)
    before = snapshot("terms_versions")
    for text in ("", "   \n  ", "x" * 100_001):
        refused = admin.post("/admin/cgu", {"text": text})
        assert refused.status_code == 400, len(text)
        assert 'id="e-text"' in html(refused)
    refused = admin.post("/admin/cgu", {"text": TEXT, "summary": "y" * 501})
    assert refused.status_code == 400
    assert snapshot("terms_versions") == before


def test_the_home_page_offers_the_guide_until_it_is_opened(login_as, professional):
    browser = login_as(professional)
    assert 'id="premiere-connexion"' in html(browser.get("/"))
    guide = unescape(html(browser.get("/bienvenue")))
    assert "Mes tâches" in guide
    assert "Annuaire" in guide
    assert 'id="premiere-connexion"' not in html(browser.get("/"))
